//! Reading instance-label images with their values kept (`samcell_io::read_gray` scales to u8,
//! which would merge labels). Nothing is relabelled.
//!
//! Accepted (format found from the first bytes with `samcell_io::read::detect`):
//! - PNG grey 8- or 16-bit without alpha (PIL modes `L`, `I;16`; Cellpose and Usiigaci masks).
//! - TIFF, single page, one sample per pixel, unsigned 8/16/32-bit (CTC `man_seg*.tif` are u16),
//!   or signed 8/16/32-bit without negative values.
//!
//! Refused with a reason: RGB/RGBA/palette/grey+alpha images (colours are not labels), JPEG/BMP,
//! float or 64-bit samples, multi-page TIFFs (3-D stacks).

use crate::DataError;
use samcell_imaging::Labels;
use samcell_io::Format;
use std::io::Cursor;
use std::path::Path;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::ColorType;

/// Reads a label image (see the module docs for what is accepted).
pub fn read_labels(path: &Path) -> Result<Labels, DataError> {
    let bytes =
        std::fs::read(path).map_err(|e| DataError::read(path, format!("cannot read: {e}")))?;
    decode_labels(&bytes).map_err(|r| DataError::read(path, r))
}

/// Decodes label-image bytes; the error is a reason without the file name.
pub fn decode_labels(bytes: &[u8]) -> Result<Labels, String> {
    match samcell_io::read::detect(bytes)? {
        Format::Png => decode_png(bytes),
        Format::Tiff => decode_tiff(bytes),
        f => Err(format!(
            "a {f} file cannot hold a label image (use TIFF or PNG)"
        )),
    }
}

fn decode_png(bytes: &[u8]) -> Result<Labels, String> {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map_err(|e| format!("cannot decode PNG: {e}"))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let data: Vec<u32> = match img {
        image::DynamicImage::ImageLuma8(b) => b.into_raw().into_iter().map(u32::from).collect(),
        image::DynamicImage::ImageLuma16(b) => b.into_raw().into_iter().map(u32::from).collect(),
        other => {
            return Err(format!(
                "a {:?} PNG is not a label image (expected 8- or 16-bit grey without alpha)",
                other.color()
            ))
        }
    };
    Labels::from_vec(w, h, data).map_err(|e| e.to_string())
}

fn decode_tiff(bytes: &[u8]) -> Result<Labels, String> {
    let terr = |e: tiff::TiffError| format!("cannot decode TIFF: {e}");
    let mut d = Decoder::new(Cursor::new(bytes)).map_err(terr)?;
    if d.more_images() {
        return Err("multi-page TIFF (a 3-D stack) is not a 2-D label image".into());
    }
    let (w, h) = d.dimensions().map_err(terr)?;
    let (w, h) = (w as usize, h as usize);
    match d.colortype().map_err(terr)? {
        ColorType::Gray(8 | 16 | 32) => {}
        c => {
            return Err(format!(
                "TIFF of colour type {c:?} is not a label image (expected one 8/16/32-bit integer sample)"
            ))
        }
    }
    let neg = || "negative label values".to_string();
    let data: Vec<u32> = match d.read_image().map_err(terr)? {
        DecodingResult::U8(v) => v.into_iter().map(u32::from).collect(),
        DecodingResult::U16(v) => v.into_iter().map(u32::from).collect(),
        DecodingResult::U32(v) => v,
        DecodingResult::I8(v) => v
            .into_iter()
            .map(|x| u32::try_from(x).map_err(|_| neg()))
            .collect::<Result<_, _>>()?,
        DecodingResult::I16(v) => v
            .into_iter()
            .map(|x| u32::try_from(x).map_err(|_| neg()))
            .collect::<Result<_, _>>()?,
        DecodingResult::I32(v) => v
            .into_iter()
            .map(|x| u32::try_from(x).map_err(|_| neg()))
            .collect::<Result<_, _>>()?,
        _ => return Err("float or 64-bit TIFF samples are not accepted as labels".into()),
    };
    if w == 0 || h == 0 || data.len() != w * h {
        return Err(format!(
            "TIFF {w}x{h} with {} samples is not a 2-D grey image",
            data.len()
        ));
    }
    Labels::from_vec(w, h, data).map_err(|e| e.to_string())
}

/// Number of distinct non-zero labels.
pub fn count_cells(labels: &Labels) -> usize {
    let mut v: Vec<u32> = labels.data().iter().copied().filter(|&x| x != 0).collect();
    v.sort_unstable();
    v.dedup();
    v.len()
}
