//! Helpers shared by the golden tests: fixture loading and exact comparisons.
//!
//! Fixtures come from `reference/gen_imaging_fixtures.py` (repository root); its CASES tables
//! and the tables in the test files must agree, which the shape checks below enforce.
#![allow(dead_code)]

use samcell_imaging::{GrayU8, MapF32};
use std::path::PathBuf;

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(format!("{name}.npy"))
}

/// Loads an `.npy` fixture as (shape, values); panics with the file name on any problem.
pub fn load<T: samcell_testdata::npy::Deserialize>(name: &str) -> (Vec<usize>, Vec<T>) {
    samcell_testdata::npy::read(&fixture_path(name))
}

/// A 2-D u8 fixture as an image.
pub fn load_gray(name: &str) -> GrayU8 {
    let (h, w, data) = samcell_testdata::npy::read_2d(&fixture_path(name));
    GrayU8::from_vec(w, h, data).expect("fixture shape")
}

/// A 2-D f32 fixture as a map.
pub fn load_map(name: &str) -> MapF32 {
    let (h, w, data) = samcell_testdata::npy::read_2d(&fixture_path(name));
    MapF32::from_vec(w, h, data).expect("fixture shape")
}

/// The synthetic 256x256 source every case crops from.
pub fn input_256() -> GrayU8 {
    let img = load_gray("input_256");
    assert_eq!(img.shape_hw(), (256, 256), "input_256 fixture shape");
    img
}

/// Per-row and per-column `sum((index + 1) * value)` in u32 (wrapping), as the generator stores.
pub fn line_sums(img: &GrayU8) -> (Vec<u32>, Vec<u32>) {
    let (w, h) = (img.width(), img.height());
    let mut rows = vec![0u32; h];
    let mut cols = vec![0u32; w];
    for (y, row_sum) in rows.iter_mut().enumerate() {
        for ((x, &v), col_sum) in img.row(y).iter().enumerate().zip(cols.iter_mut()) {
            *row_sum = row_sum.wrapping_add((x as u32 + 1) * v as u32);
            *col_sum = col_sum.wrapping_add((y as u32 + 1) * v as u32);
        }
    }
    (rows, cols)
}

/// Exact equality of two u8 images, with a diagnostic (count, largest difference, first place).
pub fn assert_same_u8(case: &str, got: &GrayU8, want: &GrayU8) {
    assert_eq!(
        got.shape_hw(),
        want.shape_hw(),
        "{case}: shape (h, w) differs"
    );
    let mut count = 0usize;
    let mut worst = 0i32;
    let mut first = None;
    for (i, (&g, &e)) in got.data().iter().zip(want.data()).enumerate() {
        if g != e {
            count += 1;
            worst = worst.max((g as i32 - e as i32).abs());
            first.get_or_insert((i % want.width(), i / want.width(), g, e));
        }
    }
    assert!(
        count == 0,
        "{case}: tolerance: exact; {count} of {} pixels differ (max |diff| {worst}); first at (x, y, got, want) = {:?}",
        want.data().len(),
        first
    );
}

/// Exact equality of an image's line checksums with the stored ones.
pub fn assert_same_sums(case: &str, got: &GrayU8, rows_fixture: &str, cols_fixture: &str) {
    let (_, want_rows) = load::<u32>(rows_fixture);
    let (_, want_cols) = load::<u32>(cols_fixture);
    let (rows, cols) = line_sums(got);
    assert_eq!(
        rows.len(),
        want_rows.len(),
        "{case}: height differs from the reference"
    );
    assert_eq!(
        cols.len(),
        want_cols.len(),
        "{case}: width differs from the reference"
    );
    let bad_rows: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i] != want_rows[i])
        .collect();
    let bad_cols: Vec<usize> = (0..cols.len())
        .filter(|&i| cols[i] != want_cols[i])
        .collect();
    assert!(
        bad_rows.is_empty() && bad_cols.is_empty(),
        "{case}: tolerance: exact (row/column checksums); {} rows differ (first {:?}), {} columns differ (first {:?})",
        bad_rows.len(),
        bad_rows.first(),
        bad_cols.len(),
        bad_cols.first()
    );
}
