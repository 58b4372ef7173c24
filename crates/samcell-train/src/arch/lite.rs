//! samcell-lite (the small U-Net of the `samcell-lite` crate) as a [`TrainableModel`].
//!
//! Every parameter is trainable. The network is `samcell_lite::LiteNet` built from the
//! variables' tensors, so the optimiser's in-place updates (`Var::set`) are seen by the next
//! forward; the encoding is `samcell_lite::encode` (enhanced u8 / 255, one channel), the same
//! function `LitePredictor` uses at inference, and the logits are at the crop's resolution.
//! [`TrainableLite::save_safetensors`] writes the file `samcell segment --model PATH`-style
//! loading reads (`samcell_lite::LiteModel::load`): the tensors plus the `LiteConfig` in the
//! safetensors metadata. Train on crops of `config.crop` pixels: the per-crop CLAHE depends on
//! the crop size, and inference uses that size.
//!
//! [`TrainableLite::from_scratch`]: Kaiming-normal 3x3 convolutions (`N(0, 2 / fan_in)`, ReLU
//! gain), `N(0, 1 / fan_in)` for the 1x1 convolutions, zero biases, GroupNorm weight 1 / bias 0,
//! from a seeded splitmix64 stream (`samcell_lite::init_params`).

use crate::model::TrainableModel;
use candle_core::{Device, Result, Tensor, Var};
use samcell_imaging::GrayU8;
use samcell_lite::{LiteConfig, LiteError, LiteModel, LiteNet};
use std::collections::HashMap;
use std::path::Path;

/// A samcell-lite model being trained.
pub struct TrainableLite {
    config: LiteConfig,
    /// Every parameter, in `samcell_lite::param_specs` order.
    vars: Vec<(String, Var)>,
    net: LiteNet,
    device: Device,
}

fn lite_err(e: LiteError) -> candle_core::Error {
    match e {
        LiteError::Candle(e) => e,
        // with its causes: an I/O error is the source, not part of the message
        e => candle_core::Error::Msg(crate::error::chain(&e)),
    }
}

impl TrainableLite {
    /// A freshly initialised model of shape `config` on `device` (see the module doc).
    pub fn from_scratch(
        config: LiteConfig,
        seed: u64,
        device: &Device,
    ) -> std::result::Result<Self, LiteError> {
        let params = samcell_lite::init_params(&config, seed, device)?;
        Self::from_params(config, params, device)
    }

    /// Continues from a weights file (e.g. the built-in model or an earlier run's export).
    pub fn load(path: &Path, device: &Device) -> std::result::Result<Self, LiteError> {
        let model = LiteModel::load(path)?;
        let params = samcell_lite::param_specs(&model.config)
            .into_iter()
            .map(|s| {
                Ok((
                    s.name.clone(),
                    model.net.tensor(&s.name)?.to_device(device)?,
                ))
            })
            .collect::<std::result::Result<Vec<_>, LiteError>>()?;
        Self::from_params(model.config.clone(), params, device)
    }

    fn from_params(
        config: LiteConfig,
        params: Vec<(String, Tensor)>,
        device: &Device,
    ) -> std::result::Result<Self, LiteError> {
        let vars = params
            .into_iter()
            .map(|(k, t)| Ok((k, Var::from_tensor(&t)?)))
            .collect::<std::result::Result<Vec<_>, LiteError>>()?;
        let tensors: HashMap<String, Tensor> = vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect();
        let net = LiteNet::from_tensors(&config, tensors)?;
        Ok(Self {
            config,
            vars,
            net,
            device: device.clone(),
        })
    }

    /// The network's shape and tiling.
    pub fn config(&self) -> &LiteConfig {
        &self.config
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Every parameter tensor by key (current values).
    pub fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect()
    }
}

impl TrainableModel for TrainableLite {
    fn describe(&self) -> String {
        format!("lite {}", self.config.describe())
    }

    fn trainable(&self) -> Vec<(String, Var)> {
        self.vars.clone()
    }

    fn encode(&self, crops: &[GrayU8], device: &Device) -> Result<Tensor> {
        samcell_lite::encode(crops, device)
    }

    fn forward_logits(&self, input: &Tensor) -> Result<Tensor> {
        self.net.forward_logits(input)
    }

    fn save_safetensors(&self, path: &Path) -> Result<()> {
        samcell_lite::save_safetensors(path, &self.config, &self.state_dict()).map_err(lite_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;
    use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};

    fn small() -> LiteConfig {
        LiteConfig {
            base_width: 4,
            levels: 2,
            norm_groups: 2,
            crop: 64,
            overlap: 16,
        }
    }

    /// A crop with two bright discs and its distance-map-like target.
    fn sample(side: usize) -> (GrayU8, Tensor) {
        let mut img = GrayU8::filled(side, side, 40);
        let mut target = vec![0f32; side * side];
        for (cx, cy, r) in [(20.0f32, 22.0f32, 12.0f32), (44.0, 40.0, 14.0)] {
            for y in 0..side {
                for x in 0..side {
                    let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                    if d < r {
                        img.set(x, y, 200 - (d * 4.0) as u8);
                        target[y * side + x] = 1.0 - d / r;
                    }
                }
            }
        }
        (
            img,
            Tensor::from_vec(target, (1, side, side), &Device::Cpu).expect("target"),
        )
    }

    fn loss(m: &TrainableLite, input: &Tensor, target: &Tensor) -> Tensor {
        let logits = m.forward_logits(input).expect("forward");
        let p = candle_nn::ops::sigmoid(&logits).expect("sigmoid");
        (p - target)
            .expect("sub")
            .sqr()
            .expect("sqr")
            .mean_all()
            .expect("mean")
    }

    #[test]
    fn adamw_steps_lower_the_loss_and_every_parameter_gets_a_gradient() {
        let dev = Device::Cpu;
        let m = TrainableLite::from_scratch(small(), 11, &dev).expect("init");
        let (img, target) = sample(64);
        let input = m.encode(std::slice::from_ref(&img), &dev).expect("encode");
        assert_eq!(input.dims(), &[1, 1, 64, 64]);
        assert_eq!(
            m.forward_logits(&input).expect("forward").dims(),
            &[1, 64, 64]
        );
        let l0 = loss(&m, &input, &target);
        let grads = l0.backward().expect("backward");
        assert_eq!(
            m.trainable().len(),
            samcell_lite::param_specs(m.config()).len()
        );
        for (k, v) in m.trainable() {
            let g = grads
                .get(v.as_tensor())
                .unwrap_or_else(|| panic!("{k}: no gradient"));
            let s = g
                .abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            assert!(s > 0.0 && s.is_finite(), "{k}: gradient sum |g| = {s}");
        }
        let mut opt = AdamW::new(
            m.trainable().into_iter().map(|(_, v)| v).collect(),
            ParamsAdamW {
                lr: 3e-3,
                ..Default::default()
            },
        )
        .expect("optimiser");
        let first = l0.to_scalar::<f32>().expect("scalar");
        for _ in 0..15 {
            opt.backward_step(&loss(&m, &input, &target)).expect("step");
        }
        let last = loss(&m, &input, &target)
            .to_scalar::<f32>()
            .expect("scalar");
        assert!(
            last < 0.8 * first,
            "15 AdamW steps: loss {first} -> {last} (expected a 20 % drop; 28 % measured)"
        );
    }

    #[test]
    fn saved_file_loads_for_inference_with_the_same_logits() {
        let dev = Device::Cpu;
        let m = TrainableLite::from_scratch(small(), 3, &dev).expect("init");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lite.safetensors");
        m.save_safetensors(&path).expect("save");
        let loaded = LiteModel::load(&path).expect("load");
        assert_eq!(&loaded.config, m.config());
        let (img, _) = sample(64);
        let input = m.encode(std::slice::from_ref(&img), &dev).expect("encode");
        let a: Vec<f32> = m
            .forward_logits(&input)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let b: Vec<f32> = loaded
            .net
            .forward_logits(&input)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(a, b, "training and inference give bit-identical logits");
        let again = TrainableLite::load(&path, &dev).expect("resume from the file");
        assert_eq!(again.state_dict().len(), m.state_dict().len());
    }
}
