//! Resizing: Pillow's BILINEAR on u8 (what SamImageProcessor uses) and OpenCV INTER_LINEAR on f32.
//!
//! * [`pillow_bilinear_u8`]: Pillow 11.3 `Image.fromarray(u8).resize((w, h), Image.BILINEAR)`
//!   (no `box`, `reducing_gap=None`), byte for byte. This is what transformers 4.57
//!   `SamImageProcessor.resize` runs on SAMCell's crops (the three equal channels of an RGB image
//!   resample independently, exactly like one grey channel). See [`pillow`].
//! * [`sam_resize_shape`]: the output size `SamImageProcessor._get_preprocess_shape` picks.
//! * [`opencv_linear_f32`]: OpenCV 4.12 (x86-64 wheel, which delegates to Intel IPP)
//!   `cv2.resize(f32, (w, h))` with the default `INTER_LINEAR`: promised within 1e-6, bit-identical
//!   on the fixtures; see [`opencv`].

pub mod opencv;
pub mod pillow;

pub use opencv::opencv_linear_f32;
pub use pillow::pillow_bilinear_u8;

use crate::ImagingError;

/// The size checks both resizers make: a non-empty `w x h` source (`what` names it in the
/// message) and a target of at least 1x1.
fn check_sizes(
    what: &str,
    w: usize,
    h: usize,
    width: usize,
    height: usize,
) -> Result<(), ImagingError> {
    if w == 0 || h == 0 {
        return Err(ImagingError::Shape(format!(
            "cannot resize an empty {w}x{h} {what}"
        )));
    }
    if width == 0 || height == 0 {
        return Err(ImagingError::Invalid(format!(
            "resize target must be at least 1x1, got {width}x{height}"
        )));
    }
    Ok(())
}

/// Output `(width, height)` of transformers 4.57 `SamImageProcessor._get_preprocess_shape` for an
/// image of `width x height` and target `longest` side: `scale = longest * 1.0 / max(h, w)` in
/// `f64`, each side becomes `int(side * scale + 0.5)`. Non-square crops keep their aspect ratio,
/// e.g. 48x40 -> 1024x853 and 200x150 -> 1024x768. A zero-sized input (where Python divides by
/// zero) gives `(0, 0)`.
pub fn sam_resize_shape(width: usize, height: usize, longest: usize) -> (usize, usize) {
    let longest_side = width.max(height);
    if longest_side == 0 {
        return (0, 0);
    }
    let scale = longest as f64 * 1.0 / longest_side as f64;
    let new_h = height as f64 * scale;
    let new_w = width as f64 * scale;
    // Python's int() truncates toward zero; both values are non-negative.
    ((new_w + 0.5) as usize, (new_h + 0.5) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sam_shape_examples() {
        assert_eq!(sam_resize_shape(256, 256, 1024), (1024, 1024));
        assert_eq!(sam_resize_shape(48, 40, 1024), (1024, 853));
        assert_eq!(sam_resize_shape(200, 150, 1024), (1024, 768));
        assert_eq!(sam_resize_shape(0, 0, 1024), (0, 0));
    }
}
