//! `samcell measure`, `samcell eval`, `samcell tune` and the measurement outputs of
//! `samcell segment`, end to end with the built binary on real DSB2018 labels and images (see
//! `common` for the data and the tiny checkpoint; without them the tests skip with a line).
//!
//! The measurement and scoring numbers themselves are checked against the references in
//! samcell-measure's tests; here the checks are the CLI's contracts: one CSV row per label, one
//! summary row per image, SEG = DET = 1 for identical folders (exact: integer counts), DET < 1
//! after removing a cell, exit 2 naming unpaired files, and a complete tuning grid.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn stem(i: usize) -> String {
    DSB_IMAGES[i].trim_end_matches(".png").to_string()
}

/// Copies DSB label image `i` to `dir` (same file name as the image).
fn copy_label(i: usize, dir: &Path) -> PathBuf {
    let src = data().join("dsb2018-train/labels").join(DSB_IMAGES[i]);
    assert!(src.is_file(), "{} missing", src.display());
    std::fs::create_dir_all(dir).unwrap();
    let dest = dir.join(DSB_IMAGES[i]);
    std::fs::copy(&src, &dest).unwrap();
    dest
}

fn n_labels(path: &Path) -> usize {
    let l = samcell_measure::read_labels(path).expect("labels");
    count_labels(l.data())
}

/// Data rows of a CSV with a header line.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert!(lines.next().is_some(), "{}: no header", path.display());
    lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn pooled(eval_json: &Path) -> (f64, f64) {
    let j = json(eval_json);
    (
        j["pooled"]["seg"].as_f64().expect("seg"),
        j["pooled"]["det"].as_f64().expect("det"),
    )
}

#[test]
fn measure_writes_one_row_per_label_and_a_summary() {
    if !have(&[], &[DSB]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (lab, out) = (tmp.path().join("lab"), tmp.path().join("out"));
    let files: Vec<PathBuf> = (0..2).map(|i| copy_label(i, &lab)).collect();
    let (code, _, err) = run(samcell()
        .arg("measure")
        .arg(&lab)
        .arg("--image")
        .arg(data().join("dsb2018-train/images"))
        .arg("--output")
        .arg(&out)
        .args(["--neighbor-distance", "3"]));
    assert_eq!(code, 0, "{err}");
    for (i, f) in files.iter().enumerate() {
        let n = n_labels(f);
        assert!(n > 5, "DSB label image {i} has {n} labels");
        let rows = csv_rows(&out.join(format!("{}_cells.csv", stem(i))));
        assert_eq!(rows.len(), n, "one row per label in image {i}");
    }
    let summary = csv_rows(&out.join("summary.csv"));
    assert_eq!(summary.len(), 2);
    for (i, f) in files.iter().enumerate() {
        assert_eq!(summary[i][0], stem(i));
        assert_eq!(summary[i][3], n_labels(f).to_string(), "cell_count column");
        assert_eq!(summary[i][9], "3", "neighbor distance column");
    }

    // a bad file fails alone: exit 1, the other file is still measured
    std::fs::write(lab.join("broken.png"), b"not a png").unwrap();
    let out2 = tmp.path().join("out2");
    let (code, _, err) = run(samcell().arg("measure").arg(&lab).arg("-o").arg(&out2));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("broken.png"), "{err}");
    assert_eq!(csv_rows(&out2.join("summary.csv")).len(), 2);
}

#[test]
fn eval_identical_perturbed_and_unpaired() {
    if !have(&[], &[DSB]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (gt, pred, out) = (
        tmp.path().join("gt"),
        tmp.path().join("pred"),
        tmp.path().join("out"),
    );
    for i in 0..2 {
        copy_label(i, &gt);
    }
    let eval = |pred: &Path, out: &Path| {
        run(samcell()
            .arg("eval")
            .arg("--pred")
            .arg(pred)
            .arg("--gt")
            .arg(&gt)
            .arg("--output")
            .arg(out))
    };
    let (code, stdout, err) = eval(&gt, &out);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("OP_CSB"), "table printed: {stdout}");
    assert_eq!(pooled(&out.join("eval.json")), (1.0, 1.0), "exact");
    assert!(csv_rows(&out.join("eval.csv")).len() >= 2, "eval.csv rows");

    // prediction = ground truth without one cell (as TIFF masks: pairs with the PNGs by stem)
    std::fs::create_dir_all(&pred).unwrap();
    for (i, file) in DSB_IMAGES.iter().enumerate().take(2) {
        let mut l = samcell_measure::read_labels(&gt.join(file)).unwrap();
        if i == 0 {
            let victim = l.data().iter().copied().find(|&v| v != 0).unwrap();
            for v in l.data_mut() {
                if *v == victim {
                    *v = 0;
                }
            }
        }
        samcell_io::write_labels_tiff(&pred.join(format!("{}_masks.tif", stem(i))), &l).unwrap();
    }
    let out2 = tmp.path().join("out2");
    let (code, _, err) = eval(&pred, &out2);
    assert_eq!(code, 0, "{err}");
    let (seg, det) = pooled(&out2.join("eval.json"));
    assert!(
        det < 1.0 && seg < 1.0,
        "one cell missing: SEG {seg} DET {det}"
    );
    assert!(det > 0.9, "only one of many cells missing: DET {det}");

    // a prediction without ground truth: usage error naming it
    samcell_io::write_labels_tiff(
        &pred.join("extra_masks.tif"),
        &samcell_measure::read_labels(&gt.join(DSB_IMAGES[0])).unwrap(),
    )
    .unwrap();
    let (code, _, err) = eval(&pred, &tmp.path().join("out3"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("extra_masks.tif"), "{err}");
}

/// `segment --save-distmap` with the tiny model, then `tune --distmaps` on its maps.
#[test]
fn segment_measures_cells_and_tune_reads_its_distmaps() {
    if !have(&["safetensors"], &[DSB]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (inp, gt, seg, tn) = (
        tmp.path().join("in"),
        tmp.path().join("gt"),
        tmp.path().join("seg"),
        tmp.path().join("tune"),
    );
    for (i, file) in DSB_IMAGES.iter().enumerate().take(2) {
        copy_dsb(i, &inp.join(file));
        copy_label(i, &gt);
    }
    let segment = || {
        run(samcell()
            .arg("segment")
            .arg(&inp)
            .args(tiny_args("safetensors"))
            .arg("--save-distmap")
            .arg("--output")
            .arg(&seg))
    };
    let (code, _, err) = segment();
    assert_eq!(code, 0, "{err}");
    let run_json = json(&seg.join("run.json"));
    let mut counts = Vec::new();
    for (i, rec) in run_json["images"].as_array().unwrap().iter().enumerate() {
        let name = rec["name"].as_str().unwrap();
        let n = rec["n_cells"].as_u64().unwrap() as usize;
        assert!(n > 0, "{name}: tiny model thresholds give cells");
        let rows = csv_rows(&seg.join(format!("{name}_cells.csv")));
        assert_eq!(
            rows.len(),
            n,
            "{name}: one row per cell (= run.json n_cells)"
        );
        assert_eq!(name, stem(i));
        counts.push(n.to_string());
    }
    let summary = csv_rows(&seg.join("summary.csv"));
    let col = |s: &Vec<Vec<String>>| s.iter().map(|r| r[3].clone()).collect::<Vec<_>>();
    assert_eq!(col(&summary), counts, "summary.csv cell counts");

    // a missing _cells.csv makes the image not done; the complete one is skipped and its
    // summary row re-measured from the masks
    std::fs::remove_file(seg.join(format!("{}_cells.csv", stem(1)))).unwrap();
    let (code, _, err) = segment();
    assert_eq!(code, 0, "{err}");
    let statuses: Vec<String> = json(&seg.join("run.json"))["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses, ["skipped", "ok"]);
    assert!(seg.join(format!("{}_cells.csv", stem(1))).is_file());
    assert_eq!(col(&csv_rows(&seg.join("summary.csv"))), counts);

    let tune = |peak: &str, fill: &str| {
        run(samcell()
            .arg("tune")
            .arg("--gt")
            .arg(&gt)
            .arg("--distmaps")
            .arg(&seg)
            .args(["--peak", peak, "--fill", fill])
            .arg("--output")
            .arg(&tn))
    };
    let (code, stdout, err) = tune("0.50:0.56:0.02", "0.48:0.52:0.02");
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("best: peak"), "{stdout}");
    let rows = csv_rows(&tn.join("tune.csv"));
    assert_eq!(rows.len(), 4 * 3, "whole grid");
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    assert!(
        (pairs[0].0 - 0.50).abs() < 1e-6 && (pairs[11].0 - 0.56).abs() < 1e-6,
        "{pairs:?}"
    );
    assert!(
        (pairs[0].1 - 0.48).abs() < 1e-6 && (pairs[11].1 - 0.52).abs() < 1e-6,
        "{pairs:?}"
    );
    let png = std::fs::read(tn.join("tune_heatmap.png")).unwrap();
    let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .expect("tune_heatmap.png decodes");
    assert!(img.width() > 50 && img.height() > 50);

    // ground truth without a distance map: exit 2 naming it
    copy_label(2, &gt);
    let (code, _, err) = tune("0.5", "0.5");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(DSB_IMAGES[2]), "{err}");
}
