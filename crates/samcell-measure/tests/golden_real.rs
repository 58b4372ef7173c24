//! Golden tests on real label images (Usiigaci masks, DSB2018 labels read from `SAMCELL_DATA`)
//! and systematically perturbed copies, against `reference/gen_measure_fixtures.py`:
//! - SEG, DET, OP_CSB equal py-ctcmetrics 1.3.3 to 1e-9 (absolute), per image and pooled over the
//!   images of each variant; CTC counts (FN, FP, NS, N_R, N_S) exactly;
//! - AP true positives equal a Hungarian matching (scipy `linear_sum_assignment`, Cellpose's
//!   `_true_positive` cost) exactly at every threshold;
//! - per-cell shape values equal `skimage.measure.regionprops` (scikit-image 0.25.2) to
//!   1e-6 x max(1, |value|) for every property both define; areas and boxes exactly;
//! - neighbour counts and PercentTouching equal a scipy re-implementation of CellProfiler's
//!   MeasureObjectNeighbors (dilation by strel_disk) exactly / to 1e-9.
//!
//! Without the shared data both tests skip with a line saying so (see samcell-testdata).

mod common;

use common::{apply_ops, data_dir, fixtures, intensity_image, sha256, variant_labels};
use samcell_measure::{
    evaluate_labels, measure_labels, read_labels, EvalCounts, Intensity, MeasureConfig,
};
use serde_json::Value;
use std::collections::HashMap;

const METRIC_TOL: f64 = 1e-9;
const SHAPE_TOL: f64 = 1e-6;

fn load_cases() -> Value {
    let text = std::fs::read_to_string(fixtures().join("measure_cases.json"))
        .expect("measure_cases.json (run reference/gen_measure_fixtures.py)");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= tol
}

#[test]
fn ctc_and_ap_match_py_ctcmetrics_on_perturbed_real_labels() {
    let Some(data) = data_dir() else {
        return;
    };
    let cases = load_cases();
    let mut pooled: HashMap<String, EvalCounts> = HashMap::new();
    let mut checked = 0;
    for img in cases["images"].as_array().expect("images") {
        let path = data.join(img["path"].as_str().expect("path"));
        let gt = read_labels(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            sha256(&gt),
            img["gt_sha256"].as_str().expect("sha"),
            "{}: data differs from the fixtures' data",
            path.display()
        );
        for v in img["variants"].as_array().expect("variants") {
            let name = format!(
                "{} [{}]",
                img["path"].as_str().unwrap_or("?"),
                v["name"].as_str().unwrap_or("?")
            );
            let pred = apply_ops(&gt, &v["ops"]);
            assert_eq!(
                sha256(&pred),
                v["sha256"].as_str().expect("sha"),
                "{name}: perturbation not reproduced"
            );
            let e = evaluate_labels(&pred, &gt, &name).expect("evaluate");
            let c = &e.counts;
            let want = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{name}: {k}"));
            assert_eq!(
                (c.n_gt, c.n_pred, c.det_fn, c.det_fp, c.det_ns),
                (
                    want("n_gt"),
                    want("n_pred"),
                    want("fn"),
                    want("fp"),
                    want("ns")
                ),
                "{name}: CTC counts (N_R, N_S, FN, FP, NS), exact"
            );
            for k in ["seg", "det", "op_csb"] {
                let got = match k {
                    "seg" => e.scores.seg,
                    "det" => e.scores.det,
                    _ => e.scores.op_csb,
                };
                let r = v[k].as_f64().expect("metric");
                assert!(
                    close(got, r, METRIC_TOL),
                    "{name}: {k} {got} vs py-ctcmetrics {r} (tol {METRIC_TOL})"
                );
            }
            let tp: Vec<u64> = v["ap_tp"]
                .as_array()
                .expect("ap_tp")
                .iter()
                .map(|x| x.as_u64().expect("tp"))
                .collect();
            assert_eq!(
                c.tp, tp,
                "{name}: AP true positives per threshold vs Hungarian matching, exact"
            );
            pooled
                .entry(v["name"].as_str().expect("name").to_string())
                .or_default()
                .add(c);
            checked += 1;
        }
    }
    assert!(checked >= 80, "only {checked} image/variant pairs checked");
    for p in cases["pooled"].as_array().expect("pooled") {
        let v = p["variant"].as_str().expect("variant");
        let s = pooled[v].scores();
        for (k, got) in [("seg", s.seg), ("det", s.det), ("op_csb", s.op_csb)] {
            let r = p[k].as_f64().expect("pooled metric");
            assert!(
                close(got, r, METRIC_TOL),
                "pooled {v}: {k} {got} vs py-ctcmetrics {r} (tol {METRIC_TOL})"
            );
        }
        assert_eq!(
            (pooled[v].det_fn, pooled[v].det_fp, pooled[v].det_ns),
            (
                p["fn"].as_u64().unwrap_or(0),
                p["fp"].as_u64().unwrap_or(0),
                p["ns"].as_u64().unwrap_or(0)
            ),
            "pooled {v}: FN/FP/NS"
        );
    }
}

#[test]
fn shapes_match_regionprops_and_neighbours_match_cellprofiler() {
    let Some(data) = data_dir() else {
        return;
    };
    let cases = load_cases();
    let images = cases["images"].as_array().expect("images");
    let cols: Vec<String> = cases["cells"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c.as_str().expect("col").to_string())
        .collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let (_, table) = samcell_testdata::npy::read::<f64>(&fixtures().join("measure_cells.npy"));
    let ncol = cols.len();
    assert_eq!(table.len() % ncol, 0);
    let rows: Vec<&[f64]> = table.chunks(ncol).collect();
    let mut compared = 0usize;
    for case in cases["cells"]["cases"].as_array().expect("cases") {
        let ci = case["case"].as_u64().expect("case") as f64;
        let img = &images[case["image"].as_u64().expect("image") as usize];
        let variant = case["variant"].as_str().expect("variant");
        let gt = read_labels(&data.join(img["path"].as_str().expect("path"))).expect("labels");
        let lab = variant_labels(&gt, img, variant);
        let inten = intensity_image(lab.width(), lab.height());
        let m = measure_labels(&lab, Some(Intensity::U8(&inten)), &MeasureConfig::default())
            .expect("measure");
        let by_label: HashMap<u32, &samcell_measure::CellMeasurement> =
            m.cells.iter().map(|c| (c.label, c)).collect();
        let mine: Vec<&&[f64]> = rows.iter().filter(|r| r[0] == ci).collect();
        assert_eq!(mine.len(), m.cells.len(), "case {ci}: number of cells");
        for r in mine {
            let label = r[col("label")] as u32;
            let c = by_label
                .get(&label)
                .unwrap_or_else(|| panic!("case {ci}: label {label} not measured"));
            let ctx = format!(
                "{} [{variant}] label {label}",
                img["path"].as_str().unwrap_or("?")
            );
            let near = |name: &str, got: f64, tol: f64| {
                let want = r[col(name)];
                assert!(
                    close(got, want, tol * want.abs().max(1.0)),
                    "{ctx}: {name} = {got}, reference {want} (tol {tol} x max(1, |ref|))"
                );
            };
            assert_eq!(c.area as f64, r[col("area")], "{ctx}: area (exact)");
            assert_eq!(
                c.convex_area as f64,
                r[col("area_convex")],
                "{ctx}: area_convex (exact)"
            );
            assert_eq!(
                [c.bbox_min_x, c.bbox_min_y, c.bbox_max_x, c.bbox_max_y].map(f64::from),
                [
                    r[col("bbox_min_x")],
                    r[col("bbox_min_y")],
                    r[col("bbox_max_x")],
                    r[col("bbox_max_y")]
                ],
                "{ctx}: bbox (exact)"
            );
            near("perimeter", c.perimeter, SHAPE_TOL);
            near("solidity", c.solidity, SHAPE_TOL);
            near("extent", c.extent, SHAPE_TOL);
            near("axis_major_length", c.major_axis_length, SHAPE_TOL);
            near("axis_minor_length", c.minor_axis_length, SHAPE_TOL);
            near("equivalent_diameter_area", c.equivalent_diameter, SHAPE_TOL);
            near("centroid_x", c.center_x, SHAPE_TOL);
            near("centroid_y", c.center_y, SHAPE_TOL);
            near("feret_diameter_max", c.max_feret, SHAPE_TOL);
            near("min_feret_width", c.min_feret, SHAPE_TOL);
            if c.eccentricity.is_nan() {
                assert_eq!(
                    c.area, 1,
                    "{ctx}: eccentricity NaN only for one-pixel cells"
                );
            } else {
                near("eccentricity", c.eccentricity, SHAPE_TOL);
            }
            if c.orientation.is_nan() {
                assert!(
                    (c.major_axis_length - c.minor_axis_length).abs() < 1e-9,
                    "{ctx}: orientation NaN only for isotropic cells"
                );
            } else {
                // compared modulo 180 degrees: +-90 are the same axis
                let d = (c.orientation.to_radians() - r[col("orientation_rad")])
                    .rem_euclid(std::f64::consts::PI);
                assert!(
                    d.min(std::f64::consts::PI - d) <= SHAPE_TOL,
                    "{ctx}: orientation {} deg vs skimage {} rad",
                    c.orientation,
                    r[col("orientation_rad")]
                );
            }
            let p = r[col("perimeter")];
            if p > 0.0 {
                let a = r[col("area")];
                near_formula(
                    &ctx,
                    "FormFactor",
                    c.form_factor,
                    4.0 * std::f64::consts::PI * a / (p * p),
                );
                near_formula(
                    &ctx,
                    "Compactness",
                    c.compactness,
                    p * p / (4.0 * std::f64::consts::PI * a),
                );
            } else {
                assert!(
                    c.form_factor.is_nan(),
                    "{ctx}: FormFactor NaN at perimeter 0"
                );
            }
            let i = c.intensity.expect("intensity");
            near("intensity_mean", i.mean, SHAPE_TOL);
            near("intensity_std", i.std, SHAPE_TOL);
            near("intensity_min", i.min, SHAPE_TOL);
            near("intensity_max", i.max, SHAPE_TOL);
            assert_eq!(
                f64::from(c.neighbors_adjacent),
                r[col("neighbors_adjacent")],
                "{ctx}: NumberOfNeighbors_Adjacent (exact)"
            );
            assert_eq!(
                f64::from(c.neighbors_within),
                r[col("neighbors_5")],
                "{ctx}: NumberOfNeighbors_5 (exact)"
            );
            near("percent_touching", c.percent_touching, 1e-9);
            assert_eq!(
                c.first_closest_label.map_or(0.0, f64::from),
                r[col("first_closest_label")],
                "{ctx}: FirstClosestObjectNumber"
            );
            near("first_closest_distance", c.first_closest_distance, 1e-9);
            compared += 1;
        }
    }
    assert!(compared >= 400, "only {compared} cells compared");
}

fn near_formula(ctx: &str, name: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-6 * want.abs().max(1.0),
        "{ctx}: {name} {got} vs {want} from skimage perimeter/area (tol 1e-6 relative)"
    );
}
