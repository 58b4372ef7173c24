//! A fast CPU convolution for samcell-lite, with its own backward pass.
//!
//! candle's CPU `conv2d` lowers a convolution to im2col + a matrix product, which for the U-Net's
//! few channels (8..128) is a tall, thin product that reaches ~4.5 GFLOP per CPU-second. This
//! module computes the same function directly: stride 1, zero padding `k / 2` ("same"), odd
//! kernels `k` of 1 or 3, f32 NCHW, plus a bias and an optional ReLU fused into the output —
//! exactly PyTorch's `F.relu(F.conv2d(x, w, b, padding=k // 2))` and candle's
//! `x.conv2d(w, k / 2, 1, 1, 1)?.broadcast_add(b)?.relu()`.
//!
//! - **Forward** ([`kernel::forward`]): a register-blocked micro-kernel (4 output channels x 24
//!   pixels, AVX2 + FMA, chosen at run time; a portable loop otherwise) over a zero-padded copy
//!   of the input.
//! - **Through the ReLU**: the output gradient where the output is positive
//!   ([`pointwise::ReluGrad`]); bias gradient: its per-channel sum ([`pointwise::ChannelSum`]).
//! - **Input gradient**: the forward kernel applied to the output gradient with the weights
//!   transposed (`cin <-> cout`) and flipped in both spatial axes (stride 1, same padding).
//! - **Weight gradient** ([`kernel::weight_grad`]): the correlation of the padded input with the
//!   output gradient, 9 vector accumulators per (output, input) channel pair, rows summed in f64.
//!
//! Every output element is computed by one thread in a fixed order, so forward and backward are
//! deterministic whatever the thread count. Off the CPU (or for other dtypes) [`conv_bias_act`]
//! falls back to candle's ops. Parity with candle's `conv2d` and with a naive 7-loop reference is
//! tested below (tolerances stated there).

pub mod kernel;
pub mod norm;
pub mod pointwise;

use candle_core::{
    bail, CpuStorage, CustomOp2, CustomOp3, DType, Device, Layout, Result, Shape, Tensor,
};

use kernel::Geom;

/// The f32 values of a contiguous CPU tensor (`what` names it in the error).
pub(crate) fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        bail!("samcell-lite: {what} must be f32");
    };
    let Some((a, b)) = l.contiguous_offsets() else {
        bail!("samcell-lite: {what} must be contiguous");
    };
    Ok(&v[a..b])
}

/// Whether every tensor is f32 on the CPU (the case this module's kernels serve).
pub(crate) fn cpu_f32(ts: &[&Tensor]) -> bool {
    ts.iter()
        .all(|t| matches!(t.device(), Device::Cpu) && t.dtype() == DType::F32)
}

fn geom(input: &[usize], weight: &[usize]) -> Result<Geom> {
    let (&[batch, cin, h, w], &[cout, wcin, k, k2]) = (input, weight) else {
        bail!("samcell-lite conv: input {input:?} / weight {weight:?} must be 4-D");
    };
    if wcin != cin || k != k2 || !(k == 1 || k == 3) {
        bail!("samcell-lite conv: weight {weight:?} does not fit input {input:?} (1x1 or 3x3 kernels)");
    }
    Ok(Geom {
        batch,
        cin,
        cout,
        h,
        w,
        k,
    })
}

/// `act(conv(input, weight) + bias)`, stride 1, same zero padding, `act` = ReLU or identity;
/// differentiable in all three.
struct ConvBiasAct {
    relu: bool,
}

impl CustomOp3 for ConvBiasAct {
    fn name(&self) -> &'static str {
        "samcell-lite-conv-bias-act"
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
        let g = geom(l1.dims(), l2.dims())?;
        if l3.dims() != [g.cout] {
            bail!(
                "samcell-lite conv: bias {:?} for {} output channels",
                l3.dims(),
                g.cout
            );
        }
        let epi = kernel::Epilogue {
            bias: Some(slice(s3, l3, "bias")?),
            relu: self.relu,
        };
        let out = kernel::forward_on(
            slice(s1, l1, "input")?,
            slice(s2, l2, "weight")?,
            &g,
            epi,
            kernel::simd_path(),
        );
        Ok((
            CpuStorage::F32(out),
            Shape::from((g.batch, g.cout, g.h, g.w)),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        // Through the ReLU: the gradient where the output is positive.
        let g = if self.relu {
            res.apply_op2_no_bwd(&grad, &pointwise::ReluGrad)?
        } else {
            grad
        };
        let gb = g.apply_op1_no_bwd(&pointwise::ChannelSum)?;
        let gx = g.apply_op2_no_bwd(&flip_transpose(w)?, &ConvSame)?;
        let gw = x.apply_op2_no_bwd(&g, &WeightGrad { k: w.dims()[2] })?;
        Ok((Some(gx), Some(gw), Some(gb)))
    }
}

/// `conv(input, weight)`, stride 1, same zero padding, no bias (the input-gradient pass).
struct ConvSame;

impl CustomOp2 for ConvSame {
    fn name(&self) -> &'static str {
        "samcell-lite-conv-same"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = geom(l1.dims(), l2.dims())?;
        let out = kernel::forward(slice(s1, l1, "input")?, slice(s2, l2, "weight")?, &g);
        Ok((
            CpuStorage::F32(out),
            Shape::from((g.batch, g.cout, g.h, g.w)),
        ))
    }
}

/// The weight gradient of [`ConvSame`]: `(input, output gradient) -> (cout, cin, k, k)`.
struct WeightGrad {
    k: usize,
}

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "samcell-lite-conv-weight-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (&[batch, cin, h, w], &[gb, cout, gh, gw]) = (l1.dims(), l2.dims()) else {
            bail!("samcell-lite conv weight gradient: 4-D tensors expected");
        };
        if (gb, gh, gw) != (batch, h, w) {
            bail!(
                "samcell-lite conv weight gradient: {:?} vs {:?}",
                l1.dims(),
                l2.dims()
            );
        }
        let g = Geom {
            batch,
            cin,
            cout,
            h,
            w,
            k: self.k,
        };
        let out = kernel::weight_grad(slice(s1, l1, "input")?, slice(s2, l2, "gradient")?, &g);
        Ok((
            CpuStorage::F32(out),
            Shape::from((cout, cin, self.k, self.k)),
        ))
    }
}

/// `(cout, cin, k, k) -> (cin, cout, k, k)` flipped in both spatial axes.
fn flip_transpose(w: &Tensor) -> Result<Tensor> {
    let (cout, cin, k, _) = w.dims4()?;
    let v: Vec<f32> = w.flatten_all()?.to_vec1()?;
    let mut out = vec![0f32; v.len()];
    for co in 0..cout {
        for ci in 0..cin {
            for ky in 0..k {
                for kx in 0..k {
                    out[((ci * cout + co) * k + (k - 1 - ky)) * k + (k - 1 - kx)] =
                        v[((co * cin + ci) * k + ky) * k + kx];
                }
            }
        }
    }
    Tensor::from_vec(out, (cin, cout, k, k), w.device())
}

/// `act(conv(x, w) + b)`: stride-1 convolution with zero padding `k / 2`, `x (B, Cin, H, W)`,
/// `w (Cout, Cin, k, k)` (k = 1 or 3), `b (Cout)`, then ReLU when `relu`. This module's kernels
/// for f32 on the CPU (with backward), candle's `conv2d`, `broadcast_add` and `relu` otherwise.
pub fn conv_bias_act(x: &Tensor, w: &Tensor, b: &Tensor, relu: bool) -> Result<Tensor> {
    let k = w.dim(2)?;
    let fast = cpu_f32(&[x, w, b]) && (k == 1 || k == 3) && w.dim(3)? == k;
    if fast {
        x.contiguous()?
            .apply_op3(&w.contiguous()?, &b.contiguous()?, ConvBiasAct { relu })
    } else {
        let y = x
            .conv2d(w, k / 2, 1, 1, 1)?
            .broadcast_add(&b.reshape((1, (), 1, 1))?)?;
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }
}

#[cfg(test)]
mod tests;
