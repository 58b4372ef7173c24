//! SAM as SAMCell fine-tunes it (the paper's training protocol): the vision encoder and the mask
//! decoder are trainable, the prompt encoder and the shared positional embedding are frozen, the
//! input carries no prompt, and the loss sees the logits of mask token 1 (the first multimask
//! output, `pred_masks.squeeze(1)[:, 0]` in the published training code).
//!
//! The model is `samcell_model::SamModel` built with [`Mode::Train`] from the variables' tensors,
//! so the optimiser's in-place updates (`Var::set`) are used by the next forward, and only
//! differentiable candle ops are on the path (no CPU-only kernel: it runs on any candle device).
//!
//! Parameters and gradients follow PyTorch's autograd: the hypernetworks of mask tokens 0, 2 and 3
//! are in the graph and get zero gradients (so AdamW decays them), the IoU head is not and gets
//! none (so AdamW skips it), exactly as `torch.optim.AdamW` treats them after `loss.backward()`.
//!
//! [`TrainableSam::from_scratch`] initialises like transformers 4.57 `SamModel(config)`
//! (`SamPreTrainedModel._init_weights`): linear, convolution and transposed-convolution weights
//! normal(0, std) with std = the vision config's `initializer_range` (1e-10) inside the vision
//! encoder and the top-level `initializer_range` (0.02) elsewhere; embeddings (`iou_token`,
//! `mask_tokens`, the prompt embeddings) normal(0, 0.02); biases 0; layer norms weight 1, bias 0;
//! `pos_embed` and the relative-position tables 0; the `positional_embedding` buffer
//! `(hidden/2) * N(0, 1)` (hidden = prompt-encoder width). Differences: the random stream is a
//! seeded ChaCha8 with Box-Muller normals, not torch's generator, so values differ from
//! `torch.manual_seed(seed)`; the distributions are the same.

use crate::model::TrainableModel;
use candle_core::{DType, Device, Result, Tensor, Var};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use samcell_imaging::GrayU8;
use samcell_model::sam_input::{write_pixel_values, PIXEL_VALUES_LEN, SAM_INPUT_SIZE};
use samcell_model::{read_checkpoint, HeadOverrides, Mode, ModelError, SamConfig, SamModel};
use std::collections::HashMap;
use std::path::Path;

/// Vision-encoder `initializer_range` of transformers' `SamVisionConfig` (default).
pub const VISION_INIT_STD: f64 = 1e-10;
/// Top-level `initializer_range` of transformers' `SamConfig` (default).
pub const INIT_STD: f64 = 0.02;

/// A SAM model being fine-tuned.
pub struct TrainableSam {
    model: SamModel,
    /// Trainable parameters (vision_encoder.*, mask_decoder.*), sorted by key.
    vars: Vec<(String, Var)>,
    /// Every tensor by key (trainable ones as views of their variables).
    tensors: HashMap<String, Tensor>,
    device: Device,
}

/// Whether a Hugging Face SAM key is trained in the paper's protocol.
pub fn is_trainable(key: &str) -> bool {
    key.starts_with("vision_encoder.") || key.starts_with("mask_decoder.")
}

impl TrainableSam {
    /// Loads a checkpoint (`.pt`/`.pth`/`.bin`/`.safetensors`, any SAM configuration) onto `device`.
    pub fn load(
        path: &Path,
        heads: Option<HeadOverrides>,
        device: &Device,
    ) -> std::result::Result<Self, ModelError> {
        let (ckpt, config) = read_checkpoint(path, heads)?;
        Self::from_checkpoint_tensors(ckpt.tensors, config, device)
    }

    /// Builds from CPU or device tensors in the Hugging Face layout (every expected key present).
    pub fn from_checkpoint_tensors(
        tensors: HashMap<String, Tensor>,
        config: SamConfig,
        device: &Device,
    ) -> std::result::Result<Self, ModelError> {
        let mut all = HashMap::with_capacity(tensors.len());
        let mut vars = Vec::new();
        for (key, t) in tensors {
            let t = t.to_dtype(DType::F32)?.to_device(device)?;
            if is_trainable(&key) {
                let var = Var::from_tensor(&t)?;
                all.insert(key.clone(), var.as_tensor().clone());
                vars.push((key, var));
            } else {
                all.insert(key, t);
            }
        }
        // the tied positional embedding may be stored once
        if !all.contains_key("prompt_encoder.shared_embedding.positional_embedding") {
            if let Some(t) = all
                .get("shared_image_embedding.positional_embedding")
                .cloned()
            {
                all.insert(
                    "prompt_encoder.shared_embedding.positional_embedding".into(),
                    t,
                );
            }
        }
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let missing: Vec<String> = config
            .expected_keys()
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !all.contains_key(k))
            .collect();
        if !missing.is_empty() {
            return Err(ModelError::MissingKeys(missing));
        }
        let model = SamModel::from_tensors(&all, config, device, Mode::Train)?;
        Ok(Self {
            model,
            vars,
            tensors: all,
            device: device.clone(),
        })
    }

    /// A freshly initialised model of `config` (see the module documentation for the rules).
    pub fn from_scratch(
        config: SamConfig,
        seed: u64,
        device: &Device,
    ) -> std::result::Result<Self, ModelError> {
        let mut rng = Normal::new(seed);
        let mut tensors = HashMap::new();
        let pos_scale = (config.decoder.hidden / 2) as f64;
        for (key, shape) in config.expected_keys() {
            let n: usize = shape.iter().product();
            let leaf = key.rsplit('.').next().unwrap_or("");
            let std = if key.starts_with("vision_encoder.") {
                VISION_INIT_STD
            } else {
                INIT_STD
            };
            let is_norm = key.contains("layer_norm") || key.contains("upscale_layer_norm");
            let values: Vec<f32> = if key.ends_with("positional_embedding") {
                if key.starts_with("prompt_encoder.") {
                    continue; // tied to shared_image_embedding, filled below
                }
                rng.fill(n, pos_scale)
            } else if leaf == "pos_embed"
                || leaf == "rel_pos_h"
                || leaf == "rel_pos_w"
                || leaf == "bias"
            {
                vec![0.0; n]
            } else if is_norm {
                vec![1.0; n] // layer-norm weights (their biases are handled above)
            } else {
                rng.fill(n, std)
            };
            tensors.insert(key, Tensor::from_vec(values, shape, &Device::Cpu)?);
        }
        Self::from_checkpoint_tensors(tensors, config, device)
    }

    /// The hyper-parameters of the model being trained.
    pub fn config(&self) -> &SamConfig {
        &self.model.config
    }

    /// The device the variables live on and training runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The differentiable model (its forward uses the variables' current values).
    pub fn model(&self) -> &SamModel {
        &self.model
    }

    /// Every tensor in the Hugging Face state-dict order of [`SamConfig::expected_keys`], with
    /// its current value.
    pub fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.model
            .config
            .expected_keys()
            .into_iter()
            .filter_map(|(k, _)| self.tensors.get(&k).map(|t| (k, t.clone())))
            .collect()
    }
}

/// Seeded normal samples (ChaCha8 + Box-Muller).
struct Normal {
    rng: rand_chacha::ChaCha8Rng,
    spare: Option<f64>,
}

impl Normal {
    fn new(seed: u64) -> Self {
        Self {
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            spare: None,
        }
    }

    fn uniform(&mut self) -> f64 {
        // (0, 1]: 53 random bits
        ((self.rng.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    fn sample(&mut self) -> f64 {
        if let Some(s) = self.spare.take() {
            return s;
        }
        let (u1, u2) = (self.uniform(), self.uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }

    fn fill(&mut self, n: usize, std: f64) -> Vec<f32> {
        (0..n).map(|_| (self.sample() * std) as f32).collect()
    }
}

impl TrainableModel for TrainableSam {
    fn describe(&self) -> String {
        format!("SAM {}", self.model.config.variant())
    }

    fn trainable(&self) -> Vec<(String, Var)> {
        self.vars.clone()
    }

    fn encode(&self, crops: &[GrayU8], device: &Device) -> Result<Tensor> {
        let mut input = vec![0f32; crops.len() * PIXEL_VALUES_LEN];
        for (buf, crop) in input.chunks_mut(PIXEL_VALUES_LEN).zip(crops) {
            write_pixel_values(crop, buf)
                .map_err(|e| candle_core::Error::Msg(format!("input encoding: {e}")))?;
        }
        Tensor::from_vec(
            input,
            (crops.len(), 3, SAM_INPUT_SIZE, SAM_INPUT_SIZE),
            device,
        )
    }

    fn forward_logits(&self, input: &Tensor) -> Result<Tensor> {
        self.model.token1_logits(input).map_err(|e| match e {
            ModelError::Compute(e) => e,
            other => candle_core::Error::Msg(other.to_string()),
        })
    }

    fn save_safetensors(&self, path: &Path) -> Result<()> {
        let mut out = HashMap::new();
        for (k, t) in self.state_dict() {
            out.insert(k, t.detach().to_device(&Device::Cpu)?.to_dtype(DType::F32)?);
        }
        candle_core::safetensors::save(&out, path)
    }
}
