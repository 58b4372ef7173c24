//! `samcell segment --save-rois`: `<name>_rois.zip` holds one ImageJ ROI per label of
//! `<name>_masks.tif`, in label order, named `<label:04>.roi` (`<slice:04>-<label:04>` and placed
//! on slice page + 1 for a page of a multi-page file), whose outline filled at pixel centres
//! (even-odd rule, as ImageJ fills ROIs) gives back exactly that label's pixels; resume treats a
//! missing zip as unfinished when the flag is set.
//!
//! Generated images and an untrained samcell-lite model written by the test (low thresholds so
//! that its meaningless map still gives many cells), and one real image with the built-in model
//! (skipped without the shared Usiigaci set).

mod common;

use common::*;
use samcell_morphology::naive::rasterize_rings;
use samcell_testdata::imagej_roi::{decode, Roi};
use std::io::Read;
use std::path::Path;

/// The zip's entries as (entry name, decoded ROI), in order.
fn read_zip(path: &Path) -> Vec<(String, Roi)> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut zip = zip::ZipArchive::new(f).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().to_string(), decode(&bytes))
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
        let rings = roi.rings();
        let rings: Vec<&[[f64; 2]]> = rings.iter().map(Vec::as_slice).collect();
        let filled = rasterize_rings(&rings, w, h).into_vec();
        assert!(filled == mask, "{name}: ROI != pixels");
    }
}

#[test]
fn rois_fill_back_to_the_masks() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (img, out) = (tmp.path().join("cells.png"), tmp.path().join("out"));
    write_test_png(&img, 64, 5);
    segment_lite(&[&img], &out, &model, &["--save-rois"]);

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
    let masks_time = || modified(&out.join("cells_masks.tif"));
    let before = masks_time();
    std::fs::remove_file(&zip).unwrap();
    segment_lite(&[&img], &out, &model, &[]);
    assert!(!zip.exists());
    assert_eq!(before, masks_time(), "complete without the flag: skipped");
    segment_lite(&[&img], &out, &model, &["--save-rois"]);
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
    segment_lite(&[&stack], &out, &model, &["--all-pages", "--save-rois"]);
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

/// A real phase-contrast image (the shared Usiigaci set) segmented by the built-in model: cells
/// of real shapes (concave, touching, with holes) come back exactly from their ROIs.
#[test]
fn rois_of_a_real_image_fill_back_to_the_masks() {
    if !have(&[], &[USIIGACI]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let img = data().join(USIIGACI).join("train/images/set1.tif");
    let mut c = samcell();
    c.args(["segment", "--threads", "2", "--save-rois", "--output"])
        .arg(&out)
        .arg(&img);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 0, "stderr:\n{err}");
    check_rois(
        &out.join("set1_rois.zip"),
        &out.join("set1_masks.tif"),
        "",
        0,
    );
}
