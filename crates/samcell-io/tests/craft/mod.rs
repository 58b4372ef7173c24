//! Hand-made image files for the tests: small valid images encoded with the `image` crate, the
//! same with a header patched to claim a huge size (decompression bombs), and TIFFs written tag by
//! tag (layouts that no encoder at hand writes: extra bands, volumetric pages, float bytes).
#![allow(dead_code)]

use image::{ExtendedColorType, ImageEncoder};

/// CRC-32 (IEEE) as PNG chunks use it.
pub fn crc32(data: &[u8]) -> u32 {
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

/// A `w x h` image with a gradient, `channels` interleaved u8 samples per pixel.
pub fn pixels(w: u32, h: u32, channels: usize) -> Vec<u8> {
    (0..w as usize * h as usize * channels)
        .map(|i| (i * 7 % 251) as u8)
        .collect()
}

fn color(channels: usize) -> ExtendedColorType {
    match channels {
        1 => ExtendedColorType::L8,
        2 => ExtendedColorType::La8,
        3 => ExtendedColorType::Rgb8,
        _ => ExtendedColorType::Rgba8,
    }
}

pub fn png(w: u32, h: u32, channels: usize) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&pixels(w, h, channels), w, h, color(channels))
        .expect("encode png");
    out
}

/// 16-bit grey PNG.
pub fn png16(w: u32, h: u32) -> Vec<u8> {
    let v: Vec<u8> = (0..w * h)
        .flat_map(|i| ((i * 977 % 65521) as u16).to_be_bytes())
        .collect();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&v, w, h, ExtendedColorType::L16)
        .expect("png16");
    out
}

pub fn jpeg(w: u32, h: u32, channels: usize) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .write_image(&pixels(w, h, channels), w, h, color(channels))
        .expect("encode jpeg");
    out
}

pub fn bmp(w: u32, h: u32, channels: usize) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::bmp::BmpEncoder::new(&mut out)
        .write_image(&pixels(w, h, channels), w, h, color(channels))
        .expect("encode bmp");
    out
}

/// A PNG whose IHDR claims `w x h` (CRC fixed), with the small image's data after it.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut b = png(16, 16, 1);
    // signature (8), IHDR length (4), "IHDR" (4), then width and height
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    b
}

/// A JPEG whose SOF claims `w x h` (both below 65536).
pub fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut b = jpeg(16, 16, 1);
    let sof = b
        .windows(2)
        .position(|m| m[0] == 0xFF && (0xC0..=0xC2).contains(&m[1]))
        .expect("SOF marker");
    // FF Cx, length (2), precision (1), height (2), width (2)
    b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    b
}

/// A BMP whose info header claims `w x h`.
pub fn bmp_claiming(w: i32, h: i32) -> Vec<u8> {
    let mut b = bmp(16, 16, 3);
    b[18..22].copy_from_slice(&w.to_le_bytes());
    b[22..26].copy_from_slice(&h.to_le_bytes());
    b
}

pub const SHORT: u16 = 3;
pub const LONG: u16 = 4;
pub const ASCII: u16 = 2;

/// One TIFF tag: (tag, type, values); ASCII values are the bytes (NUL included).
pub type Entry = (u16, u16, Vec<u32>);

/// A little-endian single-strip TIFF page (one IFD) with `entries` plus the strip tags, and
/// `data` as its strip. Entries are sorted by tag; values that do not fit in 4 bytes go after
/// the IFD.
pub fn tiff(w: u32, h: u32, mut entries: Vec<Entry>, data: &[u8]) -> Vec<u8> {
    entries.push((256, LONG, vec![w]));
    entries.push((257, LONG, vec![h]));
    entries.push((278, LONG, vec![h]));
    entries.push((279, LONG, vec![data.len() as u32]));
    entries.push((273, LONG, vec![0])); // patched below
    if !entries.iter().any(|e| e.0 == 259) {
        entries.push((259, SHORT, vec![1]));
    }
    entries.sort_by_key(|e| e.0);
    let size = |e: &Entry| -> usize {
        match e.1 {
            ASCII => e.2.len(),
            SHORT => 2 * e.2.len(),
            _ => 4 * e.2.len(),
        }
    };
    let ifd_len = 2 + 12 * entries.len() + 4;
    let mut extra_at = 8 + ifd_len;
    let extra_total: usize = entries
        .iter()
        .map(size)
        .filter(|&s| s > 4)
        .map(|s| s + s % 2)
        .sum();
    let strip_at = (extra_at + extra_total) as u32;
    let mut ifd = Vec::new();
    let mut extra = Vec::new();
    ifd.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for e in &entries {
        let values = if e.0 == 273 {
            vec![strip_at]
        } else {
            e.2.clone()
        };
        let mut bytes = Vec::new();
        for v in &values {
            match e.1 {
                ASCII => bytes.push(*v as u8),
                SHORT => bytes.extend_from_slice(&(*v as u16).to_le_bytes()),
                _ => bytes.extend_from_slice(&v.to_le_bytes()),
            }
        }
        ifd.extend_from_slice(&e.0.to_le_bytes());
        ifd.extend_from_slice(&e.1.to_le_bytes());
        ifd.extend_from_slice(&(values.len() as u32).to_le_bytes());
        if bytes.len() <= 4 {
            bytes.resize(4, 0);
            ifd.extend_from_slice(&bytes);
        } else {
            ifd.extend_from_slice(&(extra_at as u32).to_le_bytes());
            if bytes.len() % 2 == 1 {
                bytes.push(0);
            }
            extra_at += bytes.len();
            extra.extend_from_slice(&bytes);
        }
    }
    ifd.extend_from_slice(&0u32.to_le_bytes());
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&ifd);
    out.extend_from_slice(&extra);
    assert_eq!(out.len(), strip_at as usize);
    out.extend_from_slice(data);
    out
}

/// The usual tags of a page with `spp` samples of `bits` bits, sample format `fmt` (1 uint,
/// 2 int, 3 float) and photometric interpretation `photometric`.
pub fn page_tags(spp: u32, bits: u32, fmt: u32, photometric: u32) -> Vec<Entry> {
    vec![
        (258, SHORT, vec![bits; spp as usize]),
        (262, SHORT, vec![photometric]),
        (277, SHORT, vec![spp]),
        (339, SHORT, vec![fmt; spp as usize]),
    ]
}

/// An ASCII tag value (NUL-terminated).
pub fn ascii(s: &str) -> Vec<u32> {
    s.bytes().chain([0]).map(u32::from).collect()
}

/// A TIFF page claiming `w x h` 8-bit grey pixels with a 16-byte strip.
pub fn tiff_claiming(w: u32, h: u32) -> Vec<u8> {
    tiff(w, h, page_tags(1, 8, 1, 1), &[7u8; 16])
}
