//! Intensity measurements on raw 16-bit data against scikit-image 0.25.2 `regionprops`
//! (fixtures from `reference/gen_intensity_fixtures.py`: a 48x40 u16 image, its labels and the
//! expected per-label intensity_mean/std/min/max and sum, on the raw array and on
//! `img_as_float(raw)` = raw / 65535, CellProfiler's 0..1 values).
//!
//! Tolerance: relative 1e-12 (absolute 1e-12 for values near 0). The raw sums are exact integers
//! in f64; the rest differs from numpy only by summation order.

mod common;

use common::fixtures;
use samcell_imaging::Labels;
use samcell_io::{read_gray_raw, ReadOptions};
use samcell_measure::csv::cells_csv_string;
use samcell_measure::{measure_labels, Intensity, MeasureConfig};
use std::path::Path;
use tiff::encoder::{colortype, TiffEncoder};

const TOL: f64 = 1e-12;

fn npy<T: samcell_testdata::npy::Deserialize>(name: &str) -> (Vec<usize>, Vec<T>) {
    samcell_testdata::npy::read(&fixtures().join(name))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL * b.abs().max(1.0)
}

struct Fixture {
    w: usize,
    h: usize,
    raw: Vec<u16>,
    labels: Labels,
    /// label, area, mean_raw, std_raw, min_raw, max_raw, integrated_raw, mean, std, min, max,
    /// integrated
    expected: Vec<[f64; 12]>,
}

fn load() -> Fixture {
    let (shape, raw) = npy::<u16>("intensity_raw_u16.npy");
    let (h, w) = (shape[0], shape[1]);
    let (lshape, lab) = npy::<u32>("intensity_labels.npy");
    assert_eq!(shape, lshape);
    let (eshape, table) = npy::<f64>("intensity_expected.npy");
    assert_eq!(eshape[1], 12);
    let expected = table
        .chunks_exact(12)
        .map(|r| r.try_into().expect("row"))
        .collect();
    Fixture {
        w,
        h,
        raw,
        labels: Labels::from_vec(w, h, lab).expect("labels"),
        expected,
    }
}

fn write_u16_tiff(path: &Path, w: usize, h: usize, data: &[u16]) {
    let f = std::fs::File::create(path).expect("create");
    TiffEncoder::new(f)
        .expect("encoder")
        .write_image::<colortype::Gray16>(w as u32, h as u32, data)
        .expect("tiff");
}

#[test]
fn raw_u16_intensities_match_skimage_regionprops() {
    let fx = load();
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("raw16.tif");
    write_u16_tiff(&path, fx.w, fx.h, &fx.raw);
    let (_, raw, _) = read_gray_raw(&path, &ReadOptions::default()).expect("read");
    let m = measure_labels(
        &fx.labels,
        Some(Intensity::Raw(&raw)),
        &MeasureConfig::default(),
    )
    .expect("measure");
    assert_eq!(m.intensity_full_scale, 65535.0);
    assert_eq!(m.cells.len(), fx.expected.len());
    for (c, e) in m.cells.iter().zip(&fx.expected) {
        assert_eq!(f64::from(c.label), e[0]);
        assert_eq!(c.area as f64, e[1]);
        let r = c.intensity.expect("intensity");
        let s = r.scaled(m.intensity_full_scale);
        let got = [
            r.mean,
            r.std,
            r.min,
            r.max,
            r.integrated,
            s.mean,
            s.std,
            s.min,
            s.max,
            s.integrated,
        ];
        for (k, (&g, &want)) in got.iter().zip(&e[2..]).enumerate() {
            assert!(
                close(g, want),
                "label {}: feature {k} is {g}, regionprops {want}",
                c.label
            );
        }
    }
}

#[test]
fn cells_csv_has_the_0_1_values_and_the_raw_values() {
    let fx = load();
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("raw16.tif");
    write_u16_tiff(&path, fx.w, fx.h, &fx.raw);
    let (grey, raw, _) = read_gray_raw(&path, &ReadOptions::default()).expect("read");
    let m = measure_labels(
        &fx.labels,
        Some(Intensity::Raw(&raw)),
        &MeasureConfig::default(),
    )
    .expect("measure");
    let text = cells_csv_string(&m);
    // a header and one row per expected cell (the zip below would stop early otherwise)
    assert_eq!(text.lines().count(), 1 + fx.expected.len());
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    let names = [
        "MeanIntensity_raw",
        "StdIntensity_raw",
        "MinIntensity_raw",
        "MaxIntensity_raw",
        "IntegratedIntensity_raw",
        "MeanIntensity",
        "StdIntensity",
        "MinIntensity",
        "MaxIntensity",
        "IntegratedIntensity",
    ];
    for (line, e) in lines.zip(&fx.expected) {
        let row: Vec<&str> = line.split(',').collect();
        assert_eq!(row.len(), header.len());
        for (k, n) in names.iter().enumerate() {
            let v: f64 = row[col(n)].parse().expect("number");
            assert!(
                close(v, e[2 + k]),
                "label {}: {n} {v} vs {}",
                e[0],
                e[2 + k]
            );
        }
    }
    // the old behaviour measured the min-max rescaled 8-bit image: a different number
    let old = measure_labels(
        &fx.labels,
        Some(Intensity::U8(&grey)),
        &MeasureConfig::default(),
    )
    .expect("measure");
    let (o, e) = (old.cells[0].intensity.expect("intensity"), fx.expected[0]);
    assert!(!close(o.mean, e[2]) && !close(o.mean / 255.0, e[7]));
}
