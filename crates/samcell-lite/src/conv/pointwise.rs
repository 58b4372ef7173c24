//! The U-Net's other CPU operations as parallel candle custom ops with their backward passes:
//! 2x2 max pooling, 2x nearest up-sampling, and the pieces of the convolution's backward pass
//! (ReLU mask, per-channel sum). candle's generic versions of these run single-threaded over
//! several passes and dominated training time next to the fast convolution.
//!
//! Reference behaviour (PyTorch): [`max_pool2`] is `F.max_pool2d(x, 2)` on even sizes, whose
//! gradient goes to the first maximum of each window in row-major order; [`up2`] is
//! `F.interpolate(x, scale_factor=2, mode="nearest")`, whose gradient is the 2x2 sum.
//! Off the CPU (or for other dtypes) both fall back to candle's ops.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::{cpu_f32, slice};

fn dims4(l: &Layout, what: &str) -> Result<(usize, usize, usize, usize)> {
    match *l.dims() {
        [b, c, h, w] => Ok((b, c, h, w)),
        ref d => bail!("samcell-lite {what}: 4-D tensor expected, got {d:?}"),
    }
}

/// `grad * (res > 0)` for `(res, grad)` of one shape.
pub struct ReluGrad;

impl CustomOp2 for ReluGrad {
    fn name(&self) -> &'static str {
        "samcell-lite-relu-grad"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            bail!("samcell-lite relu grad: {:?} vs {:?}", l1.dims(), l2.dims());
        }
        let (r, g) = (slice(s1, l1, "relu grad")?, slice(s2, l2, "relu grad")?);
        let mut out = vec![0f32; g.len()];
        out.par_chunks_mut(1 << 14)
            .zip(r.par_chunks(1 << 14).zip(g.par_chunks(1 << 14)))
            .for_each(|(o, (r, g))| {
                for ((o, &r), &g) in o.iter_mut().zip(r).zip(g) {
                    *o = if r > 0.0 { g } else { 0.0 };
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `(B, C, H, W) -> (C)`: the sum over batch and pixels, per channel (f64 accumulation).
pub struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "samcell-lite-channel-sum"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(l, "channel sum")?;
        let v = slice(s, l, "channel sum")?;
        let plane = h * w;
        let out: Vec<f32> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let mut s = 0f64;
                for bi in 0..b {
                    let p = &v[(bi * c + ch) * plane..][..plane];
                    for row in p.chunks(256) {
                        s += f64::from(row.iter().sum::<f32>());
                    }
                }
                s as f32
            })
            .collect();
        Ok((CpuStorage::F32(out), Shape::from(c)))
    }
}

/// Each 2x2 window of `(b, c, h, w)` values reduced by `f(top-left, top-right, bottom-left,
/// bottom-right)`, in parallel over planes.
fn pool2(
    v: &[f32],
    (b, c, h, w): (usize, usize, usize, usize),
    f: impl Fn(f32, f32, f32, f32) -> f32 + Sync,
) -> Vec<f32> {
    let (ho, wo) = (h / 2, w / 2);
    let mut out = vec![0f32; b * c * ho * wo];
    out.par_chunks_mut(ho * wo).enumerate().for_each(|(pl, o)| {
        let src = &v[pl * h * w..][..h * w];
        for y in 0..ho {
            let (r0, r1) = (&src[2 * y * w..][..w], &src[(2 * y + 1) * w..][..w]);
            for x in 0..wo {
                o[y * wo + x] = f(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1]);
            }
        }
    });
    out
}

/// 2x2 max pooling with stride 2 (even sizes).
struct MaxPool2;

impl CustomOp1 for MaxPool2 {
    fn name(&self) -> &'static str {
        "samcell-lite-max-pool2"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(l, "max pool")?;
        if h % 2 != 0 || w % 2 != 0 {
            bail!("samcell-lite max pool: even sizes expected, got {h}x{w}");
        }
        let out = pool2(slice(s, l, "max pool")?, (b, c, h, w), |a, b2, c2, d| {
            a.max(b2).max(c2).max(d)
        });
        Ok((CpuStorage::F32(out), Shape::from((b, c, h / 2, w / 2))))
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            arg.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool2Grad)?,
        ))
    }
}

/// `(input, pooled gradient) -> input gradient`: each window's gradient to its first maximum.
struct MaxPool2Grad;

impl CustomOp2 for MaxPool2Grad {
    fn name(&self) -> &'static str {
        "samcell-lite-max-pool2-grad"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(l1, "max pool grad")?;
        if dims4(l2, "max pool grad")? != (b, c, h / 2, w / 2) {
            bail!(
                "samcell-lite max pool grad: {:?} vs {:?}",
                l1.dims(),
                l2.dims()
            );
        }
        let (v, g) = (
            slice(s1, l1, "max pool grad")?,
            slice(s2, l2, "max pool grad")?,
        );
        let (ho, wo) = (h / 2, w / 2);
        let mut out = vec![0f32; b * c * h * w];
        out.par_chunks_mut(h * w).enumerate().for_each(|(pl, o)| {
            let src = &v[pl * h * w..][..h * w];
            let gp = &g[pl * ho * wo..][..ho * wo];
            for y in 0..ho {
                for x in 0..wo {
                    let idx = [
                        2 * y * w + 2 * x,
                        2 * y * w + 2 * x + 1,
                        (2 * y + 1) * w + 2 * x,
                        (2 * y + 1) * w + 2 * x + 1,
                    ];
                    let mut best = idx[0];
                    for &i in &idx[1..] {
                        if src[i] > src[best] {
                            best = i;
                        }
                    }
                    o[best] = gp[y * wo + x];
                }
            }
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// 2x nearest-neighbour up-sampling.
struct Up2;

impl CustomOp1 for Up2 {
    fn name(&self) -> &'static str {
        "samcell-lite-up2"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(l, "up2")?;
        let v = slice(s, l, "up2")?;
        let mut out = vec![0f32; b * c * 4 * h * w];
        out.par_chunks_mut(4 * h * w)
            .enumerate()
            .for_each(|(pl, o)| {
                let src = &v[pl * h * w..][..h * w];
                for y in 0..h {
                    let row = &mut o[2 * y * 2 * w..][..2 * w];
                    for x in 0..w {
                        row[2 * x] = src[y * w + x];
                        row[2 * x + 1] = src[y * w + x];
                    }
                    o.copy_within(2 * y * 2 * w..(2 * y + 1) * 2 * w, (2 * y + 1) * 2 * w);
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((b, c, 2 * h, 2 * w))))
    }
    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&SumPool2)?))
    }
}

/// 2x2 sum pooling (the gradient of [`Up2`]).
struct SumPool2;

impl CustomOp1 for SumPool2 {
    fn name(&self) -> &'static str {
        "samcell-lite-sum-pool2"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(l, "sum pool")?;
        let out = pool2(slice(s, l, "sum pool")?, (b, c, h, w), |a, b2, c2, d| {
            (a + b2) + (c2 + d)
        });
        Ok((CpuStorage::F32(out), Shape::from((b, c, h / 2, w / 2))))
    }
}

/// 2x2 max pooling, stride 2, of `(B, C, H, W)` with even `H`, `W` (differentiable).
pub fn max_pool2(x: &Tensor) -> Result<Tensor> {
    if cpu_f32(&[x]) {
        x.contiguous()?.apply_op1(MaxPool2)
    } else {
        x.max_pool2d(2)
    }
}

/// 2x nearest-neighbour up-sampling of `(B, C, H, W)` (differentiable).
pub fn up2(x: &Tensor) -> Result<Tensor> {
    if cpu_f32(&[x]) {
        x.contiguous()?.apply_op1(Up2)
    } else {
        let (b, c, h, w) = x.dims4()?;
        x.reshape((b, c, h, 1, w, 1))?
            .broadcast_as((b, c, h, 2, w, 2))?
            .reshape((b, c, 2 * h, 2 * w))
    }
}
