//! `samcell segment --save-rois`: `<name>_rois.zip` holds one ImageJ ROI per label of
//! `<name>_masks.tif`, in label order, named `<label:04>.roi` (`<slice:04>-<label:04>` and placed
//! on slice page + 1 for a page of a multi-page file), whose outline filled at pixel centres
//! (even-odd rule, as ImageJ fills ROIs) gives back exactly that label's pixels; resume treats a
//! missing zip as unfinished when the flag is set.
//!
//! Generated images and an untrained samcell-lite model written by the test (low thresholds so
//! that its meaningless map still gives many cells): no shared data needed.

mod common;

use common::*;
use std::io::Read;
use std::path::Path;

/// One `.roi` file, decoded the way ImageJ's `RoiDecoder` reads the polygon and composite ROIs
/// samcell writes.
struct Roi {
    /// Rings of absolute pixel-corner vertices (a polygon has one).
    rings: Vec<Vec<(f64, f64)>>,
    /// Header field `position` (the stack slice, 0 = none).
    position: i32,
    /// Hyperstack channel, slice, frame of header 2.
    cztp: (i32, i32, i32),
    name: String,
}

fn decode_roi(b: &[u8]) -> Roi {
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    // ImageJ's getShort: signed, but values below -5000 are read as unsigned
    let short = |i: usize| {
        let v = i32::from(u16_at(i) as i16);
        if v < -5000 {
            v + 65536
        } else {
            v
        }
    };
    let int = |i: usize| i32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    assert_eq!(&b[..4], b"Iout", "not an ImageJ ROI");
    let (top, left) = (short(8), short(10));
    let n = usize::from(u16_at(16));
    let shape_size = int(36) as usize;
    let mut rings = Vec::new();
    if shape_size > 0 {
        // composite: rectangle type with a shape array of MOVETO/LINETO/CLOSE floats
        assert_eq!(b[6], 1, "composite ROI type");
        let f = |i: usize| f64::from(f32::from_bits(int(64 + 4 * i) as u32));
        let mut i = 0;
        let mut ring: Vec<(f64, f64)> = Vec::new();
        while i < shape_size {
            match f(i) as u32 {
                0 | 1 => {
                    if f(i) == 0.0 {
                        assert!(ring.is_empty(), "MOVETO inside an open ring");
                    }
                    ring.push((f(i + 1), f(i + 2)));
                    i += 3;
                }
                4 => {
                    rings.push(std::mem::take(&mut ring));
                    i += 1;
                }
                s => panic!("segment type {s}"),
            }
        }
        assert!(ring.is_empty(), "unclosed ring");
    } else {
        assert_eq!(b[6], 0, "polygon ROI type");
        rings.push(
            (0..n)
                .map(|i| {
                    let (x, y) = (short(64 + 2 * i), short(64 + 2 * n + 2 * i));
                    (f64::from(left + x), f64::from(top + y))
                })
                .collect(),
        );
    }
    let h2 = int(60) as usize;
    assert_eq!(h2, 64 + 4 * n + 4 * shape_size, "header 2 follows the data");
    let (name_at, name_len) = (int(h2 + 16) as usize, int(h2 + 20) as usize);
    let units: Vec<u16> = (0..name_len).map(|i| u16_at(name_at + 2 * i)).collect();
    Roi {
        rings,
        position: int(56),
        cztp: (int(h2 + 4), int(h2 + 8), int(h2 + 12)),
        name: String::from_utf16(&units).unwrap(),
    }
}

/// Pixels (index y * w + x) whose centres lie inside `rings` (even-odd rule, rings closed
/// implicitly).
fn fill(rings: &[Vec<(f64, f64)>], w: usize, h: usize) -> Vec<bool> {
    let mut out = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let mut inside = false;
            for r in rings {
                for k in 0..r.len() {
                    let ((x0, y0), (x1, y1)) = (r[k], r[(k + 1) % r.len()]);
                    if (y0 > py) != (y1 > py) && px < x0 + (py - y0) * (x1 - x0) / (y1 - y0) {
                        inside = !inside;
                    }
                }
            }
            out[y * w + x] = inside;
        }
    }
    out
}

/// The zip's entries as (entry name, decoded ROI), in order.
fn read_zip(path: &Path) -> Vec<(String, Roi)> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut zip = zip::ZipArchive::new(f).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().to_string(), decode_roi(&bytes))
        })
        .collect()
}

/// Checks the zip against the masks: one ROI per label in label order, named
/// `<prefix><label:04>`, at `position`, filling back to the label's pixels.
fn check_rois(zip: &Path, masks: &Path, prefix: &str, position: i32) {
    let (w, h, labels) = read_labels(masks);
    let (w, h) = (w as usize, h as usize);
    let mut expected: Vec<u32> = labels.iter().copied().filter(|&l| l != 0).collect();
    expected.sort_unstable();
    expected.dedup();
    assert!(
        expected.len() >= 5,
        "several cells expected, got {expected:?}"
    );
    let rois = read_zip(zip);
    assert_eq!(rois.len(), expected.len(), "one ROI per label");
    for ((entry, roi), &label) in rois.iter().zip(&expected) {
        let name = format!("{prefix}{label:04}");
        assert_eq!(entry, &format!("{name}.roi"));
        assert_eq!(roi.name, name, "name stored in the ROI");
        assert_eq!(roi.position, position, "{name}: position");
        assert_eq!(roi.cztp, (0, 0, 0), "{name}: no hyperstack position");
        let mask: Vec<bool> = labels.iter().map(|&l| l == label).collect();
        assert!(fill(&roi.rings, w, h) == mask, "{name}: ROI != pixels");
    }
}

fn segment(inputs: &[&Path], out: &Path, model: &Path, extra: &[&str]) -> String {
    let mut c = samcell();
    c.arg("segment")
        .args(inputs)
        .args([
            "--threads",
            "2",
            "--peak",
            "0.515",
            "--fill",
            "0.505",
            "--output",
        ])
        .arg(out)
        .arg("--model")
        .arg(format!("lite:{}", model.display()))
        .args(extra);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    err
}

#[test]
fn rois_fill_back_to_the_masks() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (img, out) = (tmp.path().join("cells.png"), tmp.path().join("out"));
    write_test_png(&img, 64, 5);
    segment(&[&img], &out, &model, &["--save-rois"]);

    let zip = out.join("cells_rois.zip");
    assert!(zip.is_file(), "no {}", zip.display());
    check_rois(&zip, &out.join("cells_masks.tif"), "", 0);
    let run_json = json(&out.join("run.json"));
    assert_eq!(run_json["settings"]["save_rois"], true);
    let outputs = json(&out.join("cells_run.json"))["image"]["outputs"].clone();
    assert!(
        outputs
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "cells_rois.zip"),
        "{outputs}"
    );

    // resume: a missing zip makes the image unfinished when the flag is set, not otherwise
    let masks_time = || {
        std::fs::metadata(out.join("cells_masks.tif"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = masks_time();
    std::fs::remove_file(&zip).unwrap();
    segment(&[&img], &out, &model, &[]);
    assert!(!zip.exists());
    assert_eq!(before, masks_time(), "complete without the flag: skipped");
    segment(&[&img], &out, &model, &["--save-rois"]);
    assert!(zip.is_file(), "redone with the flag");
}

/// A page of a multi-page file: every ROI on that page's slice (page + 1), its name prefixed
/// by the slice.
#[test]
fn rois_of_a_page_are_placed_on_its_slice() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (stack, out) = (tmp.path().join("stack.tif"), tmp.path().join("out"));
    let f = std::fs::File::create(&stack).unwrap();
    let mut enc = tiff::encoder::TiffEncoder::new(std::io::BufWriter::new(f)).unwrap();
    for seed in [5, 7] {
        let png = tmp.path().join(format!("page{seed}.png"));
        write_test_png(&png, 64, seed);
        let page = image::open(&png).unwrap().to_luma8();
        enc.write_image::<tiff::encoder::colortype::Gray8>(64, 64, page.as_raw())
            .unwrap();
    }
    drop(enc);
    segment(&[&stack], &out, &model, &["--all-pages", "--save-rois"]);
    for page in 0..2 {
        let slice = page + 1;
        check_rois(
            &out.join(format!("stack_p{page}_rois.zip")),
            &out.join(format!("stack_p{page}_masks.tif")),
            &format!("{slice:04}-"),
            slice,
        );
    }
}
