//! Floating-point operations of one SAM forward pass (one crop), counted analytically from the
//! model's configuration (`samcell_model::SamConfig`), as the Hugging Face `SamModel` computes
//! it with no prompt (what samcell runs).
//!
//! Counted: matrix products and convolutions, 2 FLOPs per multiply-add. Not counted:
//! element-wise work (layer norms, softmax, GELU, residual adds, biases), a few percent at
//! most. Windowed attention layers run their projections on the padded window grid (the
//! `g x g` token grid padded up to a multiple of the window: 64 -> 70 for ViT-B), as
//! `SamVisionLayer` pads before attention; their MLPs run on the unpadded `g x g` tokens.

use samcell_model::SamConfig;

/// One line of the breakdown.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// What the part is (e.g. the encoder's MLPs), as printed.
    pub name: &'static str,
    /// Its FLOPs per crop.
    pub flops: f64,
}

/// FLOPs of one crop, by part.
pub fn breakdown(cfg: &SamConfig) -> Vec<Part> {
    let v = &cfg.vision;
    let c = v.hidden as f64;
    let g = v.image_size / v.patch.max(1);
    let t = (g * g) as f64;
    let mut qkv_proj = 0.0;
    let mut attention = 0.0;
    let mut rel_pos = 0.0;
    let mut mlp = 0.0;
    for layer in 0..v.layers {
        let (tokens, groups, len, side) = if v.global_layers.contains(&layer) || v.window == 0 {
            (t, 1.0, t, g as f64)
        } else {
            let gp = g.div_ceil(v.window) * v.window;
            let per = (gp / v.window) as f64;
            (
                (gp * gp) as f64,
                per * per,
                (v.window * v.window) as f64,
                v.window as f64,
            )
        };
        qkv_proj += 2.0 * tokens * c * 3.0 * c + 2.0 * tokens * c * c;
        // q k^T and attn v over all heads (heads x head_dim = hidden).
        attention += 2.0 * (2.0 * groups * len * len * c);
        // Decomposed relative positions: each query against `side` rows and `side` columns.
        rel_pos += 2.0 * (2.0 * tokens * c * side);
        mlp += 2.0 * (2.0 * t * c * v.mlp_dim as f64);
    }
    let patch = 2.0 * t * c * (3 * v.patch * v.patch) as f64;
    let n = v.neck_channels as f64;
    let neck = 2.0 * t * c * n + 2.0 * t * n * n * 9.0;

    let d = &cfg.decoder;
    let dh = d.hidden as f64;
    let di = dh / d.downsample.max(1) as f64;
    let tok = (1 + d.mask_tokens) as f64; // IoU token + mask tokens, no sparse prompt
    let cross_t2i = 2.0 * tok * dh * di
        + 2.0 * 2.0 * t * dh * di
        + 2.0 * 2.0 * tok * t * di
        + 2.0 * tok * di * dh;
    let cross_i2t = 2.0 * t * dh * di
        + 2.0 * 2.0 * tok * dh * di
        + 2.0 * 2.0 * t * tok * di
        + 2.0 * t * di * dh;
    let self_attn = 4.0 * 2.0 * tok * dh * dh + 2.0 * 2.0 * tok * tok * dh;
    let tok_mlp = 2.0 * 2.0 * tok * dh * d.mlp_dim as f64;
    let transformer = d.layers as f64 * (self_attn + cross_t2i + tok_mlp + cross_i2t) + cross_t2i;
    let (u1, u2) = (d.upscale1 as f64, d.upscale2 as f64);
    let upscale = 2.0 * t * dh * u1 * 4.0 + 2.0 * (4.0 * t) * u1 * u2 * 4.0;
    let heads = d.mask_tokens as f64 * (2.0 * 2.0 * dh * dh + 2.0 * dh * u2)
        + 2.0 * d.mask_tokens as f64 * u2 * 16.0 * t;
    vec![
        Part {
            name: "encoder patch embedding (conv)",
            flops: patch,
        },
        Part {
            name: "encoder qkv + output projections",
            flops: qkv_proj,
        },
        Part {
            name: "encoder attention (QK^T, AV)",
            flops: attention,
        },
        Part {
            name: "encoder relative positions",
            flops: rel_pos,
        },
        Part {
            name: "encoder MLPs",
            flops: mlp,
        },
        Part {
            name: "encoder neck (1x1 + 3x3 conv)",
            flops: neck,
        },
        Part {
            name: "decoder two-way transformer",
            flops: transformer,
        },
        Part {
            name: "decoder upscaling + mask heads",
            flops: upscale + heads,
        },
    ]
}

/// Total FLOPs of one crop.
pub fn per_crop(cfg: &SamConfig) -> f64 {
    breakdown(cfg).iter().map(|p| p.flops).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use samcell_model::config::{DecoderConfig, VisionConfig};

    fn vit_b() -> SamConfig {
        SamConfig {
            vision: VisionConfig {
                hidden: 768,
                layers: 12,
                heads: 12,
                mlp_dim: 3072,
                patch: 16,
                image_size: 1024,
                window: 14,
                global_layers: vec![2, 5, 8, 11],
                neck_channels: 256,
            },
            decoder: DecoderConfig {
                hidden: 256,
                layers: 2,
                heads: 8,
                mlp_dim: 2048,
                downsample: 2,
                mask_tokens: 4,
                hyper_layers: 3,
                iou_layers: 3,
                upscale1: 64,
                upscale2: 32,
                mask_input_channels: 16,
            },
            eps: 1e-6,
        }
    }

    #[test]
    fn vit_b_is_about_a_teraflop_per_crop() {
        let parts = breakdown(&vit_b());
        let total = per_crop(&vit_b());
        // Hand count: MLPs 12 x 2 x 2 x 4096 x 768 x 3072 = 463.9 GFLOP exactly.
        let mlp = parts
            .iter()
            .find(|p| p.name == "encoder MLPs")
            .expect("mlp")
            .flops;
        assert_eq!(mlp, 12.0 * 2.0 * 2.0 * 4096.0 * 768.0 * 3072.0);
        // Patch embedding: 2 x 4096 x 768 x 768 = 4.83 GFLOP.
        assert_eq!(parts[0].flops, 2.0 * 4096.0 * 768.0 * 768.0);
        assert!(
            (0.9e12..1.05e12).contains(&total),
            "ViT-B per crop {total:e}"
        );
        let decoder: f64 = parts[6..].iter().map(|p| p.flops).sum();
        assert!(decoder < 0.02 * total, "decoder {decoder:e} of {total:e}");
    }
}
