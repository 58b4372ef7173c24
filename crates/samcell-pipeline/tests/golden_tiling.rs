//! Tiling and per-crop enhancement against the reference harness (samcell 1.1.4 + OpenCV 4.12).
//! Every comparison here is exact (tolerance 0). SAM's input encoding of these crops is checked
//! with SAM, in samcell-model's `golden_sam_input` test.

mod common;

use common::*;
use samcell_imaging::GrayU8;
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
