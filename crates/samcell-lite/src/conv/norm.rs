//! GroupNorm followed by an optional ReLU, as one parallel CPU op with its backward pass.
//!
//! Reference behaviour: PyTorch `F.relu(nn.GroupNorm(groups, C, eps)(x))`: per sample and group
//! of `C / groups` adjacent channels, `x_hat = (x - mean) / sqrt(var + eps)` with the biased
//! variance, then `gamma[c] * x_hat + beta[c]`, then ReLU. Statistics are summed in f64 (two
//! passes: mean, then squared deviations), one (sample, group) per task, so results do not
//! depend on the thread count.
//!
//! Backward, with `g` the output gradient through the ReLU (`g * (y > 0)`) and `n` the group
//! size: `d_beta[c] = sum g`, `d_gamma[c] = sum g * x_hat`, and with `d = g * gamma[c]`:
//! `dx = (d - mean(d) - x_hat * mean(d * x_hat)) / sqrt(var + eps)` (means over the group).

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;
use std::sync::Mutex;

use super::pointwise::ReluGrad;
use super::{cpu_f32, slice};

/// Shape of one call: channels, pixels per channel, groups.
#[derive(Clone, Copy, Debug)]
struct Dims {
    c: usize,
    plane: usize,
    groups: usize,
}

impl Dims {
    fn of(l: &Layout, groups: usize) -> Result<Self> {
        let &[_, c, h, w] = l.dims() else {
            bail!(
                "samcell-lite group norm: 4-D input expected, got {:?}",
                l.dims()
            );
        };
        if groups == 0 || c % groups != 0 {
            bail!("samcell-lite group norm: {groups} groups do not divide {c} channels");
        }
        Ok(Self {
            c,
            plane: h * w,
            groups,
        })
    }
    fn per_group(&self) -> usize {
        self.c / self.groups * self.plane
    }
}

/// Mean and `1 / sqrt(var + eps)` of one group's values.
fn stats(v: &[f32], eps: f64) -> (f32, f32) {
    let n = v.len() as f64;
    let mean = v
        .chunks(1024)
        .map(|c| c.iter().map(|&x| f64::from(x)).sum::<f64>())
        .sum::<f64>()
        / n;
    let var = v
        .chunks(1024)
        .map(|c| {
            c.iter()
                .map(|&x| (f64::from(x) - mean).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n;
    (mean as f32, (1.0 / (var + eps).sqrt()) as f32)
}

/// `act(group_norm(x) * gamma + beta)`. The forward pass keeps each (sample, group)'s mean and
/// `1 / std` for the backward pass, which would otherwise compute them twice more (one op
/// instance per call: [`group_norm_act`] makes a new one each time).
struct GroupNormAct {
    groups: usize,
    eps: f64,
    relu: bool,
    stats: Mutex<Vec<(f32, f32)>>,
}

/// The [`stats`] of every (sample, group) of `x`, in order.
fn all_stats(x: &[f32], d: &Dims, eps: f64) -> Vec<(f32, f32)> {
    x.par_chunks(d.per_group())
        .map(|xs| stats(xs, eps))
        .collect()
}

impl CustomOp3 for GroupNormAct {
    fn name(&self) -> &'static str {
        "samcell-lite-group-norm-act"
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
        let d = Dims::of(l1, self.groups)?;
        let (x, gamma, beta) = (
            slice(s1, l1, "input")?,
            slice(s2, l2, "weight")?,
            slice(s3, l3, "bias")?,
        );
        if gamma.len() != d.c || beta.len() != d.c {
            bail!(
                "samcell-lite group norm: weight/bias of {} / {} for {} channels",
                gamma.len(),
                beta.len(),
                d.c
            );
        }
        let cpg = d.c / d.groups;
        let st = all_stats(x, &d, self.eps);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d.per_group())
            .zip(x.par_chunks(d.per_group()))
            .enumerate()
            .for_each(|(i, (o, xs))| {
                let (mean, inv) = st[i];
                let c0 = (i % d.groups) * cpg;
                for (k, (op, xp)) in o.chunks_mut(d.plane).zip(xs.chunks(d.plane)).enumerate() {
                    let (sc, sh) = (
                        gamma[c0 + k] * inv,
                        beta[c0 + k] - gamma[c0 + k] * inv * mean,
                    );
                    for (o, &x) in op.iter_mut().zip(xp) {
                        let v = x * sc + sh;
                        *o = if self.relu && v < 0.0 { 0.0 } else { v };
                    }
                }
            });
        *self.stats.lock().unwrap_or_else(|e| e.into_inner()) = st;
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let g = if self.relu {
            res.apply_op2_no_bwd(&grad, &ReluGrad)?
        } else {
            grad
        };
        let stats = std::mem::take(&mut *self.stats.lock().unwrap_or_else(|e| e.into_inner()));
        let params = x.apply_op2_no_bwd(
            &g,
            &ParamGrad {
                groups: self.groups,
                eps: self.eps,
                stats: stats.clone(),
            },
        )?;
        let gamma_v: Vec<f32> = gamma.to_vec1()?;
        let dx = x.apply_op2_no_bwd(
            &g,
            &InputGrad {
                groups: self.groups,
                eps: self.eps,
                gamma: gamma_v,
                stats,
            },
        )?;
        Ok((Some(dx), Some(params.get(0)?), Some(params.get(1)?)))
    }
}

/// `(x, g) -> (2, C)`: rows `d_gamma`, `d_beta`. `stats`: the forward pass's, or empty (then
/// computed again).
struct ParamGrad {
    groups: usize,
    eps: f64,
    stats: Vec<(f32, f32)>,
}

/// `kept` when it has one entry per (sample, group) of `x`, else computed from `x`.
fn stats_of(kept: &[(f32, f32)], x: &[f32], d: &Dims, eps: f64) -> Vec<(f32, f32)> {
    if kept.len() * d.per_group() == x.len() {
        kept.to_vec()
    } else {
        all_stats(x, d, eps)
    }
}

impl CustomOp2 for ParamGrad {
    fn name(&self) -> &'static str {
        "samcell-lite-group-norm-param-grad"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::of(l1, self.groups)?;
        if l1.dims() != l2.dims() {
            bail!(
                "samcell-lite group norm grad: {:?} vs {:?}",
                l1.dims(),
                l2.dims()
            );
        }
        let (x, g) = (slice(s1, l1, "input")?, slice(s2, l2, "gradient")?);
        let cpg = d.c / d.groups;
        let st = stats_of(&self.stats, x, &d, self.eps);
        // Per (sample, group): per channel (sum g * x_hat, sum g), in f64.
        let parts: Vec<Vec<(f64, f64)>> = x
            .par_chunks(d.per_group())
            .zip(g.par_chunks(d.per_group()))
            .zip(st)
            .map(|((xs, gs), (mean, inv))| {
                xs.chunks(d.plane)
                    .zip(gs.chunks(d.plane))
                    .map(|(xp, gp)| {
                        let (mut a, mut b) = (0f64, 0f64);
                        for (xc, gc) in xp.chunks(1024).zip(gp.chunks(1024)) {
                            let (mut sa, mut sb) = (0f32, 0f32);
                            for (&x, &g) in xc.iter().zip(gc) {
                                sa += g * (x - mean) * inv;
                                sb += g;
                            }
                            (a, b) = (a + f64::from(sa), b + f64::from(sb));
                        }
                        (a, b)
                    })
                    .collect()
            })
            .collect();
        let mut dgamma = vec![0f64; d.c];
        let mut dbeta = vec![0f64; d.c];
        for (i, p) in parts.iter().enumerate() {
            let c0 = (i % d.groups) * cpg;
            for (k, &(a, b)) in p.iter().enumerate() {
                dgamma[c0 + k] += a;
                dbeta[c0 + k] += b;
            }
        }
        let out: Vec<f32> = dgamma.iter().chain(&dbeta).map(|&v| v as f32).collect();
        Ok((CpuStorage::F32(out), Shape::from((2, d.c))))
    }
}

/// `(x, g) -> dx`. `stats` as for [`ParamGrad`].
struct InputGrad {
    groups: usize,
    eps: f64,
    gamma: Vec<f32>,
    stats: Vec<(f32, f32)>,
}

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "samcell-lite-group-norm-input-grad"
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let d = Dims::of(l1, self.groups)?;
        if l1.dims() != l2.dims() || self.gamma.len() != d.c {
            bail!(
                "samcell-lite group norm grad: {:?} vs {:?}",
                l1.dims(),
                l2.dims()
            );
        }
        let (x, g) = (slice(s1, l1, "input")?, slice(s2, l2, "gradient")?);
        let cpg = d.c / d.groups;
        let n = d.per_group() as f64;
        let st = stats_of(&self.stats, x, &d, self.eps);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(d.per_group())
            .zip(x.par_chunks(d.per_group()).zip(g.par_chunks(d.per_group())))
            .enumerate()
            .for_each(|(i, (o, (xs, gs)))| {
                let (mean, inv) = st[i];
                let c0 = (i % d.groups) * cpg;
                // mean(d) and mean(d * x_hat) over the group, d = g * gamma[c].
                let (mut m1, mut m2) = (0f64, 0f64);
                for (k, (xp, gp)) in xs.chunks(d.plane).zip(gs.chunks(d.plane)).enumerate() {
                    let gm = self.gamma[c0 + k];
                    for (xc, gc) in xp.chunks(1024).zip(gp.chunks(1024)) {
                        let (mut a, mut b) = (0f32, 0f32);
                        for (&x, &g) in xc.iter().zip(gc) {
                            let dd = g * gm;
                            a += dd;
                            b += dd * (x - mean) * inv;
                        }
                        (m1, m2) = (m1 + f64::from(a), m2 + f64::from(b));
                    }
                }
                let (m1, m2) = ((m1 / n) as f32, (m2 / n) as f32);
                for (k, (op, (xp, gp))) in o
                    .chunks_mut(d.plane)
                    .zip(xs.chunks(d.plane).zip(gs.chunks(d.plane)))
                    .enumerate()
                {
                    let gm = self.gamma[c0 + k];
                    for ((o, &x), &g) in op.iter_mut().zip(xp).zip(gp) {
                        let xh = (x - mean) * inv;
                        *o = (g * gm - m1 - xh * m2) * inv;
                    }
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// candle ops of the same function (the reference for the tests, and the path off the CPU).
pub fn group_norm_act_reference(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    groups: usize,
    eps: f64,
    relu: bool,
) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let xg = x.reshape((b, groups, (c / groups) * h * w))?;
    let mean = xg.mean_keepdim(D::Minus1)?;
    let xc = xg.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let xn = xc
        .broadcast_div(&(var + eps)?.sqrt()?)?
        .reshape((b, c, h, w))?;
    let y = xn
        .broadcast_mul(&gamma.reshape((1, c, 1, 1))?)?
        .broadcast_add(&beta.reshape((1, c, 1, 1))?)?;
    if relu {
        y.relu()
    } else {
        Ok(y)
    }
}

/// `act(GroupNorm(groups, C, eps)(x))` with weight `gamma` and bias `beta` (`(C)` each), ReLU
/// when `relu`; differentiable in all three. This module's op for f32 on the CPU, candle's ops
/// otherwise.
pub fn group_norm_act(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    groups: usize,
    eps: f64,
    relu: bool,
) -> Result<Tensor> {
    if cpu_f32(&[x, gamma, beta]) {
        let op = GroupNormAct {
            groups,
            eps,
            relu,
            stats: Mutex::new(Vec::new()),
        };
        x.contiguous()?
            .apply_op3(&gamma.contiguous()?, &beta.contiguous()?, op)
    } else {
        group_norm_act_reference(x, gamma, beta, groups, eps, relu)
    }
}
