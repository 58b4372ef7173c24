//! The paper's optimiser and learning-rate schedule.
//!
//! **[`AdamW`]** matches `torch.optim.AdamW` of torch 2.8 with `amsgrad=False`, `maximize=False`,
//! the single-tensor (non-foreach, non-fused) implementation that PyTorch uses for CPU tensors,
//! evaluated in f32 in the same order, per parameter with its own step count:
//! ```text
//! step += 1
//! p   = p * (1 - lr * weight_decay)                 (decoupled decay, before the Adam update)
//! m   = m + (1 - beta1) * (g - m)                   (torch.lerp with weight 1 - beta1 < 0.5)
//! v   = v * beta2 + (1 - beta2) * g * g
//! denom = sqrt(v) / sqrt(1 - beta2^step) + eps
//! p   = p - (lr / (1 - beta1^step)) * m / denom
//! ```
//! Scalars (`1 - lr*wd`, bias corrections, step size) are computed in f64 like Python floats and
//! applied as f32. As in PyTorch, a parameter without a gradient in a step (PyTorch: `p.grad is
//! None`, here: absent from the [`GradStore`]) is skipped entirely (no decay, no state change).
//! The state (per parameter key: step, `exp_avg`, `exp_avg_sq`) round-trips through safetensors
//! ([`AdamW::save_state`] / [`AdamW::load_state`]) for resuming.
//!
//! **[`LrSchedule`]** is the published SAMCell training code's `LambdaLR(optimizer,
//! lr_lambda=lr_warmup)` (repository `saahilsanganeriya/SAMCellv202`, `code/utils.py`), following
//! the paper ("warm-up of 250 iterations, then linear decay to zero", after SAMed):
//! ```text
//! factor(i) = i / warmup                                        if i < warmup
//!           = max(0, (total - i) / max(1, total - warmup))      otherwise
//! lr(i)     = base_lr * factor(i)
//! ```
//! where `i` is the 0-based index of the optimiser step (`scheduler.step()` follows every
//! `optimizer.step()`, so step 0 runs with lr 0, step 1 with base_lr / warmup, ...).

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Result, Tensor, Var};
use std::collections::HashMap;
use std::path::Path;

/// Hyper-parameters of [`AdamW`] (defaults: the paper's, with PyTorch's eps).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate (1e-4; a schedule overrides it at every step).
    pub lr: f64,
    /// Decay of the first-moment (mean) estimate (0.9).
    pub beta1: f64,
    /// Decay of the second-moment (uncentred variance) estimate (0.999).
    pub beta2: f64,
    /// Added to the denominator's square root for stability (1e-8).
    pub eps: f64,
    /// Decoupled weight decay, times the learning rate per step (0.1).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.1,
        }
    }
}

struct ParamState {
    step: u64,
    m: Tensor,
    v: Tensor,
}

/// `torch.optim.AdamW` over named variables (see the module documentation).
pub struct AdamW {
    params: Vec<(String, Var)>,
    state: HashMap<String, ParamState>,
    /// The hyper-parameters of the next step.
    pub config: AdamWConfig,
}

impl AdamW {
    /// An optimiser over `params` (name, variable) with no moments yet.
    pub fn new(params: Vec<(String, Var)>, config: AdamWConfig) -> Self {
        Self {
            params,
            state: HashMap::new(),
            config,
        }
    }

    /// Sets the learning rate of the next steps (what a scheduler does to the param group).
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// The learning rate of the next step.
    pub fn lr(&self) -> f64 {
        self.config.lr
    }

    /// The optimised variables with their names, in the order given to [`AdamW::new`].
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// Number of updates applied to parameter `key` so far (0 if never).
    pub fn step_count(&self, key: &str) -> u64 {
        self.state.get(key).map_or(0, |s| s.step)
    }

    /// One optimiser step with the gradients of `grads`.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        let c = self.config;
        for (key, var) in &self.params {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            // Detached: candle's parameter gradients are tracked tensors whose ops reference the
            // forward graph (e.g. `grad_out.matmul(input^T)`); moments computed from them would
            // keep every step's whole graph alive through `m` and `v`, chained across steps.
            let g = g.to_dtype(DType::F32)?.detach();
            let st = match self.state.get_mut(key) {
                Some(s) => s,
                None => {
                    let z = var.as_tensor().zeros_like()?;
                    self.state.entry(key.clone()).or_insert(ParamState {
                        step: 0,
                        m: z.clone(),
                        v: z,
                    })
                }
            };
            st.step += 1;
            let p = var
                .as_tensor()
                .detach()
                .affine(1.0 - c.lr * c.weight_decay, 0.0)?;
            let m = (&st.m + (g.sub(&st.m)?.affine(1.0 - c.beta1, 0.0))?)?;
            let v = (st.v.affine(c.beta2, 0.0)? + g.sqr()?.affine(1.0 - c.beta2, 0.0)?)?;
            let step = st.step as f64;
            let bc1 = 1.0 - c.beta1.powf(step);
            let bc2_sqrt = (1.0 - c.beta2.powf(step)).sqrt();
            let step_size = c.lr / bc1;
            let denom = (v.sqrt()?.affine(1.0 / bc2_sqrt, 0.0)? + c.eps)?;
            // torch divides by the f32 bias correction; multiplying by its reciprocal differs by
            // at most 1 ulp of denom, far inside the parity tolerance
            let p = (p - m.div(&denom)?.affine(step_size, 0.0)?)?;
            var.set(&p)?;
            st.m = m;
            st.v = v;
        }
        Ok(())
    }

    /// Writes the optimiser state as safetensors: `exp_avg.<key>`, `exp_avg_sq.<key>` (f32) and
    /// `step.<key>` (a one-element i64 tensor) for every parameter that has state.
    pub fn save_state(&self, path: &Path) -> Result<()> {
        let mut out: HashMap<String, Tensor> = HashMap::new();
        for (key, st) in &self.state {
            out.insert(format!("exp_avg.{key}"), st.m.to_device(&Device::Cpu)?);
            out.insert(format!("exp_avg_sq.{key}"), st.v.to_device(&Device::Cpu)?);
            out.insert(
                format!("step.{key}"),
                Tensor::new(&[st.step as i64], &Device::Cpu)?,
            );
        }
        candle_core::safetensors::save(&out, path)
    }

    /// Restores a state written by [`AdamW::save_state`] for this optimiser's parameters
    /// (on their devices). Keys of parameters this optimiser does not have are an error, and so
    /// are shape mismatches.
    pub fn load_state(&mut self, path: &Path) -> Result<()> {
        let raw = candle_core::safetensors::load(path, &Device::Cpu)?;
        let vars: HashMap<&str, &Var> = self.params.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut state = HashMap::new();
        for (name, t) in &raw {
            let Some(key) = name.strip_prefix("step.") else {
                continue;
            };
            let var = vars.get(key).ok_or_else(|| {
                candle_core::Error::Msg(format!("optimiser state for unknown parameter {key}"))
            })?;
            let step = t.flatten_all()?.to_vec1::<i64>()?;
            let step = *step
                .first()
                .ok_or_else(|| candle_core::Error::Msg(format!("empty step for {key}")))?;
            let get = |prefix: &str| -> Result<Tensor> {
                let t = raw.get(&format!("{prefix}.{key}")).ok_or_else(|| {
                    candle_core::Error::Msg(format!("optimiser state has no {prefix}.{key}"))
                })?;
                if t.dims() != var.dims() {
                    candle_core::bail!(
                        "optimiser state {prefix}.{key} has shape {:?}, parameter {:?}",
                        t.dims(),
                        var.dims()
                    );
                }
                t.to_dtype(DType::F32)?.to_device(var.device())
            };
            state.insert(
                key.to_string(),
                ParamState {
                    step: step.max(0) as u64,
                    m: get("exp_avg")?,
                    v: get("exp_avg_sq")?,
                },
            );
        }
        self.state = state;
        Ok(())
    }
}

/// The paper's learning-rate schedule (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrSchedule {
    /// Peak learning rate, reached at the end of the warm-up.
    pub base_lr: f64,
    /// Warm-up steps (paper: 250).
    pub warmup: usize,
    /// Total number of optimiser steps of the run.
    pub total: usize,
}

impl LrSchedule {
    /// The multiplier of `base_lr` at 0-based optimiser step `i`.
    pub fn factor(&self, i: usize) -> f64 {
        if i < self.warmup {
            i as f64 / self.warmup as f64
        } else {
            let left = self.total as f64 - i as f64;
            let span = (self.total as f64 - self.warmup as f64).max(1.0);
            (left / span).max(0.0)
        }
    }

    /// Learning rate of 0-based optimiser step `i`.
    pub fn lr(&self, i: usize) -> f64 {
        self.base_lr * self.factor(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_matches_the_published_lambda() {
        let s = LrSchedule {
            base_lr: 1e-4,
            warmup: 250,
            total: 10800,
        };
        assert_eq!(s.factor(0), 0.0);
        assert_eq!(s.factor(1), 1.0 / 250.0);
        assert_eq!(s.factor(249), 249.0 / 250.0);
        assert_eq!(s.factor(250), 1.0);
        assert_eq!(s.factor(251), 10549.0 / 10550.0);
        assert_eq!(s.factor(10800), 0.0);
        assert_eq!(s.factor(20000), 0.0);
        // total <= warmup: the guard max(1, total - warmup) of the reference
        let t = LrSchedule {
            base_lr: 1.0,
            warmup: 250,
            total: 100,
        };
        assert_eq!(t.factor(250), 0.0);
    }

    /// Two steps on a 3-element parameter against values computed by hand from torch's formula
    /// (f64 reference, tolerance 1e-7 absolute).
    #[test]
    fn adamw_two_steps_match_the_formula() {
        let d = Device::Cpu;
        let p0 = [0.5f64, -1.0, 2.0];
        let gs = [[0.1f64, -0.2, 1e-9], [0.3, 0.0, -0.5]];
        let var = Var::from_tensor(&Tensor::new(&[0.5f32, -1.0, 2.0], &d).unwrap()).unwrap();
        let mut opt = AdamW::new(vec![("w".into(), var.clone())], AdamWConfig::default());
        let (mut p, mut m, mut v) = (p0, [0f64; 3], [0f64; 3]);
        let c = AdamWConfig::default();
        for (k, g) in gs.iter().enumerate() {
            let gt = Tensor::new(&[g[0] as f32, g[1] as f32, g[2] as f32], &d).unwrap();
            let loss = (var.as_tensor() * &gt).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            opt.step(&grads).unwrap();
            let step = (k + 1) as f64;
            for i in 0..3 {
                let gi = g[i] as f32 as f64;
                p[i] *= 1.0 - c.lr * c.weight_decay;
                m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * gi;
                v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * gi * gi;
                let denom = (v[i].sqrt() / (1.0 - c.beta2.powf(step)).sqrt()) + c.eps;
                p[i] -= c.lr / (1.0 - c.beta1.powf(step)) * m[i] / denom;
            }
            let got = var.as_tensor().to_vec1::<f32>().unwrap();
            for i in 0..3 {
                assert!(
                    (got[i] as f64 - p[i]).abs() <= 1e-7,
                    "step {k} element {i}: {} vs {}",
                    got[i],
                    p[i]
                );
            }
        }
        assert_eq!(opt.step_count("w"), 2);
    }

    /// The optimiser state must not hold on to the step's autograd graph: a parameter gradient
    /// from candle's backward is itself a tracked tensor (here `g * x`, which references the
    /// forward graph), so moments computed from it without detaching chain every step's graph.
    #[test]
    fn optimiser_state_holds_no_graph() {
        let d = Device::Cpu;
        let w = Var::from_tensor(&Tensor::new(&[0.5f32, -1.0], &d).unwrap()).unwrap();
        let x = Var::from_tensor(&Tensor::new(&[2.0f32, 3.0], &d).unwrap()).unwrap();
        let mut opt = AdamW::new(vec![("w".into(), w.clone())], AdamWConfig::default());
        for _ in 0..2 {
            let loss = (w.as_tensor() * x.as_tensor())
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = loss.backward().unwrap();
            assert!(
                grads.get(w.as_tensor()).unwrap().track_op(),
                "premise: candle's gradient is tracked"
            );
            opt.step(&grads).unwrap();
            let st = &opt.state["w"];
            assert!(
                !st.m.track_op() && !st.v.track_op(),
                "moments keep the autograd graph alive"
            );
            assert!(!w.as_tensor().detach().track_op());
        }
    }

    #[test]
    fn parameters_without_gradient_are_skipped() {
        let d = Device::Cpu;
        let a = Var::from_tensor(&Tensor::new(&[1f32, 2.0], &d).unwrap()).unwrap();
        let b = Var::from_tensor(&Tensor::new(&[3f32, 4.0], &d).unwrap()).unwrap();
        let mut opt = AdamW::new(
            vec![("a".into(), a.clone()), ("b".into(), b.clone())],
            AdamWConfig::default(),
        );
        let grads = a.as_tensor().sum_all().unwrap().backward().unwrap();
        opt.step(&grads).unwrap();
        assert_eq!(
            b.as_tensor().to_vec1::<f32>().unwrap(),
            vec![3.0, 4.0],
            "no decay without a gradient"
        );
        assert_ne!(a.as_tensor().to_vec1::<f32>().unwrap(), vec![1.0, 2.0]);
        assert_eq!(opt.step_count("b"), 0);
    }

    #[test]
    fn state_round_trips() {
        let d = Device::Cpu;
        let mk = || Var::from_tensor(&Tensor::new(&[1f32, -2.0, 0.5], &d).unwrap()).unwrap();
        let (a, b) = (mk(), mk());
        let mut oa = AdamW::new(vec![("w".into(), a.clone())], AdamWConfig::default());
        let mut ob = AdamW::new(vec![("w".into(), b.clone())], AdamWConfig::default());
        let g = Tensor::new(&[0.3f32, -0.1, 0.7], &d).unwrap();
        let step = |var: &Var, opt: &mut AdamW| {
            let grads = (var.as_tensor() * &g)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            opt.step(&grads).unwrap();
        };
        step(&a, &mut oa);
        step(&b, &mut ob);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opt.safetensors");
        oa.save_state(&path).unwrap();
        let mut oc = AdamW::new(vec![("w".into(), b.clone())], AdamWConfig::default());
        oc.load_state(&path).unwrap();
        step(&a, &mut oa);
        step(&b, &mut oc);
        let (x, y) = (
            a.as_tensor().to_vec1::<f32>().unwrap(),
            b.as_tensor().to_vec1::<f32>().unwrap(),
        );
        assert_eq!(x, y, "resumed optimiser must continue identically");
        assert_eq!(oc.step_count("w"), 2);
    }
}
