#!/usr/bin/env python3
"""Golden fixtures for crates/samcell-measure (measurements and evaluation).

Reference libraries (the reference venv): py-ctcmetrics 1.3.3 (SEG, DET, OP_CSB), scikit-image
0.25.2 (`skimage.measure.regionprops`), scipy (Hungarian matching for the AP cross-check, binary
dilation for the CellProfiler neighbour definitions), numpy.

What is stored (small, no image data):
  tests/fixtures/measure_cases.json  images used (paths relative to the data folder), perturbation
                                     *recipes* per variant, the SHA-256 of every perturbed label image,
                                     py-ctcmetrics SEG/DET/OP_CSB and counts per image and pooled,
                                     AP true positives from a Hungarian matching.
  tests/fixtures/measure_cells.npy   float64 table: per cell of selected cases, regionprops values,
                                     the CellProfiler-style neighbour figures (scipy re-implementation)
                                     and intensity statistics over a synthetic intensity image.

Why recipes: the random choices (which cells to drop, merge, split, where to add spurious cells)
are drawn here once and stored; the operations themselves are trivial and specified below, so the
Rust test rebuilds the identical label images from the real data (env SAMCELL_DATA) and checks
their SHA-256 before comparing metrics. Operations, applied in order to a uint32 label image:
  erode      a labelled pixel survives iff its four 4-neighbours exist (not on the image border)
             and carry the same label
  dilate     a background pixel takes the largest label among its 4-neighbours (input image)
  drop       labels -> 0
  merge      [[a, b], ...]: pixels of b become a (pairs applied in order)
  split      [[l, x, n], ...]: pixels of l with column >= x become n
  spurious   [[x0, y0, w, h, l], ...]: background pixels of rows y0..y0+h, columns x0..x0+w
             (clipped to the image) become l
  relabel    {"mul": m, "add": a}: every non-zero label v becomes v * m + a
Intensity image for the intensity statistics: I(x, y) = (3 x^2 + 7 y + x y) mod 253, uint8.

Run:  reference/venv/bin/python reference/gen_measure_fixtures.py
      (or any python with the packages above); env SAMCELL_SHARED = the shared folder
      (default <repo>/../shared), data in $SAMCELL_SHARED/data.
"""
import hashlib
import json
import os
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi
import tifffile
from PIL import Image
from scipy.optimize import linear_sum_assignment
from scipy.spatial import ConvexHull
from skimage.measure import find_contours, regionprops

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SAMCELL_SHARED", REPO.parent / "shared"))
DATA = SHARED / "data"
OUT = REPO / "crates" / "samcell-measure" / "tests" / "fixtures"

AP_PERCENT = list(range(50, 100, 5))
VARIANTS = ["identity", "eroded", "dilated", "merged", "split", "dropped", "spurious", "mixed"]

CELL_COLUMNS = [
    "case", "label", "area", "perimeter", "area_convex", "solidity", "extent", "eccentricity",
    "axis_major_length", "axis_minor_length", "orientation_rad", "equivalent_diameter_area",
    "centroid_x", "centroid_y", "bbox_min_x", "bbox_min_y", "bbox_max_x", "bbox_max_y",
    "feret_diameter_max", "min_feret_width", "intensity_mean", "intensity_std", "intensity_min",
    "intensity_max", "neighbors_adjacent", "neighbors_5", "percent_touching",
    "first_closest_label", "first_closest_distance",
]


# ----------------------------------------------------------------------------- data
def load_labels(path):
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        a = tifffile.imread(path)
    else:
        a = np.array(Image.open(path))
    if a.ndim != 2:
        raise SystemExit(f"{path}: not a 2D label image")
    return a.astype(np.uint32)


def fixture_images():
    """Deterministic selection: 3 Usiigaci masks and the first DSB2018 label image (sorted id) of
    each of 7 image sizes."""
    us = [f"usiigaci-phc/train/masks/set{i}.png" for i in (1, 17, 33)]
    return us + dsb_first_per_size(7)


def dsb_first_per_size(k):
    import csv
    rows = list(csv.DictReader(open(DATA / "dsb2018-train" / "manifest.csv")))
    rows.sort(key=lambda r: r["id"])
    seen, out = set(), []
    for r in rows:
        size = (r["height"], r["width"])
        if size in seen:
            continue
        seen.add(size)
        out.append(f"dsb2018-train/labels/{r['id']}.png")
    return out[:k]


def intensity_image(h, w):
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    return ((3 * x * x + 7 * y + x * y) % 253).astype(np.uint8)


def sha256(lab):
    return hashlib.sha256(np.ascontiguousarray(lab, dtype="<u4").tobytes()).hexdigest()


# ----------------------------------------------------------------------------- perturbations
def apply_ops(lab, ops):
    lab = lab.astype(np.uint32).copy()
    H, W = lab.shape
    for op in ops:
        kind = op["op"]
        if kind == "erode":
            p = np.pad(lab, 1)
            c = p[1:-1, 1:-1]
            keep = (p[:-2, 1:-1] == c) & (p[2:, 1:-1] == c) & (p[1:-1, :-2] == c) & (p[1:-1, 2:] == c)
            lab = np.where(keep, c, 0).astype(np.uint32)
        elif kind == "dilate":
            p = np.pad(lab, 1)
            m = np.maximum.reduce([p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])
            lab = np.where(lab == 0, m, lab).astype(np.uint32)
        elif kind == "drop":
            lab[np.isin(lab, np.array(op["labels"], dtype=np.uint32))] = 0
        elif kind == "merge":
            for a, b in op["pairs"]:
                lab[lab == b] = a
        elif kind == "split":
            xx = np.arange(W)[None, :]
            for l, x, n in op["cells"]:
                lab[(lab == l) & (xx >= x)] = n
        elif kind == "spurious":
            for x0, y0, w, h, l in op["boxes"]:
                reg = lab[y0:min(y0 + h, H), x0:min(x0 + w, W)]
                reg[reg == 0] = l
        elif kind == "relabel":
            nz = lab != 0
            v = lab[nz].astype(np.uint64) * op["mul"] + op["add"]
            assert v.max(initial=0) <= 0xFFFFFFFF
            lab[nz] = v.astype(np.uint32)
        else:
            raise ValueError(kind)
    return lab


def centroids(lab):
    ids = np.unique(lab)
    ids = ids[ids != 0]
    yy, xx = np.nonzero(lab)
    v = lab[yy, xx]
    order = np.searchsorted(ids, v)
    n = np.bincount(order, minlength=len(ids)).astype(float)
    cx = np.bincount(order, weights=xx, minlength=len(ids)) / n
    cy = np.bincount(order, weights=yy, minlength=len(ids)) / n
    mnx = np.full(len(ids), 1 << 30)
    mxx = np.full(len(ids), -1)
    np.minimum.at(mnx, order, xx)
    np.maximum.at(mxx, order, xx)
    return ids, cx, cy, mnx, mxx


def make_recipe(lab, variant, seed_text):
    rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
    ids, cx, cy, mnx, mxx = centroids(lab)
    H, W = lab.shape
    n = len(ids)
    nxt = [int(ids.max()) + 1 if n else 1]

    def new_label():
        nxt[0] += 1
        return nxt[0] - 1

    def pick(frac, exclude=()):
        pool = [int(i) for i in ids if int(i) not in exclude]
        k = max(1, int(round(frac * len(pool)))) if pool else 0
        return sorted(int(i) for i in rng.choice(pool, size=min(k, len(pool)), replace=False)) if k else []

    def merges(frac, exclude=()):
        used = set(exclude)
        pairs = []
        for a in pick(frac, exclude):
            if a in used:
                continue
            ia = int(np.searchsorted(ids, a))
            d = (cx - cx[ia]) ** 2 + (cy - cy[ia]) ** 2
            for j in np.argsort(d, kind="stable"):
                b = int(ids[j])
                if b != a and b not in used:
                    pairs.append([a, b])
                    used.update((a, b))
                    break
        return pairs, used

    def splits(frac, exclude=()):
        cells = []
        for l in pick(frac, exclude):
            i = int(np.searchsorted(ids, l))
            x = int(np.floor(cx[i])) + 1
            if mnx[i] < x <= mxx[i]:
                cells.append([l, x, new_label()])
        return cells

    def boxes(count):
        out = []
        for _ in range(count):
            w, h = int(rng.integers(4, 21)), int(rng.integers(4, 21))
            out.append([int(rng.integers(0, W)), int(rng.integers(0, H)), w, h, new_label()])
        return out

    if variant == "identity":
        return []
    if variant == "eroded":
        return [{"op": "erode"}]
    if variant == "dilated":
        return [{"op": "dilate"}]
    if variant == "merged":
        return [{"op": "merge", "pairs": merges(0.15)[0]}]
    if variant == "split":
        return [{"op": "split", "cells": splits(0.15)}]
    if variant == "dropped":
        return [{"op": "drop", "labels": pick(0.15)}]
    if variant == "spurious":
        return [{"op": "spurious", "boxes": boxes(max(2, n // 10))}]
    if variant == "mixed":
        drop = pick(0.05)
        pairs, used = merges(0.06, exclude=drop)
        cells = splits(0.06, exclude=used | set(drop))
        return [
            {"op": "drop", "labels": drop},
            {"op": "merge", "pairs": pairs},
            {"op": "split", "cells": cells},
            {"op": "spurious", "boxes": boxes(max(2, n // 20))},
            {"op": "dilate"},
            {"op": "relabel", "mul": 1009, "add": 17},
        ]
    raise ValueError(variant)


# ----------------------------------------------------------------------------- references
def ctc_reference(pairs, tmp):
    """py-ctcmetrics on a list of (gt, pred) arrays, pooled like the frames of one sequence."""
    from ctc_metrics.metrics import det, op_csb, seg
    from ctc_metrics.utils.representations import count_acyclic_graph_correction_operations, match
    lr, lc, mr, mc, ious = [], [], [], [], []
    for k, (gt, pred) in enumerate(pairs):
        gp, pp = Path(tmp) / f"gt{k}.tif", Path(tmp) / f"pred{k}.tif"
        tifffile.imwrite(gp, gt.astype(np.uint32))
        tifffile.imwrite(pp, pred.astype(np.uint32))
        a, b, c, d, e = match(str(gp), str(pp))
        lr.append(a); lc.append(b); mr.append(c); mc.append(d); ious.append(e)
    stats = count_acyclic_graph_correction_operations(None, None, lr, lc, mr, mc)
    s = seg(lr, ious)
    dt = det(**stats)
    return {"seg": s, "det": dt, "op_csb": op_csb(s, dt), "fn": int(stats["FN"]), "fp": int(stats["FP"]),
            "ns": int(stats["NS"]), "n_gt": int(stats["num_vertices_R"]), "n_pred": int(stats["num_vertices_C"])}


def overlap_table(gt, pred):
    g = gt.ravel().astype(np.int64)
    p = pred.ravel().astype(np.int64)
    gi, gl = np.unique(g, return_inverse=True)
    pi, pl = np.unique(p, return_inverse=True)
    cm = np.zeros((len(gi), len(pi)), dtype=np.int64)
    np.add.at(cm, (gl, pl), 1)
    ga = cm.sum(1)
    pa = cm.sum(0)
    # drop background rows/columns
    gmask, pmask = gi != 0, pi != 0
    return cm[np.ix_(gmask, pmask)], ga[gmask], pa[pmask]


def ap_tp_hungarian(gt, pred):
    """TP per AP threshold by Hungarian matching (Cellpose `_true_positive`), IoU >= t tested exactly."""
    inter, ga, pa = overlap_table(gt, pred)
    if inter.size == 0:
        return [0] * len(AP_PERCENT)
    union = ga[:, None] + pa[None, :] - inter
    iou = inter / np.maximum(union, 1)
    out = []
    for t in AP_PERCENT:
        ok = 100 * inter >= t * union
        n_min = min(inter.shape)
        cost = -ok.astype(float) - iou / (2 * n_min)
        r, c = linear_sum_assignment(cost)
        out.append(int(ok[r, c].sum()))
    return out


def strel_disk(radius):
    ir = int(radius)
    y, x = np.mgrid[-ir:ir + 1, -ir:ir + 1]
    return x * x + y * y <= radius * radius


def cp_outline(lab):
    """centrosome.outline: pixels with an 8-neighbour of another value, plus the image border."""
    diff = np.zeros(lab.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dx == 0 and dy == 0:
                continue
            sh = np.full(lab.shape, -1, np.int64)
            ys = slice(max(dy, 0), lab.shape[0] + min(dy, 0))
            yd = slice(max(-dy, 0), lab.shape[0] + min(-dy, 0))
            xs = slice(max(dx, 0), lab.shape[1] + min(dx, 0))
            xd = slice(max(-dx, 0), lab.shape[1] + min(-dx, 0))
            sh[yd, xd] = lab[ys, xs]
            diff |= sh != lab
    diff[0, :] = diff[-1, :] = diff[:, 0] = diff[:, -1] = True
    return np.where(diff, lab, 0)


def cp_neighbors(lab, ids, distance):
    """CellProfiler MeasureObjectNeighbors re-expressed with scipy: per object, dilate its mask in
    the bounding box grown by `distance` with strel_disk(distance) and count other labels; for the
    Adjacent method also the percentage of outline pixels near another object (strel_disk(1.5))."""
    counts, touching = [], []
    outline = cp_outline(lab) if distance == 1 else None
    H, W = lab.shape
    objs = ndi.find_objects(lab)
    for l in ids:
        sl = objs[l - 1]
        y0, y1 = max(sl[0].start - distance, 0), min(sl[0].stop + distance, H)
        x0, x1 = max(sl[1].start - distance, 0), min(sl[1].stop + distance, W)
        patch = lab[y0:y1, x0:x1]
        ext = ndi.binary_dilation(patch == l, strel_disk(distance))
        nb = np.unique(patch[ext])
        counts.append(int(np.sum((nb != 0) & (nb != l))))
        if outline is not None:
            op = outline[y0:y1, x0:x1] == l
            others = ndi.binary_dilation((patch != 0) & (patch != l), strel_disk(1.5))
            touching.append(100.0 * np.sum(op & others) / np.sum(op))
    return counts, touching


def min_feret_width(conv):
    """Smallest caliper width of the level-0.5 contour of the (padded) convex image."""
    pts = np.vstack(find_contours(np.pad(conv, 2), 0.5, fully_connected="high"))
    hull = pts[ConvexHull(pts).vertices]
    best = np.inf
    for i in range(len(hull)):
        a, b = hull[i], hull[(i + 1) % len(hull)]
        e = b - a
        d = np.abs(e[0] * (hull[:, 1] - a[1]) - e[1] * (hull[:, 0] - a[0])) / np.hypot(*e)
        best = min(best, d.max())
    return best


def cell_rows(case, lab):
    if lab.max() > 0xFFFF:
        # regionprops wants a label image; find_objects needs moderate label values: compact first
        ids_all = np.unique(lab)
        compact = np.searchsorted(ids_all, lab).astype(np.int64)
        back = ids_all
    else:
        compact = lab.astype(np.int64)
        back = None
    inten = intensity_image(*lab.shape)
    props = regionprops(compact, intensity_image=inten)
    ids = [p.label for p in props]
    adj, touch = cp_neighbors(compact, ids, 1)
    n5, _ = cp_neighbors(compact, ids, 5)
    cent = np.array([[p.centroid[1], p.centroid[0]] for p in props])
    rows = []
    for k, p in enumerate(props):
        if len(props) > 1:
            d = np.sqrt(((cent - cent[k]) ** 2).sum(1))
            d[k] = np.inf
            j = int(np.argmin(d))
            fc_label, fc_dist = ids[j], d[j]
        else:
            fc_label, fc_dist = 0, np.nan
        lab_of = (lambda v: float(back[v])) if back is not None else float
        minr, minc, maxr, maxc = p.bbox
        rows.append([
            case, lab_of(p.label), p.area, p.perimeter, p.area_convex, p.solidity, p.extent, p.eccentricity,
            p.axis_major_length, p.axis_minor_length, p.orientation, p.equivalent_diameter_area,
            p.centroid[1], p.centroid[0], minc, minr, maxc, maxr,
            p.feret_diameter_max, min_feret_width(p.image_convex),
            p.intensity_mean, p.intensity_std, p.intensity_min, p.intensity_max,
            adj[k], n5[k], touch[k], lab_of(fc_label) if fc_label else 0.0, fc_dist,
        ])
    return rows


# ----------------------------------------------------------------------------- driver
def build_cases(paths, variants=VARIANTS, log=True):
    """Recipes, perturbed-image hashes and py-ctcmetrics values for `paths` (relative to DATA)."""
    images = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, rel in enumerate(paths):
            gt = load_labels(DATA / rel)
            entry = {"id": i, "path": rel, "width": int(gt.shape[1]), "height": int(gt.shape[0]),
                     "gt_sha256": sha256(gt), "variants": []}
            for v in variants:
                ops = make_recipe(gt, v, f"{rel}:{v}")
                pred = apply_ops(gt, ops)
                ref = ctc_reference([(gt, pred)], tmp)
                entry["variants"].append({"name": v, "ops": ops, "sha256": sha256(pred), **ref,
                                          "ap_tp": ap_tp_hungarian(gt, pred)})
            images.append(entry)
            if log:
                print(f"  {rel}: {len(np.unique(gt)) - 1} cells", file=sys.stderr)
        pooled = []
        for v in variants:
            pairs = [(load_labels(DATA / e["path"]), None, e) for e in images]
            pairs = [(g, apply_ops(g, next(x["ops"] for x in e["variants"] if x["name"] == v))) for g, _, e in pairs]
            pooled.append({"variant": v, **ctc_reference(pairs, tmp)})
    return images, pooled


def main():
    if not DATA.is_dir():
        raise SystemExit(f"data folder {DATA} not found (set SAMCELL_SHARED)")
    OUT.mkdir(parents=True, exist_ok=True)
    paths = fixture_images()
    images, pooled = build_cases(paths)
    # per-cell references (kept under ~120 KB): ground truth of six images, "mixed" of two,
    # "eroded" and "split" of two
    per_image = {0: ["gt"], 1: ["gt"], 2: ["mixed"], 3: ["gt", "eroded", "split"], 5: ["gt", "mixed"],
                 6: ["gt"], 9: ["gt", "eroded", "split"]}
    cases, rows = [], []
    for e in images:
        gt = load_labels(DATA / e["path"])
        want = per_image.get(e["id"], [])
        for w in want:
            lab = gt if w == "gt" else apply_ops(gt, next(x["ops"] for x in e["variants"] if x["name"] == w))
            case = len(cases)
            cases.append({"case": case, "image": e["id"], "variant": w})
            rows += cell_rows(case, lab)
    table = np.array(rows, dtype=np.float64)
    np.save(OUT / "measure_cells.npy", table)
    import ctc_metrics, scipy, skimage
    meta = {
        "generator": "reference/gen_measure_fixtures.py",
        "versions": {"py-ctcmetrics": "1.3.3", "scikit-image": skimage.__version__, "scipy": scipy.__version__,
                     "numpy": np.__version__},
        "ap_thresholds_percent": AP_PERCENT,
        "intensity": "(3 x^2 + 7 y + x y) mod 253, uint8",
        "images": images,
        "pooled": pooled,
        "cells": {"file": "measure_cells.npy", "columns": CELL_COLUMNS, "cases": cases},
    }
    (OUT / "measure_cases.json").write_text(json.dumps(meta, indent=1) + "\n")
    sizes = {p.name: p.stat().st_size for p in OUT.glob("measure_*")}
    print(f"wrote {sizes} ({table.shape[0]} cell rows)", file=sys.stderr)


if __name__ == "__main__":
    main()
