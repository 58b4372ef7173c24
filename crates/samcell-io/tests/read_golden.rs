//! Golden tests of `read_gray` against reference/gen_io_fixtures.py:
//! 8-bit inputs against `cv2.imread(path, IMREAD_GRAYSCALE)` (opencv-python-headless 4.12.0.88),
//! wider inputs against the documented float64 scaling computed with numpy 2.2.6.

mod common;

use common::{cases, fixture, load_u8, Case};
use samcell_io::read::{read_gray_with_info, ReadOptions, Scaling};

fn options(c: &Case) -> ReadOptions {
    let scaling = match c.scaling.as_str() {
        "cv2" | "minmax" => Scaling::MinMax,
        s => {
            let p: Vec<f64> = s
                .strip_prefix("percentile:")
                .unwrap_or_else(|| panic!("unknown scaling {s}"))
                .split(':')
                .map(|x| x.parse().expect("percentile"))
                .collect();
            Scaling::Percentile(p[0], p[1])
        }
    };
    ReadOptions {
        page: c.page,
        scaling,
        ..ReadOptions::default()
    }
}

/// Compares every manifest case selected by `select` with its golden (shape, then at most
/// `max_frac` of the pixels differing, by at most `max_abs`); returns the number of cases
/// compared. Panics on read errors.
fn run(select: impl Fn(&Case) -> bool, max_abs: u8, max_frac: f64) -> usize {
    let mut n = 0;
    for c in cases().iter().filter(|c| select(c)) {
        let (img, info) = read_gray_with_info(&fixture(&c.input), &options(c))
            .unwrap_or_else(|e| panic!("{} ({c:?}): {e}", c.input));
        let (h, w, want) = load_u8(&c.golden);
        assert_eq!(
            (img.height(), img.width()),
            (h, w),
            "{}: shape (h, w)",
            c.input
        );
        let got = img.data();
        let diffs: Vec<u8> = got.iter().zip(&want).map(|(a, b)| a.abs_diff(*b)).collect();
        let ndiff = diffs.iter().filter(|&&d| d > 0).count();
        let maxd = diffs.iter().copied().max().unwrap_or(0);
        let frac = ndiff as f64 / diffs.len() as f64;
        eprintln!(
            "{:<26} page {} {:<20} {info}: {ndiff}/{} pixels differ ({:.2}%), max |diff| {maxd}",
            c.input,
            c.page,
            c.scaling,
            diffs.len(),
            100.0 * frac
        );
        assert!(
            maxd <= max_abs && frac <= max_frac,
            "{} page {}: {ndiff} of {} pixels differ (max |diff| {maxd}); tolerance: max |diff| <= {max_abs} on <= {:.1}% of pixels",
            c.input,
            c.page,
            diffs.len(),
            100.0 * max_frac
        );
        n += 1;
    }
    n
}

fn ext(c: &Case, e: &str) -> bool {
    c.input.ends_with(e) && c.scaling == "cv2"
}

#[test]
fn png_u8_is_bit_identical_to_cv2() {
    // tolerance: exact (grey, RGB, RGBA, palette, 1-bit, gAMA and sRGB colour, EXIF orientation)
    assert_eq!(run(|c| ext(c, ".png"), 0, 0.0), 8);
}

#[test]
fn tiff_u8_is_bit_identical_to_cv2() {
    // tolerance: exact (none/LZW/LZW+predictor/deflate/packbits/tiled/big-endian/min-is-white,
    // RGB, RGBA with unassociated and associated alpha, grey+alpha, planar RGB, 3 pages)
    assert_eq!(run(|c| ext(c, ".tif"), 0, 0.0), 16);
}

#[test]
fn bmp_u8_is_bit_identical_to_cv2() {
    // tolerance: exact (8-bit grey palette, 24-bit, 32-bit, 8-bit colour palette)
    assert_eq!(run(|c| ext(c, ".bmp"), 0, 0.0), 4);
}

#[test]
fn jpeg_matches_cv2_within_one_level() {
    // tolerance: |diff| <= 1 on <= 5% of pixels. zune-jpeg's integer IDCT is not libjpeg-turbo's
    // jpeg_idct_islow; the Y channel is otherwise the same data (no colour conversion either side).
    assert_eq!(run(|c| ext(c, ".jpg"), 1, 0.05), 4);
}

#[test]
fn wide_inputs_match_minmax_formula() {
    // tolerance: exact. round((v - min) * 255 / (max - min)) in f64, half away from zero;
    // u16/u32/i16/f32/f64 grey, u16 RGB (0.299/0.587/0.114 in f64), constant image -> 0.
    assert_eq!(run(|c| c.scaling == "minmax", 0, 0.0), 9);
}

#[test]
fn percentile_scaling_matches_numpy() {
    // tolerance: exact. numpy.percentile(method="linear") clip, then the min-max formula.
    assert_eq!(run(|c| c.scaling.starts_with("percentile"), 0, 0.0), 3);
}

#[test]
fn every_manifest_case_is_covered() {
    let all = cases();
    let covered = |c: &Case| {
        [".png", ".tif", ".bmp", ".jpg"].iter().any(|e| ext(c, e))
            || c.scaling == "minmax"
            || c.scaling.starts_with("percentile")
    };
    let missing: Vec<_> = all.iter().filter(|c| !covered(c)).collect();
    assert!(
        missing.is_empty(),
        "manifest cases no test runs: {missing:?}"
    );
    assert_eq!(
        all.len(),
        8 + 16 + 4 + 4 + 9 + 3,
        "goldens.txt changed: update the counts above"
    );
}
