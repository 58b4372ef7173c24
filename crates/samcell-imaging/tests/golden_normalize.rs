//! Min-max normalisation against OpenCV 4.12
//! `cv2.normalize(x, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)` on u8.
//! Tolerance: exact. Fixtures: reference/gen_imaging_fixtures.py.

mod common;

use common::{assert_same_sums, assert_same_u8, input_256, load, load_gray};
use samcell_imaging::clahe::{clahe, ClaheConfig};
use samcell_imaging::normalize::{minmax_lut, minmax_u8};
use samcell_imaging::GrayU8;

/// (min, max, value) -> OpenCV output: ~2000 rows, most of them where fused f32, unfused f32 and
/// f64 arithmetic disagree.
#[test]
fn minmax_table_matches_opencv() {
    let (shape, rows) = load::<u8>("minmax_triples");
    assert_eq!(shape[1], 4, "minmax_triples columns");
    assert!(shape[0] > 1900, "minmax_triples rows: {}", shape[0]);
    let mut bad = Vec::new();
    for r in rows.chunks_exact(4) {
        let (lo, hi, v, want) = (r[0], r[1], r[2], r[3]);
        let got = minmax_lut(lo, hi)[v as usize];
        if got != want {
            bad.push((lo, hi, v, got, want));
        }
    }
    let (n, first) = (bad.len(), bad.first());
    assert!(
        n == 0,
        "tolerance: exact; {n} of {} differ, first (min, max, v, got, want) {first:?}",
        shape[0]
    );
}

/// The same numbers through the image API: a 16x16 ramp clipped to (lo, hi) with v at (7, 7).
#[test]
fn minmax_image_matches_table() {
    let (_, rows) = load::<u8>("minmax_triples");
    for r in rows.chunks_exact(4).step_by(37) {
        let (lo, hi, v, want) = (r[0], r[1], r[2], r[3]);
        let data: Vec<u8> = (0..=255u8).map(|i| i.clamp(lo, hi)).collect();
        let mut img = GrayU8::from_vec(16, 16, data).unwrap();
        img.set(7, 7, v);
        assert_eq!(
            minmax_u8(&img).get(7, 7),
            want,
            "tolerance: exact; min {lo} max {hi} value {v}"
        );
    }
}

#[test]
fn minmax_low_contrast_crop_matches_opencv() {
    let low = input_256()
        .crop(40, 140, 50, 42)
        .unwrap()
        .map(|v| v / 16 + 100);
    assert_same_u8(
        "minmax low-contrast 50x42",
        &minmax_u8(&low),
        &load_gray("minmax_low"),
    );
}

/// samcell's chain on a 256x256 crop: CLAHE(1, 8x8) then NORM_MINMAX.
#[test]
fn minmax_after_clahe_matches_opencv() {
    let c = clahe(&input_256(), &ClaheConfig::default()).unwrap();
    let m = minmax_u8(&c);
    assert_same_sums(
        "clahe -> minmax 256x256",
        &m,
        "chain_minmax_w256h256_rows",
        "chain_minmax_w256h256_cols",
    );
}

#[test]
fn minmax_constant_image_is_all_zero() {
    for v in [0u8, 1, 128, 255] {
        let out = minmax_u8(&GrayU8::filled(9, 4, v));
        assert!(
            out.data().iter().all(|&p| p == 0),
            "tolerance: exact; constant {v} must map to 0 like OpenCV"
        );
    }
}
