//! SAM's input encoding and the way back from its 256x256 output ([`samcell_model::sam_input`])
//! against the reference harness (samcell 1.1.4 + OpenCV 4.12 + transformers 4.57
//! SamImageProcessor, Pillow 11.3), on the pipeline's fixtures
//! (`crates/samcell-pipeline/tests/fixtures`, written by `reference/gen_pipeline_fixtures.py`).
//!
//! Tolerances: `pixel_values` 0 (bit for bit); the 48x40 crop's map brought back to the crop and
//! blended: 1e-6 abs (OpenCV INTER_LINEAR f32). The full-array check needs the harness's outputs
//! and is ignored by default:
//!   SAMCELL_PIPELINE_REF_OUT=<dir> python reference/gen_pipeline_fixtures.py
//!   SAMCELL_PIPELINE_REF_OUT=<dir> cargo test -p samcell-model --test golden_sam_input -- --ignored

use std::path::{Path, PathBuf};

use samcell_imaging::{GrayU8, Image, MapF32};
use samcell_model::sam_input::{
    pixel_values, sam_output_to_crop, write_pixel_values, PIXEL_VALUES_LEN, SAM_INPUT_SIZE,
};
use samcell_pipeline::blend::{Blender, MIN_WEIGHT};
use samcell_pipeline::{enhance, extract_crops, TilePlan, TilingConfig};
use sha2::{Digest, Sha256};

fn fixture_dir(size: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samcell-pipeline/tests/fixtures")
        .join(format!("synth_{size}"))
}

/// Reads a `.npy` file: (shape, values in C order).
fn npy<T: npyz::Deserialize>(path: &Path) -> (Vec<usize>, Vec<T>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let f = npyz::NpyFile::new(&bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let shape = f.shape().iter().map(|&d| d as usize).collect();
    let data = f.into_vec::<T>();
    (
        shape,
        data.unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
}

fn npy_image<T: npyz::Deserialize + Copy>(path: &Path) -> Image<T> {
    let (shape, data) = npy::<T>(path);
    assert_eq!(shape.len(), 2, "{}: expected 2-D", path.display());
    Image::from_vec(shape[1], shape[0], data).expect("image")
}

fn checks(size: &str) -> serde_json::Value {
    let path = fixture_dir(size).join("checks.json");
    let s = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&s).expect("json")
}

fn usizes(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as usize)
        .collect()
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of the raw little-endian bytes, as the generator hashes numpy arrays.
fn sha_u8(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn sha_f32(data: &[f32]) -> String {
    let mut h = Sha256::new();
    for v in data {
        h.update(v.to_le_bytes());
    }
    hex(&h.finalize())
}

fn input(size: &str) -> GrayU8 {
    let img: GrayU8 = npy_image::<u8>(&fixture_dir(size).join("input.npy"));
    assert_eq!(
        sha_u8(img.data()),
        checks(size)["image_sha256"].as_str().expect("sha"),
        "input.npy vs checks.json"
    );
    img
}

/// Largest |a - b| over pixels where `valid`.
fn max_abs_diff(a: &MapF32, b: &MapF32, valid: Option<&[bool]>) -> f32 {
    assert_eq!(a.shape_hw(), b.shape_hw());
    let mut worst = 0f32;
    for (i, (&x, &y)) in a.data().iter().zip(b.data()).enumerate() {
        if valid.is_some_and(|v| !v[i]) {
            continue;
        }
        let d = (x - y).abs();
        if d.is_nan() || d > worst {
            worst = if d.is_nan() { f32::INFINITY } else { d };
        }
    }
    worst
}

/// SAM `pixel_values` of crop 0 equal the reference's `crop0_pixel_values.npy` bit for bit
/// (tolerance 0: whole-array SHA-256, plus a stored subsample for a readable failure).
#[test]
fn sam_input_matches_pixel_values() {
    for size in ["256x256", "48x40"] {
        let img = input(size);
        let ck = checks(size);
        let plan =
            TilePlan::new(img.width(), img.height(), &TilingConfig::default()).expect("plan");
        let crop = enhance::enhance(&plan.extract(&img, 0).expect("crop")).expect("enhance");
        let pv = pixel_values(&crop).expect("pixel values");
        assert_eq!(pv.len(), PIXEL_VALUES_LEN);

        let stride = ck["pv_subsample"]["stride"].as_u64().expect("stride") as usize;
        let rows = usizes(&ck["pv_subsample"]["rows"]);
        let (_, sub) = npy::<f32>(&fixture_dir(size).join("crop0_pv_subsample.npy"));
        let mut expect_idx: Vec<usize> = (0..PIXEL_VALUES_LEN).step_by(stride).collect();
        let plane = SAM_INPUT_SIZE * SAM_INPUT_SIZE;
        for c in 0..3 {
            for &r in &rows {
                expect_idx.extend((0..SAM_INPUT_SIZE).map(|x| c * plane + r * SAM_INPUT_SIZE + x));
            }
        }
        assert_eq!(expect_idx.len(), sub.len(), "{size}: subsample layout");
        let bad: Vec<(usize, f32, f32)> = expect_idx
            .iter()
            .zip(&sub)
            .filter(|(&i, &v)| pv[i].to_bits() != v.to_bits())
            .map(|(&i, &v)| (i, pv[i], v))
            .take(5)
            .collect();
        assert!(
            bad.is_empty(),
            "{size}: pixel_values differ (tolerance 0), first (index, ours, ref): {bad:?}"
        );
        assert_eq!(
            sha_f32(&pv),
            ck["crop0_pixel_values_sha256"].as_str().expect("sha"),
            "{size}: whole pixel_values array differs from the reference (tolerance 0)"
        );

        // The batch variant writes every value, whatever the buffer held.
        let mut buf = vec![f32::NAN; 2 * PIXEL_VALUES_LEN];
        write_pixel_values(&crop, &mut buf[PIXEL_VALUES_LEN..]).expect("write");
        assert_eq!(
            sha_f32(&buf[PIXEL_VALUES_LEN..]),
            sha_f32(&pv),
            "{size}: write_pixel_values"
        );
        assert!(
            buf[..PIXEL_VALUES_LEN].iter().all(|v| v.is_nan()),
            "wrote outside its slot"
        );
    }
}

/// 48x40 (one non-square crop: SAM's 256x256 map brought back to 48x40 by
/// `sam_output_to_crop`, then blended): accumulators within 1e-6 abs (OpenCV INTER_LINEAR f32
/// tolerance), blended map within 1e-6 abs outside zero-weight pixels, as `combine_crops`.
#[test]
fn output_to_crop_48x40_matches_combine_crops() {
    let plan = TilePlan::new(48, 40, &TilingConfig::default()).expect("plan");
    let dir = fixture_dir("48x40");
    let (shape, data) = npy::<f32>(&dir.join("crops_dist_maps.npy"));
    assert_eq!(shape[0], 1, "one crop");
    let map_256 = MapF32::from_vec(shape[2], shape[1], data).expect("map");
    let want_w = npy_image::<f32>(&dir.join("combine_weight_map.npy"));
    let want_a = npy_image::<f32>(&dir.join("combine_accum.npy"));
    let want_d = npy_image::<f32>(&dir.join("dist_map.npy"));
    let valid: Vec<bool> = want_w.data().iter().map(|&w| w > MIN_WEIGHT).collect();

    let t = plan.tiles[0];
    let m = sam_output_to_crop(&map_256, t.width, t.height).expect("to crop");
    assert_eq!((m.width(), m.height()), (t.width, t.height));
    let mut b = Blender::new(&plan).expect("blender");
    b.add(0, &m).expect("add");
    let dw = max_abs_diff(b.weight(), &want_w, None);
    let da = max_abs_diff(b.accum(), &want_a, None);
    assert!(dw <= 1e-6, "weight map differs by {dw} (tolerance 1e-6)");
    assert!(da <= 1e-6, "accumulator differs by {da} (tolerance 1e-6)");
    assert_eq!(b.valid(), valid, "zero-weight pixels differ");
    let map = b.finish();
    let dd = max_abs_diff(&map, &want_d, Some(&valid));
    assert!(
        dd <= 1e-6,
        "blended map differs by {dd} on weighted pixels (tolerance 1e-6)"
    );
}

/// Crop 0's whole `pixel_values` array against the harness's `crop0_pixel_values.npy` for every
/// fixture size (tolerance 0).
#[test]
#[ignore = "needs the full harness outputs (SAMCELL_PIPELINE_REF_OUT)"]
fn full_pixel_values_parity_with_harness() {
    let root = PathBuf::from(std::env::var("SAMCELL_PIPELINE_REF_OUT").unwrap_or_else(|_| {
        panic!("set SAMCELL_PIPELINE_REF_OUT to a directory filled by reference/gen_pipeline_fixtures.py --keep")
    }));
    for size in ["704x520", "256x256", "200x150", "48x40"] {
        let dir = root.join(format!("out_{size}"));
        let img: GrayU8 = npy_image::<u8>(&dir.join("input.npy"));
        let plan =
            TilePlan::new(img.width(), img.height(), &TilingConfig::default()).expect("plan");
        let crops = extract_crops(&img, &plan).expect("crops");
        let enhanced = enhance::enhance(&crops[0]).expect("enhance");
        let (_, pv_ref) = npy::<f32>(&dir.join("crop0_pixel_values.npy"));
        let pv = pixel_values(&enhanced).expect("pixel values");
        assert_eq!(pv.len(), pv_ref.len(), "{size}: pixel_values length");
        let bad = pv
            .iter()
            .zip(&pv_ref)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        assert_eq!(bad, 0, "{size}: {bad} pixel_values differ (tolerance 0)");
    }
}
