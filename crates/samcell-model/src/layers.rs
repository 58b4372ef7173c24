//! Building blocks shared by the encoder and decoder: linear layers, layer norm, attention
//! helpers. Weights are plain tensors (no autograd variables) for inference.

use candle_core::{Result, Tensor};
use std::collections::HashMap;

/// Takes tensors out of a checkpoint by key prefix.
pub struct Weights<'a> {
    pub tensors: &'a HashMap<String, Tensor>,
    pub prefix: String,
}

impl<'a> Weights<'a> {
    pub fn new(tensors: &'a HashMap<String, Tensor>) -> Self {
        Self { tensors, prefix: String::new() }
    }

    pub fn pp(&self, name: impl std::fmt::Display) -> Weights<'a> {
        Weights { tensors: self.tensors, prefix: format!("{}{}.", self.prefix, name) }
    }

    pub fn get(&self, name: &str) -> Result<Tensor> {
        let key = format!("{}{}", self.prefix, name);
        self.tensors
            .get(&key)
            .cloned()
            .ok_or_else(|| candle_core::Error::Msg(format!("checkpoint has no tensor {key}")))
    }
}

/// `y = x W^T + b` over the last dimension, computed as one 2-D matrix product.
#[derive(Clone, Debug)]
pub struct Linear {
    /// Weight transposed to (in, out).
    w_t: Tensor,
    b: Option<Tensor>,
    out: usize,
}

impl Linear {
    /// From a (out, in) weight and an optional bias.
    pub fn new(weight: &Tensor, b: Option<Tensor>) -> Result<Self> {
        Ok(Self { w_t: weight.t()?.contiguous()?, b, out: weight.dim(0)? })
    }

    pub fn load(w: &Weights, bias: bool) -> Result<Self> {
        let b = if bias { Some(w.get("bias")?) } else { None };
        Self::new(&w.get("weight")?, b)
    }

    /// `x W^T` without the bias (for callers that fuse the bias into the next step).
    pub fn forward_no_bias(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let inp = *dims.last().expect("linear input has at least one dimension");
        let rows = x.elem_count() / inp;
        let y = x.reshape((rows, inp))?.matmul(&self.w_t)?;
        let mut out_dims = dims;
        *out_dims.last_mut().expect("non-empty") = self.out;
        y.reshape(out_dims)
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.forward_no_bias(x)?;
        match &self.b {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// Layer norm over the last dimension (also serves SAM's channels-first `LayerNorm2d`, which the
/// model keeps channels-last).
#[derive(Clone, Debug)]
pub struct LayerNorm {
    w: Tensor,
    b: Tensor,
    eps: f32,
}

impl LayerNorm {
    pub fn load(w: &Weights, eps: f32) -> Result<Self> {
        Ok(Self { w: w.get("weight")?, b: w.get("bias")?, eps })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.contiguous()?;
        candle_nn::ops::layer_norm(&x, &self.w, &self.b, self.eps)
    }
}

/// Softmax over the last dimension.
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    candle_nn::ops::softmax_last_dim(&x.contiguous()?)
}
