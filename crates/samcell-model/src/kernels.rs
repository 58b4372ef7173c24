//! Fused CPU kernels for the encoder's memory-bound steps, vectorised at run time (AVX-512 or
//! AVX2+FMA when the CPU has them, portable code otherwise):
//!
//! - [`rel_pos_softmax`]: `softmax(attn + rel_h[..., :, None] + rel_w[..., None, :])` over each
//!   attention row in one pass (transformers adds the decomposed relative-position bias to the
//!   scores, then applies a float32 softmax; this computes the same thing without building the
//!   bias tensor);
//! - [`gelu_bias`]: `gelu(x + b)` with the exact (erf) GELU of `nn.GELU()`/`ACT2FN["gelu"]`.
//!
//! `exp` is evaluated by range reduction to `[-ln2/2, ln2/2]` and a degree-6 Taylor polynomial
//! (relative error < 2e-7); `erf` by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7). Both
//! are far inside the model's parity tolerance (1e-4 relative).

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let bits = ((n as i32 + 127) as u32) << 23;
    p * f32::from_bits(bits)
}

#[inline(always)]
fn erf_approx(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let y = 1.0 - poly * exp_approx(-a * a);
    if x < 0.0 {
        -y
    } else {
        y
    }
}

#[inline(always)]
fn softmax_row_impl(scores: &[f32], rh: &[f32], rw: &[f32], out: &mut [f32]) {
    let w = rw.len();
    let mut max = f32::NEG_INFINITY;
    for (ky, &bh) in rh.iter().enumerate() {
        let s = &scores[ky * w..(ky + 1) * w];
        let o = &mut out[ky * w..(ky + 1) * w];
        for ((o, &s), &bw) in o.iter_mut().zip(s).zip(rw) {
            let v = s + bh + bw;
            *o = v;
            max = max.max(v);
        }
    }
    let mut sum = 0.0f32;
    for o in out.iter_mut() {
        let e = exp_approx(*o - max);
        *o = e;
        sum += e;
    }
    let inv = 1.0 / sum;
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
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports the enabled features (checked just above).
                    return unsafe { v4($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: as above.
                    return unsafe { v3($($arg),*) };
                }
            }
            $impl($($arg),*)
        }
    };
}

multiversion!(softmax_row, softmax_row_impl, (scores: &[f32], rh: &[f32], rw: &[f32], out: &mut [f32]));
multiversion!(gelu_rows, gelu_impl, (x: &[f32], b: &[f32], out: &mut [f32]));

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let v = match s {
        CpuStorage::F32(v) => v.as_slice(),
        _ => candle_core::bail!("{what}: expected f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous tensor"),
    }
}

struct RelPosSoftmax {
    h: usize,
    w: usize,
}

impl CustomOp3 for RelPosSoftmax {
    fn name(&self) -> &'static str {
        "rel-pos-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (h, w) = (self.h, self.w);
        let n = h * w;
        let attn = f32_slice(s1, l1, "attention scores")?;
        let rh = f32_slice(s2, l2, "rel_h")?;
        let rw = f32_slice(s3, l3, "rel_w")?;
        let rows = attn.len() / n;
        if rh.len() != rows * h || rw.len() != rows * w {
            candle_core::bail!("rel-pos-softmax: inconsistent sizes");
        }
        let mut out = vec![0f32; attn.len()];
        out.par_chunks_mut(n).enumerate().for_each(|(r, o)| {
            softmax_row(&attn[r * n..(r + 1) * n], &rh[r * h..(r + 1) * h], &rw[r * w..(r + 1) * w], o)
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `softmax(attn + rel_h ⊕ rel_w)` over each row. `attn`: (len, h*w, h*w); `rel_h`: (len, h, w, h)
/// (bias per key row); `rel_w`: (len, h, w, w) (bias per key column).
pub fn rel_pos_softmax(attn: &Tensor, rel_h: &Tensor, rel_w: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    attn.contiguous()?.apply_op3_no_bwd(&rel_h.contiguous()?, &rel_w.contiguous()?, &RelPosSoftmax { h, w })
}

struct GeluBias;

impl CustomOp2 for GeluBias {
    fn name(&self) -> &'static str {
        "gelu-bias"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
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
    x.contiguous()?.apply_op2_no_bwd(&b.contiguous()?, &GeluBias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        for i in -8700..=0 {
            let x = i as f32 * 0.01;
            let (a, b) = (exp_approx(x), x.exp());
            assert!((a - b).abs() <= 3e-7 * b + 1e-38, "exp({x}) = {a}, expected {b}");
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
        let got = rel_pos_softmax(&attn, &rh, &rw, h, w).unwrap();
        let bias = rh.unsqueeze(4).unwrap().broadcast_add(&rw.unsqueeze(3).unwrap()).unwrap();
        let want = attn.reshape((len, h, w, h, w)).unwrap().add(&bias).unwrap().reshape((len, n, n)).unwrap();
        let want = candle_nn::ops::softmax_last_dim(&want).unwrap();
        let diff = (got - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        // tolerance: 1e-6 absolute on probabilities
        assert!(diff <= 1e-6, "fused softmax differs by {diff}");
    }

    #[test]
    fn gelu_bias_matches_plain_ops() {
        let d = candle_core::Device::Cpu;
        let x = Tensor::randn(0f32, 3.0, (37, 19), &d).unwrap();
        let b = Tensor::randn(0f32, 1.0, 19, &d).unwrap();
        let got = gelu_bias(&x, &b).unwrap();
        let want = x.broadcast_add(&b).unwrap().gelu_erf().unwrap();
        let diff = (got - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        // tolerance: 1e-6 absolute
        assert!(diff <= 1e-6, "fused gelu differs by {diff}");
    }
}
