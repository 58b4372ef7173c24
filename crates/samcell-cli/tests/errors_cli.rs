//! Error messages say each thing once: every layer of an error either wraps its cause or writes
//! the cause into its own message, never both, so the printed chain ("cannot load the model:
//! x.pt: truncated: ...") has no repeated part. One test per family of failures; every input is
//! generated here (no shared data, no real model needed).

mod common;

use common::*;
use std::path::Path;

/// The stderr lines that mention `needle`, joined (the failure is reported on one of them).
fn lines_with<'a>(err: &'a str, needle: &str) -> Vec<&'a str> {
    err.lines().filter(|l| l.contains(needle)).collect()
}

/// Asserts that `line` (an error as printed: layers joined with ": ") repeats no layer and
/// names `cause` exactly once.
fn assert_said_once(line: &str, cause: &str) {
    eprintln!("checked: {line}");
    let segments: Vec<&str> = line.split(": ").map(str::trim).collect();
    for (i, s) in segments.iter().enumerate() {
        assert!(
            !segments[..i].contains(s),
            "{s:?} is said twice in the error line:\n{line}"
        );
    }
    assert_eq!(
        line.matches(cause).count(),
        1,
        "the cause {cause:?} should appear exactly once in:\n{line}"
    );
}

/// The one stderr line of an error that names `name`; fails the test when there is none.
fn error_line<'a>(err: &'a str, name: &str) -> &'a str {
    let lines = lines_with(err, name);
    assert!(
        !lines.is_empty(),
        "no stderr line names {name}; stderr:\n{err}"
    );
    lines[0]
}

/// A PNG whose signature is right and whose chunks are not.
fn write_corrupt_png(path: &Path) {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(b"this is not a PNG chunk at all, just bad bytes");
    std::fs::write(path, b).unwrap();
}

/// A 16x16 label PNG (16-bit grey) with two square cells.
fn write_label_png(path: &Path) {
    let img = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(16, 16, |x, y| {
        image::Luma([match (x < 8, y < 8) {
            (true, true) => 1,
            (false, false) => 2,
            _ => 0,
        }])
    });
    img.save(path).unwrap();
}

/// `samcell segment --model <checkpoint> --output <out> <image>` on a generated image.
fn segment_with_model(dir: &Path, model: &Path) -> (i32, String) {
    let img = dir.join("a.png");
    write_test_png(&img, 32, 1);
    let (code, _, err) = run(samcell()
        .args(["segment", "--threads", "1", "--model"])
        .arg(model)
        .arg("--output")
        .arg(dir.join("out"))
        .arg(&img));
    (code, err)
}

#[test]
fn truncated_safetensors_checkpoint_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("truncated.safetensors");
    // a header length of 4096 bytes, followed by the first few bytes of the JSON header
    let mut b = 4096u64.to_le_bytes().to_vec();
    b.extend_from_slice(br#"{"vision_encoder.neck"#);
    std::fs::write(&bad, b).unwrap();
    let (code, err) = segment_with_model(tmp.path(), &bad);
    assert_ne!(code, 0, "stderr:\n{err}");
    let line = error_line(&err, "truncated.safetensors");
    assert_said_once(line, "truncated.safetensors");
}

#[test]
fn truncated_pytorch_checkpoint_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("truncated.pt");
    // the start of a zip local file header (a PyTorch checkpoint is a zip), then nothing
    std::fs::write(&bad, b"PK\x03\x04\x14\x00\x00\x00\x00\x00").unwrap();
    let (code, err) = segment_with_model(tmp.path(), &bad);
    assert_ne!(code, 0, "stderr:\n{err}");
    let line = error_line(&err, "truncated.pt");
    assert_said_once(line, "truncated.pt");
}

#[test]
fn corrupt_image_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let img = tmp.path().join("corrupt.png");
    write_corrupt_png(&img);
    let (code, _, err) = run(samcell()
        .args(["segment", "--threads", "1", "--model"])
        .arg(format!("lite:{}", model.display()))
        .arg("--output")
        .arg(tmp.path().join("out"))
        .arg(&img));
    assert_eq!(code, 1, "stderr:\n{err}");
    let line = error_line(&err, "corrupt.png");
    assert_said_once(line, "corrupt.png");
    assert!(line.contains("PNG"), "says what is wrong; stderr:\n{err}");
}

#[test]
fn unwritable_output_folder_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let img = tmp.path().join("a.png");
    write_test_png(&img, 32, 2);
    // a regular file where a folder of the output path should be
    let blocker = tmp.path().join("blocker");
    std::fs::write(&blocker, "a file, not a folder").unwrap();
    let out = blocker.join("out");
    let (code, _, err) = run(samcell()
        .args(["segment", "--threads", "1", "--model"])
        .arg(format!("lite:{}", model.display()))
        .arg("--output")
        .arg(&out)
        .arg(&img));
    assert_ne!(code, 0, "stderr:\n{err}");
    let line = error_line(&err, "blocker");
    assert_said_once(line, "blocker");
}

#[test]
fn missing_input_file_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (code, _, err) = run(samcell()
        .args(["segment", "--threads", "1", "--model"])
        .arg(format!("lite:{}", model.display()))
        .arg("--output")
        .arg(tmp.path().join("out"))
        .arg(tmp.path().join("missing.png")));
    assert_ne!(code, 0, "stderr:\n{err}");
    let line = error_line(&err, "missing.png");
    assert_said_once(line, "missing.png");
}

#[test]
fn bad_label_file_for_measure_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let labels = tmp.path().join("labels");
    std::fs::create_dir_all(&labels).unwrap();
    write_corrupt_png(&labels.join("broken.png"));
    let (code, _, err) = run(samcell()
        .arg("measure")
        .arg(&labels)
        .arg("--output")
        .arg(tmp.path().join("out")));
    assert_ne!(code, 0, "stderr:\n{err}");
    let line = error_line(&err, "broken.png");
    assert_said_once(line, "broken.png");
    assert!(line.contains("PNG"), "says what is wrong; stderr:\n{err}");
}

#[test]
fn bad_label_file_for_eval_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (gt, pred) = (tmp.path().join("gt"), tmp.path().join("pred"));
    std::fs::create_dir_all(&gt).unwrap();
    std::fs::create_dir_all(&pred).unwrap();
    write_label_png(&gt.join("cells.png"));
    write_corrupt_png(&pred.join("cells_masks.png"));
    let (code, _, err) = run(samcell()
        .arg("eval")
        .arg("--pred")
        .arg(&pred)
        .arg("--gt")
        .arg(&gt)
        .arg("--output")
        .arg(tmp.path().join("out")));
    assert_ne!(code, 0, "stderr:\n{err}");
    let line = error_line(&err, "cells_masks.png");
    assert_said_once(line, "cells_masks.png");
    assert!(line.contains("PNG"), "says what is wrong; stderr:\n{err}");
}

/// `samcell serve` with a generated lite model, on 127.0.0.1:`port` with work directory `work`.
fn serve(dir: &Path, port: u16, work: &Path) -> (i32, String) {
    let model = write_lite_model(dir);
    let (code, _, err) = run(samcell()
        .arg("serve")
        .arg("--model")
        .arg(format!("lite:{}", model.display()))
        .args(["--host", "127.0.0.1", "--threads", "1", "--port"])
        .arg(port.to_string())
        .arg("--work-dir")
        .arg(work));
    (code, err)
}

#[test]
fn port_in_use_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, err) = serve(tmp.path(), port, &tmp.path().join("work"));
    assert_ne!(code, 0, "stderr:\n{err}");
    let addr = format!("127.0.0.1:{port}");
    let line = error_line(&err, &addr);
    assert_said_once(line, &addr);
    assert!(line.contains("cannot listen"), "stderr:\n{err}");
    drop(taken);
}

#[test]
fn unwritable_work_directory_is_reported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("blocker");
    std::fs::write(&blocker, "a file, not a folder").unwrap();
    let (code, err) = serve(tmp.path(), 0, &blocker.join("work"));
    assert_ne!(code, 0, "stderr:\n{err}");
    let line = error_line(&err, "blocker");
    assert_said_once(line, "blocker");
    assert!(line.contains("work directory"), "stderr:\n{err}");
}
