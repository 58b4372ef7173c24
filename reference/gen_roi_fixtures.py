#!/usr/bin/env python
"""Golden fixtures for crates/samcell-io's ImageJ ROI writer (src/imagej_roi.rs).

Reference: the Python `roifile` package 2026.2.10 (file version 229, the version ImageJ 1.54s's
RoiEncoder writes), with numpy. Any Python 3 with `pip install roifile==2026.2.10 numpy` will do:
    <python> reference/gen_roi_fixtures.py                     # writes the fixtures
    <python> reference/gen_roi_fixtures.py --check-written DIR
The first form rewrites crates/samcell-io/tests/fixtures/roi/: `cases.json` (each case's name,
outer ring, holes and position, pixel-corner vertices) and one `<case>.roi` per case, the bytes of
`roifile.ImagejRoi(...).tobytes()` with the fields set as ImageJ's RoiEncoder sets them for that
outline (a polygon ROI, or a composite ROI (rectangle type, shape array of MOVETO/LINETO/CLOSE
floats in image coordinates) when the outline has holes). The crate's tests/imagej_roi.rs
encodes the same cases and asserts the bytes are equal.

The second form checks what the Rust writer produced (run `cargo test -p samcell-io --test
imagej_roi` with SAMCELL_IO_KEEP=DIR): every `<case>.roi` in DIR is decoded with roifile and its
fields (type, bounds, name, positions, absolute vertices or shape array) compared with
`cases.json`; `cells_rois.zip` is read with `roifile.roiread` and must hold every case, in order,
under its name.
"""
import json
import os
import sys

import numpy as np
import roifile
from roifile import ROI_TYPE, ImagejRoi

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "crates", "samcell-io", "tests", "fixtures", "roi")

# (stem, name, ring, holes, position); position: None, {"slice": n} or {"c":, "z":, "t":}
CASES = [
    ("square", "0001", [(2, 3), (7, 3), (7, 8), (2, 8)], [], None),
    ("concave_l", "0002", [(10, 10), (14, 10), (14, 12), (12, 12), (12, 16), (10, 16)], [], None),
    ("single_pixel", "0003", [(3, 5), (4, 5), (4, 6), (3, 6)], [], None),
    ("slice_position", "0004-0007", [(20, 30), (25, 30), (25, 31), (20, 31)], [], {"slice": 4}),
    ("hyperstack_frame", "Zelle µ-9", [(0, 0), (3, 0), (3, 2), (0, 2)], [],
     {"c": 1, "z": 0, "t": 5}),
    ("with_hole", "0005", [(0, 0), (6, 0), (6, 6), (0, 6)], [[(2, 2), (2, 4), (4, 4), (4, 2)]],
     {"slice": 2}),
    ("far_corner", "0006", [(40000, 100), (40010, 100), (40010, 110), (40000, 110)], [], None),
]


def positions(pos):
    if pos is None:
        return 0, 0, 0, 0
    if "slice" in pos:
        return pos["slice"], 0, 0, 0
    return 0, pos["c"], pos["z"], pos["t"]


def make_roi(name, ring, holes, pos):
    """The ImagejRoi ImageJ's RoiEncoder would write for this outline (module docs)."""
    pts = np.array([p for r in [ring] + holes for p in r], np.int64)
    roi = ImagejRoi()
    roi.version = 229
    roi.name = name
    roi.left, roi.top = (int(v) for v in pts.min(axis=0))
    roi.right, roi.bottom = (int(v) for v in pts.max(axis=0))
    roi.position, roi.c_position, roi.z_position, roi.t_position = positions(pos)
    if not holes:
        roi.roitype = ROI_TYPE.POLYGON
        coords = np.array(ring, np.int64) - [roi.left, roi.top]
        roi.integer_coordinates = coords.astype(np.int32)
        roi.n_coordinates = len(ring)
    else:
        roi.roitype = ROI_TYPE.RECT
        shape = []
        for r in [ring] + holes:
            for i, (x, y) in enumerate(r):
                shape += [0 if i == 0 else 1, x, y]
            shape.append(4)
        roi.multi_coordinates = np.array(shape, np.float32)
        roi.shape_roi_size = len(shape)
    return roi


def write_fixtures():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    for stem, name, ring, holes, pos in CASES:
        data = make_roi(name, ring, holes, pos).tobytes()
        with open(os.path.join(OUT, stem + ".roi"), "wb") as f:
            f.write(data)
        cases.append({"stem": stem, "name": name, "ring": ring, "holes": holes, "position": pos})
        print(f"{stem}.roi: {len(data)} bytes")
    with open(os.path.join(OUT, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": f"reference/gen_roi_fixtures.py, roifile {roifile.__version__}",
                   "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")


def check_roi(roi, case, where):
    ring = [tuple(p) for p in case["ring"]]
    holes = [[tuple(p) for p in h] for h in case["holes"]]
    pts = np.array([p for r in [ring] + holes for p in r], np.int64)
    left, top = pts.min(axis=0)
    right, bottom = pts.max(axis=0)
    # roifile reads bounds as int16; ImageJ reads values below -5000 as unsigned
    unwrap = lambda v: v + 65536 if v < -5000 else v  # noqa: E731
    assert (unwrap(roi.left), unwrap(roi.top)) == (left, top), where
    assert (unwrap(roi.right), unwrap(roi.bottom)) == (right, bottom), where
    assert roi.name == case["name"], (where, roi.name)
    assert roi.version == 229, where
    want_pos = positions(case["position"])
    got_pos = (roi.position, roi.c_position, roi.z_position, roi.t_position)
    assert got_pos == want_pos, (where, got_pos, want_pos)
    if not holes:
        assert roi.roitype == ROI_TYPE.POLYGON and not roi.composite, where
        rel = np.array(roi.integer_coordinates, np.int64) % 65536
        got = rel + [left, top]
        assert np.array_equal(got, np.array(ring)), (where, got)
    else:
        assert roi.roitype == ROI_TYPE.RECT and roi.composite, where
        got = [np.array(c, np.float64) for c in roi.coordinates(multi=True)]
        want = [np.array(r, np.float64) for r in [ring] + holes]
        assert len(got) == len(want), where
        for g, w in zip(got, want):
            assert np.array_equal(g[: len(w)], w), (where, g, w)


def check_written(d):
    with open(os.path.join(OUT, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    for case in cases:
        path = os.path.join(d, case["stem"] + ".roi")
        check_roi(ImagejRoi.fromfile(path), case, path)
        print("ok", path)
    zpath = os.path.join(d, "cells_rois.zip")
    rois = roifile.roiread(zpath)
    assert len(rois) == len(cases), zpath
    for roi, case in zip(rois, cases):
        check_roi(roi, case, zpath + ":" + case["name"])
    print("ok", zpath, f"({len(rois)} ROIs)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-written":
        check_written(sys.argv[2])
    elif len(sys.argv) == 1:
        write_fixtures()
    else:
        sys.exit(__doc__)
