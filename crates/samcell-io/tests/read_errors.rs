//! Reading: bad inputs give a clear error naming the file; pages, format detection and the
//! returned `SourceInfo`.

mod common;

use common::{fixture, load_u8};
use samcell_io::read::{
    page_count, read_gray, read_gray_with_info, Format, ReadOptions, SampleType, Scaling,
};
use samcell_io::IoError;
use std::path::Path;

fn read_err(path: &Path, opts: &ReadOptions) -> String {
    match read_gray(path, opts) {
        Ok(img) => panic!(
            "{}: expected an error, got a {}x{} image",
            path.display(),
            img.width(),
            img.height()
        ),
        Err(e @ IoError::Read { .. }) => {
            let msg = e.to_string();
            eprintln!("error: {msg}");
            assert!(
                msg.starts_with(&path.display().to_string()),
                "error does not name the file: {msg}"
            );
            msg
        }
        Err(e) => panic!("expected IoError::Read, got {e:?}"),
    }
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "error {msg:?} should mention {p:?}");
    }
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let msg = read_err(&dir.path().join("nope.png"), &ReadOptions::default());
    assert_contains(&msg, &["nope.png", "not found"]);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.tif");
    std::fs::write(&p, b"").unwrap();
    assert_contains(&read_err(&p, &ReadOptions::default()), &["empty file"]);
}

#[test]
fn directory_is_not_an_image() {
    let dir = tempfile::tempdir().unwrap();
    assert_contains(
        &read_err(dir.path(), &ReadOptions::default()),
        &["directory"],
    );
}

#[test]
fn truncated_png_and_tiff() {
    let msg = read_err(&fixture("truncated.png"), &ReadOptions::default());
    assert_contains(&msg, &["truncated.png", "PNG"]);
    let msg = read_err(&fixture("truncated.tif"), &ReadOptions::default());
    assert_contains(&msg, &["truncated.tif", "TIFF"]);
}

#[test]
fn truncated_jpeg() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("rgb_u8.jpg")).unwrap();
    let p = dir.path().join("cut.jpg");
    std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).unwrap();
    assert_contains(&read_err(&p, &ReadOptions::default()), &["truncated JPEG"]);
}

#[test]
fn corrupt_png_data() {
    // flip bytes inside the compressed IDAT stream: the CRC / zlib check must catch it
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(fixture("grey_u8.png")).unwrap();
    let idat = bytes.windows(4).position(|w| w == b"IDAT").unwrap();
    for b in &mut bytes[idat + 20..idat + 60] {
        *b ^= 0x5A;
    }
    let p = dir.path().join("corrupt.png");
    std::fs::write(&p, &bytes).unwrap();
    assert_contains(&read_err(&p, &ReadOptions::default()), &["PNG"]);
}

#[test]
fn text_file_named_png_is_unsupported() {
    let msg = read_err(&fixture("not_an_image.png"), &ReadOptions::default());
    assert_contains(&msg, &["unsupported file format", "text"]);
}

#[test]
fn gif_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.gif");
    std::fs::write(&p, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap();
    assert_contains(
        &read_err(&p, &ReadOptions::default()),
        &["unsupported file format", "GIF"],
    );
}

#[test]
fn nan_and_inf_are_errors() {
    let msg = read_err(&fixture("grey_f32_nan.tif"), &ReadOptions::default());
    assert_contains(&msg, &["grey_f32_nan.tif", "NaN", "1 non-finite"]);
    let msg = read_err(&fixture("grey_f32_inf.tif"), &ReadOptions::default());
    assert_contains(&msg, &["grey_f32_inf.tif", "non-finite", "inf"]);
}

/// A little-endian baseline TIFF header with one 8-bit grey strip of `w x h`.
fn tiny_tiff(w: u16, h: u16) -> Vec<u8> {
    let n = usize::from(w) * usize::from(h);
    let entries: [(u16, u16, u32, u32); 8] = [
        (256, 3, 1, u32::from(w)),        // ImageWidth
        (257, 3, 1, u32::from(h)),        // ImageLength
        (258, 3, 1, 8),                   // BitsPerSample
        (259, 3, 1, 1),                   // Compression none
        (262, 3, 1, 1),                   // BlackIsZero
        (273, 4, 1, 8 + 2 + 8 * 12 + 4),  // StripOffsets: right after the IFD
        (278, 3, 1, u32::from(h.max(1))), // RowsPerStrip
        (279, 4, 1, n as u32),            // StripByteCounts
    ];
    let mut b = b"II*\0\x08\0\0\0".to_vec();
    b.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, ty, count, value) in entries {
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        if ty == 3 {
            b.extend_from_slice(&(value as u16).to_le_bytes());
            b.extend_from_slice(&[0, 0]);
        } else {
            b.extend_from_slice(&value.to_le_bytes());
        }
    }
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend((0..n).map(|i| (i * 7 % 256) as u8));
    b
}

#[test]
fn zero_size_tiff_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok.tif");
    std::fs::write(&ok, tiny_tiff(5, 3)).unwrap();
    let img = read_gray(&ok, &ReadOptions::default()).expect("the hand-built 5x3 TIFF is valid");
    assert_eq!((img.width(), img.height()), (5, 3));
    assert_eq!(img.data()[..4], [0, 7, 14, 21]);
    for (w, h) in [(0, 3), (5, 0)] {
        let p = dir.path().join(format!("zero_{w}x{h}.tif"));
        std::fs::write(&p, tiny_tiff(w, h)).unwrap();
        let msg = read_err(&p, &ReadOptions::default());
        assert_contains(&msg, &["zero-size image", &format!("{w}x{h}")]);
    }
}

#[test]
fn pages_select_and_out_of_range_names_page_count() {
    let p = fixture("pages3_u8.tif");
    assert_eq!(page_count(&p).unwrap(), 3);
    assert_eq!(page_count(&fixture("grey_u8.png")).unwrap(), 1);
    for page in 0..3 {
        let (img, info) = read_gray_with_info(
            &p,
            &ReadOptions {
                page,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((info.page, info.pages), (page, 3));
        let golden = if page == 0 {
            "pages3_u8_tif.cv2.npy".to_string()
        } else {
            format!("pages3_u8_tif.page{page}.cv2.npy")
        };
        assert_eq!(img.data(), &load_u8(&golden).2[..], "page {page}");
    }
    let msg = read_err(
        &p,
        &ReadOptions {
            page: 3,
            ..Default::default()
        },
    );
    assert_contains(&msg, &["pages3_u8.tif", "page 3", "3 page(s)"]);
    let msg = read_err(
        &fixture("grey_u8.png"),
        &ReadOptions {
            page: 1,
            ..Default::default()
        },
    );
    assert_contains(&msg, &["page 1", "1 page"]);
}

#[test]
fn format_comes_from_content_not_extension() {
    let dir = tempfile::tempdir().unwrap();
    for (src, fake, fmt) in [
        ("grey_u8.png", "really_png.tif", Format::Png),
        ("grey_u8.tif", "really_tiff.jpg", Format::Tiff),
        ("grey_u8.bmp", "really_bmp", Format::Bmp),
    ] {
        let p = dir.path().join(fake);
        std::fs::copy(fixture(src), &p).unwrap();
        let (img, info) = read_gray_with_info(&p, &ReadOptions::default()).unwrap();
        assert_eq!(info.format, fmt, "{fake}");
        assert_eq!(img.data(), &load_u8("grey_u8_png.cv2.npy").2[..], "{fake}");
    }
}

#[test]
fn source_info_reports_type_and_range() {
    let (_, info) = read_gray_with_info(&fixture("grey_u16.tif"), &ReadOptions::default()).unwrap();
    assert_eq!(
        (info.format, info.sample, info.channels, info.pages),
        (Format::Tiff, SampleType::U16, 1, 1)
    );
    assert_eq!(
        info.scaled_from,
        Some((1967.0, 40232.0)),
        "min/max of the fixture (see the generator)"
    );
    let (_, info) = read_gray_with_info(&fixture("rgb_u8.jpg"), &ReadOptions::default()).unwrap();
    assert_eq!(
        (info.format, info.sample, info.channels, info.scaled_from),
        (Format::Jpeg, SampleType::U8, 3, None)
    );
    let (_, info) =
        read_gray_with_info(&fixture("grey_1bit.png"), &ReadOptions::default()).unwrap();
    assert_eq!(info.sample, SampleType::UBits(1));
    assert!(info.sample.is_8bit());
}

#[test]
fn invalid_percentiles_are_rejected() {
    for (lo, hi) in [(50.0, 50.0), (-1.0, 99.0), (1.0, 101.0), (f64::NAN, 99.0)] {
        let msg = read_err(
            &fixture("grey_u16.tif"),
            &ReadOptions {
                page: 0,
                scaling: Scaling::Percentile(lo, hi),
                ..Default::default()
            },
        );
        assert_contains(&msg, &["percentile"]);
    }
}

#[test]
fn percentile_0_100_equals_minmax() {
    let a = read_gray(&fixture("grey_f32.tif"), &ReadOptions::default()).unwrap();
    let b = read_gray(
        &fixture("grey_f32.tif"),
        &ReadOptions {
            page: 0,
            scaling: Scaling::Percentile(0.0, 100.0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(a, b);
}
