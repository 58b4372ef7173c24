//! SAM architecture hyper-parameters, detected from a checkpoint's tensor shapes.
//!
//! Everything the Hugging Face `SamConfig` fixes is either read off the shapes (widths, depth,
//! window size, which blocks attend globally, MLP widths, decoder depth) or, where shapes cannot
//! tell (number of attention heads of the mask decoder), taken from a `config.json` in the
//! Hugging Face format when one is given, else SAM's published value (8 decoder heads).

use crate::ModelError;
use candle_core::Tensor;
use std::collections::HashMap;

/// Vision encoder (ViT) hyper-parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisionConfig {
    /// Token width of the encoder blocks (ViT-B 768, ViT-L 1024, ViT-H 1280).
    pub hidden: usize,
    /// Number of transformer blocks (ViT-B 12, ViT-L 24, ViT-H 32).
    pub layers: usize,
    /// Attention heads per block (`hidden / heads` is the head width, 64 in SAM).
    pub heads: usize,
    /// Hidden width of each block's MLP (4 × `hidden` in SAM).
    pub mlp_dim: usize,
    /// Side of the square patches in pixels (16 in SAM).
    pub patch: usize,
    /// Side of the square input image in pixels (1024 in SAM).
    pub image_size: usize,
    /// Side of the attention windows of the windowed blocks, in patches (14 in SAM).
    pub window: usize,
    /// Indices of the blocks that attend over the whole grid instead of windows, ascending.
    pub global_layers: Vec<usize>,
    /// Channels of the neck's output, i.e. of the image embedding (256 in SAM).
    pub neck_channels: usize,
}

/// Mask decoder hyper-parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Token width of the two-way transformer (256 in SAM, equal to the image embedding's channels).
    pub hidden: usize,
    /// Number of two-way transformer blocks (2 in SAM).
    pub layers: usize,
    /// Attention heads of every decoder attention (8 in SAM; not visible in the shapes).
    pub heads: usize,
    /// Hidden width of each block's MLP (2048 in SAM).
    pub mlp_dim: usize,
    /// Factor by which the token-image cross attentions narrow the width (2 in SAM).
    pub downsample: usize,
    /// Number of mask tokens, i.e. of masks predicted per prompt (4 in SAM).
    pub mask_tokens: usize,
    /// Linear layers of each hypernetwork MLP, input and output projections included (3 in SAM).
    pub hyper_layers: usize,
    /// Linear layers of the IoU prediction head, input and output projections included (3 in SAM).
    pub iou_layers: usize,
    /// Output channels of the first transposed convolution of the upscaler (`hidden / 4` in SAM).
    pub upscale1: usize,
    /// Output channels of the second transposed convolution, the per-pixel mask features (`hidden / 8` in SAM).
    pub upscale2: usize,
    /// Channels of the prompt encoder's mask embedding (unused without mask prompts, checked for layout).
    pub mask_input_channels: usize,
}

/// A whole SAM model's hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct SamConfig {
    /// The image encoder's hyper-parameters.
    pub vision: VisionConfig,
    /// The mask decoder's hyper-parameters.
    pub decoder: DecoderConfig,
    /// Layer-norm epsilon everywhere (SAM: 1e-6).
    pub eps: f32,
}

/// SAM's named sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Variant {
    /// Width 768, 12 blocks (SAMCell's published checkpoints).
    VitB,
    /// Width 1024, 24 blocks.
    VitL,
    /// Width 1280, 32 blocks.
    VitH,
    /// Any other width (test configurations).
    Custom,
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Variant::VitB => "ViT-B",
            Variant::VitL => "ViT-L",
            Variant::VitH => "ViT-H",
            Variant::Custom => "custom",
        })
    }
}

/// Head counts that shapes cannot reveal, from a Hugging Face `config.json` if available.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadOverrides {
    /// Attention heads of the image encoder; `None`: width / head width of the relative position tables.
    pub vision_heads: Option<usize>,
    /// Attention heads of the mask decoder; `None`: SAM's 8.
    pub decoder_heads: Option<usize>,
}

impl HeadOverrides {
    /// Reads `vision_config.num_attention_heads` and `mask_decoder_config.num_attention_heads`
    /// from a Hugging Face `SamConfig` JSON document.
    pub fn from_hf_json(text: &str) -> Result<Self, ModelError> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ModelError::Config(format!("config JSON does not parse: {e}")))?;
        let get = |section: &str| {
            v.get(section)
                .and_then(|s| s.get("num_attention_heads"))
                .and_then(|n| n.as_u64())
                .map(|n| n as usize)
        };
        Ok(Self {
            vision_heads: get("vision_config"),
            decoder_heads: get("mask_decoder_config"),
        })
    }
}

impl SamConfig {
    /// The named SAM size this configuration matches by encoder width and depth, else `Custom`.
    pub fn variant(&self) -> Variant {
        match (self.vision.hidden, self.vision.layers) {
            (768, 12) => Variant::VitB,
            (1024, 24) => Variant::VitL,
            (1280, 32) => Variant::VitH,
            _ => Variant::Custom,
        }
    }

    /// Side of the image-embedding grid (64 for 1024 / 16).
    pub fn grid(&self) -> usize {
        self.vision.image_size / self.vision.patch
    }

    /// Detects the configuration from checkpoint tensors.
    pub fn detect(
        tensors: &HashMap<String, Tensor>,
        heads: HeadOverrides,
    ) -> Result<Self, ModelError> {
        let shape = |k: &str| -> Result<Vec<usize>, ModelError> {
            tensors
                .get(k)
                .map(|t| t.dims().to_vec())
                .ok_or_else(|| ModelError::MissingKeys(vec![k.to_string()]))
        };
        let count = |prefix: &str| -> usize {
            let mut n = 0;
            while tensors
                .keys()
                .any(|k| k.starts_with(&format!("{prefix}{n}.")))
            {
                n += 1;
            }
            n
        };
        let pe = shape("vision_encoder.patch_embed.projection.weight")?;
        if pe.len() != 4 || pe[1] != 3 || pe[2] != pe[3] {
            return Err(ModelError::Shape(format!(
                "vision_encoder.patch_embed.projection.weight has shape {pe:?}, expected [hidden, 3, p, p]"
            )));
        }
        let (hidden, patch) = (pe[0], pe[2]);
        let pos = shape("vision_encoder.pos_embed")?;
        if pos.len() != 4 || pos[1] != pos[2] || pos[3] != hidden {
            return Err(ModelError::Shape(format!(
                "vision_encoder.pos_embed has shape {pos:?}, expected [1, g, g, {hidden}]"
            )));
        }
        let grid = pos[1];
        let layers = count("vision_encoder.layers.");
        if layers == 0 {
            return Err(ModelError::MissingKeys(vec![
                "vision_encoder.layers.0.*".into()
            ]));
        }
        let mut global_layers = Vec::new();
        let mut window = 0;
        let mut head_dim = 0;
        for i in 0..layers {
            let rp = shape(&format!("vision_encoder.layers.{i}.attn.rel_pos_h"))?;
            head_dim = rp[1];
            let size = rp[0].div_ceil(2);
            if size == grid {
                global_layers.push(i);
            } else {
                window = size;
            }
        }
        if head_dim == 0 || hidden % head_dim != 0 {
            return Err(ModelError::Shape(format!(
                "relative position tables of width {head_dim} do not divide the width {hidden}"
            )));
        }
        let vision_heads = heads.vision_heads.unwrap_or(hidden / head_dim);
        if vision_heads * head_dim != hidden {
            return Err(ModelError::Config(format!(
                "config says {vision_heads} vision heads, but the checkpoint's head width is {head_dim} (width {hidden})"
            )));
        }
        let mlp_dim = shape("vision_encoder.layers.0.mlp.lin1.weight")?[0];
        let neck_channels = shape("vision_encoder.neck.conv1.weight")?[0];
        let mt = shape("mask_decoder.mask_tokens.weight")?;
        let dec_hidden = mt[1];
        let cross =
            shape("mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight")?;
        let vision = VisionConfig {
            hidden,
            layers,
            heads: vision_heads,
            mlp_dim,
            patch,
            image_size: grid * patch,
            window: if window == 0 { 14 } else { window },
            global_layers,
            neck_channels,
        };
        let decoder = DecoderConfig {
            hidden: dec_hidden,
            layers: count("mask_decoder.transformer.layers."),
            heads: heads.decoder_heads.unwrap_or(8),
            mlp_dim: shape("mask_decoder.transformer.layers.0.mlp.lin1.weight")?[0],
            downsample: dec_hidden / cross[0].max(1),
            mask_tokens: mt[0],
            hyper_layers: count("mask_decoder.output_hypernetworks_mlps.0.layers.") + 2,
            iou_layers: count("mask_decoder.iou_prediction_head.layers.") + 2,
            upscale1: shape("mask_decoder.upscale_conv1.weight")?[1],
            upscale2: shape("mask_decoder.upscale_conv2.weight")?[1],
            mask_input_channels: shape("prompt_encoder.mask_embed.conv2.weight")?[0],
        };
        if !decoder.hidden.is_multiple_of(decoder.heads)
            || !(decoder.hidden / decoder.downsample).is_multiple_of(decoder.heads)
        {
            return Err(ModelError::Config(format!(
                "{} decoder heads do not divide the decoder width {} (use a config.json with mask_decoder_config.num_attention_heads)",
                decoder.heads, decoder.hidden
            )));
        }
        Ok(Self {
            vision,
            decoder,
            eps: 1e-6,
        })
    }

    /// Every key and shape a checkpoint of this configuration must contain (Hugging Face
    /// `SamModel.state_dict()` layout).
    pub fn expected_keys(&self) -> Vec<(String, Vec<usize>)> {
        let v = &self.vision;
        let d = &self.decoder;
        let g = self.grid();
        let mut k: Vec<(String, Vec<usize>)> = Vec::new();
        let mut add = |name: String, shape: &[usize]| k.push((name, shape.to_vec()));
        let pos_feats = d.hidden / 2;
        add(
            "shared_image_embedding.positional_embedding".into(),
            &[2, pos_feats],
        );
        add("vision_encoder.pos_embed".into(), &[1, g, g, v.hidden]);
        add(
            "vision_encoder.patch_embed.projection.weight".into(),
            &[v.hidden, 3, v.patch, v.patch],
        );
        add(
            "vision_encoder.patch_embed.projection.bias".into(),
            &[v.hidden],
        );
        let hd = v.hidden / v.heads;
        for i in 0..v.layers {
            let p = format!("vision_encoder.layers.{i}.");
            let rp = if v.global_layers.contains(&i) {
                2 * g - 1
            } else {
                2 * v.window - 1
            };
            for ln in ["layer_norm1", "layer_norm2"] {
                add(format!("{p}{ln}.weight"), &[v.hidden]);
                add(format!("{p}{ln}.bias"), &[v.hidden]);
            }
            add(format!("{p}attn.rel_pos_h"), &[rp, hd]);
            add(format!("{p}attn.rel_pos_w"), &[rp, hd]);
            add(format!("{p}attn.qkv.weight"), &[3 * v.hidden, v.hidden]);
            add(format!("{p}attn.qkv.bias"), &[3 * v.hidden]);
            add(format!("{p}attn.proj.weight"), &[v.hidden, v.hidden]);
            add(format!("{p}attn.proj.bias"), &[v.hidden]);
            add(format!("{p}mlp.lin1.weight"), &[v.mlp_dim, v.hidden]);
            add(format!("{p}mlp.lin1.bias"), &[v.mlp_dim]);
            add(format!("{p}mlp.lin2.weight"), &[v.hidden, v.mlp_dim]);
            add(format!("{p}mlp.lin2.bias"), &[v.hidden]);
        }
        let n = v.neck_channels;
        add(
            "vision_encoder.neck.conv1.weight".into(),
            &[n, v.hidden, 1, 1],
        );
        add("vision_encoder.neck.conv2.weight".into(), &[n, n, 3, 3]);
        for ln in ["layer_norm1", "layer_norm2"] {
            add(format!("vision_encoder.neck.{ln}.weight"), &[n]);
            add(format!("vision_encoder.neck.{ln}.bias"), &[n]);
        }
        // prompt encoder (only no_mask_embed is used without prompts, but the layout is checked whole)
        let h = d.hidden;
        add(
            "prompt_encoder.shared_embedding.positional_embedding".into(),
            &[2, pos_feats],
        );
        let mic = d.mask_input_channels;
        let q = mic / 4;
        add(
            "prompt_encoder.mask_embed.conv1.weight".into(),
            &[q, 1, 2, 2],
        );
        add("prompt_encoder.mask_embed.conv1.bias".into(), &[q]);
        add(
            "prompt_encoder.mask_embed.conv2.weight".into(),
            &[mic, q, 2, 2],
        );
        add("prompt_encoder.mask_embed.conv2.bias".into(), &[mic]);
        add(
            "prompt_encoder.mask_embed.conv3.weight".into(),
            &[h, mic, 1, 1],
        );
        add("prompt_encoder.mask_embed.conv3.bias".into(), &[h]);
        add("prompt_encoder.mask_embed.layer_norm1.weight".into(), &[q]);
        add("prompt_encoder.mask_embed.layer_norm1.bias".into(), &[q]);
        add(
            "prompt_encoder.mask_embed.layer_norm2.weight".into(),
            &[mic],
        );
        add("prompt_encoder.mask_embed.layer_norm2.bias".into(), &[mic]);
        add("prompt_encoder.no_mask_embed.weight".into(), &[1, h]);
        for i in 0..4 {
            add(format!("prompt_encoder.point_embed.{i}.weight"), &[1, h]);
        }
        add("prompt_encoder.not_a_point_embed.weight".into(), &[1, h]);
        // mask decoder
        add("mask_decoder.iou_token.weight".into(), &[1, h]);
        add(
            "mask_decoder.mask_tokens.weight".into(),
            &[d.mask_tokens, h],
        );
        let inner = h / d.downsample;
        let attn = |k: &mut Vec<(String, Vec<usize>)>, p: String, inner: usize| {
            for proj in ["q_proj", "k_proj", "v_proj"] {
                k.push((format!("{p}.{proj}.weight"), vec![inner, h]));
                k.push((format!("{p}.{proj}.bias"), vec![inner]));
            }
            k.push((format!("{p}.out_proj.weight"), vec![h, inner]));
            k.push((format!("{p}.out_proj.bias"), vec![h]));
        };
        for i in 0..d.layers {
            let p = format!("mask_decoder.transformer.layers.{i}");
            attn(&mut k, format!("{p}.self_attn"), h);
            attn(&mut k, format!("{p}.cross_attn_token_to_image"), inner);
            attn(&mut k, format!("{p}.cross_attn_image_to_token"), inner);
            for ln in 1..=4 {
                k.push((format!("{p}.layer_norm{ln}.weight"), vec![h]));
                k.push((format!("{p}.layer_norm{ln}.bias"), vec![h]));
            }
            k.push((format!("{p}.mlp.lin1.weight"), vec![d.mlp_dim, h]));
            k.push((format!("{p}.mlp.lin1.bias"), vec![d.mlp_dim]));
            k.push((format!("{p}.mlp.lin2.weight"), vec![h, d.mlp_dim]));
            k.push((format!("{p}.mlp.lin2.bias"), vec![h]));
        }
        attn(
            &mut k,
            "mask_decoder.transformer.final_attn_token_to_image".into(),
            inner,
        );
        k.push((
            "mask_decoder.transformer.layer_norm_final_attn.weight".into(),
            vec![h],
        ));
        k.push((
            "mask_decoder.transformer.layer_norm_final_attn.bias".into(),
            vec![h],
        ));
        k.push((
            "mask_decoder.upscale_conv1.weight".into(),
            vec![h, d.upscale1, 2, 2],
        ));
        k.push(("mask_decoder.upscale_conv1.bias".into(), vec![d.upscale1]));
        k.push((
            "mask_decoder.upscale_conv2.weight".into(),
            vec![d.upscale1, d.upscale2, 2, 2],
        ));
        k.push(("mask_decoder.upscale_conv2.bias".into(), vec![d.upscale2]));
        k.push((
            "mask_decoder.upscale_layer_norm.weight".into(),
            vec![d.upscale1],
        ));
        k.push((
            "mask_decoder.upscale_layer_norm.bias".into(),
            vec![d.upscale1],
        ));
        let mlp = |k: &mut Vec<(String, Vec<usize>)>, p: String, layers: usize, out: usize| {
            k.push((format!("{p}.proj_in.weight"), vec![h, h]));
            k.push((format!("{p}.proj_in.bias"), vec![h]));
            for j in 0..layers - 2 {
                k.push((format!("{p}.layers.{j}.weight"), vec![h, h]));
                k.push((format!("{p}.layers.{j}.bias"), vec![h]));
            }
            k.push((format!("{p}.proj_out.weight"), vec![out, h]));
            k.push((format!("{p}.proj_out.bias"), vec![out]));
        };
        for i in 0..d.mask_tokens {
            mlp(
                &mut k,
                format!("mask_decoder.output_hypernetworks_mlps.{i}"),
                d.hyper_layers,
                d.upscale2,
            );
        }
        mlp(
            &mut k,
            "mask_decoder.iou_prediction_head".into(),
            d.iou_layers,
            d.mask_tokens,
        );
        k
    }
}
