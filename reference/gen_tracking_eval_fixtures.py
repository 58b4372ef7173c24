#!/usr/bin/env python3
"""Golden fixtures for the Cell Tracking Challenge tracking evaluation (`samcell eval --tracking`,
crates/samcell-measure/src/eval/tracking).

Reference: py-ctcmetrics 1.3.3, `ctc_metrics.scripts.evaluate.evaluate_sequence(res, gt,
metrics=["Valid", "DET", "SEG", "TRA", "LNK", "CT", "TF", "BC(3)", "CCA"], threads=1)`, which
also yields OP_CSB, OP_CTB, the AOGM parts, the division counts tp/fp/fn_div(i), BC(i) and BIO(i)
for i = 0..3.

Two ground truths, each perturbed by the same recipes:
  synthetic   a 7-frame 48x40 sequence built here (moving boxes; a division, a gap bridged by a
              parent link, a cell entering and one leaving). Committed as CTC folders under
              tests/fixtures/tracking/synthetic_GT (TRA/ + SEG/ for frames 0, 3, 5), with two
              result folders the CLI test reads (RES_false_division: valid; RES_missing_line:
              invalid, a mask label without a res_track.txt line).
  real        the shared bacteria time-lapse ($SAMCELL_DATA/bacteria-timelapse/01_GT/TRA, 40
              frames 1009x1305). Only the recipes (labels and frames picked by the rules below),
              SHA-256 hashes and py-ctcmetrics' scores are stored, never pixels. Its TRA masks are
              dense, so py-ctcmetrics is given SEG/man_segTTT.tif copies of frames 0, 5, ..., 35.

A result is built from its ground truth by applying the recipe's operations in order to the
uint32 masks of all frames and a parent table (label -> parent, initially the ground truth's):
  relabel  {from, to, first, last}        pixels == from in frames first..=last become `to`
                                          (0 erases; an existing label merges)
  swap     {a, b, first, last}            pixels a <-> b in frames first..=last
  box      {label, first, last, x, y, w, h}  background pixels of columns x..x+w, rows y..y+h
                                          (clipped) in frames first..=last become `label`
  erode    {}                             every frame: a labelled pixel survives iff its four
                                          4-neighbours exist and carry the same label
  parent   {label, parent}                parent table entry
  drop_line {label}                       the label's res_track.txt line is left out
Then res_track.txt is derived: one line per label present in any frame, ascending, 'L B E P' with
B/E the first/last frame holding the label and P its parent-table entry (0 when absent, or when the
parent label is present in no frame), minus the dropped lines. Masks are written as uint16
(zlib-compressed TIFF). `masks_sha256`: SHA-256 over all frames, in order, of the masks as
little-endian uint32, row-major; `tracks_sha256`: SHA-256 of res_track.txt's text.

Stored: crates/samcell-measure/tests/fixtures/tracking/tracking_cases.json and the folders above.

Run:  reference/venv/bin/python reference/gen_tracking_eval_fixtures.py
      (env SAMCELL_SHARED = the shared folder, default <repo>/../shared; data in
      $SAMCELL_SHARED/data; without the real sequence only the synthetic cases are generated).
"""
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import tifffile

from ctc_metrics.scripts.evaluate import evaluate_sequence

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SAMCELL_SHARED", REPO.parent / "shared"))
REAL = Path(os.environ.get("SAMCELL_DATA", SHARED / "data")) / "bacteria-timelapse" / "01_GT"
OUT = REPO / "crates" / "samcell-measure" / "tests" / "fixtures" / "tracking"
METRICS = ["Valid", "DET", "SEG", "TRA", "LNK", "CT", "TF", "BC(3)", "CCA"]


# ----------------------------------------------------------------------------- sequences
def synthetic_gt():
    """7 frames, 48 wide, 40 high. Tracks: 1 (0-6, moving right), 2 (0-2) dividing into 3 and 4
    (3-6, 3-5), 5 (0-2) with a gap at frame 3 bridged to 6 (4-6, parent 5), 7 entering (2-6),
    8 leaving (0-4)."""
    T, H, W = 7, 40, 48
    frames = np.zeros((T, H, W), np.uint32)

    def box(t, label, x, y, w, h):
        frames[t, y:y + h, x:x + w] = label

    for t in range(T):
        box(t, 1, 2 + t, 2, 8, 6)
        if t <= 2:
            box(t, 2, 20, 15 + t, 10, 8)
        else:
            box(t, 3, 17 - (t - 3), 14, 6, 6)
            if t <= 5:
                box(t, 4, 27 + (t - 3), 22, 6, 6)
        if t <= 2:
            box(t, 5, 35, 3 + t, 7, 7)
        elif t >= 4:
            box(t, 6, 36, 7 + (t - 4), 7, 7)
        if t >= 2:
            box(t, 7, 4 + (t - 2), 29, 9, 7)
        if t <= 4:
            box(t, 8, 38, 28 + t // 2, 6, 8)
    parents = {1: 0, 2: 0, 3: 2, 4: 2, 5: 0, 6: 5, 7: 0, 8: 0}
    return frames, parents


def synthetic_recipes():
    return {
        "identity": [],
        "swapped_ids": [{"op": "swap", "a": 1, "b": 7, "first": 4, "last": 6}],
        "broken_link": [
            {"op": "relabel", "from": 1, "to": 20, "first": 3, "last": 6},
            {"op": "parent", "label": 20, "parent": 0},
        ],
        "link_as_parent": [
            {"op": "relabel", "from": 1, "to": 20, "first": 3, "last": 6},
            {"op": "parent", "label": 20, "parent": 1},
        ],
        "missed_division": [
            {"op": "relabel", "from": 3, "to": 2, "first": 0, "last": 6},
            {"op": "parent", "label": 4, "parent": 0},
        ],
        "late_division": [
            {"op": "relabel", "from": 3, "to": 2, "first": 3, "last": 3},
            {"op": "relabel", "from": 4, "to": 0, "first": 3, "last": 3},
        ],
        "false_division": [
            {"op": "relabel", "from": 7, "to": 21, "first": 4, "last": 6},
            {"op": "parent", "label": 21, "parent": 7},
            {"op": "box", "label": 22, "first": 4, "last": 5, "x": 20, "y": 33, "w": 5, "h": 5},
            {"op": "parent", "label": 22, "parent": 7},
        ],
        "gap_linked": [
            {"op": "relabel", "from": 1, "to": 0, "first": 3, "last": 3},
            {"op": "relabel", "from": 1, "to": 23, "first": 4, "last": 6},
            {"op": "parent", "label": 23, "parent": 1},
        ],
        "gap_unlinked": [
            {"op": "relabel", "from": 8, "to": 0, "first": 2, "last": 2},
            {"op": "relabel", "from": 8, "to": 24, "first": 3, "last": 4},
        ],
        "gap_closed": [
            {"op": "relabel", "from": 6, "to": 5, "first": 4, "last": 6},
        ],
        "dropped_cell": [{"op": "relabel", "from": 7, "to": 0, "first": 0, "last": 6}],
        "dropped_parent": [{"op": "relabel", "from": 2, "to": 0, "first": 0, "last": 6}],
        "spurious": [
            {"op": "box", "label": 30, "first": 1, "last": 3, "x": 12, "y": 14, "w": 4, "h": 4},
        ],
        "merged": [{"op": "relabel", "from": 4, "to": 3, "first": 5, "last": 5}],
        "eroded": [{"op": "erode"}],
        "mixed": [
            {"op": "erode"},
            {"op": "swap", "a": 1, "b": 7, "first": 5, "last": 6},
            {"op": "relabel", "from": 3, "to": 2, "first": 0, "last": 6},
            {"op": "parent", "label": 4, "parent": 0},
            {"op": "box", "label": 30, "first": 0, "last": 1, "x": 12, "y": 14, "w": 4, "h": 4},
        ],
        "missing_line": [{"op": "drop_line", "label": 7}],
        "parent_after_child": [{"op": "parent", "label": 7, "parent": 1}],
        "label_missing_in_frame": [{"op": "relabel", "from": 1, "to": 0, "first": 3, "last": 3}],
    }


def read_tracks(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            l, b, e, p = (int(v) for v in line.split())
            out[l] = (b, e, p)
    return out


def real_gt():
    files = sorted(p for p in (REAL / "TRA").iterdir() if p.suffix == ".tif")
    frames = np.stack([tifffile.imread(p).astype(np.uint32) for p in files])
    tracks = read_tracks(REAL / "TRA" / "man_track.txt")
    return frames, {l: p for l, (b, e, p) in tracks.items()}, tracks


def real_recipes(frames, tracks):
    """Labels and frames picked by fixed rules from the ground truth's tracks."""
    T = frames.shape[0]
    children = {}
    for l, (b, e, p) in tracks.items():
        if p:
            children.setdefault(p, []).append(l)
    nxt = [max(tracks) + 1]

    def new():
        nxt[0] += 1
        return nxt[0] - 1

    def relink(old, new_parent):
        return [{"op": "parent", "label": c, "parent": new_parent} for c in sorted(children.get(old, []))]

    def length(l):
        return tracks[l][1] - tracks[l][0] + 1

    # the longest tracks (ties: smaller label), as candidates for link edits
    by_len = sorted(tracks, key=lambda l: (-length(l), l))
    a = by_len[0]
    b_a, e_a, _ = tracks[a]
    k = (b_a + e_a + 1) // 2
    # swap: the pair with the longest common time span (ties: smaller labels)
    best = None
    labels = sorted(tracks)
    for i, x in enumerate(labels):
        for y in labels[i + 1:]:
            lo = max(tracks[x][0], tracks[y][0])
            hi = min(tracks[x][1], tracks[y][1])
            if hi - lo >= 2 and (best is None or hi - lo > best[0]):
                best = (hi - lo, x, y, lo, hi)
    _, sx, sy, lo, hi = best
    sk = (lo + hi + 1) // 2
    swap = [{"op": "swap", "a": sx, "b": sy, "first": sk, "last": T - 1}]
    swap += relink(sx, sy) + relink(sy, sx)
    # divisions whose parent lives >= 2 frames: the first by label
    divs = sorted(p for p, c in children.items() if len(c) == 2 and length(p) >= 2)
    p0 = divs[0]
    c1, c2 = sorted(children[p0])
    missed = [{"op": "relabel", "from": c1, "to": p0, "first": 0, "last": T - 1},
              {"op": "parent", "label": c2, "parent": 0}] + relink(c1, p0)
    # the first division (by parent label) whose children both live >= 2 frames, one frame late
    lp = sorted(p for p, c in children.items() if len(c) == 2 and all(length(x) >= 2 for x in c))[0]
    late = [{"op": "relabel", "from": x, "to": lp if x == min(children[lp]) else 0,
             "first": tracks[x][0], "last": tracks[x][0]} for x in sorted(children[lp])]
    # false division on a track that ends in the last frame without children, the longest
    ends = sorted((l for l in tracks if tracks[l][1] == T - 1 and l not in children),
                  key=lambda l: (-length(l), l))
    f = ends[0]
    fk = (tracks[f][0] + T) // 2
    n1, n2 = new(), new()
    # a 6x6 box of background in frames fk..fk+1: the first from the top-left on a 6-px grid
    bg = (frames[fk:fk + 2] == 0).all(axis=0)
    bx = by = None
    for y in range(0, bg.shape[0] - 6, 6):
        for x in range(0, bg.shape[1] - 6, 6):
            if bg[y:y + 6, x:x + 6].all():
                bx, by = x, y
                break
        if bx is not None:
            break
    false_div = [{"op": "relabel", "from": f, "to": n1, "first": fk, "last": T - 1},
                 {"op": "parent", "label": n1, "parent": f},
                 {"op": "box", "label": n2, "first": fk, "last": fk + 1, "x": bx, "y": by, "w": 6, "h": 6},
                 {"op": "parent", "label": n2, "parent": f}]
    n3 = new()
    broken = [{"op": "relabel", "from": a, "to": n3, "first": k, "last": T - 1},
              {"op": "parent", "label": n3, "parent": 0}] + relink(a, n3)
    as_parent = [{"op": "relabel", "from": a, "to": n3, "first": k, "last": T - 1},
                 {"op": "parent", "label": n3, "parent": a}] + relink(a, n3)
    n4 = new()
    gap = [{"op": "relabel", "from": a, "to": 0, "first": k, "last": k},
           {"op": "relabel", "from": a, "to": n4, "first": k + 1, "last": T - 1},
           {"op": "parent", "label": n4, "parent": a}] + relink(a, n4)
    gap_unlinked = gap[:2] + [{"op": "parent", "label": n4, "parent": 0}] + relink(a, n4)
    # dropped: the three tracks of median length (ties: smaller labels)
    mid = sorted(tracks, key=lambda l: (length(l), l))
    dropped_labels = sorted(mid[len(mid) // 2 - 1:len(mid) // 2 + 2])
    dropped = [{"op": "relabel", "from": l, "to": 0, "first": 0, "last": T - 1} for l in dropped_labels]
    n5 = new()
    spurious = [{"op": "box", "label": n5, "first": fk, "last": fk + 1, "x": bx, "y": by, "w": 6, "h": 6}]
    return {
        "identity": [],
        "swapped_ids": swap,
        "broken_link": broken,
        "link_as_parent": as_parent,
        "missed_division": missed,
        "late_division": late,
        "false_division": false_div,
        "gap_linked": gap,
        "gap_unlinked": gap_unlinked,
        "dropped_cells": dropped,
        "spurious": spurious,
        "eroded": [{"op": "erode"}],
        "mixed": [{"op": "erode"}] + missed + false_div + dropped,
        "missing_line": [{"op": "drop_line", "label": f}],
        "label_missing_in_frame": [{"op": "relabel", "from": a, "to": 0, "first": k, "last": k}],
    }


# ----------------------------------------------------------------------------- recipes
def erode(lab):
    p = np.pad(lab, 1)
    c = p[1:-1, 1:-1]
    keep = (p[:-2, 1:-1] == c) & (p[2:, 1:-1] == c) & (p[1:-1, :-2] == c) & (p[1:-1, 2:] == c)
    return np.where(keep, c, 0).astype(np.uint32)


def apply_recipe(frames, parents, ops):
    frames = frames.astype(np.uint32).copy()
    parents = dict(parents)
    dropped = set()
    T, H, W = frames.shape
    for op in ops:
        kind = op["op"]
        if kind == "relabel":
            seg = frames[op["first"]:op["last"] + 1]
            seg[seg == op["from"]] = op["to"]
        elif kind == "swap":
            seg = frames[op["first"]:op["last"] + 1]
            ma, mb = seg == op["a"], seg == op["b"]
            seg[ma], seg[mb] = op["b"], op["a"]
        elif kind == "box":
            reg = frames[op["first"]:op["last"] + 1, op["y"]:min(op["y"] + op["h"], H),
                         op["x"]:min(op["x"] + op["w"], W)]
            reg[reg == 0] = op["label"]
        elif kind == "erode":
            frames = np.stack([erode(f) for f in frames])
        elif kind == "parent":
            parents[op["label"]] = op["parent"]
        elif kind == "drop_line":
            dropped.add(op["label"])
        else:
            raise ValueError(kind)
    present = {}
    for t in range(T):
        for l in np.unique(frames[t]):
            if l:
                b, e = present.get(int(l), (t, t))
                present[int(l)] = (min(b, t), max(e, t))
    lines = []
    for l in sorted(present):
        if l in dropped:
            continue
        p = parents.get(l, 0)
        if p not in present:
            p = 0
        lines.append(f"{l} {present[l][0]} {present[l][1]} {p}")
    return frames, "".join(x + "\n" for x in lines)


def sha_frames(frames):
    h = hashlib.sha256()
    for f in frames:
        h.update(np.ascontiguousarray(f, dtype="<u4").tobytes())
    return h.hexdigest()


def write_masks(folder, prefix, frames, digits=3):
    folder.mkdir(parents=True, exist_ok=True)
    for t, f in enumerate(frames):
        assert f.max() < 65536
        tifffile.imwrite(folder / f"{prefix}{t:0{digits}d}.tif", f.astype(np.uint16), compression="zlib")


def write_gt(folder, frames, track_text, seg_frames):
    write_masks(folder / "TRA", "man_track", frames)
    (folder / "TRA" / "man_track.txt").write_text(track_text)
    (folder / "SEG").mkdir(parents=True, exist_ok=True)
    for t in seg_frames:
        tifffile.imwrite(folder / "SEG" / f"man_seg{t:03d}.tif", frames[t].astype(np.uint16), compression="zlib")


def plain(v):
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    return None if math.isnan(v) else v


def score(res_dir, gt_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = evaluate_sequence(str(res_dir), str(gt_dir), metrics=list(METRICS), threads=1)
    print()
    return {k: plain(v) for k, v in r.items()}


def cases(name, frames, parents, recipes, seg_frames, tmp, keep=None):
    gt_dir = tmp / f"{name}_GT"
    _, gt_text = apply_recipe(frames, parents, [])
    write_gt(gt_dir, frames, gt_text, seg_frames)
    out = []
    for variant, ops in recipes.items():
        res_frames, text = apply_recipe(frames, parents, ops)
        res_dir = tmp / f"{name}_{variant}_RES"
        write_masks(res_dir, "mask", res_frames)
        (res_dir / "res_track.txt").write_text(text)
        scores = score(res_dir, gt_dir)
        print(f"{name} {variant}: valid={scores.get('Valid')} TRA={scores.get('TRA')} "
              f"DET={scores.get('DET')} LNK={scores.get('LNK')} SEG={scores.get('SEG')}")
        out.append({
            "name": variant,
            "ops": ops,
            "masks_sha256": sha_frames(res_frames),
            "tracks_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "scores": scores,
        })
        if keep and variant in keep:
            dst = OUT / keep[variant]
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(res_dir, dst)
    return gt_dir, out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"reference": "py-ctcmetrics 1.3.3", "metrics": METRICS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames, parents = synthetic_gt()
        seg_frames = [0, 3, 5]
        gt_dir, variants = cases("synthetic", frames, parents, synthetic_recipes(), seg_frames, tmp,
                                 keep={"false_division": "RES_false_division",
                                       "missing_line": "RES_missing_line"})
        dst = OUT / "synthetic_GT"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(gt_dir, dst)
        result["synthetic"] = {"gt": "synthetic_GT", "seg_frames": seg_frames,
                               "gt_masks_sha256": sha_frames(frames), "variants": variants}
        if (REAL / "TRA" / "man_track.txt").exists():
            frames, parents, tracks = real_gt()
            seg_frames = list(range(0, frames.shape[0], 5))
            _, variants = cases("real", frames, parents, real_recipes(frames, tracks), seg_frames, tmp)
            result["real"] = {"set": "bacteria-timelapse", "seg_frames": seg_frames,
                              "gt_masks_sha256": sha_frames(frames), "variants": variants}
        else:
            print(f"{REAL} not found: real-sequence cases left out", file=sys.stderr)
    (OUT / "tracking_cases.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT / 'tracking_cases.json'}")


if __name__ == "__main__":
    main()
