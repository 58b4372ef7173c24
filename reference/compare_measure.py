#!/usr/bin/env python3
"""Full-data comparison of crates/samcell-measure with the reference libraries.

For every selected label image (all Usiigaci masks and the DSB2018 labels by default) the same
perturbations as reference/gen_measure_fixtures.py are drawn (identity, eroded, dilated, merged,
split, dropped, spurious, mixed); the Rust side (example `measure_dump`, built in release) rebuilds
them from the recipes, evaluates and measures; this script compares:
  - SEG, DET, OP_CSB per image and pooled per variant with py-ctcmetrics 1.3.3 (tolerance 1e-9),
    CTC counts exactly, AP true positives with a Hungarian matching exactly;
  - per-cell shape values with skimage.measure.regionprops (1e-6 x max(1, |ref|); areas, boxes
    exactly), neighbours with the scipy re-implementation of CellProfiler (exact / 1e-9).
Nothing is written into the repository.

Run:  python reference/compare_measure.py [--dsb N] [--usiigaci N] [--cells-every K]
      env SAMCELL_SHARED (default <repo>/../shared), CARGO_TARGET_DIR respected.
Exit status 1 when anything differs.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_measure_fixtures as g  # noqa: E402

EXACT = {"area", "area_convex", "bbox_min_x", "bbox_min_y", "bbox_max_x", "bbox_max_y", "neighbors_adjacent",
         "neighbors_5", "first_closest_label", "label", "case"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--usiigaci", type=int, default=1000, help="at most this many Usiigaci masks")
    ap.add_argument("--dsb", type=int, default=1000, help="at most this many DSB2018 label images")
    ap.add_argument("--cells-every", type=int, default=1,
                    help="measure per-cell values on every K-th image (gt and mixed variant)")
    args = ap.parse_args()
    masks = sorted((g.DATA / "usiigaci-phc/train/masks").glob("*.png"), key=lambda p: int(p.stem[3:]))
    paths = [str(p.relative_to(g.DATA)) for p in masks[:args.usiigaci]]
    dsb = sorted((g.DATA / "dsb2018-train/labels").glob("*.png"))
    paths += [str(p.relative_to(g.DATA)) for p in dsb[:args.dsb]]
    print(f"{len(paths)} label images", file=sys.stderr)
    t = time.time()
    images, pooled = g.build_cases(paths, log=False)
    print(f"py-ctcmetrics references: {time.time() - t:.0f} s", file=sys.stderr)
    cells_req = []
    for e in images[::args.cells_every]:
        for v in ("gt", "mixed"):
            cells_req.append({"case": len(cells_req), "image": e["id"], "variant": v})
    repo = g.REPO
    with tempfile.TemporaryDirectory() as tmp:
        req, resp = Path(tmp) / "req.json", Path(tmp) / "resp.json"
        req.write_text(json.dumps({"data": str(g.DATA), "images": images, "cells": cells_req}))
        subprocess.run(["cargo", "run", "--quiet", "--release", "-p", "samcell-measure", "--example", "measure_dump",
                        "--", str(req), str(resp)], cwd=repo, check=True)
        out = json.loads(resp.read_text())
    print(f"rust: {out['seconds']}", file=sys.stderr)
    bad = 0
    worst = {}

    def metric(where, k, got, want, tol):
        nonlocal bad
        got = math.nan if got is None else got
        d = 0.0 if (math.isnan(got) and math.isnan(want)) else abs(got - want)
        worst[k] = max(worst.get(k, 0.0), d)
        if not d <= tol:
            bad += 1
            if bad < 30:
                print(f"DIFF {where}: {k} {got} vs {want}")

    for e, r in zip(images, out["images"]):
        if r["gt_sha256"] != e["gt_sha256"]:
            bad += 1
            print(f"DIFF {e['path']}: ground truth read differently")
        for v, rv in zip(e["variants"], r["variants"]):
            where = f"{e['path']} [{v['name']}]"
            if rv["sha256"] != v["sha256"]:
                bad += 1
                print(f"DIFF {where}: perturbation not reproduced")
                continue
            for k in ("n_gt", "n_pred", "fn", "fp", "ns"):
                if rv[k] != v[k]:
                    bad += 1
                    print(f"DIFF {where}: {k} {rv[k]} vs {v[k]}")
            if rv["tp"] != v["ap_tp"]:
                bad += 1
                print(f"DIFF {where}: AP TP {rv['tp']} vs Hungarian {v['ap_tp']}")
            for k in ("seg", "det", "op_csb"):
                metric(where, k, rv[k], v[k], 1e-9)
    rp = {p["variant"]: p for p in out["pooled"]}
    for p in pooled:
        for k in ("seg", "det", "op_csb"):
            metric(f"pooled {p['variant']}", "pooled_" + k, rp[p["variant"]][k], p[k], 1e-9)
    # per-cell values
    ncells = 0
    got_rows = {}
    for row in out["cells"]:
        got_rows[(row[0], row[1])] = row
    cols = g.CELL_COLUMNS
    for c in cells_req:
        e = images[c["image"]]
        gt = g.load_labels(g.DATA / e["path"])
        lab = gt if c["variant"] == "gt" else g.apply_ops(gt, next(v["ops"] for v in e["variants"] if v["name"] == c["variant"]))
        for ref in g.cell_rows(c["case"], lab):
            key = (c["case"], int(ref[1]))
            if key not in got_rows:
                bad += 1
                print(f"DIFF {e['path']} [{c['variant']}]: label {key[1]} missing")
                continue
            got = got_rows.pop(key)
            ncells += 1
            where = f"{e['path']} [{c['variant']}] label {key[1]}"
            for j, name in enumerate(cols):
                want, have = float(ref[j]), got[j]
                have = math.nan if have is None else float(have)
                if name == "eccentricity" and math.isnan(have):
                    continue  # one-pixel cell: skimage reports 0, samcell NaN (undefined)
                if name == "orientation_rad":
                    if math.isnan(have):
                        continue  # isotropic cell: skimage's value is arbitrary
                    d = (have - want) % math.pi
                    have, want = min(d, math.pi - d), 0.0
                tol = 0.0 if name in EXACT else (1e-9 if name in ("percent_touching", "first_closest_distance") else 1e-6 * max(1.0, abs(want)))
                metric(where, name, have, want, tol)
    bad += len(got_rows)
    print(f"compared {sum(len(e['variants']) for e in images)} image/variant evaluations, {len(pooled)} pooled, "
          f"{ncells} cells")
    print("largest absolute differences: " + ", ".join(f"{k} {v:.2e}" for k, v in sorted(worst.items())))
    print("OK" if bad == 0 else f"{bad} differences")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
