//! Training-mode operations with an analytic backward pass whose autograd graph keeps only
//! their result: the encoder's attention probabilities ([`rel_pos_probs`]) and layer norm
//! ([`layer_norm`]). Each has a plain-op reference ([`rel_pos_probs_plain`],
//! [`layer_norm_plain`]) that the tests compare values and gradients with.
//!
//! Why: written with plain candle ops, the graph holds every intermediate until the backward
//! pass. For the attention that is six score-sized `(len, n, n)` tensors per layer (the scores,
//! the materialised bias, their sum, the shifted sum, its exponentials and the quotient), which
//! for ViT-B's global layers at 64x64 tokens is 6 x 805 MB per image; for layer norm five
//! token-sized tensors. Here the forward runs on detached tensors (transient memory only) and is
//! attached to the graph by [`attach3`], whose backward is written out:
//!
//! - attention, `P = softmax(qs k^T + rel_h[.., :, None] + rel_w[.., None, :])` (transformers
//!   4.57 `SamVisionAttention`, `qs` the queries scaled by `head_dim^-0.5`):
//!   `dS = P * (dP - rowsum(dP * P))`, `dqs = dS k`, `dk = dS^T qs`, `drel_h` = `dS` summed over
//!   key columns, `drel_w` = `dS` summed over key rows. The graph keeps `P`, which the following
//!   `P v` product keeps anyway.
//! - layer norm, `y = (x - mean) / sqrt(var + eps) * w + b` (biased variance, as
//!   `torch.nn.LayerNorm`): with `xh` the normalised input and `r = 1 / sqrt(var + eps)`
//!   (recomputed from `x` in the backward pass), `dx = r * (gw - mean(gw) - xh * mean(gw * xh))`
//!   where `gw = dy * w`, `dw = sum(dy * xh)`, `db = sum(dy)`. The graph keeps `x` and `y`, which
//!   the neighbouring operations keep anyway.
//!
//! The forwards compute the same thing as the plain references (attention with candle's fused
//! `softmax_last_dim`, layer norm with the plain ops themselves), so values agree to rounding.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Storage, Tensor, D};
use std::sync::{Arc, Mutex};

pub use crate::layers::layer_norm_plain;

/// The backward pass of an [`attach3`] operation: `(a, b, c, result, d_result)` to the gradients
/// of `a`, `b` and `c`.
pub type Backward3 = dyn Fn(
        &Tensor,
        &Tensor,
        &Tensor,
        &Tensor,
        &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)>
    + Send
    + Sync;

/// `result` (computed from `a`, `b`, `c` outside the graph) as a tensor of the graph whose inputs
/// are `a`, `b`, `c` and whose backward pass is `backward`. The graph keeps the inputs and one
/// copy of `result`; the given `result` is released once copied.
pub fn attach3(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    result: Tensor,
    name: &'static str,
    backward: Box<Backward3>,
) -> Result<Tensor> {
    let op = Attach3 {
        result: Mutex::new(Some(result)),
        name,
        backward,
    };
    a.apply_op3_arc(b, c, Arc::new(Box::new(op)))
}

struct Attach3 {
    result: Mutex<Option<Tensor>>,
    name: &'static str,
    backward: Box<Backward3>,
}

impl Attach3 {
    fn take(&self) -> Result<Tensor> {
        let mut slot = self
            .result
            .lock()
            .map_err(|_| candle_core::Error::Msg(format!("{}: lock poisoned", self.name)))?;
        slot.take()
            .ok_or_else(|| candle_core::Error::Msg(format!("{}: forward ran twice", self.name)))
    }
}

impl CustomOp3 for Attach3 {
    fn name(&self) -> &'static str {
        self.name
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let result = self.take()?;
        let (storage, layout) = result.storage_and_layout();
        match &*storage {
            Storage::Cpu(s) => Ok((s.try_clone(layout)?, layout.shape().clone())),
            _ => candle_core::bail!("{}: inputs on the CPU, result elsewhere", self.name),
        }
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let result = self.take()?;
        let (storage, layout) = result.storage_and_layout();
        match &*storage {
            Storage::Cuda(s) => Ok((s.try_clone(layout)?, layout.shape().clone())),
            _ => candle_core::bail!("{}: inputs on the GPU, result elsewhere", self.name),
        }
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        c: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        (self.backward)(a, b, c, res, grad)
    }
}

/// The attention scores `qs k^T + rel_h[.., :, None] + rel_w[.., None, :]` as `(len, n, n)`.
/// `qs`: (len, n, hd) scaled queries; `k`: (len, n, hd); `rel_h`: (len, h, w, h);
/// `rel_w`: (len, h, w, w); `n = h w`.
pub fn rel_pos_scores(
    qs: &Tensor,
    k: &Tensor,
    rel_h: &Tensor,
    rel_w: &Tensor,
    h: usize,
    w: usize,
) -> Result<Tensor> {
    let (len, n) = (qs.dim(0)?, h * w);
    let bias = rel_h.unsqueeze(4)?.broadcast_add(&rel_w.unsqueeze(3)?)?; // (len, h, w, h, w)
    qs.matmul(&k.t()?)?
        .reshape((len, h, w, h, w))?
        .add(&bias)?
        .reshape((len, n, n))
}

/// `softmax` of [`rel_pos_scores`] with plain differentiable ops (the reference for
/// [`rel_pos_probs`]).
pub fn rel_pos_probs_plain(
    qs: &Tensor,
    k: &Tensor,
    rel_h: &Tensor,
    rel_w: &Tensor,
    h: usize,
    w: usize,
) -> Result<Tensor> {
    crate::layers::softmax_plain(&rel_pos_scores(qs, k, rel_h, rel_w, h, w)?)
}

/// The same probabilities as [`rel_pos_probs_plain`], differentiable with respect to `qs`, `k`,
/// `rel_h` and `rel_w`, keeping only the result in the graph (see the module docs).
pub fn rel_pos_probs(
    qs: &Tensor,
    k: &Tensor,
    rel_h: &Tensor,
    rel_w: &Tensor,
    h: usize,
    w: usize,
) -> Result<Tensor> {
    let len = qs.dim(0)?;
    let scores = rel_pos_scores(
        &qs.detach(),
        &k.detach(),
        &rel_h.detach(),
        &rel_w.detach(),
        h,
        w,
    )?;
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    drop(scores);
    // One small tensor carries both bias halves through the graph: (len, h, w, h + w).
    let rel = Tensor::cat(&[rel_h, rel_w], 3)?;
    let backward = move |qs: &Tensor, k: &Tensor, _rel: &Tensor, probs: &Tensor, grad: &Tensor| {
        let ds = {
            let gp = grad.mul(probs)?;
            let row = gp.sum_keepdim(D::Minus1)?;
            gp.sub(&probs.broadcast_mul(&row)?)?
        };
        let dq = ds.matmul(k)?;
        let dk = ds.t()?.matmul(qs)?;
        let ds5 = ds.reshape((len, h, w, h, w))?;
        let drel = Tensor::cat(&[ds5.sum(4)?, ds5.sum(3)?], 3)?;
        Ok((Some(dq), Some(dk), Some(drel)))
    };
    attach3(
        qs,
        k,
        &rel,
        probs,
        "rel-pos-attention-probs",
        Box::new(backward),
    )
}

/// Layer norm over the last dimension (as the inference `LayerNorm` layer computes it), differentiable with
/// respect to `x`, `w` and `b`, keeping only `x` and the result in the graph.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: &Tensor, eps: f32) -> Result<Tensor> {
    let y = crate::layers::layer_norm_plain(&x.detach(), &w.detach(), &b.detach(), eps)?;
    let backward = move |x: &Tensor, w: &Tensor, _b: &Tensor, _y: &Tensor, grad: &Tensor| {
        let c = x.dim(D::Minus1)?;
        let lead = x.elem_count() / c;
        let x2 = x.reshape((lead, c))?;
        let g2 = grad.reshape((lead, c))?;
        let mean = x2.mean_keepdim(1)?;
        let xc = x2.broadcast_sub(&mean)?;
        let r = (xc.sqr()?.mean_keepdim(1)? + eps as f64)?.sqrt()?.recip()?;
        let xh = xc.broadcast_mul(&r)?;
        drop(xc);
        let db = g2.sum(0)?;
        let dw = g2.mul(&xh)?.sum(0)?;
        let gw = g2.broadcast_mul(w)?;
        let m1 = gw.mean_keepdim(1)?;
        let m2 = gw.mul(&xh)?.mean_keepdim(1)?;
        let dx = gw
            .broadcast_sub(&m1)?
            .sub(&xh.broadcast_mul(&m2)?)?
            .broadcast_mul(&r)?;
        Ok((Some(dx.reshape(x.shape())?), Some(dw), Some(db)))
    };
    attach3(x, w, b, y, "layer-norm", Box::new(backward))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Var};

    fn rand(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n as u64)
            .map(|i| {
                let x = (i.wrapping_add(seed * 7919)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                (x % 2001) as f64 / 1000.0 - 1.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap()
    }

    fn max_rel(a: &Tensor, b: &Tensor) -> f64 {
        let d = (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        let m = b
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap();
        d.to_scalar::<f64>().unwrap() / m.to_scalar::<f64>().unwrap().max(1e-30)
    }

    /// Runs `f` (plain reference with `false`, the op with `true`) on `vars`, backpropagates
    /// `sum(out * weight)` and asserts that the outputs and every variable's gradient agree to
    /// `tol` (max abs difference over max abs reference value).
    fn assert_matches_plain(
        vars: &[Var],
        weight: &Tensor,
        dtype: DType,
        tol: f64,
        f: impl Fn(&[&Tensor], bool) -> Tensor,
    ) {
        let inputs: Vec<&Tensor> = vars.iter().map(|v| v.as_tensor()).collect();
        let run = |fused: bool| {
            let out = f(&inputs, fused);
            let grads = (&out * weight)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g: Vec<Tensor> = inputs
                .iter()
                .map(|t| grads.get(t).unwrap().clone())
                .collect();
            (out, g)
        };
        let (out_ref, g_ref) = run(false);
        let (out, g) = run(true);
        assert!(
            max_rel(&out, &out_ref) <= tol,
            "{dtype:?} values: {}",
            max_rel(&out, &out_ref)
        );
        for (i, (a, b)) in g.iter().zip(&g_ref).enumerate() {
            assert!(
                max_rel(a, b) <= tol,
                "{dtype:?} gradient {i}: {}",
                max_rel(a, b)
            );
        }
    }

    /// Values and the gradients of all four inputs equal the plain-op reference: f64 to 1e-12
    /// relative (rounding only), f32 to 1e-5, on windows that are not square (h != w).
    #[test]
    fn attention_matches_plain_ops_forward_and_backward() {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let (len, h, w, hd) = (3, 4, 5, 6);
            let n = h * w;
            let vars: Vec<Var> = [
                rand(&[len, n, hd], 1, dtype),
                rand(&[len, n, hd], 2, dtype),
                (rand(&[len, h, w, h], 3, dtype) * 2.0).unwrap(),
                rand(&[len, h, w, w], 4, dtype),
            ]
            .into_iter()
            .map(|t| Var::from_tensor(&t).unwrap())
            .collect();
            let weight = rand(&[len, n, n], 5, dtype);
            assert_matches_plain(&vars, &weight, dtype, tol, |t, fused| {
                let f = if fused {
                    rel_pos_probs
                } else {
                    rel_pos_probs_plain
                };
                f(t[0], t[1], t[2], t[3], h, w).unwrap()
            });
        }
    }

    /// Layer norm values and the gradients of `x`, `w`, `b` equal the plain-op reference: f64 to
    /// 1e-12 relative, f32 to 1e-5; inputs with an offset (mean 3) and a 3-D shape.
    #[test]
    fn layer_norm_matches_plain_ops_forward_and_backward() {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let vars: Vec<Var> = [
                (rand(&[2, 5, 24], 11, dtype) + 3.0).unwrap(),
                (rand(&[24], 12, dtype) + 1.0).unwrap(),
                rand(&[24], 13, dtype),
            ]
            .into_iter()
            .map(|t| Var::from_tensor(&t).unwrap())
            .collect();
            let weight = rand(&[2, 5, 24], 14, dtype);
            assert_matches_plain(&vars, &weight, dtype, tol, |t, fused| {
                let f = if fused { layer_norm } else { layer_norm_plain };
                f(t[0], t[1], t[2], 1e-6).unwrap()
            });
        }
    }
}
