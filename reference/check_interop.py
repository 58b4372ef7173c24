#!/usr/bin/env python
"""Checks samcell's object exports with the Python readers Fiji and QuPath users rely on.

References: `roifile` 2026.2.10 (reads ImageJ ROI sets as Fiji's ROI Manager writes them),
`shapely` 2.x (polygon validity as GEOS defines it, point-in-polygon) and `tifffile` for the
masks. Any Python 3 with `pip install roifile shapely tifffile numpy` will do:

    samcell segment IMAGES --output OUT --save-rois --save-geojson
    <python> reference/check_interop.py OUT [--min-iou 0.99] [--json REPORT.json]

For every `<name>_masks.tif` in OUT that has a `<name>_rois.zip` and/or a `<name>.geojson`:
- ROIs: read with `roifile.roiread`; each ROI's name ends in its label (`0007`, or `0002-0007`
  for a page of a stack); its outline (`coordinates(multi=True)`: one ring for a polygon ROI,
  every subpath of a composite ROI) is filled at pixel centres with the even-odd rule, as ImageJ
  fills a ROI.
- GeoJSON: each Feature's geometry is built with `shapely.geometry.shape`, must be valid
  (`shapely.is_valid`; `explain_validity` is printed otherwise), and is filled at pixel centres
  with `shapely.contains_xy`; `properties.objectType` must be "detection".
- Each filled outline is compared with its label's pixels in the masks (intersection over
  union), and every label must have exactly one ROI and one Feature.
Prints per-image and overall mean and minimum IoU and the invalid count; exits 1 when the mean
IoU of either export is below --min-iou, or any geometry is invalid, or a label is missing.
"""
import argparse
import glob
import json
import os
import sys

import numpy as np
import roifile
import shapely
import tifffile
from shapely.geometry import Polygon, shape


def fill_rings(rings, box):
    """Even-odd fill of `rings` (lists of (x, y)) at the pixel centres of box (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1]
    out = np.zeros(xs.shape, bool)
    for ring in rings:
        ring = np.asarray(ring, float)
        if len(ring) < 3:
            continue
        out ^= shapely.contains_xy(Polygon(ring), xs + 0.5, ys + 0.5)
    return out


def fill_geometry(geom, box):
    x0, y0, x1, y1 = box
    ys, xs = np.mgrid[y0:y1, x0:x1]
    return shapely.contains_xy(geom, xs + 0.5, ys + 0.5)


def iou(filled, cell):
    union = np.logical_or(filled, cell).sum()
    return float(np.logical_and(filled, cell).sum() / union) if union else 1.0


def boxes(labels):
    """Label -> (x0, y0, x1, y1) of its pixels, widened by 2 so outline errors are counted."""
    h, w = labels.shape
    out = {}
    for lab in np.unique(labels):
        if lab == 0:
            continue
        ys, xs = np.nonzero(labels == lab)
        out[int(lab)] = (max(xs.min() - 2, 0), max(ys.min() - 2, 0),
                         min(xs.max() + 3, w), min(ys.max() + 3, h))
    return out


def check_rois(path, labels, cell_boxes):
    ious, problems = {}, []
    rois = roifile.roiread(path)
    if not isinstance(rois, list):
        rois = [rois]
    for roi in rois:
        label = int(roi.name.split("-")[-1])
        if label not in cell_boxes:
            problems.append(f"ROI {roi.name}: no label {label} in the masks")
            continue
        box = cell_boxes[label]
        x0, y0, x1, y1 = box
        rings = [np.asarray(c, float) for c in roi.coordinates(multi=True)]
        ious[label] = iou(fill_rings(rings, box), labels[y0:y1, x0:x1] == label)
    missing = sorted(set(cell_boxes) - set(ious))
    if missing:
        problems.append(f"labels without a ROI: {missing[:10]}")
    return ious, problems


def check_geojson(path, labels, cell_boxes):
    ious, problems, invalid = {}, [], 0
    with open(path) as f:
        doc = json.load(f)
    for feat in doc["features"]:
        props = feat.get("properties", {})
        if props.get("objectType") != "detection":
            problems.append(f"feature {feat.get('id')}: objectType is not 'detection'")
        geom = shape(feat["geometry"])
        label = int(props.get("label", feat.get("id")))
        if not shapely.is_valid(geom):
            invalid += 1
            problems.append(f"label {label}: invalid geometry ({shapely.explain_validity(geom)})")
        if label not in cell_boxes:
            problems.append(f"feature of label {label}: no such label in the masks")
            continue
        x0, y0, x1, y1 = cell_boxes[label]
        ious[label] = iou(fill_geometry(geom, cell_boxes[label]), labels[y0:y1, x0:x1] == label)
    missing = sorted(set(cell_boxes) - set(ious))
    if missing:
        problems.append(f"labels without a feature: {missing[:10]}")
    return ious, problems, invalid


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--min-iou", type=float, default=0.99)
    ap.add_argument("--json", help="write the per-image figures here")
    args = ap.parse_args()

    report = {"images": {}, "roi_ious": [], "geojson_ious": [], "invalid": 0, "problems": []}
    masks_files = sorted(glob.glob(os.path.join(args.out, "*_masks.tif")))
    for masks in masks_files:
        name = os.path.basename(masks)[: -len("_masks.tif")]
        labels = tifffile.imread(masks)
        cell_boxes = boxes(labels)
        entry = {"cells": len(cell_boxes)}
        rois = os.path.join(args.out, f"{name}_rois.zip")
        if os.path.exists(rois):
            ious, problems = check_rois(rois, labels, cell_boxes)
            report["roi_ious"] += list(ious.values())
            report["problems"] += [f"{name}: {p}" for p in problems]
            entry["roi_mean_iou"] = float(np.mean(list(ious.values()))) if ious else None
        gj = os.path.join(args.out, f"{name}.geojson")
        if os.path.exists(gj):
            ious, problems, invalid = check_geojson(gj, labels, cell_boxes)
            report["geojson_ious"] += list(ious.values())
            report["invalid"] += invalid
            report["problems"] += [f"{name}: {p}" for p in problems]
            entry["geojson_mean_iou"] = float(np.mean(list(ious.values()))) if ious else None
        report["images"][name] = entry
        print(f"{name}: {entry}")

    failed = bool(report["problems"]) or not masks_files
    for kind in ("roi_ious", "geojson_ious"):
        v = report[kind]
        if not v:
            continue
        mean, low = float(np.mean(v)), float(np.min(v))
        report[kind.replace("ious", "mean_iou")] = mean
        report[kind.replace("ious", "min_iou")] = low
        print(f"{kind[:-5]}: {len(v)} cells, mean IoU {mean:.6f}, min {low:.6f}")
        failed |= mean < args.min_iou
    print(f"invalid geometries: {report['invalid']}")
    for p in report["problems"][:20]:
        print("problem:", p)
    if args.json:
        summary = {k: v for k, v in report.items() if not k.endswith("_ious")}
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
