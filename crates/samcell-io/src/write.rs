//! Writing outputs atomically (temp file in the target directory, then rename).

use crate::IoError;
use samcell_imaging::{GrayU8, Labels, MapF32};
use std::path::Path;

/// Label image as compressed TIFF: u16 when the largest label fits, u32 otherwise.
pub fn write_labels_tiff(path: &Path, labels: &Labels) -> Result<(), IoError> {
    let _ = (path, labels);
    todo!()
}

/// f32 TIFF (distance maps).
pub fn write_f32_tiff(path: &Path, map: &MapF32) -> Result<(), IoError> {
    let _ = (path, map);
    todo!()
}

/// Overlay PNG: the grey image with each label in a random colour at 50% alpha.
pub fn write_overlay_png(path: &Path, image: &GrayU8, labels: &Labels, outlines: bool) -> Result<(), IoError> {
    let _ = (path, image, labels, outlines);
    todo!()
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let _ = (path, bytes);
    todo!()
}
