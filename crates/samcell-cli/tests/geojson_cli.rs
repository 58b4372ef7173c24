//! `samcell segment --save-geojson`: `<name>.geojson` is a FeatureCollection with one detection
//! feature per label of `<name>_masks.tif`, whose polygons filled at pixel centres (even-odd
//! rule) give back exactly that label's pixels, and whose measurements are the label's row of
//! `<name>_cells.csv`; resume treats a missing `.geojson` as unfinished when the flag is set.
//!
//! A generated image and an untrained samcell-lite model written by the test (low thresholds so
//! that its meaningless map still gives many cells), and one real image with the built-in model
//! (skipped without the shared Usiigaci set).

mod common;

use common::*;
use samcell_morphology::naive::rasterize_rings;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Pixels (index y * w + x) whose centres lie inside the rings of `polygons` (even-odd rule).
fn fill(polygons: &[Value], w: usize, h: usize) -> Vec<bool> {
    let rings: Vec<Vec<[f64; 2]>> = polygons
        .iter()
        .flat_map(|p| p.as_array().unwrap())
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| [v[0].as_f64().unwrap(), v[1].as_f64().unwrap()])
                .collect()
        })
        .collect();
    for r in &rings {
        assert_eq!(r.first(), r.last(), "ring not closed");
    }
    let rings: Vec<&[[f64; 2]]> = rings.iter().map(Vec::as_slice).collect();
    rasterize_rings(&rings, w, h).into_vec()
}

/// Checks `<name>.geojson` in `out` against `<name>_masks.tif`: a FeatureCollection of one
/// detection feature per label, in label order, whose polygons fill back to exactly that label's
/// pixels (IoU 1). Returns the features.
fn features_fill_back(out: &Path, name: &str) -> Vec<Value> {
    let (w, h, labels) = read_labels(&out.join(format!("{name}_masks.tif")));
    let (w, h) = (w as usize, h as usize);
    let gj = json(&out.join(format!("{name}.geojson")));
    assert_eq!(gj["type"], "FeatureCollection");
    let features = gj["features"].as_array().unwrap().clone();
    assert_eq!(
        features.len(),
        count_labels(&labels),
        "one feature per label"
    );
    let mut seen = Vec::new();
    for f in &features {
        assert_eq!(f["type"], "Feature");
        let label = f["id"].as_u64().unwrap();
        seen.push(label);
        let props = &f["properties"];
        assert_eq!(props["objectType"], "detection");
        assert_eq!(props["name"], label.to_string());
        let geom = &f["geometry"];
        let polygons: Vec<Value> = match geom["type"].as_str().unwrap() {
            "Polygon" => vec![geom["coordinates"].clone()],
            "MultiPolygon" => geom["coordinates"].as_array().unwrap().clone(),
            t => panic!("geometry type {t}"),
        };
        let mask: Vec<bool> = labels.iter().map(|&l| u64::from(l) == label).collect();
        assert!(
            fill(&polygons, w, h) == mask,
            "{name}, label {label}: polygons != pixels"
        );
    }
    let mut expected: Vec<u64> = labels.iter().map(|&l| u64::from(l)).collect();
    expected.retain(|&l| l != 0);
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(seen, expected, "features in label order");
    features
}

#[test]
fn geojson_features_fill_back_to_the_masks() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (img, out) = (tmp.path().join("cells.png"), tmp.path().join("out"));
    write_test_png(&img, 64, 5);
    segment_lite(&[&img], &out, &model, &["--save-geojson"]);

    let features = features_fill_back(&out, "cells");
    assert!(
        features.len() >= 5,
        "several cells expected, got {}",
        features.len()
    );

    // the measurements are the cells.csv rows
    let csv = std::fs::read_to_string(out.join("cells_cells.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: BTreeMap<u64, Vec<&str>> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f)
        })
        .collect();
    for f in &features {
        let label = f["id"].as_u64().unwrap();
        let m = f["properties"]["measurements"].as_object().unwrap();
        let row = &rows[&label];
        for (name, v) in header.iter().zip(row).skip(1) {
            match v.parse::<f64>() {
                // serde_json's default number parser may be one unit in the last place off
                Ok(x) if x.is_finite() => {
                    let got = m[*name].as_f64().unwrap();
                    assert!((got - x).abs() <= 1e-12 * x.abs(), "{name}: {got} != {x}");
                }
                _ => assert!(!m.contains_key(*name), "{name} {v} written"),
            }
        }
        assert!(m["Area_px2"].as_f64().unwrap() >= 1.0);
    }
    let run_json = json(&out.join("run.json"));
    assert_eq!(run_json["settings"]["save_geojson"], true);

    // resume: a missing .geojson makes the image unfinished when the flag is set, not otherwise
    let masks_time = modified(&out.join("cells_masks.tif"));
    std::fs::remove_file(out.join("cells.geojson")).unwrap();
    segment_lite(&[&img], &out, &model, &[]);
    assert!(!out.join("cells.geojson").exists());
    let unchanged = modified(&out.join("cells_masks.tif"));
    assert_eq!(masks_time, unchanged, "complete without the flag: skipped");
    segment_lite(&[&img], &out, &model, &["--save-geojson"]);
    assert!(out.join("cells.geojson").is_file(), "redone with the flag");
}

/// A real phase-contrast image (the shared Usiigaci set) segmented by the built-in model: cells
/// of real shapes (concave, touching, with holes) come back exactly from their polygons.
#[test]
fn geojson_of_a_real_image_fills_back_to_the_masks() {
    if !have(&[], &[USIIGACI]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let img = data().join(USIIGACI).join("train/images/set20.tif");
    let mut c = samcell();
    c.args(["segment", "--threads", "2", "--save-geojson", "--output"])
        .arg(&out)
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    let features = features_fill_back(&out, "set20");
    assert!(features.len() >= 50, "{} cells", features.len());
}
