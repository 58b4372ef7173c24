#!/usr/bin/env python
"""Golden fixtures for the samcell-pipeline crate (tiling, per-crop preprocessing, SAM input,
blending, post-processing), from the reference harness running the published samcell 1.1.4.

What it does:
  1. make_synthetic.py -> synth_704x520, synth_256x256, synth_200x150, synth_48x40 (u8 PNG)
  2. reference_pipeline.py IMG WEIGHTS --config tiny --out DIR for each (tiny SAM, scaled weights)
  3. copies small arrays into crates/samcell-pipeline/tests/fixtures/synth_WxH/ and writes
     checks.json there (SHA-256 of arrays too big to store; all hashes are over the raw
     little-endian C-order bytes of the array as named).

Per image (x = stored array, # = SHA-256 in checks.json):
  crop_regions.json            harness file, as is                                   (all four)
  #image, #crops, #enhanced    input, every crop, every crop after CLAHE + min-max     (all four)
  synthetic_blend              #accum/#weight/#map of samcell's combine_crops fed with formula
                               maps m_k[y,x] = ((31x + 17y + 101k) % 251) / 250 (f32)  (704x520, 256x256)
  x input.npy                                                                      (256, 200x150, 48x40)
  x crop0_clahe.npy            crop 0 after CLAHE + min-max (one channel)               (200x150, 48x40)
  # crop0 pixel_values         whole (1,3,1024,1024) f32 array                         (256x256, 48x40)
  x crop0_pv_subsample.npy     pixel_values[flat % 211 == 0] then full rows PV_ROWS of each channel
  x crops_dist_maps.npy        the harness's per-crop 256x256 maps                     (48x40)
  x crop_maps_used.npy         200x150: per crop, map resized to the crop's shape by cv2
                               (as combine_crops does), top-left region-sized part, raveled, concatenated
  x combine_accum.npy, combine_weight_map.npy                                         (48x40; # for 200x150)
  x dist_map.npy               the reference's blended map (its own zero-weight fill)  (200x150, 48x40)
  x zero_weight_fill.npy       our fix's values at the weight <= 1e-4 pixels, raster order, computed
                               here by brute force (nearest valid pixel, ties: first in raster order)
  x labels_ref_p{P}_f{F}.npy   samcell cells_from_dist_map(dist_map, P, F), relabelled 1..N
  x labels_fixed_p{P}_f{F}.npy same on dist_map with the zero-weight pixels set by our fix
                               (thresholds (0.47, 0.09) and (0.53, 0.51); u8 if N < 256 else u16)

With --keep DIR (or env SAMCELL_PIPELINE_REF_OUT) the full harness outputs stay in DIR/out_WxH
(plus labels_ref_*/labels_fixed_* for both threshold pairs there) for the ignored full-parity
test (tests/parity_full.rs), which reads the same
env variable.

Usage:
  SAMCELL_SHARED=<shared dir> [SAMCELL_REF_PYTHON=<venv python>] [SAMCELL_REF_WEIGHTS=<.pt>] \
      python reference/gen_pipeline_fixtures.py [--keep DIR]
Defaults: SAMCELL_SHARED=<repo>/../shared, SAMCELL_REF_PYTHON=<repo>/../refenv/venv/bin/python
(else the running interpreter), SAMCELL_REF_WEIGHTS=<shared>/reference/sam_tiny_scaled.pt.
The script re-runs itself under SAMCELL_REF_PYTHON when the running interpreter lacks samcell.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
HARNESS = os.path.join(SHARED, "reference")
_DEFAULT_PY = os.path.join(os.path.dirname(REPO), "refenv", "venv", "bin", "python")
PYTHON = os.environ.get("SAMCELL_REF_PYTHON", _DEFAULT_PY if os.path.exists(_DEFAULT_PY) else sys.executable)
WEIGHTS = os.environ.get("SAMCELL_REF_WEIGHTS", os.path.join(HARNESS, "sam_tiny_scaled.pt"))
OUT = os.path.join(REPO, "crates", "samcell-pipeline", "tests", "fixtures")

SIZES = ["704x520", "256x256", "200x150", "48x40"]
PV_STRIDE = 211
THRESHOLDS = [(0.47, 0.09), (0.53, 0.51)]


def pv_rows(resized_h):
    """Rows of each channel stored in full: first, middle, last resized row, first pad row, last."""
    rows = [0, 511, resized_h - 1]
    if resized_h < 1024:
        rows.append(resized_h)
    rows.append(1023)
    return sorted(set(rows))


def sha(a):
    import numpy as np

    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return hashlib.sha256(a.tobytes()).hexdigest()


def ensure_reference_python():
    try:
        import cv2  # noqa: F401
        import samcell  # noqa: F401
    except ImportError:
        if os.path.realpath(sys.executable) == os.path.realpath(PYTHON):
            raise
        os.execv(PYTHON, [PYTHON, os.path.abspath(__file__), *sys.argv[1:]])


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def enhance(crop):
    import cv2
    import numpy as np

    x = cv2.createCLAHE(clipLimit=1, tileGridSize=(8, 8)).apply(crop)
    return cv2.normalize(x, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def formula_map(k, size=256):
    import numpy as np

    y, x = np.mgrid[0:size, 0:size].astype(np.int64)
    return (((31 * x + 17 * y + 101 * k) % 251).astype(np.float32) / np.float32(250.0)).astype(np.float32)


def combine_internals(helper, image_shape, crops, regions, maps):
    """accum and weight exactly as SlidingWindowHelper.combine_crops builds them (harness code)."""
    import cv2
    import numpy as np

    H, W = image_shape
    ch, cw = crops[0].shape
    if (ch, cw) != (helper.crop_size, helper.crop_size):
        bm = type(helper)(max(ch, cw), helper.overlap_size).blending_mask
    else:
        bm = helper.blending_mask
    if bm.shape != (ch, cw):
        bm = cv2.resize(bm, (cw, ch))
    acc = np.zeros((H, W), np.float32)
    wmap = np.zeros((H, W), np.float32)
    for crop, dm, (x0, y0, w, h) in zip(crops, maps, regions):
        if dm.shape != crop.shape:
            dm = cv2.resize(dm, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
        mh, mw = min(h, bm.shape[0]), min(w, bm.shape[1])
        ye, xe = min(y0 + mh, H), min(x0 + mw, W)
        mh, mw = ye - y0, xe - x0
        acc[y0:ye, x0:xe] += dm[:mh, :mw] * bm[:mh, :mw]
        wmap[y0:ye, x0:xe] += bm[:mh, :mw]
    return acc, wmap


def nearest_fill(dist_map, valid):
    """Our fix: each invalid pixel takes its nearest valid pixel's value (exact Euclidean,
    ties to the first valid pixel in raster order). Brute force."""
    import numpy as np

    vy, vx = np.nonzero(valid)  # raster order
    vals = dist_map[vy, vx]
    out = dist_map.copy()
    iy, ix = np.nonzero(~valid)
    for y, x in zip(iy, ix):
        d2 = (vy.astype(np.int64) - y) ** 2 + (vx.astype(np.int64) - x) ** 2
        out[y, x] = vals[int(np.argmin(d2))]  # argmin returns the first minimum
    return out


def relabel(labels):
    import numpy as np

    flat = labels.ravel()
    out = np.zeros(flat.shape, np.int64)
    ids = {}
    for i in np.flatnonzero(flat):
        out[i] = ids.setdefault(int(flat[i]), len(ids) + 1)
    n = len(ids)
    return out.reshape(labels.shape).astype(np.uint8 if n < 256 else np.uint16), n


def main():
    ensure_reference_python()
    import cv2
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", default=os.environ.get("SAMCELL_PIPELINE_REF_OUT"),
                    help="keep the harness outputs here (for the ignored full-parity test)")
    a = ap.parse_args()

    sys.path.insert(0, HARNESS)
    from samcell.pipeline import SlidingWindowPipeline
    from samcell.slidingWindow import SlidingWindowHelper

    post = SlidingWindowPipeline.__new__(SlidingWindowPipeline)  # post-processing only, no model
    work = a.keep or tempfile.mkdtemp(prefix="samcell_pipeline_ref_")
    os.makedirs(work, exist_ok=True)
    run([PYTHON, os.path.join(HARNESS, "make_synthetic.py"), work])
    for s in SIZES:
        run([PYTHON, os.path.join(HARNESS, "reference_pipeline.py"), os.path.join(work, f"synth_{s}.png"),
             WEIGHTS, "--config", "tiny", "--out", os.path.join(work, f"out_{s}")])

    for s in SIZES:
        src = os.path.join(work, f"out_{s}")
        dst = os.path.join(OUT, f"synth_{s}")
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.makedirs(dst)
        save = lambda name, arr: np.save(os.path.join(dst, name), np.ascontiguousarray(arr))  # noqa: E731
        shutil.copy(os.path.join(src, "crop_regions.json"), dst)
        image = np.load(os.path.join(src, "input.npy"))
        helper = SlidingWindowHelper(256, 32)
        crops, regions, _ = helper.seperate_into_crops(image)
        checks = {
            "image_sha256": sha(image),
            "crops_sha256": [sha(c) for c in crops],
            "enhanced_sha256": [sha(enhance(c)) for c in crops],
        }
        dist_map = np.load(os.path.join(src, "dist_map.npy"))
        weight = np.load(os.path.join(src, "combine_weight_map.npy"))
        accum = np.load(os.path.join(src, "combine_accum.npy"))
        valid = weight > 0.0001
        checks["n_zero_weight"] = int((~valid).sum())
        checks["weight_sha256"] = sha(weight)
        checks["accum_sha256"] = sha(accum)
        fixed = nearest_fill(dist_map, valid)

        if s in ("704x520", "256x256"):
            maps = [formula_map(k) for k in range(len(crops))]
            out = helper.combine_crops(image.shape, crops, regions, None, maps)
            acc, wm = combine_internals(helper, image.shape, crops, regions, maps)
            v = wm > 0.0001
            assert np.array_equal(out[v], np.where(v, acc / np.where(v, wm, 1), 0)[v])
            checks["synthetic_blend"] = {"accum_sha256": sha(acc), "weight_sha256": sha(wm),
                                         "map_valid_sha256": sha(np.where(v, out, np.float32(0)))}
        if s != "704x520":
            save("input.npy", image)
        if s in ("256x256", "48x40"):
            pv = np.load(os.path.join(src, "crop0_pixel_values.npy"))
            resized = np.load(os.path.join(src, "crop0_resized_u8.npy"))
            rows = pv_rows(resized.shape[0])
            checks["crop0_pixel_values_sha256"] = sha(pv)
            checks["crop0_resized_hw"] = list(resized.shape[:2])
            checks["pv_subsample"] = {"stride": PV_STRIDE, "rows": rows}
            flat = pv.ravel()
            sub = [flat[::PV_STRIDE]] + [pv[0, c, r, :] for c in range(3) for r in rows]
            save("crop0_pv_subsample.npy", np.concatenate(sub).astype(np.float32))
        if s in ("200x150", "48x40"):
            save("crop0_clahe.npy", np.load(os.path.join(src, "crop0_clahe_bgr_u8.npy"))[:, :, 0])
            save("dist_map.npy", dist_map)
            save("zero_weight_fill.npy", fixed[~valid].astype(np.float32))
            for (p, f) in THRESHOLDS:
                lab, n = relabel(post.cells_from_dist_map(dist_map, p, f))
                save(f"labels_ref_p{p}_f{f}.npy", lab)
                labf, nf = relabel(post.cells_from_dist_map(fixed, p, f))
                save(f"labels_fixed_p{p}_f{f}.npy", labf)
                checks[f"n_cells_p{p}_f{f}"] = {"ref": n, "fixed": nf}
        if s == "48x40":
            save("crops_dist_maps.npy", np.load(os.path.join(src, "crops_dist_maps.npy")))
            save("combine_accum.npy", accum)
            save("combine_weight_map.npy", weight)
        if s == "200x150":
            cdm = np.load(os.path.join(src, "crops_dist_maps.npy"))
            used = []
            for crop, m, (x0, y0, w, h) in zip(crops, cdm, regions):
                if m.shape != crop.shape:
                    m = cv2.resize(m, (crop.shape[1], crop.shape[0]), interpolation=cv2.INTER_LINEAR)
                used.append(m[:h, :w].ravel())
            save("crop_maps_used.npy", np.concatenate(used).astype(np.float32))
        if a.keep:
            for (p, f) in THRESHOLDS:
                np.save(os.path.join(src, f"labels_ref_p{p}_f{f}.npy"), relabel(post.cells_from_dist_map(dist_map, p, f))[0])
                np.save(os.path.join(src, f"labels_fixed_p{p}_f{f}.npy"), relabel(post.cells_from_dist_map(fixed, p, f))[0])
        with open(os.path.join(dst, "checks.json"), "w") as fh:
            json.dump(checks, fh, indent=1)
            fh.write("\n")
    if not a.keep:
        shutil.rmtree(work)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs)
    print(f"fixtures in {OUT}: {total / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
