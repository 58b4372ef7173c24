//! Building the model to train from the command line's choices, and the device.
//!
//! Architecture sizes for training from scratch (`--arch-config`): `vit-b` is Hugging Face
//! `SamConfig()`'s defaults (transformers 4.57: the `facebook/sam-vit-base` shape), `tiny` is the
//! reference harness's test configuration (`config_tiny.json`: vision width 64, 2 layers,
//! 2 heads, global attention in layer 1, neck 32; decoder width 32, 2 layers, 2 heads, MLP 64),
//! and a path names a Hugging Face `config.json` (`vision_config`, `prompt_encoder_config`,
//! `mask_decoder_config` as transformers writes them; missing fields take SamConfig's defaults).
//! For samcell-lite (`--arch lite`), `--arch-config` is `default` (the shipped shape) or a
//! `LiteConfig` JSON, inline or in a file ([`lite_config`]).

use candle_core::Device;
use samcell_model::config::{DecoderConfig, VisionConfig};
use samcell_model::{HeadOverrides, SamConfig};
use serde_json::Value;
use std::path::Path;

use crate::arch::lite::TrainableLite;
use crate::arch::sam::TrainableSam;
use crate::error::about_file;
use crate::{TrainError, TrainableModel};
use samcell_lite::LiteConfig;

/// The compute device: the model's choice ([`samcell_model::device`]), the CPU or the first CUDA
/// GPU when `cuda` (needs the `cuda` feature).
pub use samcell_model::device;

const TINY: &str = r#"{"vision_config": {"hidden_size": 64, "output_channels": 32, "num_hidden_layers": 2,
 "num_attention_heads": 2, "mlp_dim": 256, "global_attn_indexes": [1]},
 "prompt_encoder_config": {"hidden_size": 32, "mask_input_channels": 16},
 "mask_decoder_config": {"hidden_size": 32, "mlp_dim": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
 "iou_head_hidden_dim": 32}}"#;

/// The Hugging Face config JSON of `--arch-config` (`tiny`, `vit-b` or a file).
pub fn arch_config_json(spec: &str) -> Result<Value, TrainError> {
    let text = match spec {
        "tiny" => TINY.to_string(),
        "vit-b" | "vit_b" => "{}".to_string(),
        path => std::fs::read_to_string(path).map_err(|e| {
            TrainError::Config(format!(
                "--arch-config {path}: {e} (expected tiny, vit-b or a config.json)"
            ))
        })?,
    };
    serde_json::from_str(&text)
        .map_err(|e| TrainError::Config(format!("--arch-config {spec}: {e}")))
}

/// A [`SamConfig`] from a Hugging Face `SamConfig` JSON (defaults: SAM ViT-B).
pub fn sam_config(v: &Value) -> Result<SamConfig, TrainError> {
    let sec = |s: &str| v.get(s).cloned().unwrap_or(Value::Null);
    let (vc, pc, dc) = (
        sec("vision_config"),
        sec("prompt_encoder_config"),
        sec("mask_decoder_config"),
    );
    let num = |o: &Value, k: &str, d: usize| -> Result<usize, TrainError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(d),
            Some(x) => x.as_u64().map(|n| n as usize).ok_or_else(|| {
                TrainError::Config(format!("config field {k} is not a whole number"))
            }),
        }
    };
    let hidden = num(&vc, "hidden_size", 768)?;
    let global_layers = match vc.get("global_attn_indexes") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_u64().map(|n| n as usize))
            .collect(),
        _ => vec![2, 5, 8, 11],
    };
    let mlp_ratio = vc.get("mlp_ratio").and_then(|x| x.as_f64()).unwrap_or(4.0);
    let vision = VisionConfig {
        hidden,
        layers: num(&vc, "num_hidden_layers", 12)?,
        heads: num(&vc, "num_attention_heads", 12)?,
        mlp_dim: num(&vc, "mlp_dim", (hidden as f64 * mlp_ratio) as usize)?,
        patch: num(&vc, "patch_size", 16)?,
        image_size: num(&vc, "image_size", 1024)?,
        window: num(&vc, "window_size", 14)?,
        global_layers,
        neck_channels: num(&vc, "output_channels", 256)?,
    };
    let dh = num(&dc, "hidden_size", 256)?;
    let decoder = DecoderConfig {
        hidden: dh,
        layers: num(&dc, "num_hidden_layers", 2)?,
        heads: num(&dc, "num_attention_heads", 8)?,
        mlp_dim: num(&dc, "mlp_dim", 2048)?,
        downsample: num(&dc, "attention_downsample_rate", 2)?,
        mask_tokens: num(&dc, "num_multimask_outputs", 3)? + 1,
        hyper_layers: 3,
        iou_layers: num(&dc, "iou_head_depth", 3)?,
        upscale1: dh / 4,
        upscale2: dh / 8,
        mask_input_channels: num(&pc, "mask_input_channels", 16)?,
    };
    if hidden % vision.heads != 0 || dh % decoder.heads != 0 || dh < 8 {
        return Err(TrainError::Config(format!(
            "inconsistent SAM config: widths {hidden}/{dh}, heads {}/{}",
            vision.heads, decoder.heads
        )));
    }
    let eps = vc
        .get("layer_norm_eps")
        .and_then(|x| x.as_f64())
        .unwrap_or(1e-6) as f32;
    Ok(SamConfig {
        vision,
        decoder,
        eps,
    })
}

/// What to build.
pub enum ModelSpec<'a> {
    /// Fine-tune this checkpoint. The head counts that shapes cannot tell come from the given
    /// Hugging Face `config.json`, else from a `config.json` beside the checkpoint, else SAM's.
    Checkpoint(&'a Path, Option<&'a Path>),
    /// Random initialisation of this architecture (a Hugging Face config JSON) with a seed.
    Scratch(&'a Value, u64),
}

/// The trainable SAM of `spec` on `device`.
pub fn build_sam(spec: ModelSpec, device: &Device) -> Result<Box<dyn TrainableModel>, TrainError> {
    let model = match spec {
        ModelSpec::Checkpoint(path, config) => {
            let beside = path.with_file_name("config.json");
            let cfg = config
                .map(Path::to_path_buf)
                .or_else(|| beside.is_file().then_some(beside));
            let heads = match &cfg {
                Some(c) => {
                    let text = std::fs::read_to_string(c)
                        .map_err(|e| TrainError::Config(format!("{}: {e}", c.display())))?;
                    Some(
                        HeadOverrides::from_hf_json(&text)
                            .map_err(|e| TrainError::Config(format!("{}: {e}", c.display())))?,
                    )
                }
                None => None,
            };
            TrainableSam::load(path, heads, device)
                .map_err(|e| TrainError::Config(about_file(path, &e)))?
        }
        ModelSpec::Scratch(json, seed) => {
            TrainableSam::from_scratch(sam_config(json)?, seed, device)
                .map_err(|e| TrainError::Config(format!("--from-scratch: {e}")))?
        }
    };
    Ok(Box::new(model))
}

/// The samcell-lite shape of `spec`: `default` (the shipped architecture), inline JSON
/// (`{"base_width":8,...}`) or a JSON file; see `samcell_lite::LiteConfig`.
pub fn lite_config(spec: &str) -> Result<LiteConfig, TrainError> {
    if spec == "default" {
        return Ok(LiteConfig::default());
    }
    let text = if spec.trim_start().starts_with('{') {
        spec.to_string()
    } else {
        std::fs::read_to_string(spec)
            .map_err(|e| TrainError::Config(format!("--arch-config {spec}: {e}")))?
    };
    LiteConfig::from_json(&text)
        .map_err(|e| TrainError::Config(format!("--arch-config {spec}: {e}")))
}

/// The trainable samcell-lite of `spec` on `device` (a checkpoint here is a samcell-lite weights
/// file; `Scratch` takes the `LiteConfig` JSON) and its shape.
pub fn build_lite(
    spec: ModelSpec,
    device: &Device,
) -> Result<(Box<dyn TrainableModel>, LiteConfig), TrainError> {
    let model = match spec {
        ModelSpec::Checkpoint(path, _) => TrainableLite::load(path, device)
            .map_err(|e| TrainError::Config(about_file(path, &e)))?,
        ModelSpec::Scratch(json, seed) => {
            let config: LiteConfig = serde_json::from_value(json.clone())
                .map_err(|e| TrainError::Config(format!("lite configuration {json}: {e}")))?;
            TrainableLite::from_scratch(config, seed, device)
                .map_err(|e| TrainError::Config(format!("--from-scratch: {e}")))?
        }
    };
    let config = model.config().clone();
    Ok((Box::new(model), config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_give_the_known_shapes() {
        let t = sam_config(&arch_config_json("tiny").unwrap()).unwrap();
        assert_eq!(
            (
                t.vision.hidden,
                t.vision.layers,
                t.vision.heads,
                t.vision.mlp_dim,
                t.vision.neck_channels
            ),
            (64, 2, 2, 256, 32)
        );
        assert_eq!(t.vision.global_layers, vec![1]);
        assert_eq!(
            (
                t.decoder.hidden,
                t.decoder.heads,
                t.decoder.mlp_dim,
                t.decoder.upscale1,
                t.decoder.upscale2
            ),
            (32, 2, 64, 8, 4)
        );
        let b = sam_config(&arch_config_json("vit-b").unwrap()).unwrap();
        assert_eq!(b.variant(), samcell_model::Variant::VitB);
        assert_eq!(
            (
                b.decoder.hidden,
                b.decoder.mask_tokens,
                b.decoder.mask_input_channels
            ),
            (256, 4, 16)
        );
        assert!(arch_config_json("no/such/file.json").is_err());
        assert!(device(false).is_ok());
        #[cfg(not(feature = "cuda"))]
        assert!(device(true)
            .unwrap_err()
            .to_string()
            .contains("without CUDA"));
    }

    #[test]
    fn tiny_preset_and_config_file_match_the_harness_weights() {
        let Some(found) =
            samcell_testdata::require(&["sam_tiny_scaled.safetensors", "config_tiny.json"], &[])
        else {
            return;
        };
        let (w, cfg) = (&found[0], &found[1]);
        let ck = samcell_model::Checkpoint::read(w).unwrap();
        let heads = HeadOverrides::from_hf_json(&std::fs::read_to_string(cfg).unwrap()).unwrap();
        let detected = SamConfig::detect(&ck.tensors, heads).unwrap();
        assert_eq!(
            sam_config(&arch_config_json("tiny").unwrap()).unwrap(),
            detected
        );
        assert_eq!(
            sam_config(&arch_config_json(&cfg.display().to_string()).unwrap()).unwrap(),
            detected
        );
    }
}
