//! The network: a plain U-Net on one grey channel.
//!
//! Level `i` (`0..levels`) has `w_i = base_width * 2^i` channels at `1 / 2^i` resolution:
//!
//! - encoder `enc.i`: two 3x3 convolutions (zero padding 1) `in -> w_i -> w_i`, each followed by
//!   GroupNorm (when `norm_groups > 0`) and ReLU; then 2x2 max pooling;
//! - bottleneck `mid`: the same block `w_{L-1} -> w_L -> w_L` at `1 / 2^L` resolution;
//! - decoder `dec.i` (from the bottom up): a 1x1 convolution `w_{i+1} -> w_i` at the lower
//!   resolution (`dec.i.reduce`, cheaper than convolving after up-sampling), 2x nearest
//!   up-sampling, concatenation `[up, skip_i]` (`2 w_i` channels) and a block `2 w_i -> w_i -> w_i`;
//! - head: a 1x1 convolution `w_0 -> 1`: the logit of the distance map.
//!
//! Inputs of any size are padded (edge replication) to a multiple of `2^levels` and the logits
//! cropped back, so the output always has the crop's resolution. On the CPU the convolutions
//! (with bias and ReLU fused), pooling and up-sampling are this crate's parallel kernels with
//! their own backward passes ([`crate::conv`]); elsewhere candle's ops. The same code serves
//! inference and training.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};

use crate::{LiteConfig, LiteError};

/// GroupNorm epsilon (PyTorch's default).
pub const NORM_EPS: f64 = 1e-5;

/// How a parameter is initialised by [`init_params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// Kaiming normal for ReLU: `N(0, 2 / fan_in)`.
    KaimingRelu,
    /// Linear output: `N(0, 1 / fan_in)`.
    Linear,
    /// All 0 (biases, GroupNorm shifts).
    Zeros,
    /// All 1 (GroupNorm scales).
    Ones,
}

/// One parameter of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSpec {
    /// Key in the weights file.
    pub name: String,
    /// Tensor shape (convolutions: `[out, in, k, k]`).
    pub shape: Vec<usize>,
    /// Resolution level it works at (`1 / 2^level`).
    pub level: usize,
    /// How [`init_params`] draws its initial values.
    pub init: Init,
}

fn conv_specs(
    out: &mut Vec<ParamSpec>,
    prefix: &str,
    cin: usize,
    cout: usize,
    k: usize,
    level: usize,
    init: Init,
) {
    out.push(ParamSpec {
        name: format!("{prefix}.weight"),
        shape: vec![cout, cin, k, k],
        level,
        init,
    });
    out.push(ParamSpec {
        name: format!("{prefix}.bias"),
        shape: vec![cout],
        level,
        init: Init::Zeros,
    });
}

fn block_specs(
    out: &mut Vec<ParamSpec>,
    prefix: &str,
    cin: usize,
    cout: usize,
    level: usize,
    groups: usize,
) {
    for (i, c) in [(1, cin), (2, cout)] {
        conv_specs(
            out,
            &format!("{prefix}.conv{i}"),
            c,
            cout,
            3,
            level,
            Init::KaimingRelu,
        );
        if groups > 0 {
            out.push(ParamSpec {
                name: format!("{prefix}.norm{i}.weight"),
                shape: vec![cout],
                level,
                init: Init::Ones,
            });
            out.push(ParamSpec {
                name: format!("{prefix}.norm{i}.bias"),
                shape: vec![cout],
                level,
                init: Init::Zeros,
            });
        }
    }
}

/// Every parameter of a network of shape `config`, in a stable order (encoder, bottleneck,
/// decoder from the bottom up, head).
pub fn param_specs(config: &LiteConfig) -> Vec<ParamSpec> {
    let mut out = Vec::new();
    let g = config.norm_groups;
    for i in 0..config.levels {
        let cin = if i == 0 { 1 } else { config.width(i - 1) };
        block_specs(&mut out, &format!("enc.{i}"), cin, config.width(i), i, g);
    }
    let l = config.levels;
    block_specs(&mut out, "mid", config.width(l - 1), config.width(l), l, g);
    for i in (0..l).rev() {
        conv_specs(
            &mut out,
            &format!("dec.{i}.reduce"),
            config.width(i + 1),
            config.width(i),
            1,
            i + 1,
            Init::Linear,
        );
        block_specs(
            &mut out,
            &format!("dec.{i}"),
            2 * config.width(i),
            config.width(i),
            i,
            g,
        );
    }
    conv_specs(&mut out, "head", config.width(0), 1, 1, 0, Init::Linear);
    out
}

/// Number of scalar parameters.
pub fn param_count(config: &LiteConfig) -> usize {
    param_specs(config)
        .iter()
        .map(|s| s.shape.iter().product::<usize>())
        .sum()
}

/// splitmix64: a small, seedable generator (no dependency, same numbers everywhere).
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Fresh parameters of `config` (Kaiming normal convolutions, zero biases, unit norms), from
/// `seed`: the same seed gives the same values on every machine.
pub fn init_params(
    config: &LiteConfig,
    seed: u64,
    device: &Device,
) -> Result<Vec<(String, Tensor)>, LiteError> {
    config.validate()?;
    let mut rng = SplitMix(seed);
    param_specs(config)
        .into_iter()
        .map(|s| {
            let n: usize = s.shape.iter().product();
            let fan_in: usize = s.shape[1..].iter().product::<usize>().max(1);
            let data: Vec<f32> = match s.init {
                Init::Zeros => vec![0.0; n],
                Init::Ones => vec![1.0; n],
                Init::KaimingRelu | Init::Linear => {
                    let gain = if s.init == Init::KaimingRelu {
                        2.0
                    } else {
                        1.0
                    };
                    let std = (gain / fan_in as f64).sqrt();
                    (0..n).map(|_| (rng.normal() * std) as f32).collect()
                }
            };
            Ok((s.name, Tensor::from_vec(data, s.shape, device)?))
        })
        .collect()
}

/// A convolution with "same" zero padding (`k / 2`) and a bias.
struct Conv {
    w: Tensor,
    b: Tensor,
}

impl Conv {
    /// `conv(x) + b`, then ReLU when `relu`.
    fn forward(&self, x: &Tensor, relu: bool) -> candle_core::Result<Tensor> {
        crate::conv::conv_bias_act(x, &self.w, &self.b, relu)
    }
}

struct Norm {
    gamma: Tensor,
    beta: Tensor,
    groups: usize,
}

impl Norm {
    /// PyTorch `F.relu(nn.GroupNorm(groups, C, eps=1e-5)(x))` (biased variance over each group).
    fn forward_relu(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        crate::conv::norm::group_norm_act(x, &self.gamma, &self.beta, self.groups, NORM_EPS, true)
    }
}

struct Block {
    convs: [(Conv, Option<Norm>); 2],
}

impl Block {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for (conv, norm) in &self.convs {
            x = match norm {
                None => conv.forward(&x, true)?,
                Some(n) => n.forward_relu(&conv.forward(&x, false)?)?,
            };
        }
        Ok(x)
    }
}

struct Dec {
    reduce: Conv,
    block: Block,
}

/// The network with its tensors (plain tensors for inference, or the tensors of training `Var`s,
/// which keeps the autograd graph).
pub struct LiteNet {
    config: LiteConfig,
    enc: Vec<Block>,
    mid: Block,
    /// `dec[i]` works at level `i`.
    dec: Vec<Dec>,
    head: Conv,
    /// Every parameter by key, in [`param_specs`] order.
    params: Vec<(String, Tensor)>,
}

impl std::fmt::Debug for LiteNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteNet")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

use crate::conv::pointwise::{max_pool2, up2};

impl LiteNet {
    /// Builds the network from named tensors; every parameter of [`param_specs`] must be present
    /// with its shape and dtype f32, and no other tensor may be.
    pub fn from_tensors(
        config: &LiteConfig,
        mut tensors: HashMap<String, Tensor>,
    ) -> Result<Self, LiteError> {
        config.validate()?;
        for s in param_specs(config) {
            let t = tensors.get(&s.name).ok_or_else(|| {
                LiteError::Format(format!(
                    "missing tensor {:?} for {}",
                    s.name,
                    config.describe()
                ))
            })?;
            if t.dims() != s.shape.as_slice() || t.dtype() != DType::F32 {
                return Err(LiteError::Format(format!(
                    "tensor {:?} is {:?} {:?}, expected f32 {:?}",
                    s.name,
                    t.dtype(),
                    t.dims(),
                    s.shape
                )));
            }
        }
        if tensors.len() != param_specs(config).len() {
            let known: Vec<String> = param_specs(config).into_iter().map(|s| s.name).collect();
            let mut extra: Vec<&String> = tensors.keys().filter(|k| !known.contains(k)).collect();
            extra.sort();
            return Err(LiteError::Format(format!(
                "unexpected tensors {extra:?} for {}",
                config.describe()
            )));
        }
        let params: Vec<(String, Tensor)> = param_specs(config)
            .into_iter()
            .map(|s| (s.name.clone(), tensors[&s.name].clone()))
            .collect();
        let mut take = |name: String| {
            tensors
                .remove(&name)
                .ok_or_else(|| LiteError::Format(format!("missing {name}")))
        };
        let mut conv = |prefix: &str| -> Result<Conv, LiteError> {
            Ok(Conv {
                w: take(format!("{prefix}.weight"))?,
                b: take(format!("{prefix}.bias"))?,
            })
        };
        let groups = config.norm_groups;
        let mut block_convs = |prefix: &str| -> Result<[Conv; 2], LiteError> {
            Ok([
                conv(&format!("{prefix}.conv1"))?,
                conv(&format!("{prefix}.conv2"))?,
            ])
        };
        let mut enc_c = Vec::new();
        for i in 0..config.levels {
            enc_c.push(block_convs(&format!("enc.{i}"))?);
        }
        let mid_c = block_convs("mid")?;
        let mut dec_c = Vec::new();
        for i in 0..config.levels {
            dec_c.push(block_convs(&format!("dec.{i}"))?);
        }
        let mut reduces = Vec::new();
        for i in 0..config.levels {
            reduces.push(conv(&format!("dec.{i}.reduce"))?);
        }
        let head = conv("head")?;
        let mut norm = |prefix: &str, i: usize| -> Result<Option<Norm>, LiteError> {
            if groups == 0 {
                return Ok(None);
            }
            Ok(Some(Norm {
                gamma: take(format!("{prefix}.norm{i}.weight"))?,
                beta: take(format!("{prefix}.norm{i}.bias"))?,
                groups,
            }))
        };
        let mut block = |prefix: &str, convs: [Conv; 2]| -> Result<Block, LiteError> {
            let [c1, c2] = convs;
            Ok(Block {
                convs: [(c1, norm(prefix, 1)?), (c2, norm(prefix, 2)?)],
            })
        };
        let enc = enc_c
            .into_iter()
            .enumerate()
            .map(|(i, c)| block(&format!("enc.{i}"), c))
            .collect::<Result<Vec<_>, _>>()?;
        let mid = block("mid", mid_c)?;
        let dec = dec_c
            .into_iter()
            .zip(reduces)
            .enumerate()
            .map(|(i, (c, reduce))| {
                Ok(Dec {
                    reduce,
                    block: block(&format!("dec.{i}"), c)?,
                })
            })
            .collect::<Result<Vec<_>, LiteError>>()?;
        Ok(Self {
            config: config.clone(),
            enc,
            mid,
            dec,
            head,
            params,
        })
    }

    /// Every parameter by key, in [`param_specs`] order.
    pub fn params(&self) -> &[(String, Tensor)] {
        &self.params
    }

    /// The parameter `name`.
    pub fn tensor(&self, name: &str) -> Result<&Tensor, LiteError> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, t)| t)
            .ok_or_else(|| LiteError::Format(format!("no parameter {name:?}")))
    }

    /// The network's shape.
    pub fn config(&self) -> &LiteConfig {
        &self.config
    }

    /// Logits `(B, H, W)` of an input `(B, 1, H, W)` (see [`crate::encode`]).
    pub fn forward_logits(&self, input: &Tensor) -> candle_core::Result<Tensor> {
        let (_, c, h, w) = input.dims4()?;
        if c != 1 {
            candle_core::bail!("samcell-lite takes one input channel, got {c}");
        }
        let m = self.config.multiple();
        let (hp, wp) = (h.div_ceil(m) * m, w.div_ceil(m) * m);
        let mut x = input.clone();
        if hp != h {
            x = x.pad_with_same(2, 0, hp - h)?;
        }
        if wp != w {
            x = x.pad_with_same(3, 0, wp - w)?;
        }
        let mut skips = Vec::with_capacity(self.enc.len());
        for blk in &self.enc {
            let y = blk.forward(&x)?;
            x = max_pool2(&y)?;
            skips.push(y);
        }
        x = self.mid.forward(&x)?;
        for (dec, skip) in self.dec.iter().zip(skips).rev() {
            let up = up2(&dec.reduce.forward(&x, false)?)?;
            x = dec.block.forward(&Tensor::cat(&[&up, &skip], 1)?)?;
        }
        let logits = self.head.forward(&x, false)?.squeeze(1)?;
        if hp != h || wp != w {
            logits.narrow(1, 0, h)?.narrow(2, 0, w)?.contiguous()
        } else {
            Ok(logits)
        }
    }
}
