#!/usr/bin/env python
"""Golden fixtures for crates/samcell-data: distance-map targets and COCO polygon/RLE rasterising.

Reference versions: opencv-python-headless 4.12.0.88 (cv2.distanceTransform DIST_L2 mask 3, via
the harness's reference/dist_target.py), scipy 1.16 (ndimage.distance_transform_edt), numpy 2.2.6,
pycocotools 2.0.11 (mask.frPyObjects / decode / encode; not in the reference venv: install it with
`pip install pycocotools==2.0.11`, or put an unpacked wheel on PYTHONPATH).

Run from anywhere with the reference venv:
    <venv>/bin/python reference/gen_target_fixtures.py
Writes crates/samcell-data/tests/fixtures/ (about 250 KB; a few seconds):
- target_<case>_labels.npy (u32), target_<case>_chamfer3.npy / _edt.npy (f32): synthetic label
  images (touching cells, cells on the image border, holes, one-pixel cells, a non-convex cell,
  large label values, a cell filling the whole image: chamfer3 only, scipy's EDT of an image with
  no background is not a distance).
- only when SAMCELL_REAL_GOLDEN names a folder (outputs derived from the shared data are not
  committed): target_usiigaci_chamfer3.npy / _edt.npy (f32) there, the targets of the 256x256 crop
  masks/set1.png[384:640, 384:640] of $SAMCELL_DATA/usiigaci-phc/train at the crop's cell pixels
  (row-major); the ignored Rust test `usiigaci_crop_matches_reference` reads them from there.
- coco_polygons.json: polygons on small images with pycocotools' uncompressed and compressed RLE of
  each rasterised polygon.

EDT reference: for each label l, scipy.ndimage.distance_transform_edt(labels == l) (distance to the
nearest non-cell pixel inside the image: pixels outside the image are not background), cast to f32,
divided by its f32 maximum over the cell.
"""
import json
import os
import sys

import numpy as np
from PIL import Image
from scipy import ndimage

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(REPO, "..", "shared"))
DATA = os.environ.get("SAMCELL_DATA", os.path.join(SHARED, "data"))
OUT = os.path.join(REPO, "crates", "samcell-data", "tests", "fixtures")

sys.path.insert(0, os.path.join(SHARED, "reference"))
import dist_target  # noqa: E402  (the harness's target: cv2.distanceTransform(DIST_L2, 3) per cell)

USIIGACI_CROP = (384, 640, 384, 640)  # y0, y1, x0, x1 of train/masks/set1.png


def edt_target(labels):
    out = np.zeros(labels.shape, np.float32)
    for lab in np.unique(labels):
        if lab == 0:
            continue
        inside = labels == lab
        d = ndimage.distance_transform_edt(inside).astype(np.float32)
        peak = np.float32(d[inside].max())
        if peak > 0:
            out[inside] = d[inside] / peak
    return out


def synthetic_cases():
    cases = {}
    a = np.zeros((32, 40), np.uint32)
    a[2:10, 3:12] = 1          # two touching rectangles
    a[2:10, 12:20] = 2
    a[0:6, 30:40] = 3          # top-right corner, touching two borders
    a[12:26, 2:16] = 4         # a ring with a hole...
    a[16:22, 6:12] = 0
    a[18:20, 8:10] = 10        # ...holding another cell
    a[28, 20] = 5              # one-pixel cell
    a[30, 24] = 6              # two touching one-pixel cells
    a[30, 25] = 7
    a[12:28, 22:26] = 8        # non-convex U shape
    a[24:28, 26:34] = 8
    a[12:28, 34:38] = 8
    a[8:32, 39] = 9            # a one-pixel-wide cell along the right border
    a[31, 0:12] = 11           # a row along the bottom border
    cases["shapes"] = a

    rng = np.random.default_rng(7)
    h, w = 48, 56
    seeds = rng.uniform(0, [h, w], size=(14, 2))
    yy, xx = np.mgrid[0:h, 0:w]
    d = (yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2
    b = (np.argmin(d, axis=2) + 1).astype(np.uint32) * 5000  # large label values (> u16)
    b[rng.uniform(size=(h, w)) < 0.08] = 0                     # salt of background holes
    b[np.min(d, axis=2) > 90] = 0                              # gaps between cells
    cases["voronoi"] = b

    cases["full"] = np.full((5, 7), 3, np.uint32)              # one cell, no background at all
    return cases


def usiigaci_crop():
    p = os.path.join(DATA, "usiigaci-phc", "train", "masks", "set1.png")
    if not os.path.isfile(p):
        raise SystemExit(f"{p} missing: set SAMCELL_DATA to the folder holding usiigaci-phc/")
    m = np.array(Image.open(p))
    y0, y1, x0, x1 = USIIGACI_CROP
    return m[y0:y1, x0:x1].astype(np.uint32)


def coco_cases():
    from pycocotools import mask as mask_util

    rng = np.random.default_rng(11)
    cases = []
    fixed = [
        (12, 10, [1.2, 1.7, 8.9, 2.1, 5.3, 7.6]),
        (20, 24, [2, 2, 20, 2, 20, 16, 12, 16, 12, 8, 2, 8]),                 # concave L
        (16, 16, [0, 0, 15.9, 0, 15.9, 15.9, 0, 15.9]),                        # whole image
        (16, 18, [-3.5, 4.2, 10.1, -2.7, 21.0, 9.9, 6.6, 19.5]),               # beyond the edges
        (15, 15, [2, 2, 12, 12, 12, 2, 2, 12]),                                # self-intersecting
        (10, 10, [4.5, 4.5, 4.5, 4.5, 5.5, 4.5, 5.5, 5.5]),                    # repeated vertex
        (30, 40, [0.5, 0.5, 0.6, 0.7, 0.9, 0.55]),                             # sub-pixel sliver
    ]
    for h, w, poly in fixed:
        cases.append((h, w, [float(v) for v in poly]))
    for _ in range(10):
        h, w = int(rng.integers(8, 40)), int(rng.integers(8, 40))
        n = int(rng.integers(3, 12))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        r = rng.uniform(1, 0.6 * max(h, w), n)
        poly = np.stack([cx + r * np.cos(ang), cy + r * np.sin(ang)], 1).ravel()
        cases.append((h, w, [round(float(v), 3) for v in poly]))
    out = []
    for h, w, poly in cases:
        rle = mask_util.frPyObjects([poly], h, w)[0]
        m = mask_util.decode(rle)
        flat = m.ravel(order="F")
        counts, cur, run = [], 0, 0
        for v in flat:
            if v != cur:
                counts.append(run)
                cur, run = v, 0
            run += 1
        counts.append(run)
        enc = mask_util.encode(np.asfortranarray(m))
        out.append({
            "height": h, "width": w, "polygon": poly,
            "counts": [int(c) for c in counts],
            "compressed": enc["counts"].decode("ascii"),
            "area": int(m.sum()),
        })
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, lab in synthetic_cases().items():
        np.save(os.path.join(OUT, f"target_{name}_labels.npy"), lab)
        np.save(os.path.join(OUT, f"target_{name}_chamfer3.npy"), dist_target.target(lab))
        if (lab == 0).any():  # scipy's EDT of an image without background is not meaningful
            np.save(os.path.join(OUT, f"target_{name}_edt.npy"), edt_target(lab))
    real = os.environ.get("SAMCELL_REAL_GOLDEN")
    if real:
        os.makedirs(real, exist_ok=True)
        crop = usiigaci_crop()
        inside = crop != 0
        np.save(os.path.join(real, "target_usiigaci_chamfer3.npy"), dist_target.target(crop)[inside])
        np.save(os.path.join(real, "target_usiigaci_edt.npy"), edt_target(crop)[inside])
        print(f"wrote the real-data goldens to {real}")
    with open(os.path.join(OUT, "coco_polygons.json"), "w") as f:
        json.dump(coco_cases(), f, indent=None, separators=(",", ":"))
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KB, to {OUT}")


if __name__ == "__main__":
    main()
