#!/usr/bin/env python3
"""Measures the small-object rule of the built-in default (MODEL_CARD.md, "Small objects"): how
well the object diameter estimate of samcell_pipeline::size tells images of small objects
(median ground-truth object under 12 px across, the size below which segmenting at 2x helped
the nuclei model on the DSB 2018 test images) from the others.

Usage, from the repository root, after scripts/lite_splits.py made WORK_DIR/split:

    cargo build --release -p samcell-pipeline --example object_size
    python3 scripts/measure_size_rule.py WORK_DIR [train|val]

For each image of the split (each source once; the training split links some several times)
it prints the estimate beside the median equivalent diameter of its masks' objects, then, per
threshold, how many images the rule "estimate below the threshold" picks among the small and
among the other images. Needs numpy, tifffile, Pillow.
"""
import os
import re
import subprocess
import sys

import numpy as np
import tifffile
from PIL import Image

SMALL = 12.0
BIN = os.environ.get("SAMCELL_SIZE_BIN", "target/release/examples/object_size")


def read_mask(path):
    if path.lower().endswith((".tif", ".tiff")):
        return tifffile.imread(path)
    return np.array(Image.open(path))


def main():
    work, part = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "train")
    images = os.path.join(work, "split", part, "images")
    masks = os.path.join(work, "split", part, "masks")
    names = sorted(os.listdir(images))
    # the training split links some sources several times as <name>_r<k>
    unique = {}
    for n in names:
        unique.setdefault(re.sub(r"_r\d+(\.\w+)$", r"\1", n), n)
    files = [os.path.join(images, n) for n in unique.values()]
    out = subprocess.run([BIN, *files], check=True, capture_output=True, text=True).stdout
    est = {}
    for line in out.splitlines():
        path, d = line.rsplit("\t", 1)
        est[os.path.basename(path)] = None if d == "-" else float(d)
    by_stem = {os.path.splitext(f)[0]: f for f in os.listdir(masks)}
    rows = []
    for n in unique.values():
        m = read_mask(os.path.join(masks, by_stem[os.path.splitext(n)[0]]))
        ids, counts = np.unique(m, return_counts=True)
        counts = counts[ids > 0]
        truth = float(np.sqrt(4 * np.median(counts) / np.pi))
        rows.append((n.split("-")[0], n, truth, est[n]))
    for set_name in sorted({r[0] for r in rows}):
        sel = [r for r in rows if r[0] == set_name and r[3] is not None]
        t = np.array([r[2] for r in sel])
        e = np.array([r[3] for r in sel])
        small = t < SMALL
        print(f"{set_name}: {len(sel)} images, {int(small.sum())} with objects under {SMALL:g} px; "
              f"log-log correlation {np.corrcoef(np.log(t), np.log(e))[0, 1]:.3f}; "
              f"estimate min/median/max {e.min():.1f} / {np.median(e):.1f} / {e.max():.1f}")
        for thr in (10, 11, 12, 13, 14, 15, 16, 18):
            pick = e < thr
            print(f"  estimate < {thr:2d}: picks {int((pick & small).sum()):3d} of {int(small.sum())} small, "
                  f"{int((pick & ~small).sum()):3d} of {int((~small).sum())} others")


if __name__ == "__main__":
    main()
