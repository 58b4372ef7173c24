#!/usr/bin/env python
"""Golden fixtures for samcell-train's one-step parity test (tests/step_parity.rs).

One SAMCell training step in PyTorch (torch 2.8, transformers 4.57 `SamModel`) with the reference
harness's tiny configuration (`config_tiny.json`) and its well-conditioned weights
(`sam_tiny_scaled.safetensors`):

- batch: two 256x256 crops of the first Usiigaci phase-contrast frame (top-left corner and the
  crop at x=512, y=384), read like `samcell segment` (cv2 IMREAD_GRAYSCALE) and enhanced like
  samcell's `_preprocess` (CLAHE clip 1, 8x8 tiles, then NORM_MINMAX to u8); targets are the
  per-cell distance maps of the matching label crops (the harness's `dist_target.target`:
  cv2 DIST_L2 mask 3 per cell, divided by the cell's max);
- input: `SamImageProcessor()` defaults on the `COLOR_GRAY2BGR` crops (what samcell does);
- model in train mode, vision encoder + mask decoder trainable, prompt encoder frozen (its
  parameters have requires_grad False; `shared_image_embedding` is a buffer);
- loss: `nn.MSELoss()(sigmoid(pred_masks.squeeze(1)[:, 0]), target)` (mask token 1);
- `torch.optim.AdamW(trainable, lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1)` (eps 1e-8,
  amsgrad off), `zero_grad()`, `backward()`, one `step()`. The learning rate is the base 1e-4 itself
  (no scheduler): the paper's LambdaLR schedule gives factor 0 at step 0, which would make the
  first step a no-op and test nothing.

Written to crates/samcell-train/tests/fixtures/ (the batch itself is not stored: it is derived
from the shared data, and the Rust test rebuilds it from SAMCELL_DATA the same way):
  step_grads.safetensors, step_params.safetensors
                        per trainable tensor: the gradient and the value after the step, whole
                        for tensors of <= FULL elements, else elements 0, s, 2s, ... (s = numel // SUB)
  step_meta.json        loss, and per key: numel, stride, count, grad L2 norm, whether it has a grad

Usage: SAMCELL_SHARED=<shared dir> [SAMCELL_DATA=<data dir>] <reference venv python> reference/gen_train_step_fixtures.py
"""
import json
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
DATA = os.environ.get("SAMCELL_DATA", os.path.join(SHARED, "data"))
HARNESS = os.path.join(SHARED, "reference")
OUT = os.path.join(REPO, "crates", "samcell-train", "tests", "fixtures")
FULL = 8192
SUB = 2048
CROPS = [(0, 0), (512, 384)]  # (x, y) of each crop's top-left corner


def enhance(img):
    import cv2
    img = cv2.createCLAHE(clipLimit=1, tileGridSize=(8, 8)).apply(img)
    return cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def batch():
    import cv2
    sys.path.insert(0, HARNESS)
    from dist_target import target
    root = os.path.join(DATA, "usiigaci-phc", "train")
    name = sorted(os.listdir(os.path.join(root, "images")))[0]
    img = cv2.imread(os.path.join(root, "images", name), cv2.IMREAD_GRAYSCALE)
    masks = sorted(os.listdir(os.path.join(root, "masks")))
    lab = cv2.imread(os.path.join(root, "masks", masks[0]), cv2.IMREAD_UNCHANGED)
    assert img is not None and lab is not None and img.shape == lab.shape, (name, masks[0])
    crops, targets = [], []
    for x, y in CROPS:
        crops.append(enhance(np.ascontiguousarray(img[y:y + 256, x:x + 256])))
        targets.append(target(np.ascontiguousarray(lab[y:y + 256, x:x + 256])))
    return np.stack(crops), np.stack(targets).astype(np.float32), name


def main():
    import cv2
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import SamImageProcessor, SamModel
    sys.path.insert(0, HARNESS)
    import samcell_ref

    torch.manual_seed(0)
    torch.set_num_threads(2)
    crops, targets, name = batch()
    proc = SamImageProcessor()
    pv = proc([cv2.cvtColor(c, cv2.COLOR_GRAY2BGR) for c in crops], return_tensors="pt")["pixel_values"]

    model = SamModel(samcell_ref.load_config("tiny"))
    model.load_state_dict(load_file(os.path.join(HARNESS, "sam_tiny_scaled.safetensors")))
    for p in model.prompt_encoder.parameters():
        p.requires_grad_(False)
    model.train()
    trainable = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
    assert all(k.startswith(("vision_encoder.", "mask_decoder.")) for k, _ in trainable)
    opt = torch.optim.AdamW([p for _, p in trainable], lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1)

    out = model(pixel_values=pv, multimask_output=True)
    logits = out.pred_masks.squeeze(1)[:, 0]
    loss = torch.nn.MSELoss()(torch.sigmoid(logits), torch.from_numpy(targets))
    opt.zero_grad()
    loss.backward()
    grads = {k: (None if p.grad is None else p.grad.detach().clone()) for k, p in trainable}
    opt.step()

    os.makedirs(OUT, exist_ok=True)
    g_out, p_out, meta = {}, {}, {}
    for k, p in trainable:
        n = p.numel()
        stride = 1 if n <= FULL else n // SUB
        count = n if n <= FULL else SUB
        idx = torch.arange(count) * stride
        entry = {"numel": n, "stride": stride, "count": count, "has_grad": grads[k] is not None}
        if grads[k] is not None:
            g = grads[k].reshape(-1)
            entry["grad_norm"] = float(g.double().norm())
            g_out[k] = g[idx].contiguous()
        p_out[k] = p.detach().reshape(-1)[idx].contiguous()
        meta[k] = entry
    save_file(g_out, os.path.join(OUT, "step_grads.safetensors"))
    save_file(p_out, os.path.join(OUT, "step_params.safetensors"))
    with open(os.path.join(OUT, "step_meta.json"), "w") as f:
        json.dump({"loss": float(loss.item()), "lr": 1e-4, "weight_decay": 0.1, "image": name,
                   "crops_xy": CROPS, "full": FULL, "sub": SUB, "params": meta}, f, indent=1)
    print("loss", loss.item(), "fixtures written to", OUT)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("fixture bytes", total)


if __name__ == "__main__":
    main()
