//! `samcell segment` end to end: the built binary on real DSB2018 images with the reference
//! harness's tiny SAM checkpoint (same code paths as ViT-B, a few MB). See `common` for where the
//! data and the checkpoint come from (without them those tests skip with a line); the tests of
//! errors use generated images.
//!
//! No golden values here: the numbers are checked against the pipeline's own invariants
//! (masks <-> run.json cell counts, labels only where the distance map exceeds `--fill`); parity
//! with the Python reference is the pipeline's and model's tests' job.

mod common;

use common::*;
use std::path::Path;
use std::time::SystemTime;

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn stems() -> Vec<String> {
    DSB_IMAGES
        .iter()
        .map(|n| n.trim_end_matches(".png").to_string())
        .collect()
}

fn images_by_input(run: &serde_json::Value) -> Vec<(String, String)> {
    run["images"]
        .as_array()
        .expect("images array")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Three real images and one truncated PNG: three complete output sets, one clear failure,
/// exit 1; a second run skips the three without touching them; `--overwrite` redoes them.
#[test]
fn folder_run_reports_corrupt_file_then_resumes_and_overwrites() {
    if !have(&["safetensors"], &[DSB]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
    for (i, name) in DSB_IMAGES.iter().enumerate() {
        copy_dsb(i, &inp.join(name));
    }
    let good = std::fs::read(inp.join(DSB_IMAGES[0])).unwrap();
    std::fs::write(inp.join("broken.png"), &good[..200]).unwrap();
    std::fs::write(
        inp.join("notes.txt"),
        "not an image, not picked up from a folder",
    )
    .unwrap();

    let segment = |extra: &[&str]| {
        let mut c = samcell();
        c.arg("segment")
            .arg(&inp)
            .arg("--output")
            .arg(&out)
            .args(tiny_args("safetensors"))
            .args(extra);
        run(&mut c)
    };

    // first run
    let (code, _, err) = segment(&[]);
    assert_eq!(code, 1, "one image failed -> exit 1; stderr:\n{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("broken.png") && l.contains("failed")),
        "the failure names the corrupt file; stderr:\n{err}"
    );
    assert!(
        err.contains("3 ok, 0 skipped, 1 failed"),
        "summary line; stderr:\n{err}"
    );
    let run1 = json(&out.join("run.json"));
    assert_eq!(
        run1["summary"],
        serde_json::json!({"ok": 3, "skipped": 0, "failed": 1})
    );
    // sorted by path: the hex-named images ("0...") come before "broken.png"
    let mut expected: Vec<(String, String)> =
        stems().into_iter().map(|s| (s, "ok".to_string())).collect();
    expected.push(("broken".into(), "failed".into()));
    assert_eq!(
        images_by_input(&run1),
        expected,
        "sorted input order, statuses"
    );
    let broken = run1["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "broken")
        .unwrap();
    assert!(
        broken["error"].as_str().is_some_and(|e| !e.is_empty()),
        "error text recorded: {broken}"
    );
    assert!(!out.join("broken_masks.tif").exists() && !out.join("broken_overlay.png").exists());
    assert_eq!(
        run1["settings"]["peak"].as_f64().map(|v| v as f32),
        Some(0.52)
    );
    assert_eq!(
        run1["settings"]["fill"].as_f64().map(|v| v as f32),
        Some(0.5)
    );
    assert_eq!(run1["settings"]["threads"], 2);
    assert_eq!(run1["model"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(run1["model"]["format"], "Safetensors");

    let mut first_mtimes = Vec::new();
    for (stem, rec) in stems()
        .iter()
        .zip(run1["images"].as_array().unwrap().iter().take(3))
    {
        assert_eq!(rec["name"], stem.as_str());
        for suffix in ["_masks.tif", "_overlay.png", "_run.json"] {
            assert!(
                out.join(format!("{stem}{suffix}")).is_file(),
                "{stem}{suffix} written"
            );
        }
        assert!(
            !out.join(format!("{stem}_distmap.tif")).exists(),
            "no distmap without --save-distmap"
        );
        let (w, h, labels) = read_labels(&out.join(format!("{stem}_masks.tif")));
        assert_eq!((w, h), (256, 256));
        let n = count_labels(&labels);
        assert!(
            n >= 5,
            "{stem}: tens of cells expected with the tiny model's thresholds, got {n}"
        );
        assert_eq!(
            rec["n_cells"].as_u64(),
            Some(n as u64),
            "{stem}: run.json n_cells equals the masks' label count"
        );
        assert_eq!(
            labels.iter().copied().max().unwrap_or(0) as usize,
            n,
            "labels are 1..=n"
        );
        assert_eq!(rec["n_crops"], 4, "256x256 is 4 crops");
        assert_eq!(rec["source"]["sample"], "u8");
        let per_image = json(&out.join(format!("{stem}_run.json")));
        assert_eq!(per_image["image"]["n_cells"], rec["n_cells"]);
        assert_eq!(per_image["model"]["sha256"], run1["model"]["sha256"]);
        first_mtimes.push(mtime(&out.join(format!("{stem}_masks.tif"))));
    }

    // second run: skipped, untouched
    let (code, _, err) = segment(&[]);
    assert_eq!(code, 1, "the corrupt file still fails; stderr:\n{err}");
    assert_eq!(
        err.matches("skipped, outputs exist").count(),
        3,
        "stderr:\n{err}"
    );
    assert!(err.contains("0 ok, 3 skipped, 1 failed"), "stderr:\n{err}");
    for (stem, t) in stems().iter().zip(&first_mtimes) {
        assert_eq!(
            mtime(&out.join(format!("{stem}_masks.tif"))),
            *t,
            "{stem}: masks untouched on resume"
        );
    }

    // --overwrite redoes them
    std::fs::remove_file(inp.join("broken.png")).unwrap();
    let (code, _, err) = segment(&["--overwrite"]);
    assert_eq!(code, 0, "stderr:\n{err}");
    let run3 = json(&out.join("run.json"));
    assert_eq!(
        run3["summary"],
        serde_json::json!({"ok": 3, "skipped": 0, "failed": 0})
    );
    for (stem, t) in stems().iter().zip(&first_mtimes) {
        assert!(
            mtime(&out.join(format!("{stem}_masks.tif"))) > *t,
            "{stem}: masks rewritten with --overwrite"
        );
    }
    // same model, same settings, same image: same result
    for (a, b) in run1["images"].as_array().unwrap()[..3]
        .iter()
        .zip(run3["images"].as_array().unwrap())
    {
        assert_eq!(
            a["n_cells"], b["n_cells"],
            "deterministic cell count for {}",
            a["name"]
        );
    }
}

/// `--save-distmap` writes the f32 map; every labelled pixel has map > fill (the watershed
/// mask), and outputs made with other thresholds are redone on resume.
#[test]
fn save_distmap_writes_consistent_f32_tiff() {
    if !have(&["pt"], &[DSB]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (img, out) = (tmp.path().join("cells.png"), tmp.path().join("out"));
    copy_dsb(1, &img);
    let mut c = samcell();
    c.args(["segment", "--save-distmap", "--batch-size", "3", "--output"])
        .arg(&out)
        .arg(&img)
        .args(tiny_args("pt"));
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    let (w, h, map) = read_f32(&out.join("cells_distmap.tif"));
    assert_eq!((w, h), (256, 256));
    assert!(
        map.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)),
        "sigmoid output in 0..1"
    );
    let (_, _, labels) = read_labels(&out.join("cells_masks.tif"));
    let fill: f32 = TINY_FILL.parse().unwrap();
    assert!(count_labels(&labels) >= 5, "tens of cells expected");
    assert!(
        labels.iter().zip(&map).all(|(&l, &m)| l == 0 || m > fill),
        "labels only where map > fill (the watershed mask; exact f32 comparison of the same values)"
    );
    let meta = json(&out.join("run.json"));
    assert_eq!(meta["settings"]["batch_size"], 3);
    assert_eq!(meta["model"]["format"], "TorchZip");

    // rerun with another threshold: the outputs made with the old one are redone
    let mut c = samcell();
    let mut args = tiny_args("pt");
    let peak = args
        .iter()
        .position(|a| a == "--peak")
        .expect("tiny_args sets --peak")
        + 1;
    args[peak] = "0.53".into();
    c.args(["segment", "--save-distmap", "--output"])
        .arg(&out)
        .arg(&img)
        .args(args);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(
        err.contains("different settings") && err.contains("redoing"),
        "stale outputs redone; stderr:\n{err}"
    );
    assert!(err.contains("1 ok, 0 skipped"), "stderr:\n{err}");
    let per_image = json(&out.join("cells_run.json"));
    assert_eq!(per_image["settings"]["peak"], 0.53);
}

/// A truncated checkpoint: clear error naming the file, non-zero exit, nothing written.
#[test]
fn corrupt_checkpoint_fails_before_writing_anything() {
    if !have(&["pt"], &[]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (img, out) = (tmp.path().join("a.png"), tmp.path().join("out"));
    write_test_png(&img, 64, 0);
    let bytes = std::fs::read(tiny_model("pt")).unwrap();
    let bad = tmp.path().join("truncated.pt");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let mut c = samcell();
    c.args(["segment", "--threads", "2", "--model"])
        .arg(&bad)
        .arg("--output")
        .arg(&out)
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 1, "stderr:\n{err}");
    assert!(
        err.contains("truncated.pt") && err.contains("error"),
        "names the checkpoint; stderr:\n{err}"
    );
    assert!(!out.exists(), "no output folder created");
}

#[test]
fn usage_errors_exit_2_with_clear_messages() {
    let tmp = tempfile::tempdir().unwrap();
    // a real model, so that every error below is about the arguments
    let model = format!("lite:{}", write_lite_model(tmp.path()).display());
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("readme.txt"), "x").unwrap();

    let mut c = samcell();
    c.args(["segment"])
        .arg(&empty)
        .args(["--model", &model])
        .arg("--output")
        .arg(tmp.path().join("o"));
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(err.contains("no input images found"), "stderr:\n{err}");

    let mut c = samcell();
    c.args(["segment"])
        .arg(tmp.path().join("missing.png"))
        .args(["--model", &model]);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(
        err.contains("input not found") && err.contains("missing.png"),
        "stderr:\n{err}"
    );

    let img = tmp.path().join("a.png");
    write_test_png(&img, 64, 0);
    // (a build with a built-in samcell-lite model uses it by default: see tests/lite_cli.rs)
    if samcell_lite::builtin_weights().is_none() {
        let mut c = samcell();
        c.args(["segment"]).arg(&img);
        let (code, _, err) = run(&mut c);
        assert_eq!(code, 2, "stderr:\n{err}");
        assert!(
            err.contains("no model given") && err.contains("generalist") && err.contains("cyto"),
            "stderr:\n{err}"
        );
    }

    let mut c = samcell();
    c.args(["segment", "--percentile", "99,1", "--model", "cyto"])
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(err.contains("LO < HI"), "stderr:\n{err}");

    // the Python CLI's option name is accepted, and thresholds are checked
    let mut c = samcell();
    c.args(["segment", "--peak-threshold", "1.5", "--model", "cyto"])
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(err.contains("outside 0..1"), "stderr:\n{err}");
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(samcell().arg("--version"));
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("samcell {}", env!("CARGO_PKG_VERSION")));
    let (code, out, _) = run(samcell().args(["segment", "--help"]));
    assert_eq!(code, 0);
    for s in [
        "Examples:",
        "--model",
        "--save-distmap",
        "--overwrite",
        "_masks.tif",
        "Exit status",
    ] {
        assert!(out.contains(s), "help mentions {s}:\n{out}");
    }
}
