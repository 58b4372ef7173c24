//! Edge cases of measurement and evaluation: empty prediction, empty ground truth, one-pixel
//! cells, cells touching the image border, label gaps, more than 65,535 cells, mismatched sizes.
//! Hand-derived expectations; shape values marked "skimage" were computed with
//! scikit-image 0.25.2 `regionprops` on the same arrays (exact or to 1e-12).

use samcell_imaging::Labels;
use samcell_measure::{
    evaluate_files, evaluate_labels, measure_labels, read_labels, EvalReport, MeasureConfig,
};

fn lab(w: usize, v: &[u32]) -> Labels {
    Labels::from_vec(w, v.len() / w, v.to_vec()).expect("labels")
}

/// Three 2x2 cells in a 8x3 image.
fn three_cells() -> Labels {
    lab(
        8,
        &[
            1, 1, 0, 2, 2, 0, 3, 3, 1, 1, 0, 2, 2, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    )
}

#[test]
fn empty_prediction_scores_zero_with_warning() {
    let gt = three_cells();
    let pred = Labels::filled(8, 3, 0);
    let e = evaluate_labels(&pred, &gt, "empty-pred").expect("eval");
    assert_eq!(
        (e.scores.seg, e.scores.det, e.scores.op_csb),
        (0.0, 0.0, 0.0),
        "SEG 0, DET = 1 - min(30, 30)/30 = 0"
    );
    assert_eq!(
        (e.counts.det_fn, e.counts.det_fp, e.counts.det_ns),
        (3, 0, 0)
    );
    assert!(
        e.scores.ap.iter().all(|&a| a == 0.0),
        "AP = 0/(0+0+3) at every threshold"
    );
    assert_eq!(e.scores.f1_50, 0.0);
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("prediction has no objects")),
        "{:?}",
        e.warnings
    );
}

#[test]
fn empty_ground_truth_is_nan_with_warning_and_pools() {
    let gt = Labels::filled(8, 3, 0);
    let pred = three_cells();
    let e = evaluate_labels(&pred, &gt, "empty-gt").expect("eval");
    assert!(
        e.scores.seg.is_nan() && e.scores.det.is_nan() && e.scores.op_csb.is_nan(),
        "undefined: NaN, not 0"
    );
    assert_eq!(e.counts.det_fp, 3);
    assert_eq!(e.scores.ap[0], 0.0, "AP = 0/(0+3+0)");
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("ground truth has no objects") && w.contains("NaN")),
        "{:?}",
        e.warnings
    );
    // both empty: AP undefined too
    let both = evaluate_labels(&gt, &gt, "both-empty").expect("eval");
    assert!(both.scores.ap[0].is_nan() && both.scores.f1_50.is_nan());
    // pooled with a perfect image: SEG over that image's 3 objects, DET pays the 3 false positives
    let good = evaluate_labels(&three_cells(), &three_cells(), "good").expect("eval");
    let r = EvalReport::from_images(vec![e, good]);
    assert_eq!(r.pooled.seg, 1.0);
    assert_eq!(r.pooled.det, 1.0 - 3.0 / 30.0);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("empty ground truth") && w.contains("empty-gt")));
    let json = serde_json::to_string(&r).expect("json");
    assert!(json.contains("\"seg\":null"), "NaN serialises as null");
    assert!(r
        .table()
        .contains("warning: empty-gt: ground truth has no objects"));
}

#[test]
fn single_pixel_cells_have_nan_where_undefined() {
    let l = lab(
        5,
        &[0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0],
    );
    let m = measure_labels(&l, None, &MeasureConfig::default()).expect("measure");
    assert_eq!(m.cells.len(), 2);
    let c = &m.cells[0];
    assert_eq!((c.label, c.area, c.convex_area), (7, 1, 1));
    assert_eq!(c.perimeter, 0.0, "skimage perimeter of one pixel");
    assert!(c.eccentricity.is_nan(), "skimage says 0; undefined here");
    assert!(
        c.orientation.is_nan(),
        "isotropic: undefined (skimage -45 deg)"
    );
    assert!(c.form_factor.is_nan(), "4 pi A / 0");
    assert_eq!(c.compactness, 0.0, "0^2 / (4 pi)");
    assert_eq!(
        (
            c.major_axis_length,
            c.minor_axis_length,
            c.extent,
            c.solidity
        ),
        (0.0, 0.0, 1.0, 1.0)
    );
    assert_eq!(
        (c.bbox_min_x, c.bbox_max_x, c.bbox_min_y, c.bbox_max_y),
        (1, 2, 1, 2),
        "maximum exclusive"
    );
    assert_eq!(c.max_feret, 1.0, "skimage feret_diameter_max of one pixel");
    assert!((c.equivalent_diameter - (4.0 / std::f64::consts::PI).sqrt()).abs() < 1e-15);
    assert_eq!(c.first_closest_label, Some(9));
    assert_eq!(c.first_closest_distance, 8f64.sqrt(), "(1,1) to (3,3)");
    assert_eq!(
        (c.neighbors_adjacent, c.neighbors_within),
        (0, 1),
        "9 is at distance sqrt(8) <= 5"
    );
    assert_eq!(c.percent_touching, 0.0);
    // a single cell: no closest object
    let one = lab(3, &[0, 4, 0]);
    let m = measure_labels(&one, None, &MeasureConfig::default()).expect("measure");
    assert!(m.cells[0].first_closest_distance.is_nan() && m.cells[0].first_closest_label.is_none());
    let s = m.summary("one");
    assert_eq!((s.cell_count, s.mean_area, s.median_area), (1, 1.0, 1.0));
    assert!((s.confluency - 1.0 / 3.0).abs() < 1e-15);
    // no cells: summary NaN, not 0
    let none =
        measure_labels(&Labels::filled(4, 4, 0), None, &MeasureConfig::default()).expect("measure");
    let s = none.summary("none");
    assert_eq!((s.cell_count, s.confluency), (0, 0.0));
    assert!(s.mean_area.is_nan() && s.median_area.is_nan() && s.mean_neighbors_adjacent.is_nan());
}

#[test]
fn border_touching_cells() {
    // 4x3 image split into two 2x3 cells, both touching three image borders
    let l = lab(4, &[1, 1, 2, 2, 1, 1, 2, 2, 1, 1, 2, 2]);
    let m = measure_labels(&l, None, &MeasureConfig::default()).expect("measure");
    for c in &m.cells {
        // skimage: perimeter 6, area_convex 6, feret_diameter_max sqrt(10), eccentricity 0.790569..,
        // orientation 0, axes 3.265986.. and 2
        assert_eq!(
            (c.area, c.convex_area, c.perimeter),
            (6, 6, 6.0),
            "label {}",
            c.label
        );
        assert!((c.max_feret - 10f64.sqrt()).abs() < 1e-12);
        assert!((c.eccentricity - 0.7905694150420949).abs() < 1e-12);
        assert!(c.orientation.abs() < 1e-12);
        assert!(
            (c.major_axis_length - 3.265986323710904).abs() < 1e-12
                && (c.minor_axis_length - 2.0).abs() < 1e-12
        );
        assert_eq!(c.min_feret, 2.0);
        assert_eq!((c.neighbors_adjacent, c.neighbors_within), (1, 1));
        // outline = all 6 pixels (image border or next to the other cell); 3 touch the other cell
        assert_eq!(c.percent_touching, 50.0);
        assert_eq!(c.first_closest_distance, 2.0);
    }
    // a whole-image cell: every border pixel on the image edge, skimage perimeter of a 3x3 square = 8
    let full = Labels::filled(3, 3, 5);
    let c = &measure_labels(&full, None, &MeasureConfig::default())
        .expect("measure")
        .cells[0];
    assert_eq!((c.area, c.perimeter, c.convex_area), (9, 8.0, 9));
    assert!(
        (c.max_feret - 13f64.sqrt()).abs() < 1e-12,
        "skimage feret_diameter_max 3.6055.."
    );
    let e = evaluate_labels(&full, &full, "full").expect("eval without background pixels");
    assert_eq!((e.scores.seg, e.scores.det), (1.0, 1.0));
}

#[test]
fn label_gaps_give_the_same_results_as_consecutive_labels() {
    let base = three_cells();
    let gapped = base.map(|v| match v {
        1 => 5,
        2 => 1000,
        3 => u32::MAX,
        _ => 0,
    });
    let a = measure_labels(&base, None, &MeasureConfig::default()).expect("measure");
    let b = measure_labels(&gapped, None, &MeasureConfig::default()).expect("measure");
    assert_eq!(
        b.cells.iter().map(|c| c.label).collect::<Vec<_>>(),
        vec![5, 1000, u32::MAX],
        "ascending label order"
    );
    for (x, y) in a.cells.iter().zip(&b.cells) {
        assert_eq!(
            (x.area, x.perimeter, x.neighbors_within),
            (y.area, y.perimeter, y.neighbors_within)
        );
    }
    assert_eq!(b.cells[0].first_closest_label, Some(1000));
    let e1 = evaluate_labels(&base, &gapped, "gaps").expect("eval");
    assert_eq!(
        (e1.scores.seg, e1.scores.det, e1.counts.tp[9]),
        (1.0, 1.0, 3)
    );
}

#[test]
fn more_than_65535_cells() {
    // 70,000 cells of 2x2 pixels in a 700x400 image, labels 1..=70000
    let (w, h) = (700usize, 400usize);
    let mut v = vec![0u32; w * h];
    for y in 0..h {
        for x in 0..w {
            v[y * w + x] = (y / 2 * (w / 2) + x / 2 + 1) as u32;
        }
    }
    let gt = Labels::from_vec(w, h, v).expect("labels");
    let pred = gt.map(|l| l + 100_000);
    let e = evaluate_labels(&pred, &gt, "70k").expect("eval");
    assert_eq!(
        (e.counts.n_gt, e.counts.n_pred, e.counts.det_matched),
        (70_000, 70_000, 70_000)
    );
    assert_eq!(
        (e.scores.seg, e.scores.det, e.scores.ap[9]),
        (1.0, 1.0, 1.0)
    );
    let m = measure_labels(&gt, None, &MeasureConfig::default()).expect("measure");
    assert_eq!(m.cells.len(), 70_000);
    let last = m.cells.last().expect("cells");
    assert_eq!((last.label, last.area, last.convex_area), (70_000, 4, 4));
    let inner = &m.cells[351]; // not on the image border
    assert_eq!(
        (inner.neighbors_adjacent, inner.percent_touching),
        (4, 100.0)
    );
    assert_eq!(inner.first_closest_distance, 2.0);
    // u32 TIFF round trip keeps the labels
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("big_masks.tif");
    samcell_io::write_labels_tiff(&p, &pred).expect("write");
    assert_eq!(read_labels(&p).expect("read"), pred);
}

#[test]
fn mismatched_sizes_are_an_error_naming_both_files() {
    let a = Labels::filled(4, 3, 1);
    let b = Labels::filled(3, 4, 1);
    let err = evaluate_labels(&a, &b, "img")
        .expect_err("size mismatch")
        .to_string();
    assert!(err.contains("4x3") && err.contains("3x4"), "{err}");
    let dir = tempfile::tempdir().expect("tmp");
    let (pa, pb) = (
        dir.path().join("pred_masks.tif"),
        dir.path().join("gt_labels.tif"),
    );
    samcell_io::write_labels_tiff(&pa, &a).expect("write");
    samcell_io::write_labels_tiff(&pb, &b).expect("write");
    let err = evaluate_files(&pa, &pb, "img")
        .expect_err("size mismatch")
        .to_string();
    assert!(
        err.contains("pred_masks.tif")
            && err.contains("gt_labels.tif")
            && err.contains("4x3")
            && err.contains("3x4"),
        "{err}"
    );
    let inten = samcell_imaging::GrayU8::filled(3, 3, 0);
    let err = measure_labels(
        &a,
        Some(samcell_measure::Intensity::U8(&inten)),
        &MeasureConfig::default(),
    )
    .expect_err("intensity size");
    assert!(err.to_string().contains("3x3"), "{err}");
}

#[test]
fn float_intensity_statistics_are_stable_at_large_offsets() {
    // one cell over three rows (three runs merged), values 1e6 + k/16 (exact in f32); a naive
    // E[x^2] - E[x]^2 would lose everything at this offset (x^2 ~ 1e12, ulp ~ 1e-4)
    let l = lab(3, &[1, 1, 0, 1, 0, 0, 1, 1, 1]);
    let vals: Vec<f32> = (0..9).map(|k| 1.0e6 + k as f32 / 16.0).collect();
    let img = samcell_imaging::MapF32::from_vec(3, 3, vals.clone()).expect("image");
    let m = measure_labels(
        &l,
        Some(samcell_measure::Intensity::F32(&img)),
        &MeasureConfig::default(),
    )
    .expect("measure");
    let inside: Vec<f64> = [0usize, 1, 3, 6, 7, 8]
        .iter()
        .map(|&i| f64::from(vals[i]))
        .collect();
    let mean = inside.iter().sum::<f64>() / 6.0;
    let std = (inside.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 6.0).sqrt();
    let s = m.cells[0].intensity.expect("intensity");
    assert!(
        (s.mean - mean).abs() < 1e-9 && (s.std - std).abs() < 1e-9,
        "{s:?} vs mean {mean} std {std} (numpy std, ddof 0)"
    );
    assert_eq!((s.min, s.max), (inside[0], inside[5]));
}
