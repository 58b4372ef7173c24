"""The reference pipeline (reference_pipeline.py of the shared harness) with SamModel's forward under
PyTorch CPU autocast to bfloat16: what a PyTorch user gets with one line of autocast. The model's
outputs are cast back to float32 so that the pipeline's numpy steps run unchanged.

    venv/bin/python reference/run_autocast.py IMAGE WEIGHTS --config base --no-intermediates --out DIR

Arguments are those of reference_pipeline.py (use --no-intermediates: crop-0 dumps are f32-only).
"""
import os
import runpy
import sys

import torch
import transformers

_forward = transformers.SamModel.forward


def _autocast_forward(self, *args, **kwargs):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _forward(self, *args, **kwargs)
    out.pred_masks = out.pred_masks.float()
    out.iou_scores = out.iou_scores.float()
    return out


transformers.SamModel.forward = _autocast_forward

if __name__ == "__main__":
    shared = os.environ.get("SAMCELL_SHARED") or os.path.join(os.path.dirname(__file__), "..", "..", "shared")
    harness = os.path.join(shared, "reference")
    sys.path.insert(0, harness)
    sys.argv = [os.path.join(harness, "reference_pipeline.py")] + sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
