//! Tiling, per-crop enhancement and SAM input encoding against the reference harness
//! (samcell 1.1.4 + OpenCV 4.12 + transformers 4.57 SamImageProcessor, Pillow 11.3).
//! Every comparison here is exact (tolerance 0).

mod common;

use common::*;
use samcell_imaging::GrayU8;
use samcell_pipeline::sam_input::{
    pixel_values, write_pixel_values, PIXEL_VALUES_LEN, SAM_INPUT_SIZE,
};
use samcell_pipeline::{enhance, extract_crops, TilePlan, TilingConfig};

fn usizes(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as usize)
        .collect()
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

/// Regions, crop shapes and the unique region equal `crop_regions.json` (exact).
#[test]
fn plan_matches_harness_regions() {
    for size in SIZES {
        let (w, h) = size_wh(size);
        let plan = TilePlan::new(w, h, &TilingConfig::default()).expect("plan");
        let j = json(&fixture_dir(size).join("crop_regions.json"));
        let regions: Vec<Vec<usize>> = j["orig_regions_xywh"]
            .as_array()
            .expect("regions")
            .iter()
            .map(usizes)
            .collect();
        let shapes: Vec<Vec<usize>> = j["crop_shapes_hw"]
            .as_array()
            .expect("shapes")
            .iter()
            .map(usizes)
            .collect();
        let got_regions: Vec<Vec<usize>> = plan
            .tiles
            .iter()
            .map(|t| t.region.xywh().to_vec())
            .collect();
        let got_shapes: Vec<Vec<usize>> =
            plan.tiles.iter().map(|t| vec![t.height, t.width]).collect();
        assert_eq!(got_regions, regions, "{size}: regions");
        assert_eq!(got_shapes, shapes, "{size}: crop shapes");
        assert_eq!(
            plan.unique_region.xywh().to_vec(),
            usizes(&j["crop_unique_region"]),
            "{size}: unique region"
        );
    }
}

/// Every crop equals the harness's crop byte for byte (SHA-256 of each crop); 704x520 is covered
/// by the ignored full-parity test (its input is not stored).
#[test]
fn crops_match_harness() {
    for size in ["256x256", "200x150", "48x40"] {
        let img = input(size);
        let plan =
            TilePlan::new(img.width(), img.height(), &TilingConfig::default()).expect("plan");
        let crops = extract_crops(&img, &plan).expect("crops");
        let want = strings(&checks(size)["crops_sha256"]);
        assert_eq!(crops.len(), want.len(), "{size}: number of crops");
        for (k, (c, s)) in crops.iter().zip(&want).enumerate() {
            assert_eq!(
                &sha_u8(c.data()),
                s,
                "{size}: crop {k} differs from the reference (exact)"
            );
            assert_eq!(plan.extract(&img, k).expect("crop").data(), c.data());
        }
    }
}

/// CLAHE(1, 8x8) + min-max of crop 0 equals the reference's `crop0_clahe_bgr_u8` (exact), and
/// every crop's enhancement matches by hash (exact).
#[test]
fn enhance_matches_reference() {
    for size in ["200x150", "48x40"] {
        let img = input(size);
        let plan =
            TilePlan::new(img.width(), img.height(), &TilingConfig::default()).expect("plan");
        let got = enhance::enhance(&plan.extract(&img, 0).expect("crop")).expect("enhance");
        let want = npy_image::<u8>(&fixture_dir(size).join("crop0_clahe.npy"));
        let diff = got
            .data()
            .iter()
            .zip(want.data())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(got.shape_hw(), want.shape_hw());
        assert_eq!(
            diff, 0,
            "{size}: {diff} pixels of crop 0 differ after CLAHE + min-max (tolerance 0)"
        );
    }
    for size in ["256x256", "200x150", "48x40"] {
        let img = input(size);
        let plan =
            TilePlan::new(img.width(), img.height(), &TilingConfig::default()).expect("plan");
        let crops = extract_crops(&img, &plan).expect("crops");
        let enhanced = enhance::enhance_all(&crops, 0).expect("enhance");
        for (k, (e, s)) in enhanced
            .iter()
            .zip(strings(&checks(size)["enhanced_sha256"]))
            .enumerate()
        {
            assert_eq!(
                sha_u8(e.data()),
                s,
                "{size}: enhanced crop {k} differs (exact)"
            );
        }
    }
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
