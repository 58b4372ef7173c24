//! Blending against samcell 1.1.4 `SlidingWindowHelper.combine_crops`, and our zero-weight fill
//! against a brute-force nearest search.

mod common;

use common::*;
use proptest::prelude::*;
use samcell_imaging::MapF32;
use samcell_pipeline::blend::{fill_from_nearest, Blender, MIN_WEIGHT};
use samcell_pipeline::{TilePlan, TilingConfig};

fn plan(size: &str) -> TilePlan {
    let (w, h) = size_wh(size);
    TilePlan::new(w, h, &TilingConfig::default()).expect("plan")
}

fn valid_of(weight: &MapF32) -> Vec<bool> {
    weight.data().iter().map(|&w| w > MIN_WEIGHT).collect()
}

/// 704x520 (12 crops) and 256x256 (4 crops) with the generator's formula maps: accumulators
/// and normalised map are bit-identical to combine_crops (tolerance 0, SHA-256 of the arrays;
/// zero-weight pixels set to 0 in the map's hash).
#[test]
fn blend_formula_maps_bit_identical() {
    for size in ["704x520", "256x256"] {
        let plan = plan(size);
        let mut b = Blender::new(&plan).expect("blender");
        for k in 0..plan.len() {
            b.add(k, &formula_map(k)).expect("add");
        }
        let ck = &checks(size)["synthetic_blend"];
        assert_eq!(
            sha_f32(b.weight().data()),
            ck["weight_sha256"].as_str().expect("sha"),
            "{size}: weight map"
        );
        assert_eq!(
            sha_f32(b.accum().data()),
            ck["accum_sha256"].as_str().expect("sha"),
            "{size}: accumulator"
        );
        let valid = b.valid();
        let n_invalid = valid.iter().filter(|v| !**v).count();
        assert!(
            n_invalid > 0,
            "the default tiling leaves row 0 / column 0 at weight 0"
        );
        let map = b.finish();
        let zeroed: Vec<f32> = map
            .data()
            .iter()
            .zip(&valid)
            .map(|(&v, &ok)| if ok { v } else { 0.0 })
            .collect();
        assert_eq!(
            sha_f32(&zeroed),
            ck["map_valid_sha256"].as_str().expect("sha"),
            "{size}: blended map"
        );
    }
}

/// 48x40 (one non-square crop: mask built at 48x48 then cv2-resized to 48x40, SAM map resized
/// 256 -> 48x40): accumulators within 1e-6 abs (OpenCV INTER_LINEAR f32 tolerance), blended map
/// within 1e-6 abs outside zero-weight pixels; the same whether the predictor returns the
/// 256x256 map (blender resizes, here) or the crop-shaped one (SAM's `sam_output_to_crop`,
/// checked in samcell-model's `golden_sam_input` test).
#[test]
fn replay_48x40_matches_combine_crops() {
    let plan = plan("48x40");
    let dir = fixture_dir("48x40");
    let maps = maps_48x40();
    let want_w = npy_image::<f32>(&dir.join("combine_weight_map.npy"));
    let want_a = npy_image::<f32>(&dir.join("combine_accum.npy"));
    let want_d = npy_image::<f32>(&dir.join("dist_map.npy"));
    let valid = valid_of(&want_w);
    let mut b = Blender::new(&plan).expect("blender");
    b.add(0, &maps[0]).expect("add");
    let (dw, _) = max_abs_diff(b.weight(), &want_w, None);
    let (da, _) = max_abs_diff(b.accum(), &want_a, None);
    assert!(dw <= 1e-6, "weight map differs by {dw} (tolerance 1e-6)");
    assert!(da <= 1e-6, "accumulator differs by {da} (tolerance 1e-6)");
    assert_eq!(b.valid(), valid, "zero-weight pixels differ");
    let map = b.finish();
    let (dd, n) = max_abs_diff(&map, &want_d, Some(&valid));
    assert!(
        dd <= 1e-6,
        "blended map differs by {dd} on {n} weighted pixels (tolerance 1e-6)"
    );
}

/// 200x150 (six 150x150 / 150x146 ragged crops): accumulators bit-identical (SHA-256; maps
/// given at crop shape with NaN where blending must not read), blended map equal outside
/// zero-weight pixels (tolerance 1e-6 abs, expected 0), and the zero-weight pixels equal the
/// generator's brute-force nearest fill (1e-6).
#[test]
fn replay_200x150_matches_combine_crops() {
    let plan = plan("200x150");
    let dir = fixture_dir("200x150");
    let maps = maps_200x150(&plan);
    let mut b = Blender::new(&plan).expect("blender");
    for (k, m) in maps.iter().enumerate() {
        b.add(k, m).expect("add");
    }
    let ck = checks("200x150");
    assert_eq!(
        sha_f32(b.weight().data()),
        ck["weight_sha256"].as_str().expect("sha"),
        "weight map (exact)"
    );
    assert_eq!(
        sha_f32(b.accum().data()),
        ck["accum_sha256"].as_str().expect("sha"),
        "accumulator (exact)"
    );
    let valid = b.valid();
    let invalid: Vec<usize> = (0..valid.len()).filter(|&i| !valid[i]).collect();
    assert_eq!(
        invalid.len() as u64,
        ck["n_zero_weight"].as_u64().expect("n")
    );
    let map = b.finish();
    let want = npy_image::<f32>(&dir.join("dist_map.npy"));
    let (dd, n) = max_abs_diff(&map, &want, Some(&valid));
    assert!(
        dd <= 1e-6,
        "blended map differs by {dd} on {n} weighted pixels (tolerance 1e-6)"
    );
    let (_, fill) = npy::<f32>(&dir.join("zero_weight_fill.npy"));
    assert_eq!(fill.len(), invalid.len());
    for (&i, &f) in invalid.iter().zip(&fill) {
        assert!(
            (map.data()[i] - f).abs() <= 1e-6,
            "zero-weight pixel {i}: {} vs {f} (tolerance 1e-6)",
            map.data()[i]
        );
    }
    assert!(
        map.data().iter().all(|v| v.is_finite()),
        "NaN leaked from outside the regions"
    );
}

/// Brute force: nearest valid pixel by squared distance, ties to the first in raster order.
fn naive_fill(map: &MapF32, valid: &[bool]) -> MapF32 {
    let (w, h) = (map.width(), map.height());
    let mut out = map.clone();
    for y in 0..h {
        for x in 0..w {
            if valid[y * w + x] {
                continue;
            }
            let mut best: Option<(i64, usize)> = None;
            for (j, _) in valid.iter().enumerate().filter(|(_, v)| **v) {
                let (dx, dy) = ((j % w) as i64 - x as i64, (j / w) as i64 - y as i64);
                let d = dx * dx + dy * dy;
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, j));
                }
            }
            if let Some((_, j)) = best {
                out.data_mut()[y * w + x] = map.data()[j];
            }
        }
    }
    out
}

/// A case with many exact ties: the fill equals the brute force bit for bit.
#[test]
fn fill_matches_naive_on_ties() {
    let (w, h) = (9, 7);
    // Valid pixels only on a sparse symmetric pattern, so many invalid pixels are equidistant.
    let valid: Vec<bool> = (0..w * h)
        .map(|i| (i % w) % 4 == 1 && (i / w) % 4 == 1)
        .collect();
    let map = MapF32::from_vec(w, h, (0..w * h).map(|i| i as f32).collect()).expect("map");
    let mut got = map.clone();
    let n = fill_from_nearest(&mut got, &valid);
    assert_eq!(n, valid.iter().filter(|v| !**v).count());
    assert_eq!(got, naive_fill(&map, &valid));
    // Pixel (0, 0): nearest valid are (1, 1) only -> value of index 10.
    assert_eq!(got.get(0, 0), 10.0);
    // Pixel (3, 1) is equidistant from (1, 1) and (5, 1), pixel (1, 3) from (1, 1) and (1, 5),
    // pixel (3, 3) from all four: the first in raster order wins.
    assert_eq!(got.get(3, 1), map.get(1, 1));
    assert_eq!(got.get(1, 3), map.get(1, 1));
    assert_eq!(got.get(3, 3), map.get(1, 1));
    assert_eq!(got.get(7, 3), map.get(5, 1));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Random masks (sparse to dense) on small maps: exact equality with the brute force.
    #[test]
    fn fill_matches_naive_random(w in 1usize..14, h in 1usize..14, density in 0.02f64..0.9, seed in any::<u64>()) {
        let mut s = seed | 1;
        let valid: Vec<bool> = (0..w * h).map(|_| {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64) < density
        }).collect();
        let map = MapF32::from_vec(w, h, (0..w * h).map(|i| (i * 7 % 13) as f32 + 0.5).collect()).expect("map");
        let mut got = map.clone();
        fill_from_nearest(&mut got, &valid);
        prop_assert_eq!(got, naive_fill(&map, &valid));
    }
}
