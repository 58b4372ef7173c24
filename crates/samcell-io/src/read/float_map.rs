//! Reading a float map back: the counterpart of [`crate::write_f32_tiff`].
//!
//! Distance maps are written as single-channel 32-bit float TIFFs (`<stem>_distmap.tif`); tools
//! that re-threshold or tune from saved maps read them here, values untouched (no scaling to u8,
//! unlike [`crate::read_gray`]). Only the first page is read; a map over the pixel limit
//! ([`crate::limits`]) is refused from its header.

use crate::IoError;
use samcell_imaging::MapF32;
use std::path::Path;
use tiff::decoder::{Decoder, DecodingResult};
use tiff::ColorType;

fn rerr(path: &Path, reason: impl Into<String>) -> IoError {
    IoError::read(path, reason)
}

/// Reads the first page of a single-channel 32-bit float TIFF as a map.
pub fn read_f32_tiff(path: &Path) -> Result<MapF32, IoError> {
    let f = std::fs::File::open(path).map_err(|e| IoError::read_io(path, "cannot open", e))?;
    let limit = crate::limits::max_pixels();
    let mut d = Decoder::new(std::io::BufReader::new(f))
        .map_err(|e| rerr(path, format!("not a readable TIFF: {e}")))?
        .with_limits(crate::limits::tiff_limits(limit));
    let (w, h) = d.dimensions().map_err(|e| rerr(path, e.to_string()))?;
    crate::limits::check(w.into(), h.into(), limit).map_err(|e| rerr(path, e))?;
    match d.colortype().map_err(|e| rerr(path, e.to_string()))? {
        ColorType::Gray(32) => {}
        other => {
            return Err(rerr(
                path,
                format!(
                    "expected a one-channel 32-bit float TIFF (a distance map), found {other:?}"
                ),
            ))
        }
    }
    let data = match d
        .read_image()
        .map_err(|e| rerr(path, format!("cannot decode: {e}")))?
    {
        DecodingResult::F32(v) => v,
        _ => {
            return Err(rerr(
                path,
                "expected 32-bit float samples (a distance map), found integers",
            ))
        }
    };
    MapF32::from_vec(w as usize, h as usize, data).map_err(|e| rerr(path, e.to_string()))
}
