//! Colour-to-grey conversions and the scaling of wide data to u8.
//!
//! - [`PngRgbToGray`]: libpng 1.6 `png_set_rgb_to_gray(png_ptr, 1 /*no error*/, 0.299, 0.587)` as
//!   opencv 4.12's PNG decoder sets it for `IMREAD_GRAYSCALE` (coefficients converted to 1e5 fixed
//!   point, then to 15 bits: 9797, 19234, 32768 - 9797 - 19234 = 3737; result truncated), including
//!   the 8-bit gamma path libpng takes when the file gamma is significant (not within 5% of 1.0).
//! - [`cv_rgb_to_gray`]: opencv 4.12 `icvCvt_BGR2Gray_8u_C3C1R` (imgcodecs utils), used by its TIFF
//!   and BMP decoders: weights round(0.299 * 2^14) = 4899, round(0.587 * 2^14) = 9617,
//!   2^14 - 4899 - 9617 = 1868, sum + 2^13 shifted right by 14.
//! - [`jpeg_rgb_to_gray`]: libjpeg-turbo 3.1 `rgb_gray_convert` (16-bit fixed point, rounded), used
//!   only for the rare JPEGs stored as RGB rather than YCbCr.
//! - [`scale_to_u8`]: the documented min-max / percentile scaling of wide data (module docs of
//!   [`crate::read`]), also for callers with wide samples in memory (the Python bindings), with
//!   [`check_percentiles`] for the percentiles they accept.

use super::{ChannelUse, PlaneIndex, SampleType, Scaling, StackDims};

/// Decoded pixels: already grey u8 (the cv2-compatible path) or one f64 channel to be scaled.
pub(crate) enum Pixels {
    Gray8(Vec<u8>),
    Wide(Vec<f64>),
}

/// A decoded page before scaling.
pub(crate) struct Decoded {
    pub width: usize,
    pub height: usize,
    pub channels: u8,
    pub sample: SampleType,
    pub pages: usize,
    pub pixels: Pixels,
    pub channel_use: ChannelUse,
    pub stack: Option<StackDims>,
    /// The page's `(c, z, t)` in `stack`, when the file holds the planes the stack declares.
    pub plane: Option<PlaneIndex>,
    pub calibration: Option<crate::calibration::Calibration>,
}

/// How a decoder with `channels` samples per pixel, colour or not, makes grey.
pub(crate) fn channel_use(channels: usize, colour: bool) -> ChannelUse {
    channel_use_picking(channels, colour, None)
}

/// [`channel_use`], or [`ChannelUse::Picked`] when sample `picked` was taken.
pub(crate) fn channel_use_picking(
    channels: usize,
    colour: bool,
    picked: Option<usize>,
) -> ChannelUse {
    if let Some(c) = picked {
        return ChannelUse::Picked(c);
    }
    match (channels, colour) {
        (0 | 1, _) => ChannelUse::Single,
        (_, true) => ChannelUse::MergedColour,
        (_, false) => ChannelUse::FirstSample,
    }
}

/// The first sample of each pixel of `stride` interleaved samples (grey with alpha or extra
/// bands); `stride` 1 returns the buffer as it is.
pub(crate) fn first_sample<T: Copy>(data: Vec<T>, stride: usize) -> Vec<T> {
    nth_sample(data, stride, 0)
}

/// Sample `n` (< `stride`) of each pixel of `stride` interleaved samples; `stride` 1 returns the
/// buffer as it is.
pub(crate) fn nth_sample<T: Copy>(data: Vec<T>, stride: usize, n: usize) -> Vec<T> {
    if stride <= 1 {
        return data;
    }
    data.chunks_exact(stride).map(|p| p[n]).collect()
}

/// The sample to pick for `channel` (`ReadOptions::channel`) from pixels of `samples` samples:
/// `None` when nothing is to be picked (no channel asked for, or channel 0 of one-sample
/// pixels), an error naming the channels there are when `channel` is not one of them.
pub(crate) fn sample_to_pick(
    channel: Option<usize>,
    samples: usize,
) -> Result<Option<usize>, String> {
    match channel {
        None => Ok(None),
        Some(0) if samples <= 1 => Ok(None),
        Some(c) if samples <= 1 => Err(format!(
            "channel {c} requested (0-based), but the image has 1 channel"
        )),
        Some(c) if c >= samples => Err(format!(
            "channel {c} requested (0-based), but the image has {samples} channels \
             (samples per pixel; channels 0 to {})",
            samples - 1
        )),
        Some(c) => Ok(Some(c)),
    }
}

/// libjpeg-turbo 3.1's YCbCr to RGB (`jdcolor.c` `ycc_rgb_convert`: JFIF coefficients at 16
/// fraction bits, each table entry rounded, results clamped to 0..255), as libtiff's JPEG codec
/// asks libjpeg for RGB when cv2 (`TIFFReadRGBA*`) or tifffile (imagecodecs) read a YCbCr JPEG TIFF.
pub(crate) fn ycbcr_to_rgb(data: &mut [u8]) {
    const ONE_HALF: i64 = 1 << 15;
    let fix = |x: f64| (x * 65536.0 + 0.5) as i64;
    let (cr_r, cb_b, cr_g, cb_g) = (fix(1.40200), fix(1.77200), fix(0.71414), fix(0.34414));
    let clamp = |v: i64| v.clamp(0, 255) as u8;
    for p in data.chunks_exact_mut(3) {
        let (y, cb, cr) = (
            i64::from(p[0]),
            i64::from(p[1]) - 128,
            i64::from(p[2]) - 128,
        );
        let r = y + ((cr_r * cr + ONE_HALF) >> 16);
        let g = y + ((-cb_g * cb + ONE_HALF - cr_g * cr) >> 16);
        let b = y + ((cb_b * cb + ONE_HALF) >> 16);
        p[0] = clamp(r);
        p[1] = clamp(g);
        p[2] = clamp(b);
    }
}

/// libpng's RGB-to-grey for 8-bit samples, with the file gamma handling of libpng 1.6.
///
/// libpng builds the gamma tables only when the file gamma (gAMA, or 0.45455 from sRGB) differs
/// from 1 by more than 5% (`png_gamma_significant`); cv2 sets no screen gamma, so the screen gamma
/// becomes the reciprocal of the file gamma and the overall correction is the identity. Then each
/// non-grey pixel is linearised through `gamma_to_1`, weighted with rounding, and re-encoded
/// through `gamma_from_1`; grey pixels (r == g == b) pass unchanged.
pub struct PngRgbToGray {
    tables: Option<([u8; 256], [u8; 256])>,
}

const RC: u32 = 9797;
const GC: u32 = 19234;
const BC: u32 = 32768 - RC - GC;

/// `png_reciprocal`: 1/x in 1e5 fixed point, rounded.
fn png_reciprocal(a: u32) -> u32 {
    let r = (1e10 / f64::from(a) + 0.5).floor();
    if r > 0.0 && r <= f64::from(i32::MAX) {
        r as u32
    } else {
        0
    }
}

fn gamma_significant(g: u32) -> bool {
    !(95_000..=105_000).contains(&g)
}

/// `png_build_8bit_table` with `png_gamma_8bit_correct` (floating point variant).
fn gamma_table(gamma: u32) -> [u8; 256] {
    let mut t = [0u8; 256];
    for (i, v) in t.iter_mut().enumerate() {
        *v = if !gamma_significant(gamma) || i == 0 || i == 255 {
            i as u8
        } else {
            let r = (255.0 * (i as f64 / 255.0).powf(f64::from(gamma) * 0.00001) + 0.5).floor();
            r.clamp(0.0, 255.0) as u8
        };
    }
    t
}

impl PngRgbToGray {
    /// `file_gamma`: the file's gamma in 1e5 fixed point (gAMA value; 45455 for sRGB), if any.
    pub fn new(file_gamma: Option<u32>) -> Self {
        let tables = match file_gamma {
            Some(g) if g > 0 && gamma_significant(g) => {
                let screen = png_reciprocal(g);
                if screen == 0 {
                    None
                } else {
                    Some((
                        gamma_table(png_reciprocal(g)),
                        gamma_table(png_reciprocal(screen)),
                    ))
                }
            }
            _ => None,
        };
        Self { tables }
    }

    /// The grey value libpng gives the colour `(r, g, b)`: the colour's own value when the
    /// three are equal, otherwise the truncated fixed-point mix (through the gamma tables when
    /// the file's gamma is significant).
    #[inline]
    pub fn gray(&self, r: u8, g: u8, b: u8) -> u8 {
        if r == g && r == b {
            return r;
        }
        match &self.tables {
            None => ((RC * u32::from(r) + GC * u32::from(g) + BC * u32::from(b)) >> 15) as u8,
            Some((to1, from1)) => {
                let (r, g, b) = (to1[r as usize], to1[g as usize], to1[b as usize]);
                let idx = (RC * u32::from(r) + GC * u32::from(g) + BC * u32::from(b) + 16384) >> 15;
                from1[idx.min(255) as usize]
            }
        }
    }
}

/// opencv's BGR2Gray for 8-bit samples (TIFF and BMP decoders).
#[inline]
pub fn cv_rgb_to_gray(r: u8, g: u8, b: u8) -> u8 {
    ((4899 * u32::from(r) + 9617 * u32::from(g) + 1868 * u32::from(b) + 8192) >> 14) as u8
}

/// libjpeg's RGB to grey (`rgb_gray_convert`): FIX(0.299), FIX(0.587), FIX(0.114) at 16 bits.
#[inline]
pub fn jpeg_rgb_to_gray(r: u8, g: u8, b: u8) -> u8 {
    ((19595 * u32::from(r) + 38470 * u32::from(g) + 7471 * u32::from(b) + 32768) >> 16) as u8
}

/// Grey from interleaved 8-bit samples with `channels` per pixel (1..=4), alpha ignored. One
/// channel is already grey: the buffer is returned as it is, without a copy.
pub(crate) fn interleaved_u8_to_gray(
    data: Vec<u8>,
    channels: usize,
    rgb: impl Fn(u8, u8, u8) -> u8,
) -> Vec<u8> {
    match channels {
        1 => data,
        2 => data.chunks_exact(2).map(|p| p[0]).collect(),
        _ => data
            .chunks_exact(channels)
            .map(|p| rgb(p[0], p[1], p[2]))
            .collect(),
    }
}

/// One f64 channel from interleaved wide samples: grey as is, colour as 0.299 R + 0.587 G + 0.114 B.
pub(crate) fn interleaved_to_f64<T: Copy>(
    data: &[T],
    channels: usize,
    f: impl Fn(T) -> f64,
) -> Vec<f64> {
    match channels {
        1 => data.iter().map(|&v| f(v)).collect(),
        2 => data.chunks_exact(2).map(|p| f(p[0])).collect(),
        _ => data
            .chunks_exact(channels)
            .map(|p| 0.299 * f(p[0]) + 0.587 * f(p[1]) + 0.114 * f(p[2]))
            .collect(),
    }
}

/// numpy.percentile(a, q, method="linear") on sorted data (numpy 2.2's index and lerp formulas).
fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    // numpy "linear": virtual index (n - 1) * q / 100
    let vi = ((n - 1) as f64 * (q / 100.0)).clamp(0.0, (n - 1) as f64);
    let lo = vi.floor();
    let t = vi - lo;
    let i = lo as usize;
    let a = sorted[i];
    let b = sorted[(i + 1).min(n - 1)];
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Scales wide data to u8 as the readers do for samples wider than 8 bits (module docs of
/// [`crate::read`]); returns the pixels and the `(lo, hi)` range mapped to 0..255. NaN or
/// infinite values are an error.
pub fn scale_to_u8(v: &[f64], scaling: &Scaling) -> Result<(Vec<u8>, f64, f64), String> {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        let bad = v.iter().filter(|x| !x.is_finite()).count();
        return Err(format!(
            "image contains {bad} non-finite value(s) (NaN or infinity; first at pixel index {i}, value {}); \
             cannot scale it to 8 bits",
            v[i]
        ));
    }
    let (lo, hi) = match *scaling {
        Scaling::MinMax => v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            }),
        Scaling::Percentile(plo, phi) => {
            let mut s = v.to_vec();
            s.sort_unstable_by(f64::total_cmp);
            (percentile_sorted(&s, plo), percentile_sorted(&s, phi))
        }
    };
    let out = if hi > lo {
        let range = hi - lo;
        v.iter()
            .map(|&x| {
                ((x.clamp(lo, hi) - lo) * 255.0 / range)
                    .round()
                    .clamp(0.0, 255.0) as u8
            })
            .collect()
    } else {
        vec![0u8; v.len()]
    };
    Ok((out, lo, hi))
}

/// Checks the percentiles of [`Scaling::Percentile`]: `0 <= lo < hi <= 100`.
pub fn check_percentiles(lo: f64, hi: f64) -> Result<(), String> {
    if !(0.0..=100.0).contains(&lo) || !(0.0..=100.0).contains(&hi) || lo >= hi {
        return Err(format!("need 0 <= LO < HI <= 100, got {lo},{hi}"));
    }
    Ok(())
}

/// EXIF orientation (1..=8) applied to a row-major single-channel image: returns the new
/// `(width, height, data)`. Values outside 2..=8 leave the image unchanged.
pub(crate) fn apply_exif_orientation<T: Copy + Default>(
    w: usize,
    h: usize,
    data: Vec<T>,
    orientation: u8,
) -> (usize, usize, Vec<T>) {
    // For each output pixel, the source pixel it comes from.
    let (ow, oh) = match orientation {
        5..=8 => (h, w),
        2..=4 => (w, h),
        _ => return (w, h, data),
    };
    let mut out = vec![T::default(); w * h];
    for oy in 0..oh {
        for ox in 0..ow {
            let (sx, sy) = match orientation {
                2 => (w - 1 - ox, oy),         // mirror horizontally
                3 => (w - 1 - ox, h - 1 - oy), // rotate 180
                4 => (ox, h - 1 - oy),         // mirror vertically
                5 => (oy, ox),                 // transpose
                6 => (oy, h - 1 - ox),         // rotate 90 clockwise
                7 => (w - 1 - oy, h - 1 - ox), // transverse
                _ => (w - 1 - oy, ox),         // 8: rotate 90 counter-clockwise
            };
            out[oy * ow + ox] = data[sy * w + sx];
        }
    }
    (ow, oh, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_no_gamma_truncates_and_keeps_grey() {
        let p = PngRgbToGray::new(None);
        assert_eq!(p.gray(10, 10, 10), 10);
        assert_eq!(p.gray(255, 0, 0), ((9797u32 * 255) >> 15) as u8); // 76, truncated (76.24)
        assert_eq!(p.gray(0, 0, 255), 29); // 3737 * 255 / 32768 = 29.08
                                           // gamma 1.0 +- 5% is not significant: same as no gamma
        assert_eq!(
            PngRgbToGray::new(Some(100_000)).gray(1, 200, 3),
            p.gray(1, 200, 3)
        );
    }

    #[test]
    fn cv_weights_round() {
        assert_eq!(cv_rgb_to_gray(255, 255, 255), 255);
        assert_eq!(cv_rgb_to_gray(255, 0, 0), 76); // 4899*255/16384 = 76.25
        assert_eq!(cv_rgb_to_gray(0, 255, 0), 150); // 149.68 rounds up
        assert_eq!(cv_rgb_to_gray(0, 0, 255), 29);
    }

    #[test]
    fn scaling_rounds_half_away_and_handles_constant() {
        let (u, lo, hi) = scale_to_u8(&[0.0, 1.0, 2.0], &Scaling::MinMax).unwrap();
        assert_eq!((u, lo, hi), (vec![0, 128, 255], 0.0, 2.0)); // 127.5 -> 128
        let (u, _, _) = scale_to_u8(&[7.0; 5], &Scaling::MinMax).unwrap();
        assert_eq!(u, vec![0; 5]);
        assert!(scale_to_u8(&[1.0, f64::NAN], &Scaling::MinMax)
            .unwrap_err()
            .contains("NaN"));
    }

    #[test]
    fn percentile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4], [10, 50, 90]) == [1.3, 2.5, 3.7]
        let s = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile_sorted(&s, 10.0) - 1.3).abs() < 1e-12);
        assert_eq!(percentile_sorted(&s, 50.0), 2.5);
        assert!((percentile_sorted(&s, 90.0) - 3.7).abs() < 1e-12);
        assert_eq!(percentile_sorted(&s, 0.0), 1.0);
        assert_eq!(percentile_sorted(&s, 100.0), 4.0);
    }

    #[test]
    fn orientation_6_rotates_clockwise() {
        // 3x2 image  a b c / d e f  rotated 90 cw is 2x3: d a / e b / f c
        let (w, h, d) = apply_exif_orientation(3, 2, vec![1, 2, 3, 4, 5, 6], 6);
        assert_eq!((w, h, d), (2, 3, vec![4, 1, 5, 2, 6, 3]));
        let (w, h, d) = apply_exif_orientation(3, 2, vec![1, 2, 3, 4, 5, 6], 8);
        assert_eq!((w, h, d), (2, 3, vec![3, 6, 2, 5, 1, 4]));
        let (_, _, d) = apply_exif_orientation(3, 2, vec![1, 2, 3, 4, 5, 6], 3);
        assert_eq!(d, vec![6, 5, 4, 3, 2, 1]);
    }
}
