//! Pixel size read from TIFF metadata (`SourceInfo::calibration`) against the fixtures of
//! `reference/gen_calibration_fixtures.py` (written with tifffile), and the calibrated writers
//! read back by this crate's reader.
//!
//! The calibrated TIFF of the round trip was also checked with tifffile: run this test with
//! `SAMCELL_IO_KEEP=DIR`, then `reference/gen_calibration_fixtures.py --check-written
//! DIR/0.65x0.8um_labels.tif`, which asserts that tifffile sees an ImageJ file with
//! `imagej_metadata["unit"] == "micron"`, `XResolution` 20/13 and `YResolution` 5/4 (1 / pixel
//! size) and `ResolutionUnit` NONE.

use samcell_imaging::{Labels, MapF32};
use samcell_io::write::{
    write_f32_tiff_calibrated, write_labels_tiff, write_labels_tiff_calibrated,
};
use samcell_io::{
    parse_pixel_size, read_gray_with_info, Calibration, CalibrationSource, ReadOptions,
};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures-calibration")
        .join(name)
}

fn calibration_of(path: &Path) -> Option<Calibration> {
    read_gray_with_info(path, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .1
        .calibration
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs(),
        "{what}: {got} µm, expected {want} µm"
    );
}

#[test]
fn tifffile_fixtures_give_their_pixel_size_and_source() {
    for (name, x, y, source) in [
        ("ome_065um.ome.tif", 0.65, 0.65, CalibrationSource::Ome),
        ("imagej_micron.tif", 0.65, 0.65, CalibrationSource::ImageJ),
        ("imagej_nm.tif", 0.65, 0.65, CalibrationSource::ImageJ),
        (
            "plain_cm.tif",
            0.5,
            0.625,
            CalibrationSource::TiffResolution,
        ),
    ] {
        let c = calibration_of(&fixture(name)).unwrap_or_else(|| panic!("{name}: no calibration"));
        assert_close(c.x_um, x, name);
        assert_close(c.y_um, y, name);
        assert_eq!(c.source, source, "{name}");
        assert!(!c.is_dpi_default(), "{name}");
    }
    assert_eq!(calibration_of(&fixture("uncalibrated.tif")), None);
}

#[test]
fn info_line_names_the_pixel_size() {
    let (_, info) =
        read_gray_with_info(&fixture("imagej_micron.tif"), &ReadOptions::default()).unwrap();
    let line = info.to_string();
    assert!(line.contains("pixel size 0.65"), "{line}");
    assert!(line.contains("(ImageJ)"), "{line}");
}

fn labels() -> Labels {
    let data = (0..6 * 8).map(|i| (i % 5) as u32).collect();
    Labels::from_vec(8, 6, data).unwrap()
}

fn keep(written: &Path, name: &str) {
    if let Ok(dir) = std::env::var("SAMCELL_IO_KEEP") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(written, Path::new(&dir).join(name)).unwrap();
    }
}

#[test]
fn calibrated_writers_round_trip_through_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let cal = parse_pixel_size("0.65x0.8um").unwrap();
    let path = dir.path().join("labels.tif");
    write_labels_tiff_calibrated(&path, &labels(), Some(&cal)).unwrap();
    keep(&path, "0.65x0.8um_labels.tif");
    let got = calibration_of(&path).expect("calibration written");
    assert_close(got.x_um, 0.65, "labels x");
    assert_close(got.y_um, 0.8, "labels y");
    assert_eq!(got.source, CalibrationSource::ImageJ);
    // the labels themselves are unchanged by the extra tags
    let back = samcell_io::labels::read_labels(&path).unwrap();
    assert_eq!(back.data(), labels().data());

    for um in [0.108, 1.0, 6.5, 0.325] {
        let map = MapF32::from_vec(8, 6, (0..48).map(|i| i as f32 * 0.5).collect()).unwrap();
        let path = dir.path().join("map.tif");
        let cal = Calibration {
            x_um: um,
            y_um: um,
            source: CalibrationSource::User,
        };
        write_f32_tiff_calibrated(&path, &map, Some(&cal)).unwrap();
        let got = calibration_of(&path).expect("calibration written");
        assert_close(got.x_um, um, "map x");
        assert_close(got.y_um, um, "map y");
    }
}

#[test]
fn uncalibrated_writers_declare_no_pixel_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.tif");
    write_labels_tiff(&path, &labels()).unwrap();
    assert_eq!(calibration_of(&path), None);
    write_labels_tiff_calibrated(&path, &labels(), None).unwrap();
    assert_eq!(calibration_of(&path), None);
}

#[test]
fn unwritable_pixel_sizes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.tif");
    let cal = Calibration {
        x_um: 0.0,
        y_um: 1.0,
        source: CalibrationSource::User,
    };
    let e = write_labels_tiff_calibrated(&path, &labels(), Some(&cal)).unwrap_err();
    assert!(e.to_string().contains("pixel size"), "{e}");
    assert!(!path.exists());
}
