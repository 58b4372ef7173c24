//! Pillow-exact bilinear resampling of 8-bit images.
//!
//! Reference matched: Pillow 11.3 `Image.resize((w, h), Image.BILINEAR)` on an 8-bit image
//! (mode `L`, or each channel of `RGB`), default `box` (the whole image) and `reducing_gap=None`,
//! byte for byte. The algorithm as reproduced here:
//!
//! * The image is resampled in two separable passes, horizontal first, each only when that axis
//!   changes size (an unchanged size skips the pass; both unchanged gives a copy). The
//!   horizontal pass only computes the source rows the vertical pass will read. The intermediate
//!   image is 8-bit (each pass rounds and saturates).
//! * Per output index `i` of an axis going from `n` to `m` samples, in `f64`:
//!   `scale = n / m`, `fs = max(scale, 1)`, `support = fs` (triangle filter of radius 1, widened
//!   when downscaling), `centre = (i + 0.5) * scale`,
//!   `first = max(trunc(centre - support + 0.5), 0)`,
//!   `count = min(trunc(centre + support + 0.5), n) - first`, raw weights
//!   `tri(((first + k) - centre + 0.5) / fs)` with `tri(t) = max(1 - |t|, 0)` and `1 / fs`
//!   computed once, each divided by their sum (when the sum is not 0).
//! * Weights become fixed point with 22 fractional bits: `trunc(0.5 + w * 2^22)`
//!   (`trunc(-0.5 + w * 2^22)` for negative ones, which the triangle never produces).
//! * Each output sample is `clamp((2^21 + sum(pixel * weight)) >> 22, 0, 255)` in integers.

use crate::{GrayU8, ImagingError};

/// Fractional bits of Pillow's 8-bit resampling coefficients.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Fixed-point filter taps of one axis: output `i` reads `len[i]` samples from `start[i]` with
/// weights `coeffs[i * ksize ..][.. len[i]]`.
#[derive(Debug)]
struct Taps {
    start: Vec<usize>,
    len: Vec<usize>,
    ksize: usize,
    coeffs: Vec<i32>,
}

impl Taps {
    #[inline]
    fn weights(&self, i: usize) -> &[i32] {
        &self.coeffs[i * self.ksize..i * self.ksize + self.len[i]]
    }
}

fn triangle(t: f64) -> f64 {
    let t = t.abs();
    if t < 1.0 {
        1.0 - t
    } else {
        0.0
    }
}

/// Pillow's coefficient table for resampling `in_size` samples to `out_size` (both > 0).
fn taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filterscale; // bilinear support (1.0) times the filter scale
    let ksize = support.ceil() as usize * 2 + 1;
    let inv_filterscale = 1.0 / filterscale;
    let mut start = Vec::with_capacity(out_size);
    let mut len = Vec::with_capacity(out_size);
    let mut coeffs = vec![0i32; out_size * ksize];
    let mut k = vec![0f64; ksize];
    for i in 0..out_size {
        let centre = 0.0 + (i as f64 + 0.5) * scale;
        // `as i64` truncates toward zero like C's (int) cast.
        let first = ((centre - support + 0.5) as i64).max(0);
        let last = ((centre + support + 0.5) as i64).min(in_size as i64);
        let count = (last - first).clamp(0, ksize as i64) as usize;
        let mut sum = 0.0;
        for (j, kj) in k.iter_mut().enumerate().take(count) {
            let w = triangle(((j as i64 + first) as f64 - centre + 0.5) * inv_filterscale);
            *kj = w;
            sum += w;
        }
        let row = &mut coeffs[i * ksize..i * ksize + count];
        for (c, &kj) in row.iter_mut().zip(&k[..count]) {
            let w = if sum != 0.0 { kj / sum } else { kj };
            let fixed = w * f64::from(1u32 << PRECISION_BITS);
            *c = if w < 0.0 {
                (-0.5 + fixed) as i32
            } else {
                (0.5 + fixed) as i32
            };
        }
        start.push(first as usize);
        len.push(count);
    }
    Taps {
        start,
        len,
        ksize,
        coeffs,
    }
}

#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Horizontal pass over `rows` of `src`, writing `rows.len()` rows of `taps.start.len()` samples.
fn horizontal(src: &GrayU8, rows: std::ops::Range<usize>, taps: &Taps, out: &mut [u8]) {
    match taps.ksize {
        3 => horizontal_k::<3>(src, rows, taps, out),
        5 => horizontal_k::<5>(src, rows, taps, out),
        7 => horizontal_k::<7>(src, rows, taps, out),
        9 => horizontal_k::<9>(src, rows, taps, out),
        _ => horizontal_any(src, rows, taps, out),
    }
}

/// Any kernel size: each output sums its own `len` taps.
fn horizontal_any(src: &GrayU8, rows: std::ops::Range<usize>, taps: &Taps, out: &mut [u8]) {
    let out_w = taps.start.len();
    for (y, dst) in rows.zip(out.chunks_exact_mut(out_w)) {
        let row = src.row(y);
        for (x, d) in dst.iter_mut().enumerate() {
            let mut acc = HALF;
            for (&p, &c) in row[taps.start[x]..].iter().zip(taps.weights(x)) {
                acc += i32::from(p) * c;
            }
            *d = clip8(acc);
        }
    }
}

/// Kernel size `K` known at compile time: every output reads exactly `K` samples of the row,
/// padded with zeros on the right, against its `K` weights (zero beyond `len`), fully unrolled.
fn horizontal_k<const K: usize>(
    src: &GrayU8,
    rows: std::ops::Range<usize>,
    taps: &Taps,
    out: &mut [u8],
) {
    let out_w = taps.start.len();
    let in_w = src.width();
    let mut padded = vec![0u8; in_w + K];
    let weights: Vec<[i32; K]> = (0..out_w)
        .map(|x| {
            let mut k = [0i32; K];
            k[..taps.len[x]].copy_from_slice(taps.weights(x));
            k
        })
        .collect();
    for (y, dst) in rows.zip(out.chunks_exact_mut(out_w)) {
        padded[..in_w].copy_from_slice(src.row(y));
        for ((d, &s), k) in dst.iter_mut().zip(&taps.start).zip(&weights) {
            let window: &[u8; K] = padded[s..s + K].try_into().expect("window of K samples");
            let mut acc = HALF;
            for j in 0..K {
                acc += i32::from(window[j]) * k[j];
            }
            *d = clip8(acc);
        }
    }
}

/// Vertical pass: `src` holds rows `row0..` of the source (width `w`), `out` gets the result.
fn vertical(src: &[u8], w: usize, row0: usize, taps: &Taps, out: &mut [u8]) {
    let mut acc = vec![0i32; w];
    // Source row `i` (the input starts at source row `row0`).
    let row = |i: usize| &src[(i - row0) * w..(i - row0 + 1) * w];
    for (y, dst) in out.chunks_exact_mut(w).enumerate() {
        let first = taps.start[y];
        match *taps.weights(y) {
            [c0] => {
                for (d, &p0) in dst.iter_mut().zip(row(first)) {
                    *d = clip8(HALF + i32::from(p0) * c0);
                }
            }
            [c0, c1] => {
                for ((d, &p0), &p1) in dst.iter_mut().zip(row(first)).zip(row(first + 1)) {
                    *d = clip8(HALF + i32::from(p0) * c0 + i32::from(p1) * c1);
                }
            }
            [c0, c1, c2] => {
                let rows = row(first).iter().zip(row(first + 1)).zip(row(first + 2));
                for (d, ((&p0, &p1), &p2)) in dst.iter_mut().zip(rows) {
                    *d = clip8(HALF + i32::from(p0) * c0 + i32::from(p1) * c1 + i32::from(p2) * c2);
                }
            }
            ref weights => {
                acc.fill(HALF);
                for (k, &c) in weights.iter().enumerate() {
                    for (a, &p) in acc.iter_mut().zip(row(first + k)) {
                        *a += i32::from(p) * c;
                    }
                }
                for (d, &a) in dst.iter_mut().zip(&acc) {
                    *d = clip8(a);
                }
            }
        }
    }
}

/// Pillow 11 `Image.resize((w, h), BILINEAR)` on an 8-bit single channel, byte-identical
/// (see the module docs).
///
/// Errors: an empty source or a zero target size.
pub fn pillow_bilinear_u8(
    img: &GrayU8,
    width: usize,
    height: usize,
) -> Result<GrayU8, ImagingError> {
    let (w, h) = (img.width(), img.height());
    super::check_sizes("image", w, h, width, height)?;
    let need_h = width != w;
    let need_v = height != h;
    match (need_h, need_v) {
        (false, false) => Ok(img.clone()),
        (true, false) => {
            let tx = taps(w, width);
            let mut out = vec![0u8; width * h];
            horizontal(img, 0..h, &tx, &mut out);
            GrayU8::from_vec(width, h, out)
        }
        (false, true) => {
            let ty = taps(h, height);
            let mut out = vec![0u8; width * height];
            vertical(img.data(), w, 0, &ty, &mut out);
            GrayU8::from_vec(width, height, out)
        }
        (true, true) => {
            let ty = taps(h, height);
            // Only the source rows the vertical pass reads.
            let row0 = ty.start[0];
            let row1 = ty.start[height - 1] + ty.len[height - 1];
            let tx = taps(w, width);
            let mut mid = vec![0u8; width * (row1 - row0)];
            horizontal(img, row0..row1, &tx, &mut mid);
            let mut out = vec![0u8; width * height];
            vertical(&mid, width, row0, &ty, &mut out);
            GrayU8::from_vec(width, height, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upscale_taps_are_two_wide_and_sum_to_one() {
        let t = taps(256, 1024);
        assert_eq!(t.ksize, 3);
        for i in 0..1024 {
            let s: i32 = t.weights(i).iter().sum();
            // rounding each weight can leave the sum one or two units off 2^22
            assert!((s - (1 << 22)).abs() <= 2, "output {i}: weights sum to {s}");
        }
        // output 0 (centre 0.125) only reaches sample 0; output 2 (centre 0.625) blends samples
        // 0 and 1 with 0.875 / 0.125 (the triangle is evaluated at sample centres)
        assert_eq!((t.start[0], t.weights(0)), (0, &[1 << 22][..]));
        assert_eq!((t.start[2], t.weights(2)), (0, &[3670016, 524288][..]));
    }

    #[test]
    fn downscale_widens_the_filter() {
        let t = taps(200, 61);
        assert_eq!(t.ksize, 2 * (200.0f64 / 61.0).ceil() as usize + 1);
        assert!(t.len.iter().all(|&l| l >= 3 && l <= t.ksize));
    }

    #[test]
    fn constant_stays_constant() {
        let img = GrayU8::filled(37, 23, 201);
        let out = pillow_bilinear_u8(&img, 100, 9).unwrap();
        assert!(out.data().iter().all(|&v| v == 201));
        assert!(pillow_bilinear_u8(&img, 0, 9).is_err());
    }
}
