//! The pixel limit from the command line's side: a header bomb is refused by name, and
//! `SAMCELL_MAX_PIXELS` sets the limit of every command (checked with `measure`, which needs no
//! model).
//!
//! Defect covered: a small PNG whose header claims 65500x65500 took the CLI to gigabytes.

mod common;

use common::*;
use image::ImageEncoder;
use std::path::Path;

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn grey_png(path: &Path, w: u32, h: u32, claim: Option<(u32, u32)>) {
    let px: Vec<u8> = (0..w * h).map(|i| (i % 3) as u8).collect();
    let mut b = Vec::new();
    image::codecs::png::PngEncoder::new(&mut b)
        .write_image(&px, w, h, image::ExtendedColorType::L8)
        .expect("png");
    if let Some((cw, ch)) = claim {
        b[16..20].copy_from_slice(&cw.to_be_bytes());
        b[20..24].copy_from_slice(&ch.to_be_bytes());
        let crc = crc32(&b[12..29]);
        b[29..33].copy_from_slice(&crc.to_be_bytes());
    }
    std::fs::write(path, b).expect("write");
}

fn measure(file: &Path, out: &Path, limit: Option<&str>) -> (i32, String) {
    let mut c = samcell();
    c.env_remove("SAMCELL_MAX_PIXELS");
    if let Some(l) = limit {
        c.env("SAMCELL_MAX_PIXELS", l);
    }
    c.arg("measure").arg(file).arg("--output").arg(out);
    let (code, _, err) = run(&mut c);
    (code, err)
}

#[test]
fn header_bomb_and_env_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bomb = dir.path().join("bomb_masks.png");
    grey_png(&bomb, 16, 16, Some((65500, 65500)));
    let (code, err) = measure(&bomb, &dir.path().join("o1"), None);
    assert_eq!(code, 1, "stderr:\n{err}");
    assert!(
        err.contains("bomb_masks.png") && err.contains("65500x65500") && err.contains("400000000"),
        "{err}"
    );

    let small = dir.path().join("small_masks.png");
    grey_png(&small, 40, 30, None);
    let (code, err) = measure(&small, &dir.path().join("o2"), Some("1k"));
    assert_eq!(code, 1, "stderr:\n{err}");
    assert!(
        err.contains("40x30") && err.contains("limit of 1000 pixels"),
        "{err}"
    );
    let (code, err) = measure(&small, &dir.path().join("o3"), Some("2k"));
    assert_eq!(code, 0, "stderr:\n{err}");
    let (code, err) = measure(&small, &dir.path().join("o4"), Some("zero"));
    assert_eq!(
        code, 2,
        "an invalid SAMCELL_MAX_PIXELS is a usage error; stderr:\n{err}"
    );
    assert!(err.contains("SAMCELL_MAX_PIXELS"), "{err}");
}
