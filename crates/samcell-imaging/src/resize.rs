//! Resizing: Pillow's BILINEAR on u8 (what SamImageProcessor uses) and OpenCV INTER_LINEAR on f32.

use crate::{GrayU8, ImagingError, MapF32};

/// Pillow 11 `Image.resize((w, h), BILINEAR)` on an 8-bit single channel, byte-identical.
pub fn pillow_bilinear_u8(img: &GrayU8, width: usize, height: usize) -> Result<GrayU8, ImagingError> {
    let _ = (img, width, height);
    todo!("pillow bilinear")
}

/// OpenCV `cv2.resize(x, (w, h))` (INTER_LINEAR) on a float map.
pub fn opencv_linear_f32(img: &MapF32, width: usize, height: usize) -> Result<MapF32, ImagingError> {
    let _ = (img, width, height);
    todo!("opencv linear")
}
