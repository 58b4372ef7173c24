//! The training mode's gradients against central finite differences, in f64, on the harness's
//! tiny SAM (`sam_tiny_scaled.safetensors`, found through `SAMCELL_SHARED`; without it the tests
//! skip with a line saying so).
//!
//! On the tiny model cut to a 256x256 input (see [`tiny_small`]), for each of the trickiest pieces a random direction `v` over that piece's parameters is
//! taken and `(L(θ + εv) - L(θ - εv)) / 2ε` is compared with `<∇L, v>` from `Tensor::backward`,
//! where `L = sum(logits(token 1) * W)` for a fixed random `W`. Pieces: the windowed attention
//! block (qkv, relative-position tables, projection, layer norms), the global attention block's
//! relative-position tables, the two-way transformer of the decoder, and the hypernetwork MLP of
//! mask token 1 with the upscaling transposed convolutions and their layer norm.
//! Tolerance: 1e-6 relative or 1e-7 absolute (f64, ε = 1e-7; measured 4e-8..4e-7 relative,
//! 7e-8 absolute on the smallest derivative).
//!
//! Also checks that training mode and inference mode compute the same logits (f32, 1e-5 relative
//! L2) and that an update of a variable is seen by the next forward.

use candle_core::{DType, Device, Tensor, Var};
use samcell_model::{read_checkpoint, HeadOverrides, Mode, SamConfig, SamModel};
use std::collections::HashMap;

/// The tiny model's tensors and config, or `None` (after a skip line) without the shared harness.
fn tiny() -> Option<(HashMap<String, Tensor>, samcell_model::SamConfig)> {
    let path = samcell_testdata::require_shared("sam_tiny_scaled.safetensors")?;
    let (ckpt, cfg) = read_checkpoint(
        &path,
        Some(HeadOverrides {
            vision_heads: Some(2),
            decoder_heads: Some(2),
        }),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Some((ckpt.tensors, cfg))
}

/// Deterministic values in [-1, 1) from an integer hash.
fn hashed(n: usize, seed: u64) -> Vec<f64> {
    (0..n as u64)
        .map(|i| {
            let k = (i
                .wrapping_mul(2654435761)
                .wrapping_add(seed.wrapping_mul(40503)))
                % 2048;
            k as f64 / 1024.0 - 1.0
        })
        .collect()
}

fn pixels(dtype: DType) -> Tensor {
    let v = hashed(3 * 1024 * 1024, 7)
        .into_iter()
        .map(|x| 2.0 * x)
        .collect::<Vec<_>>();
    Tensor::from_vec(v, (1, 3, 1024, 1024), &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// The tiny model cut down to a 256x256 input (16x16 grid: the absolute position embedding and
/// the global block's relative-position tables cropped to their centre), which keeps the f64
/// finite differences fast and exercises the window padding (16 -> 28 for 14x14 windows).
fn tiny_small() -> Option<(HashMap<String, Tensor>, samcell_model::SamConfig)> {
    let (mut raw, _) = tiny()?;
    let pos = raw["vision_encoder.pos_embed"]
        .narrow(1, 0, 16)
        .unwrap()
        .narrow(2, 0, 16)
        .unwrap()
        .contiguous()
        .unwrap();
    raw.insert("vision_encoder.pos_embed".into(), pos);
    for k in ["rel_pos_h", "rel_pos_w"] {
        let key = format!("vision_encoder.layers.1.attn.{k}");
        let t = raw[&key]
            .narrow(0, 63 - 15, 31)
            .unwrap()
            .contiguous()
            .unwrap();
        raw.insert(key, t);
    }
    let cfg = SamConfig::detect(
        &raw,
        HeadOverrides {
            vision_heads: Some(2),
            decoder_heads: Some(2),
        },
    )
    .unwrap();
    assert_eq!(
        (cfg.vision.image_size, cfg.vision.global_layers.clone()),
        (256, vec![1])
    );
    Some((raw, cfg))
}

#[test]
fn gradients_match_finite_differences() {
    let Some((raw, cfg)) = tiny_small() else {
        return;
    };
    let d = Device::Cpu;
    let mut tensors = HashMap::new();
    let mut vars: HashMap<String, Var> = HashMap::new();
    for (k, t) in raw {
        let t = t.to_dtype(DType::F64).unwrap();
        if k.starts_with("vision_encoder.") || k.starts_with("mask_decoder.") {
            let v = Var::from_tensor(&t).unwrap();
            tensors.insert(k.clone(), v.as_tensor().clone());
            vars.insert(k, v);
        } else {
            tensors.insert(k, t);
        }
    }
    let model = SamModel::from_tensors(&tensors, cfg, &d, Mode::Train).unwrap();
    let pv = Tensor::from_vec(hashed(3 * 256 * 256, 7), (1, 3, 256, 256), &d).unwrap();
    let w = Tensor::from_vec(hashed(64 * 64, 3), (1, 64, 64), &d).unwrap();
    // decoder pieces are perturbed with the image embeddings held fixed (the encoder is the
    // expensive part in f64); encoder pieces run the whole model
    let emb = model.image_embeddings(&pv).unwrap().detach();
    let loss = |m: &SamModel, full: bool| -> Tensor {
        let logits = if full {
            m.token1_logits(&pv).unwrap()
        } else {
            m.token1_logits_from_embeddings(&emb).unwrap()
        };
        (logits * &w).unwrap().sum_all().unwrap()
    };
    let grads = loss(&model, true).backward().unwrap();

    let pieces: [(&str, &[&str]); 4] = [
        (
            "windowed attention block",
            &[
                "vision_encoder.layers.0.attn.",
                "vision_encoder.layers.0.layer_norm1.",
            ],
        ),
        (
            "global attention rel-pos",
            &["vision_encoder.layers.1.attn.rel_pos_"],
        ),
        (
            "two-way transformer",
            &[
                "mask_decoder.transformer.",
                "mask_decoder.mask_tokens.",
                "mask_decoder.iou_token.",
            ],
        ),
        (
            "hypernetwork + upscaling",
            &[
                "mask_decoder.output_hypernetworks_mlps.1.",
                "mask_decoder.upscale_conv",
                "mask_decoder.upscale_layer_norm.",
            ],
        ),
    ];
    // small enough that no ReLU of the decoder's MLPs changes side within ±eps (1e-4 and 1e-6
    // did for some directions), large enough for f64 round-off (~1e-7 relative here)
    let eps = 1e-7;
    for (seed, (name, prefixes)) in pieces.iter().enumerate() {
        let full = prefixes[0].starts_with("vision_encoder.");
        let mut keys: Vec<&String> = vars
            .keys()
            .filter(|k| prefixes.iter().any(|p| k.starts_with(p)))
            .collect();
        keys.sort();
        assert!(!keys.is_empty(), "{name}: no parameters");
        let mut dirs = Vec::new();
        let mut analytic = 0.0;
        for (i, k) in keys.iter().enumerate() {
            let var = &vars[*k];
            let v = Tensor::from_vec(
                hashed(var.elem_count(), 100 * seed as u64 + i as u64 + 1),
                var.shape(),
                &d,
            )
            .unwrap();
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("{k}: no gradient"));
            analytic += (g * &v)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            dirs.push((var.clone(), var.as_tensor().detach().copy().unwrap(), v));
        }
        let eval = |s: f64| -> f64 {
            for (var, base, v) in &dirs {
                var.set(&(base + (v * s).unwrap()).unwrap()).unwrap();
            }
            loss(&model, full).to_scalar::<f64>().unwrap()
        };
        let numeric = (eval(eps) - eval(-eps)) / (2.0 * eps);
        eval(0.0);
        let rel = (numeric - analytic).abs() / analytic.abs().max(1e-12);
        println!("{name}: analytic {analytic:.10e}, numeric {numeric:.10e}, rel {rel:.2e}");
        // tolerance: 1e-6 relative, or 1e-7 absolute for small directional derivatives (f64
        // round-off of a loss ~1e2 over 2 eps is ~1e-8)
        assert!(
            rel <= 1e-6 || (numeric - analytic).abs() <= 1e-7,
            "{name}: gradient {analytic} vs finite difference {numeric} (rel {rel:.2e})"
        );
    }
}

#[test]
fn training_mode_matches_inference_and_follows_updates() {
    let Some((raw, cfg)) = tiny() else { return };
    let d = Device::Cpu;
    let infer = SamModel::from_tensors(&raw, cfg.clone(), &d, Mode::Infer).unwrap();
    let mut tensors = raw.clone();
    let key = "mask_decoder.output_hypernetworks_mlps.1.proj_out.bias";
    let var = Var::from_tensor(&raw[key]).unwrap();
    tensors.insert(key.to_string(), var.as_tensor().clone());
    let train = SamModel::from_tensors(&tensors, cfg, &d, Mode::Train).unwrap();
    let pv = pixels(DType::F32);
    let a = infer
        .token1_logits(&pv)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = train
        .token1_logits(&pv)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let num: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum();
    let den: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum();
    // tolerance: 1e-5 relative L2 (fused kernels vs plain ops, f32)
    assert!(
        (num / den).sqrt() <= 1e-5,
        "train vs infer logits relative L2 {:.2e}",
        (num / den).sqrt()
    );
    var.set(&(var.as_tensor().detach() + 1.0).unwrap()).unwrap();
    let c = train
        .token1_logits(&pv)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let moved = c
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        moved > 1e-3,
        "an updated variable must change the next forward (moved {moved})"
    );
}
