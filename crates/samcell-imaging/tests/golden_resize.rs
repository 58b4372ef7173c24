//! Resizing against the references (fixtures: reference/gen_imaging_fixtures.py):
//! * Pillow 11.3 `Image.fromarray(u8).resize((w, h), Image.BILINEAR)` — tolerance: exact;
//! * transformers 4.57 `SamImageProcessor._get_preprocess_shape` — tolerance: exact;
//! * OpenCV 4.12 `cv2.resize(f32, (w, h))` (INTER_LINEAR) — tolerance: 1e-6 absolute.

mod common;

use common::{assert_same_sums, assert_same_u8, input_256, load, load_gray, load_map};
use samcell_imaging::clahe::{clahe, ClaheConfig};
use samcell_imaging::normalize::minmax_u8;
use samcell_imaging::resize::{opencv_linear_f32, pillow_bilinear_u8, sam_resize_shape};
use samcell_imaging::MapF32;

/// Mirrors PIL_FULL_CASES in the generator: (name, x0, y0, w, h, out_w, out_h).
const PIL_FULL: &[(&str, usize, usize, usize, usize, usize, usize)] = &[
    ("w48h48_to_w192h192", 100, 60, 48, 48, 192, 192),
    ("w200h150_to_w61h47", 30, 50, 200, 150, 61, 47),
    ("w64h64_to_w30h100", 100, 60, 64, 64, 30, 100),
    ("w32h32_to_w32h50", 100, 60, 32, 32, 32, 50),
    ("w32h32_to_w50h32", 100, 60, 32, 32, 50, 32),
    ("w7h5_to_w3h11", 9, 9, 7, 5, 3, 11),
];

/// Mirrors PIL_SUM_CASES: (name, x0, y0, w, h); output size from `sam_resize_shape`.
const PIL_SUMS: &[(&str, usize, usize, usize, usize)] = &[
    ("w48h40_to_w1024h853", 0, 0, 48, 40),
    ("w200h150_to_w1024h768", 30, 50, 200, 150),
];

/// Mirrors CV_CASES: (name, x0, y0, w, h, out_w, out_h) on input_256 as f32 / 255.
const CV: &[(&str, usize, usize, usize, usize, usize, usize)] = &[
    ("w64h64_to_w50h50", 20, 30, 64, 64, 50, 50),
    ("w64h64_to_w32h32", 20, 30, 64, 64, 32, 32),
    ("w64h48_to_w23h31", 120, 10, 64, 48, 23, 31),
    ("w12h10_to_w40h33", 77, 88, 12, 10, 40, 33),
    ("w24h40_to_w24h77", 10, 180, 24, 40, 24, 77),
    ("w7h1_to_w13h5", 5, 240, 7, 1, 13, 5),
    ("w1h9_to_w4h20", 100, 3, 1, 9, 4, 20),
];

#[test]
fn pillow_bilinear_full_outputs_match_pillow() {
    let src = input_256();
    for &(name, x0, y0, w, h, ow, oh) in PIL_FULL {
        let out = pillow_bilinear_u8(&src.crop(x0, y0, w, h).unwrap(), ow, oh).unwrap();
        assert_same_u8(
            &format!("pillow {name}"),
            &out,
            &load_gray(&format!("pillow_{name}")),
        );
    }
}

#[test]
fn pillow_bilinear_non_square_sam_sizes_match_pillow() {
    let src = input_256();
    for &(name, x0, y0, w, h) in PIL_SUMS {
        let (ow, oh) = sam_resize_shape(w, h, 1024);
        assert!(
            name.ends_with(&format!("_to_w{ow}h{oh}")),
            "{name}: sam_resize_shape gave {ow}x{oh}"
        );
        let out = pillow_bilinear_u8(&src.crop(x0, y0, w, h).unwrap(), ow, oh).unwrap();
        let (rows, cols) = (format!("pillow_{name}_rows"), format!("pillow_{name}_cols"));
        assert_same_sums(&format!("pillow {name}"), &out, &rows, &cols);
    }
}

/// samcell's per-crop chain: CLAHE -> NORM_MINMAX -> Pillow BILINEAR 256 -> 1024 (the generator
/// also checks that SamImageProcessor.resize on the 3-channel crop gives the same bytes).
#[test]
fn pillow_bilinear_256_to_1024_after_clahe_matches_pillow() {
    let m = minmax_u8(&clahe(&input_256(), &ClaheConfig::default()).unwrap());
    let out = pillow_bilinear_u8(&m, 1024, 1024).unwrap();
    let (rows, cols) = (
        "chain_pillow_w1024h1024_rows",
        "chain_pillow_w1024h1024_cols",
    );
    assert_same_sums("clahe -> minmax -> pillow 1024", &out, rows, cols);
}

#[test]
fn pillow_bilinear_same_size_is_a_copy() {
    let src = input_256();
    assert_same_u8(
        "pillow identity",
        &pillow_bilinear_u8(&src, 256, 256).unwrap(),
        &src,
    );
}

#[test]
fn sam_resize_shape_matches_transformers() {
    let (shape, rows) = load::<u16>("sam_shapes");
    assert_eq!(shape[1], 5, "sam_shapes columns");
    assert!(shape[0] > 1000, "sam_shapes rows: {}", shape[0]);
    for r in rows.chunks_exact(5) {
        let (h, w, longest) = (r[0] as usize, r[1] as usize, r[2] as usize);
        let want = (r[4] as usize, r[3] as usize);
        let got = sam_resize_shape(w, h, longest);
        assert_eq!(
            got, want,
            "tolerance: exact; w {w} h {h} longest {longest} -> (w, h)"
        );
    }
}

fn input_f32() -> MapF32 {
    input_256().map(|v| v as f32 / 255.0)
}

/// Checks the 1e-6 contract, then bit-equality: the IPP emulation is bit-identical on every
/// fixture today, so any inexact value means it regressed (OpenCV's own single-precision loop, for
/// instance, stays within 1e-6 on small crops but not on 256 -> 200).
fn assert_close_f32(case: &str, got: &MapF32, want: &MapF32) {
    assert_eq!(got.shape_hw(), want.shape_hw(), "{case}: shape (h, w)");
    let (mut worst, mut at, mut inexact) = (0f32, 0usize, 0usize);
    for (i, (&g, &e)) in got.data().iter().zip(want.data()).enumerate() {
        let d = (g - e).abs();
        inexact += usize::from(g.to_bits() != e.to_bits());
        if d > worst || d.is_nan() {
            (worst, at) = (d, i);
        }
    }
    let (x, y) = (at % want.width(), at / want.width());
    assert!(
        worst <= 1e-6,
        "{case}: tolerance: 1e-6 abs; max |diff| {worst:e} at (x {x}, y {y})"
    );
    assert!(
        inexact == 0,
        "{case}: tolerance: 1e-6 abs met, but {inexact} values are no longer bit-identical (max |diff| {worst:e} at (x {x}, y {y}))"
    );
}

#[test]
fn opencv_linear_f32_matches_opencv() {
    let src = input_f32();
    for &(name, x0, y0, w, h, ow, oh) in CV {
        let out = opencv_linear_f32(&src.crop(x0, y0, w, h).unwrap(), ow, oh).unwrap();
        assert_close_f32(
            &format!("cv linear {name}"),
            &out,
            &load_map(&format!("cvlinear_{name}")),
        );
    }
}

/// samcell's use: a 256x256 model map back to a 200x200 crop (bottom-right 48x48 window stored).
#[test]
fn opencv_linear_f32_256_to_200_matches_opencv() {
    let out = opencv_linear_f32(&input_f32(), 200, 200).unwrap();
    let window = out.crop(152, 152, 48, 48).unwrap();
    let want = load_map("cvlinear_w256h256_to_w200h200_br48");
    assert_close_f32("cv linear 256 -> 200 (window)", &window, &want);
}

#[test]
fn opencv_linear_f32_same_size_is_an_exact_copy() {
    let src = input_f32();
    let out = opencv_linear_f32(&src, 256, 256).unwrap();
    assert!(out == src, "tolerance: exact; same-size resize must copy");
}
