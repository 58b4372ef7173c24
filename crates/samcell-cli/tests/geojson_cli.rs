//! `samcell segment --save-geojson`: `<name>.geojson` is a FeatureCollection with one detection
//! feature per label of `<name>_masks.tif`, whose polygons filled at pixel centres (even-odd
//! rule) give back exactly that label's pixels, and whose measurements are the label's row of
//! `<name>_cells.csv`; resume treats a missing `.geojson` as unfinished when the flag is set.
//!
//! Generated image and an untrained samcell-lite model written by the test (low thresholds so
//! that its meaningless map still gives many cells): no shared data needed.

mod common;

use common::*;
use samcell_morphology::naive::rasterize_rings;
use serde_json::Value;
use std::collections::BTreeMap;

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

#[test]
fn geojson_features_fill_back_to_the_masks() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (img, out) = (tmp.path().join("cells.png"), tmp.path().join("out"));
    write_test_png(&img, 64, 5);
    segment_lite(&[&img], &out, &model, &["--save-geojson"]);

    let (w, h, labels) = read_labels(&out.join("cells_masks.tif"));
    let (w, h) = (w as usize, h as usize);
    let gj = json(&out.join("cells.geojson"));
    assert_eq!(gj["type"], "FeatureCollection");
    let features = gj["features"].as_array().unwrap();
    let n = count_labels(&labels);
    assert!(n >= 5, "several cells expected, got {n}");
    assert_eq!(features.len(), n, "one feature per label");

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

    let mut seen = Vec::new();
    for f in features {
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
            "label {label}: polygons != pixels"
        );

        let m = props["measurements"].as_object().unwrap();
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
    let mut expected: Vec<u64> = labels.iter().map(|&l| u64::from(l)).collect();
    expected.retain(|&l| l != 0);
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(seen, expected, "features in label order");
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
