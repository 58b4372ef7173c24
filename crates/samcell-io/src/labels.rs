//! Reading instance-label images with their integer values kept ([`crate::read_gray`] scales to
//! u8, which would merge labels). Nothing is relabelled. Used by evaluation (`samcell eval`) and by
//! the training-set importers (`samcell prepare`).
//!
//! Accepted, found from the file's first bytes ([`crate::read::detect`], never the extension):
//! - TIFF/BigTIFF, single page, one sample per pixel: unsigned 8/16/32/64-bit, signed
//!   8/16/32/64-bit (negative values are an error), 32/64-bit float holding whole numbers
//!   (anything else is an error). Values above `u32::MAX` are an error. (Cell Tracking Challenge
//!   `man_seg*.tif` are u16.)
//! - PNG grey 8-bit or 16-bit (PIL modes `L`, `I;16`; Cellpose and Usiigaci masks), decoded by
//!   the `image` crate. Colour, grey+alpha and palette PNGs are refused: their values are
//!   colours, not labels.
//!
//! Refused with a reason: JPEG (lossy), BMP, 16-bit float TIFF, multi-page TIFFs (a 3-D stack is
//! not a 2-D label image), volumetric TIFF pages. Every error from [`read_labels`] names the file.
//!
//! Images over the pixel limit ([`crate::limits`]) are refused from their header, before
//! decoding.

use crate::read::tiff_input::{describe, volumetric_depth, volumetric_error};
use crate::{limits, Format, IoError};
use image::ImageDecoder;
use samcell_imaging::Labels;
use std::io::Cursor;
use std::path::Path;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::ColorType;

/// Reads a label image (see the module docs for the accepted formats) under the process-wide
/// pixel limit.
pub fn read_labels(path: &Path) -> Result<Labels, IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::read_io(path, "cannot read", e))?;
    decode_labels(&bytes).map_err(|reason| IoError::read(path, reason))
}

/// Decodes label-image bytes (TIFF or PNG) under the process-wide pixel limit; the error is a
/// reason without the file name.
pub fn decode_labels(bytes: &[u8]) -> Result<Labels, String> {
    decode_labels_limited(bytes, limits::max_pixels())
}

/// [`decode_labels`] with an explicit pixel limit.
pub fn decode_labels_limited(bytes: &[u8], max_pixels: u64) -> Result<Labels, String> {
    match crate::read::detect(bytes) {
        Ok(Format::Png) => decode_png(bytes, max_pixels),
        Ok(Format::Tiff) => decode_tiff(bytes, max_pixels),
        Ok(Format::Jpeg) => Err(
            "JPEG cannot hold a label image (lossy compression changes the labels); use TIFF or PNG"
                .into(),
        ),
        Ok(Format::Bmp) | Err(_) => {
            Err("not a TIFF or PNG file (label images must be TIFF or PNG)".into())
        }
    }
}

fn decode_png(bytes: &[u8], max_pixels: u64) -> Result<Labels, String> {
    let d = image::codecs::png::PngDecoder::with_limits(
        Cursor::new(bytes),
        limits::image_limits(max_pixels),
    )
    .map_err(|e| format!("cannot decode PNG: {e}"))?;
    let (w, h) = d.dimensions();
    limits::check(w.into(), h.into(), max_pixels)?;
    let img =
        image::DynamicImage::from_decoder(d).map_err(|e| format!("cannot decode PNG: {e}"))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let data: Vec<u32> = match img {
        image::DynamicImage::ImageLuma8(b) => b.into_raw().into_iter().map(u32::from).collect(),
        image::DynamicImage::ImageLuma16(b) => b.into_raw().into_iter().map(u32::from).collect(),
        other => {
            return Err(format!(
                "PNG of colour type {:?} is not a label image (expected 8- or 16-bit grey without alpha)",
                other.color()
            ))
        }
    };
    Labels::from_vec(w, h, data).map_err(|e| e.to_string())
}

fn tiff_reason(e: tiff::TiffError) -> String {
    describe(&e)
}

fn decode_tiff(bytes: &[u8], max_pixels: u64) -> Result<Labels, String> {
    let mut d = Decoder::new(Cursor::new(bytes))
        .map_err(tiff_reason)?
        .with_limits(limits::tiff_limits(max_pixels));
    let (w, h) = d.dimensions().map_err(tiff_reason)?;
    limits::check(w.into(), h.into(), max_pixels)?;
    let (w, h) = (w as usize, h as usize);
    if w == 0 || h == 0 {
        return Err(format!("zero-size image ({w}x{h})"));
    }
    if let Some(depth) = volumetric_depth(&mut d) {
        return Err(volumetric_error(depth));
    }
    match d.colortype().map_err(tiff_reason)? {
        ColorType::Gray(_) => {}
        ColorType::Multiband { num_samples: 1, .. } => {}
        other => {
            return Err(format!(
                "TIFF colour type {other:?} is not a label image (expected one sample per pixel)"
            ))
        }
    }
    if d.more_images() {
        return Err("multi-page TIFF: a label image must be a single 2D page".into());
    }
    let result = d.read_image().map_err(tiff_reason)?;
    let data: Vec<u32> = match result {
        DecodingResult::U8(v) => v.into_iter().map(u32::from).collect(),
        DecodingResult::U16(v) => v.into_iter().map(u32::from).collect(),
        DecodingResult::U32(v) => v,
        DecodingResult::U64(v) => convert(v, |x| u32::try_from(x).ok())?,
        DecodingResult::I8(v) => convert(v, |x| u32::try_from(x).ok())?,
        DecodingResult::I16(v) => convert(v, |x| u32::try_from(x).ok())?,
        DecodingResult::I32(v) => convert(v, |x| u32::try_from(x).ok())?,
        DecodingResult::I64(v) => convert(v, |x| u32::try_from(x).ok())?,
        DecodingResult::F32(v) => convert(v, |x| float_label(f64::from(x)))?,
        DecodingResult::F64(v) => convert(v, float_label)?,
        DecodingResult::F16(_) => return Err("16-bit float TIFF is not a label image".into()),
    };
    if data.len() < w * h {
        return Err(format!(
            "TIFF holds {} samples for a {w}x{h} image",
            data.len()
        ));
    }
    let mut data = data;
    data.truncate(w * h);
    Labels::from_vec(w, h, data).map_err(|e| e.to_string())
}

fn float_label(x: f64) -> Option<u32> {
    if x.is_finite() && x >= 0.0 && x <= f64::from(u32::MAX) && x.fract() == 0.0 {
        Some(x as u32)
    } else {
        None
    }
}

fn convert<T: Copy + std::fmt::Display>(
    v: Vec<T>,
    f: impl Fn(T) -> Option<u32>,
) -> Result<Vec<u32>, String> {
    let mut out = Vec::with_capacity(v.len());
    for (i, x) in v.into_iter().enumerate() {
        match f(x) {
            Some(l) => out.push(l),
            None => {
                return Err(format!(
                "pixel {i} holds {x}, which is not a label (labels are whole numbers in 0..={})",
                u32::MAX
            ))
            }
        }
    }
    Ok(out)
}
