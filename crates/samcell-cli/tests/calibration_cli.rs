//! `samcell segment` and physical units: the input's pixel size (here ImageJ calibration tags)
//! goes into the masks and distance-map TIFFs and the image records; `--pixel-size` overrides it.
//!
//! Generated image and an untrained samcell-lite model written by the test (low thresholds so
//! that its meaningless map still gives many cells): no shared data needed.

mod common;

use common::*;
use samcell_io::calibration::{imagej_description, pixel_size_rational};
use samcell_io::{Calibration, CalibrationSource, ReadOptions};
use serde_json::Value;
use std::path::Path;
use tiff::encoder::{colortype::Gray8, Rational, TiffEncoder};
use tiff::tags::{ResolutionUnit, Tag};

/// An 8-bit grey TIFF of the generated test image with ImageJ's calibration of `um` µm/px.
fn write_calibrated_tiff(dest: &Path, um: f64) {
    let png = dest.with_extension("png");
    write_test_png(&png, 64, 5);
    let img = image::open(&png).unwrap().into_luma8();
    let (n, d) = pixel_size_rational(um).unwrap();
    let file = std::fs::File::create(dest).unwrap();
    let mut enc = TiffEncoder::new(file).unwrap();
    let mut page = enc.new_image::<Gray8>(img.width(), img.height()).unwrap();
    page.encoder()
        .write_tag(Tag::ImageDescription, imagej_description())
        .unwrap();
    page.x_resolution(Rational { n, d });
    page.y_resolution(Rational { n, d });
    page.resolution_unit(ResolutionUnit::None);
    page.write_data(img.as_raw()).unwrap();
}

/// `samcell segment` of `img` with the distance map saved and the `extra` arguments.
fn segment(img: &Path, out: &Path, model: &Path, extra: &[&str]) {
    let args: Vec<&str> = ["--save-distmap"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    segment_lite(&[img], out, model, &args);
}

/// The calibration a TIFF written by samcell declares.
fn calibration_of(path: &Path) -> Option<Calibration> {
    samcell_io::read_gray_with_info(path, &ReadOptions::default())
        .unwrap()
        .1
        .calibration
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs()
}

/// The header and rows of `<name>_cells.csv` (numbers only: no quoted fields).
fn cells_csv(out: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(out.join("cells_cells.csv")).unwrap();
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(String::from).collect());
    (lines.next().unwrap(), lines.collect())
}

/// The value of `column` in `row`.
fn field(header: &[String], row: &[String], column: &str) -> f64 {
    let i = header.iter().position(|h| h == column).unwrap();
    row[i].parse().unwrap()
}

/// `cells_per_mm2` of the one row of `summary.csv` (`None` when empty).
fn summary_density(out: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0].rsplit(',').next(), Some("cells_per_mm2"));
    let v = lines[1].rsplit(',').next().unwrap();
    (!v.is_empty()).then(|| v.parse().unwrap())
}

/// The image record's pixel size, from `<name>_run.json` and from `run.json`.
fn recorded(out: &Path) -> [(Value, Value); 2] {
    let own = json(&out.join("cells_run.json"));
    let run = json(&out.join("run.json"));
    let image = &run["images"][0];
    [
        (
            own["image"]["pixel_size_um"].clone(),
            own["image"]["pixel_size_source"].clone(),
        ),
        (
            image["pixel_size_um"].clone(),
            image["pixel_size_source"].clone(),
        ),
    ]
}

#[test]
fn imagej_calibration_goes_into_the_outputs_and_records() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (img, out) = (tmp.path().join("cells.tif"), tmp.path().join("out"));
    write_calibrated_tiff(&img, 0.65);
    let input = calibration_of(&img).expect("the input is calibrated");
    assert_eq!(input.source, CalibrationSource::ImageJ);
    assert!(near(input.x_um, 0.65), "{input}");

    segment(&img, &out, &model, &[]);
    for file in ["cells_masks.tif", "cells_distmap.tif"] {
        let c = calibration_of(&out.join(file)).unwrap_or_else(|| panic!("{file}: no pixel size"));
        assert!(near(c.x_um, 0.65) && near(c.y_um, 0.65), "{file}: {c}");
        assert_eq!(c.source, CalibrationSource::ImageJ, "{file}");
    }
    for (size, source) in recorded(&out) {
        assert_eq!(source, "imagej");
        let size: Vec<f64> = size
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(size.len(), 2);
        assert!(near(size[0], 0.65) && near(size[1], 0.65), "{size:?}");
    }

    // µm columns after the pixel ones, which keep their names and order
    let (header, rows) = cells_csv(&out);
    let n = samcell_measure::csv::CALIBRATED_COLUMNS.len();
    assert_eq!(header[header.len() - n], "Area_um2", "{header:?}");
    assert!(
        rows.len() >= 5,
        "several cells expected, got {}",
        rows.len()
    );
    for row in &rows {
        assert_eq!(row.len(), header.len());
        let area = field(&header, row, "Area_px2");
        assert!(
            near(field(&header, row, "Area_um2"), area * 0.4225),
            "{row:?}"
        );
        let d = field(&header, row, "EquivalentDiameter_px");
        assert!(near(field(&header, row, "EquivalentDiameter_um"), d * 0.65));
    }
    // summary.csv: cells per mm² of the 64 x 64 image, also for a skipped image (from its masks)
    let density = rows.len() as f64 / (64.0 * 64.0 * 0.4225e-6);
    assert!(near(summary_density(&out).unwrap(), density));
    segment(&img, &out, &model, &[]);
    assert_eq!(
        json(&out.join("run.json"))["images"][0]["status"],
        "skipped"
    );
    assert!(near(summary_density(&out).unwrap(), density));

    let png = tmp.path().join("cells.png");
    let uncalibrated = tmp.path().join("uncalibrated");
    segment(&png, &uncalibrated, &model, &[]);
    let (pixel_header, _) = cells_csv(&uncalibrated);
    assert_eq!(
        pixel_header,
        header[..header.len() - n],
        "pixel columns unchanged"
    );
}

#[test]
fn pixel_size_option_overrides_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (img, out) = (tmp.path().join("cells.tif"), tmp.path().join("out"));
    write_calibrated_tiff(&img, 0.65);
    segment(&img, &out, &model, &["--pixel-size", "0.5x0.6um"]);
    let c = calibration_of(&out.join("cells_masks.tif")).unwrap();
    assert!(near(c.x_um, 0.5) && near(c.y_um, 0.6), "{c}");
    for (size, source) in recorded(&out) {
        assert_eq!(source, "user");
        assert_eq!(size, serde_json::json!([0.5, 0.6]));
    }
}

#[test]
fn uncalibrated_input_records_null() {
    let tmp = tempfile::tempdir().unwrap();
    let model = write_lite_model(tmp.path());
    let (img, out) = (tmp.path().join("cells.png"), tmp.path().join("out"));
    write_test_png(&img, 64, 5);
    segment(&img, &out, &model, &[]);
    assert_eq!(calibration_of(&out.join("cells_masks.tif")), None);
    assert_eq!(summary_density(&out), None);
    for (size, source) in recorded(&out) {
        assert!(size.is_null() && source.is_null(), "{size} {source}");
    }
}

#[test]
fn bad_pixel_size_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let img = tmp.path().join("cells.png");
    write_test_png(&img, 64, 5);
    let mut c = samcell();
    c.arg("segment")
        .arg(&img)
        .args(["--pixel-size", "0.65parsec", "--dry-run"]);
    let (code, _, err) = run(&mut c);
    assert_eq!(code, 2, "stderr:\n{err}");
    assert!(err.contains("unknown unit"), "{err}");
}
