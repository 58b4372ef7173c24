//! CLAHE against OpenCV 4.12 `cv2.createCLAHE(clipLimit, tileGridSize).apply(u8)`.
//! Tolerance: exact (every byte). Fixtures: reference/gen_imaging_fixtures.py.

mod common;

use common::{assert_same_u8, input_256, load_gray};
use samcell_imaging::clahe::{clahe, ClaheConfig};
use samcell_imaging::GrayU8;

/// (name, x0, y0, w, h, transform, clip, tiles_x, tiles_y).
type Case = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    &'static str,
    f64,
    usize,
    usize,
);

/// Mirrors CLAHE_CASES in reference/gen_imaging_fixtures.py.
const CASES: &[Case] = &[
    ("w40h48", 3, 5, 40, 48, "none", 1.0, 8, 8),
    ("w48h40", 150, 100, 48, 40, "none", 1.0, 8, 8),
    ("w61h77", 17, 111, 61, 77, "none", 1.0, 8, 8),
    ("w64h50", 90, 7, 64, 50, "none", 1.0, 8, 8),
    ("w50h64", 190, 170, 50, 64, "none", 1.0, 8, 8),
    ("w45h37_const77", 0, 0, 45, 37, "const77", 1.0, 8, 8),
    ("w50h42_low", 40, 140, 50, 42, "low", 1.0, 8, 8),
    ("w50h42_clip0", 40, 140, 50, 42, "none", 0.0, 8, 8),
    ("w50h42_clip0.5", 40, 140, 50, 42, "none", 0.5, 8, 8),
    ("w50h42_clip2.5", 40, 140, 50, 42, "none", 2.5, 8, 8),
    ("w50h42_clip40", 40, 140, 50, 42, "none", 40.0, 8, 8),
    ("w61h77_t4x6_clip1.5", 17, 111, 61, 77, "none", 1.5, 4, 6),
    ("w5h3", 200, 200, 5, 3, "none", 1.0, 8, 8),
    ("w13h9", 60, 60, 13, 9, "none", 1.0, 8, 8),
];

/// The generator's integer transforms (`transform()` there).
fn transform(img: &GrayU8, kind: &str) -> GrayU8 {
    match kind {
        "none" => img.clone(),
        "low" => img.map(|v| v / 16 + 100),
        k if k.starts_with("const") => {
            let v: u8 = k["const".len()..].parse().expect("const value");
            img.map(|_| v)
        }
        other => panic!("unknown transform {other}"),
    }
}

#[test]
fn clahe_256_samcell_settings_matches_opencv() {
    let out = clahe(&input_256(), &ClaheConfig::default()).unwrap();
    assert_same_u8(
        "clahe 256x256 clip 1 tiles 8x8",
        &out,
        &load_gray("clahe_w256h256"),
    );
}

#[test]
fn clahe_small_odd_constant_and_clip_variants_match_opencv() {
    let src = input_256();
    for &(name, x0, y0, w, h, kind, clip, tx, ty) in CASES {
        let input = transform(&src.crop(x0, y0, w, h).unwrap(), kind);
        let cfg = ClaheConfig {
            clip_limit: clip,
            tiles_x: tx,
            tiles_y: ty,
        };
        let out = clahe(&input, &cfg).unwrap();
        assert_same_u8(
            &format!("clahe {name} ({cfg:?})"),
            &out,
            &load_gray(&format!("clahe_{name}")),
        );
    }
}

#[test]
fn clahe_default_is_samcell_setting() {
    assert_eq!(
        ClaheConfig::default(),
        ClaheConfig {
            clip_limit: 1.0,
            tiles_x: 8,
            tiles_y: 8
        }
    );
}
