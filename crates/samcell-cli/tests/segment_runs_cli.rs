//! `samcell segment` run bookkeeping through the binary: warnings for inputs that give an empty
//! or partial result, pages of multi-page TIFFs, results files merged across runs, outputs made
//! with other settings redone, write failures counted, non-UTF-8 and over-long file names.
//!
//! Self-contained: the model is a small untrained samcell-lite network written by the test
//! (`SAMCELL_LITE_WEIGHTS`) and the images are synthetic, so nothing here needs the shared data.
//! The segmentations themselves are meaningless; these tests are about files and records.

mod common;

use common::{json, run, samcell, write_lite_model_tiled};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tiny untrained samcell-lite model (one 64 + 16 crop for the 64x64 test images).
fn lite(dir: &Path) -> PathBuf {
    write_lite_model_tiled(dir, 64, 16, 3)
}

/// `samcell segment` with the test model, 1 thread, into `out`.
fn segment(model: &Path, out: &Path) -> Command {
    let mut c = samcell();
    c.env("SAMCELL_LITE_WEIGHTS", model)
        .args(["segment", "--threads", "1", "--output"])
        .arg(out);
    c
}

/// A 64x64 grey PNG with a pattern (`seed` varies it).
fn png(path: &Path, seed: u32) {
    let img = image::GrayImage::from_fn(64, 64, |x, y| {
        image::Luma([((x * 3 + y * 5 + seed * 17) % 200 + 20) as u8])
    });
    img.save(path).unwrap();
}

/// `dir/a.png` and `dir/b.png`, two different test images.
fn two_pngs(dir: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (dir.join("a.png"), dir.join("b.png"));
    png(&a, 1);
    png(&b, 2);
    (a, b)
}

/// A TIFF of `pages` 64x64 grey pages.
fn tiff_stack(path: &Path, pages: u32) {
    let f = std::fs::File::create(path).unwrap();
    let mut enc = tiff::encoder::TiffEncoder::new(std::io::BufWriter::new(f)).unwrap();
    for p in 0..pages {
        let data: Vec<u8> = (0..64 * 64u32)
            .map(|i| ((i % 64) * 2 + (i / 64) + p * 40) as u8)
            .collect();
        enc.write_image::<tiff::encoder::colortype::Gray8>(64, 64, &data)
            .unwrap();
    }
}

fn statuses(run_json: &serde_json::Value, key: &str) -> Vec<(String, String)> {
    run_json[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {run_json:#}"))
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn summary_names(out: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().contains(",confluency_fraction,"),
        "the confluency column names its unit:\n{text}"
    );
    lines
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

#[test]
fn fill_above_peak_is_a_usage_error_for_segment_and_tune() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("a.png");
    png(&img, 0);
    let mut c = samcell();
    c.args(["segment", "--peak", "0.3", "--fill", "0.6", "--output"])
        .arg(tmp.path().join("out"))
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(
        err.contains("--fill 0.6 is above --peak 0.3"),
        "stderr:\n{err}"
    );
    assert!(!tmp.path().join("out").exists(), "nothing written");

    let mut c = samcell();
    c.args(["tune", "--peak", "0.3", "--fill", "0.5", "--distmaps"])
        .arg(tmp.path())
        .arg("--gt")
        .arg(tmp.path());
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(err.contains("fill must not exceed peak"), "stderr:\n{err}");
}

/// A constant image and a float image whose ±3e38 pixels flatten the min-max scaling: each
/// gets a warning in the log, in `run.json` and in its `_run.json`.
#[test]
fn constant_and_flattened_images_are_warned_about() {
    let tmp = tempfile::tempdir().unwrap();
    let model = lite(tmp.path());
    let (inp, out) = (tmp.path().join("in"), tmp.path().join("out"));
    std::fs::create_dir(&inp).unwrap();
    image::GrayImage::from_pixel(64, 64, image::Luma([90u8]))
        .save(inp.join("flat.png"))
        .unwrap();
    let mut map = samcell_imaging::MapF32::filled(64, 64, 0.0);
    for (i, v) in map.data_mut().iter_mut().enumerate() {
        *v = (i % 97) as f32;
    }
    map.data_mut()[0] = 3e38;
    map.data_mut()[1] = -3e38;
    samcell_io::write_f32_tiff(&inp.join("extreme.tif"), &map).unwrap();
    png(&inp.join("normal.png"), 1);

    let (code, _, err) = run(segment(&model, &out).arg(&inp));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("WARN") && l.contains("flat.png") && l.contains("constant")),
        "stderr:\n{err}"
    );
    assert!(
        err.lines()
            .any(|l| l.contains("WARN") && l.contains("extreme.tif") && l.contains("--percentile")),
        "stderr:\n{err}"
    );
    let meta = json(&out.join("run.json"));
    let warnings = |name: &str| -> Vec<String> {
        let rec = meta["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {meta:#}"));
        let per_image = json(&out.join(format!("{name}_run.json")));
        assert_eq!(per_image["image"]["warnings"], rec["warnings"]);
        serde_json::from_value(rec["warnings"].clone()).unwrap()
    };
    assert!(warnings("flat")[0].contains("constant"));
    assert!(warnings("extreme")[0].contains("one grey level"));
    assert!(warnings("normal").is_empty());
}

/// A 3-page TIFF: the page is in the output names and the settings; without `--page` a warning
/// says only one page was done; `--page 1` into the same folder is segmented, not "skipped";
/// `--all-pages` does the rest.
#[test]
fn pages_of_a_stack_get_their_own_results() {
    let tmp = tempfile::tempdir().unwrap();
    let model = lite(tmp.path());
    let (stack, out) = (tmp.path().join("stack.tif"), tmp.path().join("out"));
    tiff_stack(&stack, 3);

    let (code, _, err) = run(segment(&model, &out).arg(&stack));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(
        err.contains("page 0 of 3") && err.contains("3 pages") && err.contains("--all-pages"),
        "the log says what was processed; stderr:\n{err}"
    );
    assert!(out.join("stack_p0_masks.tif").is_file());
    let meta = json(&out.join("run.json"));
    assert_eq!(meta["images"][0]["page"], 0);
    assert_eq!(meta["images"][0]["source"]["pages"], 3);
    assert!(meta["images"][0]["warnings"][0]
        .as_str()
        .unwrap()
        .contains("only page 0"));

    let (code, _, err) = run(segment(&model, &out).arg(&stack).args(["--page", "1"]));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(err.contains("1 ok, 0 skipped"), "stderr:\n{err}");
    assert_eq!(json(&out.join("stack_p1_run.json"))["settings"]["page"], 1);
    assert_eq!(
        json(&out.join("run.json"))["images"][0]["warnings"],
        serde_json::json!([]),
        "a chosen page is no surprise"
    );

    let (code, _, err) = run(segment(&model, &out).arg(&stack).arg("--all-pages"));
    assert_eq!(code, 0, "stderr:\n{err}");
    let meta = json(&out.join("run.json"));
    assert_eq!(
        statuses(&meta, "images"),
        [
            ("stack_p0".to_string(), "skipped".to_string()),
            ("stack_p1".to_string(), "skipped".to_string()),
            ("stack_p2".to_string(), "ok".to_string())
        ]
    );
    assert_eq!(meta["settings"]["all_pages"], true);
    assert_eq!(json(&out.join("stack_p2_run.json"))["settings"]["page"], 2);
    assert_eq!(summary_names(&out), ["stack_p0", "stack_p1", "stack_p2"]);
}

/// Runs on single images into one folder keep the other images' rows and records; a re-run
/// image's row is replaced; outputs made with another threshold are redone, not kept.
#[test]
fn results_merge_across_runs_and_stale_outputs_are_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let model = lite(tmp.path());
    let out = tmp.path().join("out");
    let (a, b) = two_pngs(tmp.path());

    let (code, _, err) = run(segment(&model, &out).arg(&a).args(["--fill", "0.09"]));
    assert_eq!(code, 0, "stderr:\n{err}");
    let text = std::fs::read_to_string(out.join("run.json")).unwrap();
    assert!(
        text.contains("\"fill\": 0.09,"),
        "thresholds without float noise:\n{text}"
    );
    let (code, _, err) = run(segment(&model, &out).arg(&b));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(summary_names(&out), ["a", "b"], "a's row is kept");
    let meta = json(&out.join("run.json"));
    assert_eq!(statuses(&meta, "images"), [("b".into(), "ok".into())]);
    assert_eq!(
        statuses(&meta, "earlier_images"),
        [("a".into(), "ok".into())]
    );
    assert!(meta["earlier_images"][0]["run_started_unix"].is_u64());

    // a again with another peak: redone (not skipped with a warning), its row replaced
    let masks = out.join("a_masks.tif");
    let before = std::fs::read(out.join("a_run.json")).unwrap();
    let (code, _, err) = run(segment(&model, &out).arg(&a).args(["--peak", "0.5"]));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(
        err.contains("different settings (peak 0.47 -> 0.5") && err.contains("1 ok, 0 skipped"),
        "stderr:\n{err}"
    );
    assert!(masks.is_file());
    assert_ne!(std::fs::read(out.join("a_run.json")).unwrap(), before);
    assert_eq!(json(&out.join("a_run.json"))["settings"]["peak"], 0.5);
    assert_eq!(summary_names(&out), ["b", "a"], "one row per image");
    let meta = json(&out.join("run.json"));
    assert_eq!(
        statuses(&meta, "earlier_images"),
        [("b".into(), "ok".into())]
    );

    // same settings again: skipped
    let (code, _, err) = run(segment(&model, &out).arg(&a).args(["--peak", "0.5"]));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(err.contains("0 ok, 1 skipped"), "stderr:\n{err}");
    // --dry-run sees the same
    let (code, stdout, err) = run(segment(&model, &out).arg(&a).arg("--dry-run"));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(
        stdout.ends_with("segment (outputs made with other settings)\n"),
        "{stdout}"
    );
}

/// `--scale`: the model sees the resized image (four times the area here), the outputs keep
/// the input's size, run.json records the factor, and results made at another scale are redone.
#[test]
fn scale_is_recorded_keeps_the_size_and_redoes_other_scales() {
    let tmp = tempfile::tempdir().unwrap();
    let model = lite(tmp.path());
    let out = tmp.path().join("out");
    let (a, _) = two_pngs(tmp.path());

    let (code, _, err) = run(segment(&model, &out).arg(&a).args(["--scale", "2"]));
    assert_eq!(code, 0, "stderr:\n{err}");
    let meta = json(&out.join("a_run.json"));
    assert_eq!(meta["settings"]["scale"], 2.0);
    // a 128 x 128 image in crops of 64 + 16: 4 x 4 crops (2 x 2 at scale 1)
    assert_eq!(meta["image"]["n_crops"], 16, "{meta}");
    let masks = image::open(out.join("a_masks.tif")).unwrap();
    assert_eq!((masks.width(), masks.height()), (64, 64));

    let (code, _, err) = run(segment(&model, &out).arg(&a));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(
        err.contains("scale 2 -> 1") && err.contains("1 ok, 0 skipped"),
        "stderr:\n{err}"
    );
    let meta = json(&out.join("a_run.json"));
    assert_eq!(meta["settings"]["scale"], 1.0);
    assert_eq!(meta["image"]["n_crops"], 4);
    // --scale 1 is the default: nothing to redo
    let (code, _, err) = run(segment(&model, &out).arg(&a).args(["--scale", "1"]));
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(err.contains("0 ok, 1 skipped"), "stderr:\n{err}");

    for bad in ["0", "5", "x"] {
        let (code, _, err) = run(segment(&model, &out).arg(&a).args(["--scale", bad]));
        assert_eq!(code, 2, "--scale {bad}: stderr:\n{err}");
        assert!(err.contains("--scale"), "stderr:\n{err}");
    }
}

/// An output that cannot be written fails its image; `run.json` that cannot be written is an
/// error with a non-zero exit, never a stale "all ok".
#[test]
fn write_failures_are_failures() {
    let tmp = tempfile::tempdir().unwrap();
    let model = lite(tmp.path());
    let out = tmp.path().join("out");
    let (a, b) = two_pngs(tmp.path());
    // a folder where an output file must go
    std::fs::create_dir_all(out.join("a_overlay.png")).unwrap();
    let (code, _, err) = run(segment(&model, &out).arg(&a).arg(&b));
    assert_eq!(code, 1, "stderr:\n{err}");
    let meta = json(&out.join("run.json"));
    assert_eq!(
        meta["summary"],
        serde_json::json!({"ok": 1, "skipped": 0, "failed": 1})
    );
    assert!(!out.join("a_masks.tif").exists());

    std::fs::remove_dir(out.join("a_overlay.png")).unwrap();
    std::fs::remove_file(out.join("run.json")).unwrap();
    std::fs::create_dir(out.join("run.json")).unwrap();
    let (code, _, err) = run(segment(&model, &out).arg(&a).arg(&b));
    assert_eq!(code, 1, "stderr:\n{err}");
    assert!(
        err.contains("error: cannot write") && err.contains("run.json"),
        "stderr:\n{err}"
    );
}

/// A file name that is not UTF-8 is accepted as an argument and named losslessly; an output
/// name too long for the file system is said to be that (not "cannot remove the old masks").
#[cfg(unix)]
#[test]
fn odd_file_names() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let model = lite(tmp.path());
    let out = tmp.path().join("out");
    let bad = tmp.path().join(std::ffi::OsStr::from_bytes(b"bad\xff.png"));
    png(&bad, 1);
    let long = tmp.path().join(format!("{}.png", "x".repeat(246)));
    png(&long, 2);
    let (code, _, err) = run(segment(&model, &out).arg(&bad).arg(&long));
    assert_eq!(code, 1, "the long name fails; stderr:\n{err}");
    assert!(out.join("bad%FF_masks.tif").is_file(), "stderr:\n{err}");
    assert!(
        err.contains("too long") && !err.contains("cannot remove"),
        "stderr:\n{err}"
    );
    let meta = json(&out.join("run.json"));
    assert!(meta["images"][0]["input"]
        .as_str()
        .unwrap()
        .ends_with("bad%FF.png"));
}
