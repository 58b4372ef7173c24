#!/usr/bin/env python
"""Golden fixtures for the samcell-model crate, from transformers' SamModel (the reference).

Runs the harness's tiny SAM configuration with its well-conditioned random weights
(`sam_tiny_scaled.safetensors`, made by the harness's make_weights.py) on two deterministic
pixel_values inputs whose values are exact in float32 (k/256 - 2 from an integer hash), so the
Rust test needs no pre-processing to reproduce the input. Writes sub-sampled outputs to
crates/samcell-model/tests/fixtures/:

  tiny_pixel_seed.json          the input formula parameters
  tiny_image_embeddings.npy     image embeddings of item 0, every 2nd row/column  (32, 32, 32)
  tiny_pred_masks.npy           mask logits (B=2, 3 multimask tokens) every 4th row/column (2, 3, 64, 64)
  tiny_iou_scores.npy           (2, 3)
  tiny_image_pe.npy             image-wide positional embedding every 4th row/column (32, 16, 16)

Usage: SAMCELL_SHARED=<shared dir> <reference venv python> reference/gen_model_fixtures.py
"""
import json
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
HARNESS = os.path.join(SHARED, "reference")
WEIGHTS = os.environ.get("SAMCELL_REF_WEIGHTS", HARNESS)
OUT = os.path.join(REPO, "crates", "samcell-model", "tests", "fixtures")


def pixel_values(batch, size=1024, mult=2654435761, offset=0):
    """v = ((i * mult + offset) mod 1024) / 256 - 2 over the flat CHW index i of each item."""
    n = 3 * size * size
    out = np.empty((batch, 3, size, size), np.float32)
    for b in range(batch):
        i = np.arange(n, dtype=np.uint64)
        k = (i * np.uint64(mult) + np.uint64(offset + 7919 * b)) % np.uint64(1024)
        out[b] = (k.astype(np.float32) / np.float32(256.0) - np.float32(2.0)).reshape(3, size, size)
    return out


def main():
    sys.path.insert(0, HARNESS)
    import samcell_ref
    import torch
    from safetensors.torch import load_file
    from transformers import SamModel

    torch.manual_seed(0)
    torch.set_num_threads(2)
    cfg = samcell_ref.load_config("tiny")
    model = SamModel(cfg).eval()
    model.load_state_dict(load_file(os.path.join(WEIGHTS, "sam_tiny_scaled.safetensors")))
    pv = pixel_values(2)
    with torch.no_grad():
        out = model(pixel_values=torch.from_numpy(pv), multimask_output=True)
        emb = model.vision_encoder(torch.from_numpy(pv))[0].numpy()
        pe = model.get_image_wide_positional_embeddings()[0].numpy()
    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "tiny_image_embeddings.npy"), np.ascontiguousarray(emb[0, :, ::2, ::2]).astype(np.float32))
    masks = out.pred_masks.numpy()[:, 0]  # (B, 3, 256, 256)
    np.save(os.path.join(OUT, "tiny_pred_masks.npy"), np.ascontiguousarray(masks[:, :, ::4, ::4]).astype(np.float32))
    np.save(os.path.join(OUT, "tiny_iou_scores.npy"), out.iou_scores.numpy()[:, 0].astype(np.float32))
    np.save(os.path.join(OUT, "tiny_image_pe.npy"), np.ascontiguousarray(pe[:, ::4, ::4]).astype(np.float32))
    with open(os.path.join(OUT, "tiny_pixel_seed.json"), "w") as f:
        json.dump({"batch": 2, "size": 1024, "mult": 2654435761, "offset": 0, "item_offset": 7919,
                   "formula": "((i*mult + offset + item_offset*b) mod 1024)/256 - 2 over flat CHW index i"}, f, indent=1)
    print("fixtures written to", OUT)


if __name__ == "__main__":
    main()
