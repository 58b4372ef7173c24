//! OpenCV-compatible bilinear resizing of `f32` maps.
//!
//! Reference matched: OpenCV 4.12 as shipped in opencv-python-headless 4.12.0.88 for x86-64,
//! `cv2.resize(x, (w, h))` on a single-channel `float32` array with the default
//! `interpolation=cv2.INTER_LINEAR` (samcell 1.1.4 uses it to bring 256x256 model maps back to
//! smaller crop sizes). Promised within 1e-6 absolute; it is bit-identical on the golden fixtures,
//! and a NumPy model of the rules below matched ~3 million values over ~90 random sizes exactly.
//! (IPP picks kernels by CPU; the rules were measured on an AVX-512 x86-64 machine.)
//!
//! That wheel is built with Intel IPP, and `cv2.resize` hands every float linear resize whose
//! source is at least 2x2 to IPP; OpenCV's own loop (used when IPP is switched off with
//! `cv2.ipp.setUseIPP(False)`) differs from it by up to 6e-6 on values in 0..1 (single-precision
//! source positions). So two paths are reproduced:
//!
//! * Same size: an exact copy.
//! * **Source at least 2x2 (IPP):** per axis, in `f64`, `f = (i + 0.5) * (src / dst) - 0.5`,
//!   `s = floor(f)`, `t = (f32)(f - s)`; `s < 0` becomes `s = 0, t = 0` and `s >= src - 1`
//!   becomes `s = src - 1, t = 0`. Rows are resampled horizontally into `f32`, then vertically,
//!   each sample as the fused multiply-add `fma(b - a, t, a)` in `f32` (`a` at `s`, `b` at
//!   `s + 1`).
//! * **A source side of 1 pixel (OpenCV's loop):** `scale = 1 / (dst / src)` in `f64`,
//!   `f = (f32)((i + 0.5) * scale - 0.5)`, `s = floor(f)`, weights `(1 - (f - s), f - s)` in
//!   `f32`; horizontally out-of-range positions snap to the edge with weight 0, vertically the
//!   weights are kept and the rows clamped (so rows may differ by an ulp); samples are
//!   `a * w0 + b * w1` without fusing.

use crate::{ImagingError, MapF32};

/// Source indices and weights of one axis.
struct Axis {
    i0: Vec<usize>,
    i1: Vec<usize>,
    w0: Vec<f32>,
    w1: Vec<f32>,
}

impl Axis {
    fn with_capacity(n: usize) -> Self {
        Self {
            i0: Vec::with_capacity(n),
            i1: Vec::with_capacity(n),
            w0: Vec::with_capacity(n),
            w1: Vec::with_capacity(n),
        }
    }
}

/// `clamp_weights`: OpenCV's horizontal rule (out-of-range positions snap to the edge with
/// weight 0); otherwise the vertical rule (indices clamped, weights kept).
fn axis(src: usize, dst: usize, clamp_weights: bool) -> Axis {
    let inv_scale = dst as f64 / src as f64;
    let scale = 1.0 / inv_scale;
    let last = src as i64 - 1;
    let mut a = Axis::with_capacity(dst);
    for i in 0..dst {
        let f = ((i as f64 + 0.5) * scale - 0.5) as f32;
        let s_f = f.floor();
        let mut frac = f - s_f;
        let mut s = s_f as i64;
        if clamp_weights {
            if s < 0 {
                frac = 0.0;
                s = 0;
            }
            if s >= last {
                frac = 0.0;
                s = last;
            }
        }
        a.i0.push(s.clamp(0, last) as usize);
        a.i1.push((s + 1).clamp(0, last) as usize);
        a.w0.push(1.0f32 - frac);
        a.w1.push(frac);
    }
    a
}

/// IPP's per-axis positions: source index pair and `f32` fraction.
fn ipp_axis(src: usize, dst: usize) -> Axis {
    let ratio = src as f64 / dst as f64;
    let last = src as i64 - 1;
    let mut a = Axis::with_capacity(dst);
    for i in 0..dst {
        let f = (i as f64 + 0.5) * ratio - 0.5;
        let s_f = f.floor();
        let mut t = (f - s_f) as f32;
        let mut s = s_f as i64;
        if s < 0 {
            s = 0;
            t = 0.0;
        }
        if s >= last {
            s = last;
            t = 0.0;
        }
        a.i0.push(s as usize);
        a.i1.push((s + 1).min(last) as usize);
        a.w0.push(1.0 - t); // not read by the fused blend
        a.w1.push(t);
    }
    a
}

/// `a + t * (b - a)` as IPP evaluates it: one fused multiply-add.
#[inline]
fn lerp_fused(a: f32, b: f32, t: f32) -> f32 {
    (b - a).mul_add(t, a)
}

/// OpenCV `cv2.resize(x, (w, h))` (INTER_LINEAR) on a float map (see the module docs).
///
/// Errors: an empty source or a zero target size.
pub fn opencv_linear_f32(
    img: &MapF32,
    width: usize,
    height: usize,
) -> Result<MapF32, ImagingError> {
    let (w, h) = (img.width(), img.height());
    super::check_sizes("map", w, h, width, height)?;
    if width == w && height == h {
        return Ok(img.clone());
    }
    if w == 1 || h == 1 {
        return Ok(opencv_loop(img, width, height));
    }
    let xs = ipp_axis(w, width);
    let ys = ipp_axis(h, height);
    // Horizontal pass over every source row the vertical pass reads.
    let row0 = ys.i0[0];
    let row1 = ys.i1[height - 1] + 1;
    let mut mid = vec![0f32; width * (row1 - row0)];
    for (y, dst) in (row0..row1).zip(mid.chunks_exact_mut(width)) {
        let src = img.row(y);
        for (x, d) in dst.iter_mut().enumerate() {
            *d = lerp_fused(src[xs.i0[x]], src[xs.i1[x]], xs.w1[x]);
        }
    }
    let mut out = vec![0f32; width * height];
    for (y, dst) in out.chunks_exact_mut(width).enumerate() {
        let r0 = &mid[(ys.i0[y] - row0) * width..][..width];
        let r1 = &mid[(ys.i1[y] - row0) * width..][..width];
        let t = ys.w1[y];
        for ((d, &a), &b) in dst.iter_mut().zip(r0).zip(r1) {
            *d = lerp_fused(a, b, t);
        }
    }
    MapF32::from_vec(width, height, out)
}

/// OpenCV's own `INTER_LINEAR` float loop (used for a source row or column of one pixel).
fn opencv_loop(img: &MapF32, width: usize, height: usize) -> MapF32 {
    let xs = axis(img.width(), width, true);
    let ys = axis(img.height(), height, false);
    let mut out = MapF32::filled(width, height, 0.0);
    let mut r0 = vec![0f32; width];
    let mut r1 = vec![0f32; width];
    for y in 0..height {
        horizontal(img.row(ys.i0[y]), &xs, &mut r0);
        horizontal(img.row(ys.i1[y]), &xs, &mut r1);
        let (b0, b1) = (ys.w0[y], ys.w1[y]);
        for ((d, &a), &b) in out.row_mut(y).iter_mut().zip(&r0).zip(&r1) {
            *d = a * b0 + b * b1;
        }
    }
    out
}

fn horizontal(src: &[f32], xs: &Axis, dst: &mut [f32]) {
    for (x, d) in dst.iter_mut().enumerate() {
        *d = src[xs.i0[x]] * xs.w0[x] + src[xs.i1[x]] * xs.w1[x];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_an_exact_copy() {
        let data: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect();
        let img = MapF32::from_vec(7, 5, data).unwrap();
        assert_eq!(opencv_linear_f32(&img, 7, 5).unwrap(), img);
    }

    #[test]
    fn horizontal_borders_copy_the_edge_sample() {
        let xs = axis(10, 25, true);
        assert_eq!((xs.i0[0], xs.w0[0], xs.w1[0]), (0, 1.0, 0.0));
        assert_eq!((xs.i0[24], xs.w0[24], xs.w1[24]), (9, 1.0, 0.0));
        // vertical rule keeps the weights and clamps the rows instead
        let ys = axis(10, 25, false);
        assert_eq!((ys.i0[0], ys.i1[0]), (0, 0));
        assert!(ys.w1[0] > 0.0);
    }

    #[test]
    fn rejects_empty_sizes() {
        let img = MapF32::filled(3, 3, 1.0);
        assert!(opencv_linear_f32(&img, 0, 3).is_err());
        assert!(opencv_linear_f32(&MapF32::filled(0, 0, 0.0), 3, 3).is_err());
    }
}
