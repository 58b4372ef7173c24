//! Building blocks shared by the encoder and decoder: linear layers, layer norm, softmax.
//!
//! Two execution modes ([`Mode`]):
//! - **inference** precomputes derived weight layouts once (transposed linear weights) and uses
//!   candle's fused ops (`softmax_last_dim`, `layer_norm`), which have no backward pass;
//! - **training** keeps only the live parameter tensors (views of `Var`s, so optimiser updates
//!   are seen by the next forward) and uses differentiable ops: layer norm and the encoder's
//!   attention softmax from `train_ops` (analytic backward, small graphs), the decoder's softmax
//!   written with `max`/`sub`/`exp`/`sum`/`div`.

use candle_core::{Device, Result, Tensor, D};
use std::collections::HashMap;
use std::sync::Arc;

use crate::bf16_gemm::PackedB;
use crate::cpu_matmul::LinearBf16;

/// How a model is built and run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Plain tensors, fused kernels, precomputed layouts (fast, no gradients).
    #[default]
    Infer,
    /// Live parameter tensors and plain differentiable ops only (for `Tensor::backward`).
    Train,
}

/// What a layer may use, decided once per model from the mode and the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exec {
    pub mode: Mode,
    /// The device is the CPU (the hand-written kernels in `kernels.rs` are CPU-only).
    pub cpu: bool,
    /// CPU inference with bf16 matrix products (`bf16_gemm`): linear weights are packed to bf16
    /// at load, the attention products run in bf16; everything else stays f32.
    pub bf16: bool,
}

impl Exec {
    pub fn new(mode: Mode, device: &Device) -> Self {
        Self {
            mode,
            cpu: device.is_cpu(),
            bf16: false,
        }
    }

    /// bf16 products are used for CPU inference only.
    pub fn with_bf16(self, on: bool) -> Self {
        Self {
            bf16: on && self.mode == Mode::Infer && self.cpu,
            ..self
        }
    }

    pub fn train(&self) -> bool {
        self.mode == Mode::Train
    }

    /// The CPU-only fused kernels of `kernels.rs` may be used.
    pub fn cpu_kernels(&self) -> bool {
        self.mode == Mode::Infer && self.cpu
    }
}

/// Takes tensors out of a checkpoint by key prefix.
pub struct Weights<'a> {
    pub tensors: &'a HashMap<String, Tensor>,
    pub prefix: String,
    pub exec: Exec,
}

impl<'a> Weights<'a> {
    pub fn new(tensors: &'a HashMap<String, Tensor>, exec: Exec) -> Self {
        Self {
            tensors,
            prefix: String::new(),
            exec,
        }
    }

    pub fn pp(&self, name: impl std::fmt::Display) -> Weights<'a> {
        Weights {
            tensors: self.tensors,
            prefix: format!("{}{}.", self.prefix, name),
            exec: self.exec,
        }
    }

    pub fn get(&self, name: &str) -> Result<Tensor> {
        let key = format!("{}{}", self.prefix, name);
        self.tensors
            .get(&key)
            .cloned()
            .ok_or_else(|| candle_core::Error::Msg(format!("checkpoint has no tensor {key}")))
    }
}

/// `y = x W^T + b` over the last dimension, computed as one 2-D matrix product (on the CPU in
/// inference mode: `cpu_matmul`, with the bias folded in).
#[derive(Clone, Debug)]
pub struct Linear {
    /// (out, in), as stored (a view of the parameter in training mode).
    weight: Tensor,
    /// Inference only, without bf16 panels: the weight transposed to (in, out), contiguous.
    w_t: Option<Tensor>,
    b: Option<Tensor>,
    out: usize,
    cpu_kernels: bool,
    /// bf16 CPU inference: the weight as bf16 panels and the bias as a plain vector, used
    /// instead of `w_t`.
    bf16: Option<Bf16Weights>,
}

/// bf16 weight panels and the bias as f32 values.
type Bf16Weights = (Arc<PackedB>, Option<Arc<[f32]>>);

impl Linear {
    /// From a (out, in) weight and an optional bias.
    pub fn new(weight: &Tensor, b: Option<Tensor>, exec: Exec) -> Result<Self> {
        let bf16_products = exec.bf16 && exec.cpu_kernels();
        let w_t = if exec.train() {
            None
        } else {
            Some(weight.t()?.contiguous()?)
        };
        let bf16 = match &w_t {
            Some(w_t) if bf16_products => {
                let bias = match &b {
                    Some(b) => Some(Arc::<[f32]>::from(
                        b.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?,
                    )),
                    None => None,
                };
                Some((Arc::new(crate::cpu_matmul::pack_weight(w_t)?), bias))
            }
            _ => None,
        };
        // with bf16 panels the f32 transpose is never read: do not keep a second copy of it
        let w_t = if bf16.is_some() { None } else { w_t };
        Ok(Self {
            weight: weight.clone(),
            w_t,
            b,
            out: weight.dim(0)?,
            cpu_kernels: exec.cpu_kernels(),
            bf16,
        })
    }

    pub fn load(w: &Weights, bias: bool) -> Result<Self> {
        let b = if bias { Some(w.get("bias")?) } else { None };
        Self::new(&w.get("weight")?, b, w.exec)
    }

    /// `x W^T` without the bias (for callers that fuse the bias into the next step).
    pub fn forward_no_bias(&self, x: &Tensor) -> Result<Tensor> {
        self.product(x, None)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.cpu_kernels {
            return self.product(x, self.b.as_ref());
        }
        let y = self.forward_no_bias(x)?;
        match &self.b {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }

    /// `x W^T (+ bias, CPU inference only)` as one 2-D product over the flattened leading dims.
    fn product(&self, x: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let inp = *dims
            .last()
            .expect("linear input has at least one dimension");
        let rows = x.elem_count() / inp;
        let x2 = x.reshape((rows, inp))?;
        let y = match (&self.bf16, &self.w_t) {
            (Some((packed, b)), _) => {
                let op = LinearBf16 {
                    packed: packed.clone(),
                    bias: bias.and(b.clone()),
                };
                x2.apply_op1_no_bwd(&op)?
            }
            (None, Some(w_t)) if self.cpu_kernels => crate::cpu_matmul::linear(&x2, w_t, bias)?,
            (None, Some(w_t)) => x2.matmul(w_t)?,
            (None, None) => x2.matmul(&self.weight.t()?)?,
        };
        let mut out_dims = dims;
        *out_dims.last_mut().expect("non-empty") = self.out;
        y.reshape(out_dims)
    }
}

/// Layer norm over the last dimension (also serves SAM's channels-first `LayerNorm2d`, which the
/// model keeps channels-last). Matches `torch.nn.LayerNorm` / transformers' `SamLayerNorm`:
/// biased variance, `(x - mean) / sqrt(var + eps) * w + b`.
#[derive(Clone, Debug)]
pub struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f32,
    fused: bool,
}

impl LayerNorm {
    pub fn load(w: &Weights, eps: f32) -> Result<Self> {
        Ok(Self {
            w: w.get("weight")?,
            b: w.get("bias")?,
            eps,
            fused: !w.exec.train(),
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.fused {
            let x = x.contiguous()?;
            return candle_nn::ops::layer_norm(&x, &self.w, &self.b, self.eps);
        }
        crate::train_ops::layer_norm(x, &self.w, &self.b, self.eps)
    }
}

/// Layer norm over the last dimension with differentiable candle ops only (the reference for
/// `train_ops::layer_norm`, and its forward).
pub fn layer_norm_plain(x: &Tensor, w: &Tensor, b: &Tensor, eps: f32) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc.broadcast_div(&(var + eps as f64)?.sqrt()?)?;
    xn.broadcast_mul(w)?.broadcast_add(b)
}

/// Softmax over the last dimension: candle's fused kernel for inference, plain ops for training.
pub fn softmax(x: &Tensor, exec: Exec) -> Result<Tensor> {
    if exec.train() {
        softmax_plain(x)
    } else {
        candle_nn::ops::softmax_last_dim(&x.contiguous()?)
    }
}

/// Softmax over the last dimension with differentiable ops. The row maximum is subtracted for
/// range only; it is detached (the softmax does not depend on it mathematically).
pub fn softmax_plain(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    let s = e.sum_keepdim(D::Minus1)?;
    e.broadcast_div(&s)
}
