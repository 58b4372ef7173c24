//! One real Usiigaci phase-contrast image (u16 TIFF) through `read_gray`.
//!
//! Data: the shared Usiigaci set (`SAMCELL_DATA`); skipped with a line saying so when it is
//! absent, a failure under `SAMCELL_REQUIRE_DATA=1` (see samcell-testdata).

use samcell_io::read::{read_gray_with_info, Format, ReadOptions, SampleType};
use std::path::PathBuf;

#[test]
fn usiigaci_u16_tiff_reads_and_spans_full_range() {
    let Some(usiigaci) = samcell_testdata::require_data("usiigaci-phc") else {
        return;
    };
    let path = usiigaci.join("train/images/set1.tif");
    assert!(
        path.is_file(),
        "{} missing: SAMCELL_DATA must hold usiigaci-phc/train/images",
        path.display()
    );
    let (img, info) = read_gray_with_info(&path, &ReadOptions::default()).unwrap();
    // tifffile: shape (1022, 1024) = (rows, columns), i.e. width 1024, height 1022
    assert_eq!((img.width(), img.height()), (1024, 1022), "width x height");
    assert_eq!(
        (info.format, info.sample, info.channels, info.pages),
        (Format::Tiff, SampleType::U16, 1, 1)
    );
    let (lo, hi) = info.scaled_from.expect("u16 input is min-max scaled");
    assert!(lo < hi, "non-constant image: {lo}..{hi}");
    let (mn, mx) = img
        .data()
        .iter()
        .fold((255u8, 0u8), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!((mn, mx), (0, 255), "min-max scaling spans 0..255");
    // exact agreement with numpy's float64 formula on this image (tolerance: exact), through
    // checksums that reference/gen_io_fixtures.py computed from the same file
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real_set1_u8.txt"),
    )
    .unwrap();
    let field = |name: &str| -> Vec<u64> {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing"));
        line.split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect()
    };
    assert_eq!(
        field("shape_hw"),
        vec![img.height() as u64, img.width() as u64]
    );
    let mut hist = vec![0u64; 256];
    for &v in img.data() {
        hist[usize::from(v)] += 1;
    }
    assert_eq!(hist, field("histogram"), "histogram of the scaled image");
    let weighted: u64 = img
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| (i as u64 + 1) * u64::from(v))
        .sum();
    assert_eq!(
        weighted,
        field("weighted_sum")[0],
        "position-weighted sum of the scaled image"
    );
}
