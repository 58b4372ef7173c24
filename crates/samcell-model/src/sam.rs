//! The whole SAM model as SAMCell runs it: image encoder, no-prompt mask decoder.

use crate::checkpoint::{Checkpoint, Format};
use crate::config::{HeadOverrides, SamConfig};
use crate::decoder::{DecoderOutput, MaskDecoder};
use crate::layers::Weights;
use crate::vision::VisionEncoder;
use crate::ModelError;
use candle_core::{Device, Tensor};
use std::path::Path;

/// A loaded SAM model.
pub struct SamModel {
    pub config: SamConfig,
    pub format: Format,
    vision: VisionEncoder,
    decoder: MaskDecoder,
    device: Device,
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
        let heads = match heads {
            Some(h) => h,
            None => {
                let cfg_path = path.with_file_name("config.json");
                match std::fs::read_to_string(&cfg_path) {
                    Ok(text) => HeadOverrides::from_hf_json(&text).map_err(|e| ModelError::Checkpoint {
                        path: cfg_path.clone(),
                        reason: e.to_string(),
                    })?,
                    Err(_) => HeadOverrides::default(),
                }
            }
        };
        let ckpt = Checkpoint::read(path)?;
        let config = ckpt.validate(path, heads)?;
        let device = Device::Cpu;
        let w = Weights::new(&ckpt.tensors);
        let build = || -> candle_core::Result<(VisionEncoder, MaskDecoder)> {
            let vision = VisionEncoder::load(&w.pp("vision_encoder"), &config.vision, config.eps)?;
            let decoder = MaskDecoder::load(&w, &config.decoder, config.grid(), config.eps)?;
            Ok((vision, decoder))
        };
        let (vision, decoder) =
            build().map_err(|e| ModelError::Checkpoint { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(Self { config, format: ckpt.format, vision, decoder, device })
    }

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
        Ok(SamOutput { image_embeddings, pred_masks: masks, iou_scores: iou })
    }

    /// SAMCell's distance maps: `sigmoid` of mask token 1, (B, 4g, 4g).
    pub fn distance_maps(&self, pixel_values: &Tensor) -> Result<Tensor, ModelError> {
        let emb = self.vision.forward(pixel_values)?;
        let logits = self.decoder.forward_token1(&emb)?;
        Ok(candle_nn::ops::sigmoid(&logits)?)
    }

    /// The image-wide positional encoding (C, g, g).
    pub fn image_positional_embeddings(&self) -> Result<Tensor, ModelError> {
        Ok(self.decoder.image_positional_embeddings(self.config.grid())?)
    }
}
