#!/usr/bin/env python
"""GPU figures of the Python reference, for comparison with `samcell` on the same card in the same run.

Two measurements, both with ViT-B (`SamConfig()`) weights redrawn by the harness's
`make_weights.rescale_weights` (seed 1), so that both sides see the same checkpoint:

1. Inference: the published pipeline (samcell 1.1.4 `SlidingWindowPipeline(model, 'cuda')`, which
   runs one crop per forward pass in f32, exactly as published) on every image of --images;
   seconds per image after one warm-up image.
2. Training: one step of the paper's protocol in PyTorch -- vision encoder + mask decoder
   trainable, prompt encoder frozen, no prompt, loss MSE(sigmoid(mask token 1 logits), target),
   AdamW(lr 1e-4, wd 0.1) -- at batch --train-batch (default 8) of 1024x1024 inputs; iterations
   per second after warm-up, f32 (as published) and with bf16 autocast.

It also writes the weights it used (`--save-weights`, safetensors) so `samcell` can load the same
checkpoint. Output: a JSON summary on stdout (and in --out/reference_gpu.json).

Usage:
  python gpu_bench_reference.py --harness DIR_WITH_samcell_ref.py --images DIR --out DIR
      [--save-weights W.safetensors] [--train-iters 10] [--train-batch 8] [--train-warmup 3]
      [--precisions f32,bf16-autocast] [--skip-inference | --skip-train] [--device cuda|cpu]
`samcell-bench --only train` runs it with --skip-inference for its reference column.
"""
import argparse
import glob
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harness", required=True, help="folder with samcell_ref.py and make_weights.py")
    ap.add_argument("--images", default=None, help="images for the inference measurement")
    ap.add_argument("--out", required=True)
    ap.add_argument("--save-weights", default=None)
    ap.add_argument("--train-iters", type=int, default=10)
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--max-images", type=int, default=8)
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu for a smoke test")
    ap.add_argument("--config", default="base", choices=["base", "tiny"])
    ap.add_argument("--skip-train", action="store_true", help="only the inference measurement")
    ap.add_argument("--skip-inference", action="store_true", help="only the training measurement")
    ap.add_argument("--train-warmup", type=int, default=3, help="training steps before timing")
    ap.add_argument("--precisions", default="f32,bf16-autocast", help="training precisions, comma-separated")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    a = ap.parse_args()
    if not a.skip_inference and not a.images:
        ap.error("--images is needed for the inference measurement (or --skip-inference)")
    sys.path.insert(0, a.harness)

    import cv2
    import numpy as np
    import torch
    import samcell_ref
    import make_weights

    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    cfg = samcell_ref.load_config(a.config)
    torch.manual_seed(0)
    model = make_weights.build_model(cfg)
    make_weights.rescale_weights(model, seed=1)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if a.save_weights:
        from safetensors.torch import save_file
        save_file(state, a.save_weights)
    ckpt = os.path.join(a.out, "samcell_ref_weights.pt")
    if not a.skip_inference:
        torch.save(state, ckpt)

    samcell_ref.patch_samcell_hub_loading(cfg)
    import samcell

    summary = {"torch": torch.__version__, "config": a.config,
               "device": torch.cuda.get_device_name(0) if a.device == "cuda" else "cpu"}

    # ---- 1. the published inference pipeline on the GPU --------------------------------------
    if not a.skip_inference:
        inference(a, samcell, samcell_ref, ckpt, dev, sync, summary)

    # ---- 2. one training step of the paper's protocol ----------------------------------------
    precisions = [] if a.skip_train else [p for p in a.precisions.split(",") if p]
    for precision in precisions:
        if precision not in ("f32", "bf16-autocast"):
            sys.exit(f"unknown precision {precision!r} (f32, bf16-autocast)")
        train_step(a, cfg, state, make_weights, dev, sync, precision, summary)

    text = json.dumps(summary, indent=1)
    print(text)
    with open(os.path.join(a.out, "reference_gpu.json"), "w") as f:
        f.write(text)


def inference(a, samcell, samcell_ref, ckpt, dev, sync, summary):
    import numpy as np
    import torch

    fs = samcell.FinetunedSAM("facebook/sam-vit-base")
    fs.load_weights(ckpt, map_location=dev)
    pipe = samcell.SlidingWindowPipeline(fs, a.device, crop_size=256)
    paths = sorted(glob.glob(os.path.join(a.images, "*")))[: a.max_images]
    imgs = [samcell_ref.load_gray_image(p) for p in paths]
    pipe.run(imgs[0], return_dist_map=True)  # warm-up (cuDNN/cuBLAS handles, allocator)
    sync()
    times, crops = [], 0
    for img in imgs:
        t = time.perf_counter()
        labels, dist = pipe.run(img, return_dist_map=True)
        sync()
        times.append(time.perf_counter() - t)
        n, _, _ = pipe.sliding_window_helper.seperate_into_crops(img)
        crops += len(n)
        np.save(os.path.join(a.out, "ref_" + os.path.splitext(os.path.basename(paths[len(times) - 1]))[0] + "_dist.npy"), dist.astype(np.float32))
    summary["inference"] = {
        "images": len(imgs),
        "shape": list(imgs[0].shape),
        "crops": crops,
        "s_per_image_median": float(np.median(times)),
        "s_per_image_mean": float(np.mean(times)),
        "images_per_s": float(len(times) / sum(times)),
    }
    del pipe, fs
    if a.device == "cuda":
        torch.cuda.empty_cache()


def train_step(a, cfg, state, make_weights, dev, sync, precision, summary):
    import torch

    torch.manual_seed(0)
    m = make_weights.build_model(cfg)
    m.load_state_dict(state)
    m.to(dev).train()
    for p in m.prompt_encoder.parameters():
        p.requires_grad_(False)
    params = [p for p in m.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.1, betas=(0.9, 0.999))
    b = a.train_batch
    x = torch.randn(b, 3, 1024, 1024, device=dev)
    y = torch.rand(b, 256, 256, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(a.device, dtype=torch.bfloat16, enabled=precision != "f32"):
            out = m(pixel_values=x, multimask_output=True)
            logits = out.pred_masks[:, 0, 0].float()
        loss = torch.nn.functional.mse_loss(torch.sigmoid(logits), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(a.train_warmup):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(a.train_iters):
        loss = step()
    sync()
    dt = (time.perf_counter() - t) / a.train_iters
    summary["train_" + precision] = {
        "batch": b,
        "s_per_iter": dt,
        "iters_per_s": 1.0 / dt,
        "loss": float(loss.detach()),
        "max_mem_gib": torch.cuda.max_memory_allocated() / 2**30 if a.device == "cuda" else None,
    }
    del m, opt
    if a.device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


if __name__ == "__main__":
    main()
