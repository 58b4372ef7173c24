//! Min-max normalisation to 0..255, OpenCV `cv2.normalize(x, None, 0, 255, NORM_MINMAX)` on u8.

use crate::GrayU8;

/// Stretches `img` so its minimum becomes 0 and its maximum 255 (OpenCV rounding).
pub fn minmax_u8(img: &GrayU8) -> GrayU8 {
    let _ = img;
    todo!("min-max")
}
