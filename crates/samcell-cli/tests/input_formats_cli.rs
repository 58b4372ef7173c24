//! `samcell segment` on the inputs microscopes and tifffile write: a ZSTD-compressed time-lapse
//! frame of the shared data, `--channel` on an ImageJ hyperstack and on colour pixels (output
//! names, run records, resume, errors, warnings), and a compression it cannot read.
//!
//! Untrained samcell-lite model written by the test; inputs from samcell-io's tifffile fixtures
//! (crates/samcell-io/tests/fixtures-layouts, reference/gen_tiff_layout_fixtures.py) and, for the
//! first test, the shared bacteria time-lapse (`SAMCELL_DATA/bacteria-timelapse`, required under
//! `SAMCELL_REQUIRE_DATA=1`).

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn layout_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samcell-io/tests/fixtures-layouts")
        .join(name)
}

/// `samcell segment` with the lite model and `extra` arguments: (exit code, stderr).
fn segment(inputs: &[&Path], out: &Path, model: &Path, extra: &[&str]) -> (i32, String) {
    let mut c = samcell();
    c.arg("segment")
        .args(inputs)
        .args(["--threads", "2", "--peak", LITE_PEAK, "--fill", LITE_FILL])
        .arg("--output")
        .arg(out)
        .arg("--model")
        .arg(format!("lite:{}", model.display()))
        .args(extra);
    let (code, _, err) = run(&mut c);
    (code, err)
}

/// The record of image `name` in `run.json`.
fn record(out: &Path, name: &str) -> Value {
    let run = json(&out.join("run.json"));
    run["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no record of {name} in {run:#}"))
        .clone()
}

#[test]
fn zstd_time_lapse_frame_segments() {
    let Some(set) = samcell_testdata::require_data("bacteria-timelapse") else {
        return;
    };
    let frame = set.join("01/t000.tif");
    // the shared frame is what this test is about: uint8 1305x1009, ZSTD (compression 50000)
    let bytes = std::fs::read(&frame).unwrap();
    let layout = samcell_io::decode_layout(&bytes).unwrap();
    assert_eq!((layout.format, layout.pages), (samcell_io::Format::Tiff, 1));
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let out = tmp.path().join("out");
    let err = segment_lite(&[&frame], &out, &model, &[]);
    let (w, h, labels) = read_labels(&out.join("t000_masks.tif"));
    assert_eq!((w, h), (1009, 1305), "masks size; stderr:\n{err}");
    assert_eq!(labels.len(), 1009 * 1305);
    let r = record(&out, "t000");
    assert_eq!(r["status"], "ok");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(1009), Some(1305))
    );
    assert_eq!(r["source"]["format"], "TIFF");
    assert_eq!(r["source"]["sample"], "u8");
}

#[test]
fn channel_of_a_hyperstack_is_named_recorded_and_resumed() {
    // ImageJ hyperstack: 2 channels x 3 slices x 2 frames, C fastest (page = c + 2 (z + 3 t))
    let stack = layout_fixture("imagej_tzc.tif");
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let out = tmp.path().join("out");

    let (code, err) = segment(&[&stack], &out, &model, &["--channel", "1", "--all-pages"]);
    assert_eq!(code, 0, "{err}");
    let names: Vec<String> = [1, 3, 5, 7, 9, 11]
        .iter()
        .map(|p| format!("imagej_tzc_c1_p{p}"))
        .collect();
    for (k, name) in names.iter().enumerate() {
        assert!(
            out.join(format!("{name}_masks.tif")).is_file(),
            "{name}\n{err}"
        );
        let r = record(&out, name);
        assert_eq!(r["status"], "ok", "{r:#}");
        let plane = &r["source"]["plane"];
        assert_eq!(
            (
                plane["c"].as_u64(),
                plane["z"].as_u64(),
                plane["t"].as_u64()
            ),
            (Some(1), Some(k as u64 % 3), Some(k as u64 / 3)),
            "{name}"
        );
        assert_eq!(r["source"]["stack"]["order"], "XYCZT");
        let meta = json(&out.join(format!("{name}_run.json")));
        assert_eq!(meta["settings"]["channel"], 1, "{name}");
    }
    assert_eq!(json(&out.join("run.json"))["settings"]["channel"], 1);
    assert!(
        !err.contains("WARN"),
        "one channel's pages, all segmented: {err}"
    );

    // the same run again: every page skipped; channel 1 alone: its first page, skipped too
    let (code, err) = segment(&[&stack], &out, &model, &["--channel", "1", "--all-pages"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        json(&out.join("run.json"))["summary"]["skipped"],
        6,
        "{err}"
    );
    let (code, err) = segment(&[&stack], &out, &model, &["--channel", "1"]);
    assert_eq!(code, 0, "{err}");
    let r = record(&out, "imagej_tzc_c1_p1");
    assert_eq!(r["status"], "skipped", "{err}");
    // segmented, that one page comes with a warning that the channel has further pages
    let other = tmp.path().join("other");
    let (code, err) = segment(&[&stack], &other, &model, &["--channel", "1"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("channel 1 has 6 pages"), "{err}");

    // channel 0 into the same folder: its own outputs, not a skip of channel 1's
    let (code, err) = segment(&[&stack], &out, &model, &["--channel", "0"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(record(&out, "imagej_tzc_c0_p0")["status"], "ok");

    // no --channel: page 0, and a warning that names the stack and --channel
    let (code, err) = segment(&[&stack], &out, &model, &[]);
    assert_eq!(code, 0, "{err}");
    let w = record(&out, "imagej_tzc_p0")["warnings"].to_string();
    assert!(
        w.contains("2 channel(s) x 3 slice(s) x 2 frame(s)") && w.contains("--channel N"),
        "{w}"
    );
}

#[test]
fn a_channel_the_stack_does_not_have_or_a_page_of_another_channel_fails() {
    let stack = layout_fixture("imagej_tzc.tif");
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let out = tmp.path().join("out");
    let (code, err) = segment(&[&stack], &out, &model, &["--channel", "2"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("channel 2 requested (0-based), but the ImageJ stack has 2 channels"),
        "{err}"
    );
    let (code, err) = segment(&[&stack], &out, &model, &["--channel", "1", "--page", "4"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("page 4 is channel 0 of the ImageJ stack (c 0 z 2 t 0), not channel 1"),
        "{err}"
    );
}

#[test]
fn channel_of_colour_pixels_is_a_sample_and_one_channel_keeps_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let out = tmp.path().join("out");
    let rgb = layout_fixture("rgb_u8_zstd.tif");
    let grey = layout_fixture("grey_u8_zstd.tif");
    let (code, err) = segment(&[&rgb, &grey], &out, &model, &["--channel", "1"]);
    assert_eq!(code, 1, "the grey file has no channel 1: {err}");
    let r = record(&out, "rgb_u8_zstd_c1");
    assert_eq!(
        (r["status"].as_str(), r["source"]["channel_use"].as_str()),
        (Some("ok"), Some("sample 1"))
    );
    let r = record(&out, "grey_u8_zstd");
    assert_eq!(r["status"], "failed");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("channel 1 requested (0-based), but the image has 1 channel"),
        "{r:#}"
    );

    // channel 0 of the grey file keeps its name; a run without --channel redoes it (the
    // channel is one of the settings compared on resume)
    let (code, err) = segment(&[&grey], &out, &model, &["--channel", "0"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(record(&out, "grey_u8_zstd")["status"], "ok");
    let (code, err) = segment(&[&grey], &out, &model, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("channel 0 -> none"), "{err}");
    assert_eq!(record(&out, "grey_u8_zstd")["status"], "ok");
}

#[test]
fn unsupported_compression_fails_naming_file_and_codec() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let out = tmp.path().join("out");
    let j2k = layout_fixture("grey_u8_jpeg2000.tif");
    let (code, err) = segment(&[&j2k], &out, &model, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("grey_u8_jpeg2000.tif")
            && err.contains("TIFF compression 34712 (JPEG 2000) is not supported"),
        "{err}"
    );
}
