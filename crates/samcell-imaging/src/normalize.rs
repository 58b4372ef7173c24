//! Min-max normalisation of 8-bit images to 0..=255.
//!
//! Reference matched: OpenCV 4.12 (opencv-python-headless 4.12.0.88, x86-64 build),
//! `cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)` on a `uint8` array, byte
//! for byte (samcell 1.1.4 runs it on every crop right after CLAHE).
//!
//! OpenCV computes, in `f64`, `scale = 255 * (1 / (max - min))` (0 when `max - min` is not above
//! `f64::EPSILON`, i.e. for a constant image) and `shift = 0 - min * scale`, then converts with
//! `f32` copies of both: `out = saturate(round_half_even(fma(v, scale_f32, shift_f32)))`. The
//! multiply-add is *fused* (its vectorised and scalar loops are compiled for AVX2/FMA); an unfused
//! `f32` or a pure `f64` evaluation differ on ~20% of the (min, max) pairs. A constant image
//! becomes all 0. Since the input has only 256 possible values the mapping is a 256-entry table.

use crate::GrayU8;

/// The 256-entry table OpenCV's `NORM_MINMAX` conversion applies for an image whose minimum is
/// `min` and maximum is `max`.
pub fn minmax_lut(min: u8, max: u8) -> [u8; 256] {
    let (smin, smax) = (f64::from(min), f64::from(max));
    let scale = 255.0
        * if smax - smin > f64::EPSILON {
            1.0 / (smax - smin)
        } else {
            0.0
        };
    let shift = 0.0 - smin * scale;
    let (a, b) = (scale as f32, shift as f32);
    let mut lut = [0u8; 256];
    for (v, out) in lut.iter_mut().enumerate() {
        *out = (v as f32).mul_add(a, b).round_ties_even().clamp(0.0, 255.0) as u8;
    }
    lut
}

/// Stretches `img` so its minimum becomes 0 and its maximum 255 (OpenCV rounding; see the module
/// docs). A constant image becomes all 0; an empty image stays empty.
pub fn minmax_u8(img: &GrayU8) -> GrayU8 {
    if img.data().is_empty() {
        return img.clone();
    }
    let (mut min, mut max) = (u8::MAX, u8::MIN);
    for &v in img.data() {
        min = min.min(v);
        max = max.max(v);
    }
    let lut = minmax_lut(min, max);
    img.map(|v| lut[v as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_range_is_identity_and_constant_is_zero() {
        let lut = minmax_lut(0, 255);
        assert!(lut.iter().enumerate().all(|(i, &v)| v as usize == i));
        let img = GrayU8::filled(5, 4, 200);
        assert!(minmax_u8(&img).data().iter().all(|&v| v == 0));
    }

    #[test]
    fn uses_a_fused_multiply_add() {
        // min 1, max 3, v 2: scale 127.5, shift -127.5 -> exactly 127.5 -> 128 (half to even);
        // cases where fusing matters are covered by the golden table in tests/golden_normalize.rs.
        assert_eq!(minmax_lut(1, 3)[2], 128);
        assert_eq!(minmax_lut(1, 3)[3], 255);
    }
}
