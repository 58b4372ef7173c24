#!/usr/bin/env python
"""Reference outputs for the ViT-B parity check (`cargo test -p samcell-model --test parity_vitb
-- --ignored`).

For each parity image this runs the shared harness (the published samcell 1.1.4 pipeline on
transformers' SamModel) with the ViT-B `sam_vitb_scaled.pt` weights and keeps every intermediate
array in OUT/<name>/. It also writes `labels_fixed_fill.npy`: samcell's own post-processing
(`cells_from_dist_map`) of the reference distance map after the zero-weight pixels have been
filled from their nearest weighted pixel — the one deliberate change samcell-rs makes to the
reference (each such pixel takes the value of its exact nearest weighted pixel, where the
reference's lookup is buggy; see samcell-pipeline's blend module and the README's "Deliberate
differences") — which is what our labels are compared with.

Images: the synthetic 704x520 frame (make_synthetic.py) and one real Usiigaci phase-contrast
image, converted to 8 bits with samcell-rs's rule for 16-bit input (whole-image min-max,
round half away from zero) and saved as PNG so both programs read identical bytes.

Usage: reference/venv/bin/python reference/parity_vitb.py OUT [--real set1.tif]
Env: SAMCELL_SHARED (default ../shared beside the repo), SAMCELL_DATA (default $SAMCELL_SHARED/data),
     SAMCELL_REF_WEIGHTS (default reference/weights).
"""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
DATA = os.environ.get("SAMCELL_DATA", os.path.join(SHARED, "data"))
WEIGHTS = os.environ.get("SAMCELL_REF_WEIGHTS", os.path.join(HERE, "weights"))


def to_u8_minmax(img):
    img = img.astype(np.float64)
    lo, hi = img.min(), img.max()
    if hi <= lo:
        return np.zeros(img.shape, np.uint8)
    x = (img - lo) * 255.0 / (hi - lo)
    return np.floor(x + 0.5).clip(0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--real", default="set1.tif", help="file name in usiigaci-phc/images")
    a = ap.parse_args()
    import cv2
    import tifffile
    from scipy import ndimage

    os.makedirs(a.out, exist_ok=True)
    synth = os.path.join(WEIGHTS, "synth_704x520.png")
    if not os.path.exists(synth):
        subprocess.check_call([sys.executable, os.path.join(SHARED, "reference", "make_synthetic.py"), WEIGHTS])
    real_dir = os.path.join(DATA, "usiigaci-phc")
    real_src = [os.path.join(r, f) for r, _, fs in os.walk(real_dir) for f in fs if f == a.real][0]
    real_png = os.path.join(a.out, "real_u8.png")
    cv2.imwrite(real_png, to_u8_minmax(tifffile.imread(real_src)))
    weights = os.path.join(WEIGHTS, "sam_vitb_scaled.pt")
    for name, img in [("synth_704x520", synth), ("real", real_png)]:
        out = os.path.join(a.out, name)
        subprocess.check_call([sys.executable, os.path.join(SHARED, "reference", "reference_pipeline.py"), img, weights,
                               "--config", "base", "--out", out, "--threads", "2"])
        dist = np.load(os.path.join(out, "dist_map.npy"))
        weight = np.load(os.path.join(out, "combine_weight_map.npy"))
        invalid = weight <= 1e-4
        if invalid.any():
            _, (iy, ix) = ndimage.distance_transform_edt(invalid, return_indices=True)
            dist = dist.copy()
            dist[invalid] = dist[iy[invalid], ix[invalid]]
        np.save(os.path.join(out, "dist_map_fixed_fill.npy"), dist.astype(np.float32))
        subprocess.check_call([sys.executable, os.path.join(SHARED, "reference", "postprocess.py"),
                               os.path.join(out, "dist_map_fixed_fill.npy"), "--out", os.path.join(out, "fixed")])
        os.replace(os.path.join(out, "fixed", "labels.npy"), os.path.join(out, "labels_fixed_fill.npy"))
        print(name, "done:", out)


if __name__ == "__main__":
    main()
