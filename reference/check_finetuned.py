#!/usr/bin/env python
"""Checks that a checkpoint written by samcell's training loads in the published Python tools and
gives the distance maps that Rust computed with it.

Loads WEIGHTS with samcell 1.1.4 `FinetunedSAM("facebook/sam-vit-base").load_weights(WEIGHTS)`
(a strict `SamModel.load_state_dict`: every key, nothing more), with the hub loading patched by the
reference harness to build `SamModel(config)` for the chosen configuration (`--config tiny|base`),
runs each enhanced crop of CROPS (N, 256, 256) u8 through `SamImageProcessor()` on the
`COLOR_GRAY2BGR` crop (samcell's `_preprocess` minus its CLAHE, which the crops already had) and
`SamModel(pixel_values, multimask_output=True)`, takes `sigmoid(pred_masks[:, 0, 0])` and prints the
largest absolute difference from MAPS (N, 256, 256) f32. Exit code 1 above --tol (default 1e-5).

Usage: SAMCELL_SHARED=<shared dir> <reference venv python> reference/check_finetuned.py WEIGHTS CROPS.npy MAPS.npy [--config tiny]
The Rust test `saved_checkpoint_reloads_identically` (crates/samcell-train/tests/step_parity.rs)
writes the three files when run with SAMCELL_TRAIN_DUMP=<folder>.
"""
import argparse
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
HARNESS = os.path.join(SHARED, "reference")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("crops")
    ap.add_argument("maps")
    ap.add_argument("--config", default="tiny", choices=["tiny", "base"])
    ap.add_argument("--tol", type=float, default=1e-5)
    a = ap.parse_args()

    sys.path.insert(0, HARNESS)
    import cv2
    import torch
    import samcell_ref
    from transformers import SamImageProcessor

    torch.set_num_threads(2)
    samcell_ref.patch_samcell_hub_loading(samcell_ref.load_config(a.config))
    from samcell.model import FinetunedSAM

    helper = FinetunedSAM(samcell_ref.HUB_NAME)
    helper.load_weights(a.weights, map_location=torch.device("cpu"))
    model = helper.get_model().eval()
    crops = np.load(a.crops)
    want = np.load(a.maps)
    proc = SamImageProcessor()
    worst = 0.0
    for i, crop in enumerate(crops):
        pv = proc(cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR), return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            out = model(pixel_values=pv, multimask_output=True)
        got = torch.sigmoid(out.pred_masks[0, 0, 0]).numpy()
        worst = max(worst, float(np.abs(got - want[i]).max()))
    print(f"max abs difference of the distance maps: {worst:.3e} over {len(crops)} crops")
    return 0 if worst <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())
