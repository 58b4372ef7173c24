//! Fused CPU kernels for the encoder's memory-bound steps, vectorised at run time (AVX-512 or
//! AVX2+FMA when the CPU has them, portable code otherwise):
//!
//! - `softmax_row` (used by `attention_cpu`): `softmax(attn + rel_h[..., :, None] +
//!   rel_w[..., None, :])` over one attention row in one pass (transformers adds the decomposed relative-position bias to the
//!   scores, then applies a float32 softmax; this computes the same thing without building the
//!   bias tensor, over the scores buffer in place);
//! - [`gelu_bias`]: `gelu(x + b)` with the exact (erf) GELU of `nn.GELU()`/`ACT2FN["gelu"]`.
//!
//! `exp` is evaluated by range reduction to `[-ln2/2, ln2/2]` and a degree-6 Taylor polynomial
//! (relative error < 2e-7); `erf` by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7). Both
//! are far inside the model's parity tolerance (1e-4 relative).

use candle_core::{CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Written so that it vectorises: comparisons instead of `clamp`, and `2^n` built from the bits
/// of `n + 1.5 * 2^23` (whose low mantissa bits hold `n` in two's complement) instead of a
/// saturating float-to-int cast, which the compiler keeps scalar.
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    let x = if x < -87.0 { -87.0 } else { x };
    let x = if x > 88.0 { 88.0 } else { x };
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let n_bits = (n + 12_582_912.0).to_bits().wrapping_sub(0x4B40_0000);
    p * f32::from_bits(n_bits.wrapping_add(127) << 23)
}

#[inline(always)]
fn erf_approx(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp_approx(-a * a);
    if x < 0.0 {
        -y
    } else {
        y
    }
}

/// Lanes of the explicit partial reductions below: the compiler keeps float reductions in
/// source order (no reassociation), so a single running max/sum would stay scalar; eight
/// independent partial results vectorise (one AVX2 register; two per AVX-512 register).
const LANES: usize = 8;

#[inline(always)]
fn softmax_row_impl(out: &mut [f32], rh: &[f32], rw: &[f32]) {
    let w = rw.len();
    for (ky, &bh) in rh.iter().enumerate() {
        for (o, &bw) in out[ky * w..(ky + 1) * w].iter_mut().zip(rw) {
            *o = *o + bh + bw;
        }
    }
    let mut maxes = [f32::NEG_INFINITY; LANES];
    let mut chunks = out.chunks_exact(LANES);
    for c in &mut chunks {
        for (m, &v) in maxes.iter_mut().zip(c) {
            *m = if v > *m { v } else { *m };
        }
    }
    for (m, &v) in maxes.iter_mut().zip(chunks.remainder()) {
        *m = if v > *m { v } else { *m };
    }
    let max = maxes.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let mut sums = [0f32; LANES];
    let mut chunks = out.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (acc, o) in sums.iter_mut().zip(c.iter_mut()) {
            let e = exp_approx(*o - max);
            *o = e;
            *acc += e;
        }
    }
    for (acc, o) in sums.iter_mut().zip(chunks.into_remainder().iter_mut()) {
        let e = exp_approx(*o - max);
        *o = e;
        *acc += e;
    }
    let inv = 1.0 / sums.iter().sum::<f32>();
    for o in out.iter_mut() {
        *o *= inv;
    }
}

#[inline(always)]
fn gelu_impl(x: &[f32], b: &[f32], out: &mut [f32]) {
    for (row_o, row_x) in out.chunks_mut(b.len()).zip(x.chunks(b.len())) {
        for ((o, &v), &bb) in row_o.iter_mut().zip(row_x).zip(b) {
            let v = v + bb;
            *o = 0.5 * v * (1.0 + erf_approx(v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

macro_rules! multiversion {
    ($name:ident, $impl:ident, ($($arg:ident : $ty:ty),*)) => {
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn v4($($arg: $ty),*) { $impl($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) { $impl($($arg),*) }
                let path = crate::cpu_path::selected();
                if path >= crate::cpu_path::CpuPath::Avx512 {
                    // SAFETY: the selected path never exceeds what the CPU has (`cpu_path`), and
                    // every path from Avx512 up has AVX-512F.
                    return unsafe { v4($($arg),*) };
                }
                if path >= crate::cpu_path::CpuPath::Avx2Fma {
                    // SAFETY: as above, with AVX2 and FMA.
                    return unsafe { v3($($arg),*) };
                }
            }
            $impl($($arg),*)
        }
    };
}

/// The relative-position softmax of one row of scores, in place: explicit AVX2 (which LLVM's auto-vectoriser does
/// not reach for these reductions) where the CPU has AVX2+FMA, else the portable code. Both
/// compute bit-identical results (same operations, same partial sums in the same order).
pub(crate) fn softmax_row(row: &mut [f32], rh: &[f32], rw: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu_path::selected() >= crate::cpu_path::CpuPath::Avx2Fma {
        // SAFETY: the selected path never exceeds what the CPU has (`cpu_path`); from Avx2Fma up
        // the CPU has AVX2 and FMA.
        return unsafe { avx2::softmax_row(row, rh, rw) };
    }
    softmax_row_impl(row, rh, rw)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::LANES;
    use std::arch::x86_64::*;

    /// [`super::exp_approx`] on eight lanes, operation for operation (no fused multiply-adds, so
    /// the rounding is the scalar code's).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn exp8(x: __m256) -> __m256 {
        let x = _mm256_max_ps(x, _mm256_set1_ps(-87.0));
        let x = _mm256_min_ps(x, _mm256_set1_ps(88.0));
        let n = _mm256_floor_ps(_mm256_add_ps(
            _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)),
            _mm256_set1_ps(0.5),
        ));
        let r = _mm256_sub_ps(
            _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693_145_75))),
            _mm256_mul_ps(n, _mm256_set1_ps(1.428_606_8e-6)),
        );
        let c = |v: f32| _mm256_set1_ps(v);
        let mut p = _mm256_add_ps(c(1.0 / 120.0), _mm256_mul_ps(r, c(1.0 / 720.0)));
        p = _mm256_add_ps(c(1.0 / 24.0), _mm256_mul_ps(r, p));
        p = _mm256_add_ps(c(1.0 / 6.0), _mm256_mul_ps(r, p));
        p = _mm256_add_ps(c(0.5), _mm256_mul_ps(r, p));
        p = _mm256_add_ps(c(1.0), _mm256_mul_ps(r, p));
        p = _mm256_add_ps(c(1.0), _mm256_mul_ps(r, p));
        let n_bits = _mm256_sub_epi32(
            _mm256_castps_si256(_mm256_add_ps(n, c(12_582_912.0))),
            _mm256_set1_epi32(0x4B40_0000),
        );
        let scale = _mm256_slli_epi32(_mm256_add_epi32(n_bits, _mm256_set1_epi32(127)), 23);
        _mm256_mul_ps(p, _mm256_castsi256_ps(scale))
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn softmax_row(out: &mut [f32], rh: &[f32], rw: &[f32]) {
        const { assert!(LANES == 8) };
        let n = out.len();
        assert!(rh.len() * rw.len() == n, "softmax row: inconsistent sizes");
        let w = rw.len();
        // scores + rel_h (per key row) + rel_w (per key column)
        for (ky, &bh) in rh.iter().enumerate() {
            let o = &mut out[ky * w..(ky + 1) * w];
            let bhv = _mm256_set1_ps(bh);
            let mut x = 0;
            while x + 8 <= w {
                // SAFETY: x + 8 <= w = o.len() = rw.len(), so lanes x..x+8 exist in both.
                unsafe {
                    let v = _mm256_add_ps(
                        _mm256_add_ps(_mm256_loadu_ps(o.as_ptr().add(x)), bhv),
                        _mm256_loadu_ps(rw.as_ptr().add(x)),
                    );
                    _mm256_storeu_ps(o.as_mut_ptr().add(x), v);
                }
                x += 8;
            }
            for x in x..w {
                o[x] = o[x] + bh + rw[x];
            }
        }
        let full = n / 8 * 8;
        let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= full <= out.len().
            let v = unsafe { _mm256_loadu_ps(out.as_ptr().add(i)) };
            // v > m ? v : m, like the portable code
            m = _mm256_blendv_ps(m, v, _mm256_cmp_ps(v, m, _CMP_GT_OQ));
            i += 8;
        }
        let mut maxes = [0f32; 8];
        // SAFETY: `maxes` holds 8 lanes.
        unsafe { _mm256_storeu_ps(maxes.as_mut_ptr(), m) };
        for (mx, &v) in maxes.iter_mut().zip(&out[full..]) {
            *mx = if v > *mx { v } else { *mx };
        }
        let max = maxes.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let maxv = _mm256_set1_ps(max);
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= full <= out.len(); this function runs only where AVX2 and FMA
            // are present, which is what exp8 needs.
            let e = unsafe {
                let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(out.as_ptr().add(i)), maxv));
                _mm256_storeu_ps(out.as_mut_ptr().add(i), e);
                e
            };
            acc = _mm256_add_ps(acc, e);
            i += 8;
        }
        let mut sums = [0f32; 8];
        // SAFETY: `sums` holds 8 lanes.
        unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), acc) };
        for (s, o) in sums.iter_mut().zip(out[full..].iter_mut()) {
            let e = super::exp_approx(*o - max);
            *o = e;
            *s += e;
        }
        let inv = 1.0 / sums.iter().sum::<f32>();
        let invv = _mm256_set1_ps(inv);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= full <= out.len().
            unsafe {
                let p = out.as_mut_ptr().add(i);
                _mm256_storeu_ps(p, _mm256_mul_ps(_mm256_loadu_ps(p), invv));
            }
            i += 8;
        }
        for o in &mut out[full..] {
            *o *= inv;
        }
    }
}
multiversion!(gelu_rows, gelu_impl, (x: &[f32], b: &[f32], out: &mut [f32]));

/// The f32 elements of a contiguous CPU tensor's storage (an error naming `what` otherwise).
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let v = match s {
        CpuStorage::F32(v) => v.as_slice(),
        _ => candle_core::bail!("{what}: expected f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous tensor"),
    }
}

struct GeluBias;

impl CustomOp2 for GeluBias {
    fn name(&self) -> &'static str {
        "gelu-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32_slice(s1, l1, "gelu input")?;
        let b = f32_slice(s2, l2, "gelu bias")?;
        let c = b.len();
        if c == 0 || x.len() % c != 0 {
            candle_core::bail!("gelu-bias: bias length {c} does not divide the input");
        }
        let mut out = vec![0f32; x.len()];
        let rows_per_task = (16384 / c).max(1);
        out.par_chunks_mut(c * rows_per_task)
            .zip(x.par_chunks(c * rows_per_task))
            .for_each(|(o, xs)| gelu_rows(xs, b, o));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `gelu(x + b)` (exact GELU) with `b` broadcast over the last dimension.
pub fn gelu_bias(x: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.contiguous()?
        .apply_op2_no_bwd(&b.contiguous()?, &GeluBias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        for i in -8700..=0 {
            let x = i as f32 * 0.01;
            let (a, b) = (exp_approx(x), x.exp());
            assert!(
                (a - b).abs() <= 3e-7 * b + 1e-38,
                "exp({x}) = {a}, expected {b}"
            );
        }
    }

    #[test]
    fn erf_is_accurate() {
        for i in -600..=600 {
            let x = i as f32 * 0.01;
            let want = libm_erf(x as f64) as f32;
            assert!((erf_approx(x) - want).abs() <= 3e-7, "erf({x})");
        }
    }

    /// erf by its Taylor series / continued fraction in f64, accurate to ~1e-15 on [-6, 6].
    fn libm_erf(x: f64) -> f64 {
        if x.abs() < 3.0 {
            let mut sum = x;
            let mut term = x;
            for n in 1..200 {
                term *= -x * x / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            2.0 / std::f64::consts::PI.sqrt() * sum
        } else {
            // complementary error function by continued fraction (Lentz), then 1 - erfc
            let a = x.abs();
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = (k as f64 / 2.0) / (a + f);
            }
            let erfc = (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f);
            (1.0 - erfc) * x.signum()
        }
    }

    #[test]
    fn fused_softmax_matches_plain_ops() {
        let d = candle_core::Device::Cpu;
        let (len, h, w) = (3, 5, 7);
        let n = h * w;
        let attn = Tensor::randn(0f32, 2.0, (len, n, n), &d).unwrap();
        let rh = Tensor::randn(0f32, 1.0, (len, h, w, h), &d).unwrap();
        let rw = Tensor::randn(0f32, 1.0, (len, h, w, w), &d).unwrap();
        // softmax_row over every row of a copy of the scores
        let (rhv, rwv) = (
            rh.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            rw.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        let mut rows = attn.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (r, row) in rows.chunks_exact_mut(n).enumerate() {
            softmax_row(row, &rhv[r * h..(r + 1) * h], &rwv[r * w..(r + 1) * w]);
        }
        let got = Tensor::from_vec(rows, (len, n, n), &d).unwrap();
        let bias = rh
            .unsqueeze(4)
            .unwrap()
            .broadcast_add(&rw.unsqueeze(3).unwrap())
            .unwrap();
        let want = attn
            .reshape((len, h, w, h, w))
            .unwrap()
            .add(&bias)
            .unwrap()
            .reshape((len, n, n))
            .unwrap();
        let want = candle_nn::ops::softmax_last_dim(&want).unwrap();
        let diff = (got - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // tolerance: 1e-6 absolute on probabilities
        assert!(diff <= 1e-6, "fused softmax differs by {diff}");
    }

    #[test]
    fn vectorised_softmax_row_equals_the_portable_code() {
        // bit-identical: same operations and partial sums in the same order; rows of 7x7 (a
        // remainder after the 8-wide chunks) and 8x8 (none), with a wide range of scores
        for (h, w) in [(7usize, 7usize), (8, 8), (14, 14), (3, 5)] {
            let n = h * w;
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 60.0
            };
            let scores: Vec<f32> = (0..n).map(|_| next()).collect();
            let rh: Vec<f32> = (0..h).map(|_| next() * 0.1).collect();
            let rw: Vec<f32> = (0..w).map(|_| next() * 0.1).collect();
            let (mut a, mut b) = (scores.clone(), scores.clone());
            softmax_row(&mut a, &rh, &rw);
            softmax_row_impl(&mut b, &rh, &rw);
            assert_eq!(a, b, "{h}x{w}");
            let total: f32 = a.iter().sum();
            assert!(
                (total - 1.0).abs() < 1e-5,
                "{h}x{w}: probabilities sum to {total}"
            );
        }
    }

    #[test]
    fn gelu_bias_matches_plain_ops() {
        let d = candle_core::Device::Cpu;
        let x = Tensor::randn(0f32, 3.0, (37, 19), &d).unwrap();
        let b = Tensor::randn(0f32, 1.0, 19, &d).unwrap();
        let got = gelu_bias(&x, &b).unwrap();
        let want = x.broadcast_add(&b).unwrap().gelu_erf().unwrap();
        let diff = (got - want)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // tolerance: 1e-6 absolute
        assert!(diff <= 1e-6, "fused gelu differs by {diff}");
    }
}
