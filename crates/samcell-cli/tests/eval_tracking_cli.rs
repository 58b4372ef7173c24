//! `samcell eval --tracking` on the committed synthetic CTC sequence of samcell-measure's tracking
//! fixtures (reference/gen_tracking_eval_fixtures.py): the printed table and eval.json against
//! py-ctcmetrics 1.3.3's scores (1e-9; counts exactly), an invalid result reported as such
//! (exit 1, eval.json with `"valid": false`), and a missing res_track.txt named in the error.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../samcell-measure/tests/fixtures/tracking")
}

/// py-ctcmetrics' scores of the synthetic variant `name`.
fn scores(name: &str) -> serde_json::Value {
    let cases = json(&fixtures().join("tracking_cases.json"));
    cases["synthetic"]["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("variant {name}"))["scores"]
        .clone()
}

fn eval(res: &Path, out: &Path) -> (i32, String, String) {
    run(samcell()
        .arg("eval")
        .arg("--tracking")
        .arg("--pred")
        .arg(res)
        .arg("--gt")
        .arg(fixtures().join("synthetic_GT"))
        .arg("--output")
        .arg(out))
}

#[test]
fn tracking_scores_equal_py_ctcmetrics() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = eval(&fixtures().join("RES_false_division"), tmp.path());
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("valid: yes"), "{out}");
    assert!(
        out.contains("TRA") && out.contains("OP_CTB") && out.contains("missed"),
        "{out}"
    );
    let got = json(&tmp.path().join("eval.json"));
    let want = scores("false_division");
    assert_eq!(got["valid"], true);
    for k in [
        "TRA", "DET", "LNK", "SEG", "OP_CTB", "OP_CSB", "BC(0)", "BC(3)",
    ] {
        let (g, w) = (got[k].as_f64().expect(k), want[k].as_f64().expect(k));
        assert!(
            (g - w).abs() <= 1e-9,
            "{k}: {g} vs py-ctcmetrics {w} (tolerance 1e-9)"
        );
    }
    for k in [
        "AOGM",
        "AOGM_0",
        "AOGM_NS",
        "AOGM_FN",
        "AOGM_FP",
        "AOGM_ED",
        "AOGM_EA",
        "AOGM_EC",
        "gt_divisions",
        "tp_div(0)",
        "fp_div(0)",
        "fn_div(0)",
    ] {
        assert_eq!(got[k].as_f64(), want[k].as_f64(), "{k}, exact");
    }
    // the false division is counted as one
    assert_eq!(got["fp_div(0)"], 1);
}

#[test]
fn an_invalid_result_is_reported_not_scored() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, err) = eval(&fixtures().join("RES_missing_line"), tmp.path());
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("valid: no"), "{out}");
    assert!(
        out.contains("label(s) 7 in the mask but not in res_track.txt"),
        "{out}"
    );
    assert!(err.contains("not a valid tracking result"), "{err}");
    let got = json(&tmp.path().join("eval.json"));
    assert_eq!(scores("missing_line")["Valid"], 0);
    assert_eq!(got["valid"], false);
    assert!(got["TRA"].is_null() && got["SEG"].is_null(), "{got}");
    assert!(!got["problems"].as_array().expect("problems").is_empty());
}

#[test]
fn a_missing_track_file_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let res = tmp.path().join("01_RES");
    std::fs::create_dir(&res).unwrap();
    for e in std::fs::read_dir(fixtures().join("RES_false_division")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "tif") {
            std::fs::copy(&p, res.join(p.file_name().unwrap())).unwrap();
        }
    }
    let (code, out, err) = eval(&res, &tmp.path().join("out"));
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains(&res.join("res_track.txt").display().to_string()),
        "{err}"
    );
    assert!(!tmp.path().join("out/eval.json").exists());
}
