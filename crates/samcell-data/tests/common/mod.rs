//! Small image fixtures written into temporary folders.
#![allow(dead_code)]

use std::path::Path;

/// A grey u8 PNG with a gradient.
pub fn gray_png(path: &Path, w: u32, h: u32) {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 7 + y * 3) as u8]));
    img.save(path).unwrap();
}

/// A grey u16 TIFF with a gradient (scaled to u8 by min-max on reading).
pub fn gray16_tiff(path: &Path, w: u32, h: u32) {
    let data: Vec<u16> = (0..w * h).map(|i| (i * 37 % 5000) as u16).collect();
    let f = std::fs::File::create(path).unwrap();
    let mut enc = tiff::encoder::TiffEncoder::new(f).unwrap();
    enc.write_image::<tiff::encoder::colortype::Gray16>(w, h, &data)
        .unwrap();
}

/// Labels of size `w` x `h` with `n` square cells (labels `first`, `first + 1`, ...).
pub fn squares(w: u32, h: u32, n: u32, first: u32) -> Vec<u32> {
    let mut v = vec![0u32; (w * h) as usize];
    for k in 0..n {
        let (x0, y0) = (1 + 5 * k, 1 + (k % 2) * 3);
        for y in y0..(y0 + 4).min(h) {
            for x in x0..(x0 + 4).min(w) {
                v[(y * w + x) as usize] = first + k;
            }
        }
    }
    v
}

pub fn labels_png16(path: &Path, w: u32, h: u32, v: &[u32]) {
    let data: Vec<u16> = v.iter().map(|&x| x as u16).collect();
    let img = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_raw(w, h, data).unwrap();
    img.save(path).unwrap();
}

pub fn labels_png8(path: &Path, w: u32, h: u32, v: &[u32]) {
    let data: Vec<u8> = v.iter().map(|&x| x as u8).collect();
    image::GrayImage::from_raw(w, h, data)
        .unwrap()
        .save(path)
        .unwrap();
}

pub fn labels_tiff16(path: &Path, w: u32, h: u32, v: &[u32]) {
    let data: Vec<u16> = v.iter().map(|&x| x as u16).collect();
    let f = std::fs::File::create(path).unwrap();
    let mut enc = tiff::encoder::TiffEncoder::new(f).unwrap();
    enc.write_image::<tiff::encoder::colortype::Gray16>(w, h, &data)
        .unwrap();
}

pub fn labels_tiff32(path: &Path, w: u32, h: u32, v: &[u32]) {
    let f = std::fs::File::create(path).unwrap();
    let mut enc = tiff::encoder::TiffEncoder::new(f).unwrap();
    enc.write_image::<tiff::encoder::colortype::Gray32>(w, h, v)
        .unwrap();
}

/// An RGB PNG (not a label image).
pub fn rgb_png(path: &Path, w: u32, h: u32) {
    image::RgbImage::from_fn(w, h, |x, _| image::Rgb([x as u8, 0, 1]))
        .save(path)
        .unwrap();
}
