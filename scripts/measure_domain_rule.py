#!/usr/bin/env python3
"""Measures the out-of-domain signs of the built-in model (samcell_pipeline::domain) on image
sets, as recorded in MODEL_CARD.md ("When the input looks out of domain").

Usage, from the repository root, with SAMCELL_DATA holding usiigaci-phc/, dsb2018-train/ and
bacteria-timelapse/:

    python3 scripts/measure_domain_rule.py WORK_DIR

It links the images into WORK_DIR/in/<set>/ (all 45 Usiigaci images, the first 60 DSB 2018
training images by name, bacteria frames 0, 10, 20, 30, 39), runs
`samcell segment WORK_DIR/in --recursive --save-distmap` with the default model into
WORK_DIR/out, and prints per set: the seed share (pixels of the map above peak over those above
fill), the background level ((p50 - p1) / (p99 - p1) of the grey image, numpy's default
percentiles) and how many images each sign, and either, flags. Needs numpy, tifffile, Pillow;
the `samcell` program on PATH or in SAMCELL_BIN.
"""
import json
import os
import subprocess
import sys

import numpy as np
import tifffile
from PIL import Image

PEAK, FILL = 0.47, 0.09
MIN_SEED_SHARE, BACKGROUND = 0.10, (0.25, 0.75)


def link_sets(data, dest):
    sets = {
        "usiigaci": sorted(os.path.join(data, "usiigaci-phc/train/images", f)
                           for f in os.listdir(os.path.join(data, "usiigaci-phc/train/images"))),
        "dsb2018": sorted(os.path.join(data, "dsb2018-train/images", f)
                          for f in os.listdir(os.path.join(data, "dsb2018-train/images")))[:60],
        "bacteria": [os.path.join(data, f"bacteria-timelapse/01/t{t:03d}.tif")
                     for t in (0, 10, 20, 30, 39)],
    }
    for name, files in sets.items():
        os.makedirs(os.path.join(dest, name), exist_ok=True)
        for f in files:
            link = os.path.join(dest, name, os.path.basename(f))
            if not os.path.lexists(link):
                os.symlink(os.path.abspath(f), link)
    return list(sets)


def grey(path):
    if path.endswith(".tif"):
        return tifffile.imread(path).astype(np.float64)
    return np.asarray(Image.open(path).convert("L"), dtype=np.float64)


def main():
    work = sys.argv[1]
    data = os.environ["SAMCELL_DATA"]
    names = link_sets(data, os.path.join(work, "in"))
    out = os.path.join(work, "out")
    samcell = os.environ.get("SAMCELL_BIN", "samcell")
    subprocess.run([samcell, "segment", os.path.join(work, "in"), "--recursive",
                    "--save-distmap", "-q", "--output", out], check=True)
    run = json.load(open(os.path.join(out, "run.json")))
    for name in names:
        shares, levels, flags = [], [], [0, 0, 0]
        for im in run["images"]:
            if os.sep + name + os.sep not in im["input"]:
                continue
            d = tifffile.imread(os.path.join(out, im["name"] + "_distmap.tif"))
            fg, seeds = (d > FILL).sum(), (d > PEAK).sum()
            share = seeds / fg if fg else 0.0
            a = grey(os.path.realpath(im["input"]))
            p1, p50, p99 = np.percentile(a, [1, 50, 99])
            level = (p50 - p1) / (p99 - p1) if p99 > p1 else 0.5
            shares.append(share)
            levels.append(level)
            unsure = share < MIN_SEED_SHARE
            unfamiliar = not BACKGROUND[0] <= level <= BACKGROUND[1]
            flags = [flags[0] + unsure, flags[1] + unfamiliar, flags[2] + (unsure or unfamiliar)]
        s, lv = np.array(shares), np.array(levels)
        print(f"{name}: {len(s)} images; seed share min {s.min():.3f} median {np.median(s):.3f} "
              f"max {s.max():.3f}; background level min {lv.min():.2f} median "
              f"{np.median(lv):.2f} max {lv.max():.2f}; flagged: unsure {flags[0]}, "
              f"background {flags[1]}, either {flags[2]}")


if __name__ == "__main__":
    main()
