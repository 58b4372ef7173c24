//! The whole SAM model as SAMCell runs it: image encoder, no-prompt mask decoder.

use crate::checkpoint::{Checkpoint, Format};
use crate::config::{HeadOverrides, SamConfig};
use crate::decoder::{DecoderOutput, MaskDecoder};
use crate::layers::{Exec, Mode, Weights};
use crate::vision::VisionEncoder;
use crate::ModelError;
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// A loaded SAM model.
pub struct SamModel {
    /// The hyper-parameters detected from the checkpoint.
    pub config: SamConfig,
    /// The file format the weights were read from (safetensors for models built from tensors).
    pub format: Format,
    vision: VisionEncoder,
    decoder: MaskDecoder,
    device: Device,
    mode: Mode,
    dtype: DType,
    /// CPU only: what the matrix products run in.
    cpu_precision: Option<&'static str>,
}

/// Everything the model computes for a batch (for parity checks).
pub struct SamOutput {
    /// (B, C, g, g)
    pub image_embeddings: Tensor,
    /// (B, 3, 4g, 4g) logits of mask tokens 1..=3
    pub pred_masks: Tensor,
    /// (B, 3)
    pub iou_scores: Tensor,
}

impl SamModel {
    /// Loads and validates a checkpoint (`.pt`/`.pth`/`.bin` zip or `.safetensors`). A
    /// `config.json` beside the checkpoint (Hugging Face format) supplies head counts that the
    /// tensor shapes cannot reveal; `heads` overrides both.
    pub fn load(path: &Path, heads: Option<HeadOverrides>) -> Result<Self, ModelError> {
        Self::load_on(path, heads, &Device::Cpu)
    }

    /// [`SamModel::load`] for inference on `device` (CPU or CUDA). On the CPU the fused
    /// kernels are used; elsewhere the same computations run as plain candle ops.
    pub fn load_on(
        path: &Path,
        heads: Option<HeadOverrides>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        Self::load_as(path, heads, device, DType::F32)
    }

    /// [`SamModel::load_on`] with the weights (and so every activation) in `dtype`: `F32`
    /// everywhere, or `BF16`. On a CUDA device `BF16` holds weights and activations in bf16 (the
    /// tensor cores' format). On the CPU the weights and activations stay f32 and `BF16` selects
    /// bf16 matrix products with f32 accumulation (`bf16_gemm`) where the CPU path has them
    /// ([`crate::cpu_path`]: AVX512-BF16); on a lower path the products stay f32 and
    /// [`SamModel::cpu_precision`] says so. The predictor casts its input to the weights' dtype
    /// and the distance maps back to f32.
    pub fn load_as(
        path: &Path,
        heads: Option<HeadOverrides>,
        device: &Device,
        dtype: DType,
    ) -> Result<Self, ModelError> {
        if dtype != DType::F32 && dtype != DType::BF16 {
            return Err(ModelError::Config(format!(
                "{dtype:?} inference is not supported (f32 or bf16)"
            )));
        }
        let cpu_bf16 = device.is_cpu() && dtype == DType::BF16;
        let (ckpt, config) = read_checkpoint(path, heads)?;
        let tensors = if device.is_cpu() {
            ckpt.tensors
        } else {
            ckpt.tensors
                .into_iter()
                .map(|(k, t)| Ok((k, t.to_device(device)?.to_dtype(dtype)?)))
                .collect::<candle_core::Result<HashMap<_, _>>>()?
        };
        let bf16_products =
            cpu_bf16 && crate::cpu_path::selected() == crate::cpu_path::CpuPath::Avx512Bf16;
        let exec = Exec::new(Mode::Infer, device).with_bf16(bf16_products);
        let mut model =
            Self::build(&tensors, config, device, exec).map_err(|e| ModelError::Checkpoint {
                path: path.to_path_buf(),
                reason: e.to_string(),
                source: None,
            })?;
        model.format = ckpt.format;
        model.dtype = if device.is_cpu() { DType::F32 } else { dtype };
        model.cpu_precision = if !device.is_cpu() {
            None
        } else if bf16_products {
            Some("bf16 products, f32 accumulation")
        } else if cpu_bf16 {
            Some("f32 (bf16 asked for, but this CPU path has no bf16 products)")
        } else {
            Some("f32")
        };
        Ok(model)
    }

    /// On the CPU, the precision the products run in (`f32`, or bf16 with f32 accumulation).
    pub fn cpu_precision(&self) -> Option<&'static str> {
        self.cpu_precision
    }

    /// The dtype of the weights and activations.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Builds the model from tensors in the Hugging Face key layout, already on `device`, for a
    /// known configuration (e.g. from [`Checkpoint::validate`]).
    ///
    /// With [`Mode::Train`] the model keeps the given tensors themselves (pass
    /// `Var::as_tensor()` clones: optimiser updates through `Var::set` are then seen by the next
    /// forward), derives every layout from them on each forward and uses only differentiable
    /// candle ops, so `Tensor::backward` on a loss gives the gradients of every parameter used.
    /// With [`Mode::Infer`] derived layouts are precomputed and fused kernels are used.
    pub fn from_tensors(
        tensors: &HashMap<String, Tensor>,
        config: SamConfig,
        device: &Device,
        mode: Mode,
    ) -> Result<Self, ModelError> {
        Self::build(tensors, config, device, Exec::new(mode, device))
    }

    fn build(
        tensors: &HashMap<String, Tensor>,
        config: SamConfig,
        device: &Device,
        exec: Exec,
    ) -> Result<Self, ModelError> {
        let mode = exec.mode;
        let w = Weights::new(tensors, exec);
        let vision = VisionEncoder::load(&w.pp("vision_encoder"), &config.vision, config.eps)?;
        let decoder = MaskDecoder::load(&w, &config.decoder, config.grid(), config.eps)?;
        let dtype = tensors
            .values()
            .next()
            .map(|t| t.dtype())
            .unwrap_or(DType::F32);
        let cpu_precision = device.is_cpu().then_some("f32");
        Ok(Self {
            config,
            format: Format::Safetensors,
            vision,
            decoder,
            device: device.clone(),
            mode,
            dtype,
            cpu_precision,
        })
    }

    /// The execution mode the model was built for.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The device the weights live on and the forward pass runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Side of the square input (1024 for SAM).
    pub fn input_size(&self) -> usize {
        self.config.vision.image_size
    }

    /// Side of the low-resolution mask output (256 for SAM).
    pub fn mask_size(&self) -> usize {
        4 * self.config.grid()
    }

    /// The full forward pass (`SamModel(pixel_values, multimask_output=True)`).
    pub fn forward(&self, pixel_values: &Tensor) -> Result<SamOutput, ModelError> {
        let image_embeddings = self.vision.forward(pixel_values)?;
        let DecoderOutput { masks, iou } = self.decoder.forward(&image_embeddings)?;
        Ok(SamOutput {
            image_embeddings,
            pred_masks: masks,
            iou_scores: iou,
        })
    }

    /// SAMCell's distance maps: `sigmoid` of mask token 1, (B, 4g, 4g).
    pub fn distance_maps(&self, pixel_values: &Tensor) -> Result<Tensor, ModelError> {
        // the sigmoid runs in f32 whatever the model's dtype, so thresholds see full precision
        let logits = self.token1_logits(pixel_values)?.to_dtype(DType::F32)?;
        Ok(candle_nn::ops::sigmoid(&logits)?)
    }

    /// Logits of mask token 1 (the first multimask output), (B, 4g, 4g): what SAMCell's
    /// training loss puts through a sigmoid.
    pub fn token1_logits(&self, pixel_values: &Tensor) -> Result<Tensor, ModelError> {
        let emb = self.vision.forward(pixel_values)?;
        Ok(self.decoder.forward_token1(&emb)?)
    }

    /// The image encoder alone: (B, C, g, g) channels-first embeddings.
    pub fn image_embeddings(&self, pixel_values: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.vision.forward(pixel_values)?)
    }

    /// The mask decoder alone: mask token 1 logits (B, 4g, 4g) from image embeddings.
    pub fn token1_logits_from_embeddings(
        &self,
        image_embeddings: &Tensor,
    ) -> Result<Tensor, ModelError> {
        Ok(self.decoder.forward_token1(image_embeddings)?)
    }

    /// The image-wide positional encoding (C, g, g).
    pub fn image_positional_embeddings(&self) -> Result<Tensor, ModelError> {
        Ok(self
            .decoder
            .image_positional_embeddings(self.config.grid())?)
    }
}

/// Reads and validates a checkpoint (tensors as f32 on the CPU) and detects its configuration.
/// A `config.json` beside the checkpoint (Hugging Face format) supplies head counts that the
/// tensor shapes cannot reveal; `heads` overrides both.
pub fn read_checkpoint(
    path: &Path,
    heads: Option<HeadOverrides>,
) -> Result<(Checkpoint, SamConfig), ModelError> {
    let heads = match heads {
        Some(h) => h,
        None => {
            let cfg_path = path.with_file_name("config.json");
            match std::fs::read_to_string(&cfg_path) {
                Ok(text) => {
                    HeadOverrides::from_hf_json(&text).map_err(|e| ModelError::Checkpoint {
                        path: cfg_path.clone(),
                        reason: e.to_string(),
                        source: None,
                    })?
                }
                Err(_) => HeadOverrides::default(),
            }
        }
    };
    let ckpt = Checkpoint::read(path)?;
    let config = ckpt.validate(path, heads)?;
    Ok((ckpt, config))
}
