//! Golden tests of the SAM model against transformers 4.57 `SamModel` with the reference
//! harness's tiny configuration and well-conditioned random weights.
//!
//! Fixtures: `reference/gen_model_fixtures.py`. Weights: `sam_tiny_scaled.{pt,safetensors}` from
//! the shared reference harness, found through `SAMCELL_SHARED` (default: `../shared` beside the
//! repository); without them the tests skip with a line saying so.

use candle_core::{Device, Tensor};
use samcell_model::{HeadOverrides, SamModel};
use std::path::{Path, PathBuf};

mod common;
use common::{max_abs, npy, rel_l2};

fn fixture(name: &str) -> (Vec<usize>, Vec<f32>) {
    npy(&PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name))
}

/// Tiny config: vision 2 heads, decoder 2 heads (not visible in shapes).
fn tiny_heads() -> HeadOverrides {
    HeadOverrides {
        vision_heads: Some(2),
        decoder_heads: Some(2),
    }
}

/// The tiny model from its `ext` checkpoint, or `None` (after a skip line) without the shared
/// harness.
fn load(ext: &str) -> Option<SamModel> {
    samcell_testdata::require_shared(&format!("sam_tiny_scaled.{ext}")).map(|p| load_path(&p))
}

fn load_path(path: &Path) -> SamModel {
    SamModel::load(path, Some(tiny_heads())).unwrap_or_else(|e| panic!("{e}"))
}

/// The fixture input: ((i * mult + item_offset * b) mod 1024) / 256 - 2, exact in f32.
fn pixel_values(batch: usize) -> Tensor {
    let n = 3 * 1024 * 1024;
    let mut v = Vec::with_capacity(batch * n);
    for b in 0..batch {
        for i in 0..n as u64 {
            let k = (i.wrapping_mul(2654435761) + 7919 * b as u64) % 1024;
            v.push(k as f32 / 256.0 - 2.0);
        }
    }
    Tensor::from_vec(v, (batch, 3, 1024, 1024), &Device::Cpu).unwrap()
}

/// Takes every `step`-th element of the last two dims of a (..., H, W) tensor.
fn subsample(t: &Tensor, step: usize) -> Vec<f32> {
    let dims = t.dims().to_vec();
    let (h, w) = (dims[dims.len() - 2], dims[dims.len() - 1]);
    let flat = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut out = Vec::new();
    for plane in flat.chunks(h * w) {
        for y in (0..h).step_by(step) {
            for x in (0..w).step_by(step) {
                out.push(plane[y * w + x]);
            }
        }
    }
    out
}

#[test]
fn tiny_model_matches_transformers() {
    let Some(model) = load("safetensors") else {
        return;
    };
    assert_eq!(model.config.vision.global_layers, vec![1]);
    assert_eq!(model.config.vision.window, 14);
    let pv = pixel_values(2);
    let out = model.forward(&pv).unwrap();

    let (_, want_emb) = fixture("tiny_image_embeddings.npy");
    let emb0 = out.image_embeddings.get(0).unwrap();
    let got_emb = subsample(&emb0, 2);
    let e = rel_l2(&got_emb, &want_emb);
    // tolerance: relative L2 <= 1e-5 (f32, different summation order than PyTorch)
    assert!(e <= 1e-5, "image embeddings relative L2 {e:.3e} > 1e-5");

    let (shape, want_masks) = fixture("tiny_pred_masks.npy");
    assert_eq!(shape, vec![2, 3, 64, 64]);
    let got_masks = subsample(&out.pred_masks, 4);
    let e = rel_l2(&got_masks, &want_masks);
    // tolerance: relative L2 <= 1e-5 over both batch items and the three multimask outputs
    assert!(e <= 1e-5, "pred_masks relative L2 {e:.3e} > 1e-5");

    let (_, want_iou) = fixture("tiny_iou_scores.npy");
    let got_iou = out
        .iou_scores
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    // tolerance: 1e-4 absolute
    assert!(
        max_abs(&got_iou, &want_iou) <= 1e-4,
        "iou {got_iou:?} vs {want_iou:?}"
    );

    let (_, want_pe) = fixture("tiny_image_pe.npy");
    let got_pe = subsample(&model.image_positional_embeddings().unwrap(), 4);
    // tolerance: 1e-5 absolute (sin/cos of arguments up to ~2*pi*|B|)
    assert!(
        max_abs(&got_pe, &want_pe) <= 1e-5,
        "image pe max abs {}",
        max_abs(&got_pe, &want_pe)
    );
}

#[test]
fn batched_equals_single() {
    let Some(model) = load("safetensors") else {
        return;
    };
    let pv = pixel_values(2);
    let both = model.distance_maps(&pv).unwrap();
    let second = model.distance_maps(&pv.narrow(0, 1, 1).unwrap()).unwrap();
    let a = both
        .get(1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let b = second
        .get(0)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    // tolerance: 1e-6 absolute (batching may change matmul blocking)
    assert!(
        max_abs(&a, &b) <= 1e-6,
        "batch of 2 vs single differ by {}",
        max_abs(&a, &b)
    );
}

#[test]
fn pt_and_safetensors_are_bit_identical() {
    let Some(found) =
        samcell_testdata::require(&["sam_tiny_scaled.pt", "sam_tiny_scaled.safetensors"], &[])
    else {
        return;
    };
    let (a, b) = (load_path(&found[0]), load_path(&found[1]));
    assert_eq!(a.format, samcell_model::Format::TorchZip);
    assert_eq!(b.format, samcell_model::Format::Safetensors);
    let pv = pixel_values(1);
    let da = a
        .distance_maps(&pv)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let db = b
        .distance_maps(&pv)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    // tolerance: exact (same weights, same code)
    assert!(
        da.iter().zip(&db).all(|(x, y)| x.to_bits() == y.to_bits()),
        ".pt and .safetensors outputs differ"
    );
}
