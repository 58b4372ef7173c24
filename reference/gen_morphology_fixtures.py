#!/usr/bin/env python
"""Golden fixtures for crates/samcell-morphology (contours, polygon-moment seeds, watershed).

Reference versions (the ones samcell 1.1.4 runs on): opencv-python-headless 4.12.0.88,
scikit-image 0.25.2, numpy 2.2.6. Labels come from samcell's own
`SlidingWindowPipeline.cells_from_dist_map` (called unchanged, without a model, as in the
harness's postprocess.py); contours and seeds from the same cv2 calls samcell makes.

Run with the reference venv from the repository root:
    <venv>/bin/python reference/gen_morphology_fixtures.py
It rewrites crates/samcell-morphology/tests/fixtures/ (about 280 KB). Everything is synthetic
and seeded; no real data is stored.

Files, per distance-map case NAME (all int32 unless said otherwise):
  NAME_dist.npy            f32 (H, W) input, for the small stored cases
  NAME_meta.npy            int32 [H, W, quant] and NAME_cells.npy f64 (K, 7) for the parametric
                           cases, whose map the Rust test rebuilds bit-exactly (see param_map);
                           NAME_check.npy int64 [checksum] guards the rebuild
  NAME_contour_lengths.npy (N,) points per contour, in cv2's order
  NAME_contour_points.npy  (P,) all contour points concatenated, packed as x | y << 16
  NAME_seeds.npy           (N, 3) has_seed, x, y per contour (seed before clamping; samcell skips
                           contours with < 3 points)
  NAME_labels_rle.npy      (R,) runs of samcell's labels in raster order, packed as
                           label << 20 | run length (labels < 2048, runs < 2^20 here)
Random binary masks for the contour tracer alone:
  masks.npy u8 (M, 32, 4): 32x32 masks, np.packbits along rows (MSB first);
  masks_contour_counts.npy (M,), then the same masks_contour_lengths / masks_contour_points /
  masks_seeds files over all contours of all masks.
Random tie-heavy inputs for skimage's watershed alone (image values v / 4, several markers per
value, so equal-valued markers and plateaus compete):
  ws_image.npy u8 (M, 20, 20): grey level 0..4, or 255 = outside the mask; image = level / 4
  (float32 division); ws_markers.npy u8 (M, 20, 20); ws_labels.npy u8 (M, 20, 20) =
  watershed(image, markers, mask=image_u8 != 255).
The packing keeps every fixture a plain .npy (npyz reads no .npz) and the total under 300 KB.
"""
import json
import logging
import os

import cv2
import numpy as np
import skimage
from skimage.segmentation import watershed

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(REPO, "..", "shared"))  # not needed here
OUT = os.path.join(REPO, "crates", "samcell-morphology", "tests", "fixtures")

PEAK, FILL = 0.47, 0.09  # samcell's defaults (cells_max_threshold, cell_fill_threshold)


def samcell_labels(dist):
    """samcell 1.1.4 cells_from_dist_map, unchanged; any error it logs aborts the script."""
    from samcell.pipeline import SlidingWindowPipeline

    errors = []

    class Catch(logging.Handler):
        def emit(self, record):
            errors.append(self.format(record))

    handler = Catch(level=logging.ERROR)
    logging.getLogger("samcell").addHandler(handler)
    try:
        pipe = SlidingWindowPipeline.__new__(SlidingWindowPipeline)  # no model needed
        pipe.cells_max_threshold, pipe.cell_fill_threshold = PEAK, FILL
        labels = pipe.cells_from_dist_map(dist, PEAK, FILL)
    finally:
        logging.getLogger("samcell").removeHandler(handler)
    if errors:
        raise RuntimeError("samcell logged errors: " + "; ".join(errors))
    return labels.astype(np.int32)


def contours_and_seeds(peak_u8):
    """The cv2 part of cells_from_dist_map, line for line: contours and per-contour seeds."""
    contours, _ = cv2.findContours(peak_u8, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    seeds = []
    for contour in contours:
        if len(contour) < 3:
            seeds.append((0, 0, 0))
            continue
        m = cv2.moments(contour)
        if m["m00"] != 0:
            cx, cy = int(m["m10"] / m["m00"]), int(m["m01"] / m["m00"])
        else:
            cx = int(np.mean([p[0][0] for p in contour]))
            cy = int(np.mean([p[0][1] for p in contour]))
        seeds.append((1, cx, cy))
    return contours, seeds


def markers_from(shape, seeds):
    mask = np.zeros(shape, np.int32)
    for i, (has, cx, cy) in enumerate(seeds):
        if has:
            mask[min(max(0, cy), shape[0] - 1), min(max(0, cx), shape[1] - 1)] = i + 1
    return mask


def rle(labels):
    flat = labels.ravel()
    starts = np.concatenate([[0], np.flatnonzero(flat[1:] != flat[:-1]) + 1])
    lengths = np.diff(np.concatenate([starts, [flat.size]]))
    labels_, lengths = flat[starts].astype(np.int64), lengths.astype(np.int64)
    assert labels_.max() < 2048 and lengths.max() < 2**20
    return ((labels_ << 20) | lengths).astype(np.int32)


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), arr)


def save_contours(prefix, contours, seeds):
    lengths = np.array([len(c) for c in contours], np.int32)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]) if contours else np.zeros((0, 2), int)
    assert pts.size == 0 or (pts.min() >= 0 and pts.max() < 2**15)
    save(prefix + "_contour_lengths", lengths)
    save(prefix + "_contour_points", (pts[:, 0] | (pts[:, 1] << 16)).astype(np.int32))
    save(prefix + "_seeds", np.array(seeds, np.int32).reshape(-1, 3))


def run_case(name, dist, stored=True):
    assert dist.dtype == np.float32
    labels = samcell_labels(dist)
    # NumPy 2 compares a float32 array with a Python float in float32 (weak scalar).
    peak = (dist > PEAK).astype(np.uint8)
    assert np.array_equal(peak, (dist > np.float32(PEAK)).astype(np.uint8))
    contours, seeds = contours_and_seeds(peak)
    markers = markers_from(dist.shape, seeds)
    # Self-check: the seeds recomputed here give samcell's labels.
    again = watershed(-dist, markers, mask=dist > FILL) if markers.max() > 0 else np.zeros_like(labels)
    assert np.array_equal(again, labels), name
    if stored:
        save(name + "_dist", dist)
    save_contours(name, contours, seeds)
    save(name + "_labels_rle", rle(labels))
    ids = np.unique(labels)
    print(f"{name}: {dist.shape}, {len(contours)} contours, {sum(s[0] for s in seeds)} seeds, "
          f"{len(ids) - (ids[0] == 0)} labels, max id {labels.max()}")
    return contours, seeds, labels


# ---------------------------------------------------------------- stored f32 maps


def gauss_blobs_128(seed=7):
    """Gaussian bumps (peak 1): isolated, touching and overlapping pairs, on borders and corners."""
    rng = np.random.default_rng(seed)
    h = w = 128
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    v = np.zeros((h, w))
    centres = [(0, 0), (127, 60), (64, 0), (30, 127), (127, 127)]  # borders and corners
    centres += [(40, 40), (52, 46), (90, 30), (101, 30), (70, 90), (78, 100), (20, 90)]
    centres += [tuple(rng.uniform(10, 118, 2)) for _ in range(6)]
    for cx, cy in centres:
        s = rng.uniform(4.0, 9.0)
        sy = s * rng.uniform(0.7, 1.4)
        v = np.maximum(v, np.exp(-((xx - cx) ** 2 / (2 * s * s) + (yy - cy) ** 2 / (2 * sy * sy))))
    # Dim cells below the peak threshold (no seed of their own) between bright ones: who floods
    # them depends on skimage raising a pixel's priority to its parent's.
    for cx, cy, amp in [(46, 60, 0.42), (60, 45, 0.3), (95, 45, 0.4), (85, 95, 0.35), (110, 80, 0.45)]:
        s = rng.uniform(4.0, 7.0)
        v = np.maximum(v, amp * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)))
    v += rng.normal(0, 0.01, v.shape)  # small noise: ragged contours
    return np.clip(v, 0, 1).astype(np.float32)


def plateaus_96(seed=11):
    """A map quantised to 1/8 steps (large ties and plateaus) with hand-made peak shapes:
    single-pixel and two-pixel peaks (contours with < 3 points: no seed, a gap in the ids),
    a zero-area 1-pixel-thick peak (seed = mean of its points), peaks on the image border,
    a ring peak with a peak inside its hole (not external), and a 'C' peak plus a small peak
    sharing the same seed pixel (the later contour overwrites the earlier one)."""
    rng = np.random.default_rng(seed)
    h = w = 96
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    v = np.zeros((h, w))
    for _ in range(7):  # background cells in the top part, clear of the stamps below
        cx, cy, s = rng.uniform(0, w), rng.uniform(0, 35), rng.uniform(5, 10)
        v = np.maximum(v, np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s)))
    v = np.floor(v * 8) / 8
    d = v.astype(np.float32)

    def stamp(pixels, hi=0.75, halo=0.25):
        for x, y in pixels:
            d[max(0, y - 2):y + 3, max(0, x - 2):x + 3] = np.maximum(d[max(0, y - 2):y + 3, max(0, x - 2):x + 3], halo)
        for x, y in pixels:
            d[y, x] = hi

    stamp([(5, 50)])  # single pixel
    stamp([(12, 50), (13, 50)])  # two pixels
    stamp([(20, 50), (21, 51), (22, 51)])  # zero area: points (20,50),(21,51),(22,51),(21,51)
    stamp([(0, 70), (0, 71), (1, 70), (1, 71)])  # on the left border
    stamp([(95, 95), (94, 95), (95, 94)])  # bottom-right corner
    ring = [(x, 80) for x in range(30, 39)] + [(x, 88) for x in range(30, 39)]
    ring += [(30, y) for y in range(81, 88)] + [(38, y) for y in range(81, 88)]
    stamp(ring)
    d[84, 34] = 0.875  # a peak inside the ring's hole: not an external contour
    # A 3-pixel-thick 'C' opening to the right and a 3x3 blob in its mouth, at the C's seed.
    c = [(x, y) for y in range(60, 73) for x in range(60, 63)]
    c += [(x, y) for y in list(range(60, 63)) + list(range(70, 73)) for x in range(63, 76)]
    stamp(c)
    contour_c, _ = cv2.findContours((d > PEAK).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    mc = [cv2.moments(k) for k in contour_c if (k.reshape(-1, 2) == (60, 60)).all(1).any()][0]
    sx, sy = int(mc["m10"] / mc["m00"]), int(mc["m01"] / mc["m00"])
    assert 64 <= sx <= 74 and 64 <= sy <= 68, (sx, sy)  # the blob stays clear of the 'C'
    d[sy - 1:sy + 2, sx - 1:sx + 2] = np.maximum(d[sy - 1:sy + 2, sx - 1:sx + 2], 0.625)
    return d


# ------------------------------------------------------------ parametric maps


def param_map(h, w, cells, quant):
    """max(0, max_k a_k * (1 - d2_k)) with d2 = (dx*dx*ax + dy*dy*ay) + dx*dy*axy, in float64, then
    floor(v*quant)/quant when quant > 0, then float32. Only +, -, *, /, floor and max, each
    rounded once, so the Rust test rebuilds the same bits. Cell k only touches the box of
    half-size cells[k, 5] around (cx, cy) (checked here to hold every pixel with t > 0);
    cells[k, 6] is its height a_k (dim cells below the peak threshold get no seed)."""
    xs = np.arange(w, dtype=np.float64)[None, :]
    ys = np.arange(h, dtype=np.float64)[:, None]
    v = np.zeros((h, w))
    for cx, cy, ax, ay, axy, r, a in cells:
        dx = xs - cx
        dy = ys - cy
        t = a * (1.0 - ((dx * dx * ax + dy * dy * ay) + dx * dy * axy))
        inside = (np.abs(dx) <= r) & (np.abs(dy) <= r)
        assert not (t > 0)[~inside].any(), "box too small"
        v = np.maximum(v, t)
    if quant:
        v = np.floor(v * quant) / quant
    return v.astype(np.float32)


def checksum(d):
    """sum over pixels of bits(v) * (i % 1000 + 1), wrapping u64 (the Rust test recomputes it)."""
    bits = d.ravel().view(np.uint32).astype(np.uint64)
    weights = (np.arange(bits.size, dtype=np.uint64) % np.uint64(1000)) + np.uint64(1)
    with np.errstate(over="ignore"):
        return np.array([np.sum(bits * weights, dtype=np.uint64)], np.uint64).view(np.int64)


def random_cells(rng, h, w, n, rmin, rmax):
    """Ellipse-like paraboloid cells on a jittered grid (touching neighbours), some on borders."""
    cols = int(np.ceil(np.sqrt(n * w / h)))
    rows = int(np.ceil(n / cols))
    cells = []
    for k in range(n):
        gy, gx = divmod(k, cols)
        cx = (gx + 0.5) * w / cols + rng.uniform(-0.35, 0.35) * w / cols
        cy = (gy + 0.5) * h / rows + rng.uniform(-0.35, 0.35) * h / rows
        ra, rb = rng.uniform(rmin, rmax), rng.uniform(rmin, rmax)
        th = rng.uniform(0, np.pi)
        c, s = np.cos(th), np.sin(th)
        ax = c * c / (ra * ra) + s * s / (rb * rb)
        ay = s * s / (ra * ra) + c * c / (rb * rb)
        axy = 2 * c * s * (1 / (ra * ra) - 1 / (rb * rb))
        r = np.ceil(max(ra, rb)) + 2
        a = rng.uniform(0.25, 0.45) if rng.random() < 0.15 else 1.0  # dim cells: no seed
        cells.append((round(cx, 3), round(cy, 3), ax, ay, axy, r, a))
    return np.array(cells, np.float64)


def param_case(name, h, w, cells, quant):
    d = param_map(h, w, cells, quant)
    save(name + "_meta", np.array([h, w, quant], np.int32))
    save(name + "_cells", cells)
    save(name + "_check", checksum(d))
    run_case(name, d, stored=False)


# --------------------------------------------------------------- contour masks


def contour_masks(seed=3, n=40):
    rng = np.random.default_rng(seed)
    masks = []
    for t in range(n):
        kind = t % 5
        if kind == 0:  # salt noise of varying density: many tiny and 8-connected objects
            m = rng.random((32, 32)) < rng.uniform(0.1, 0.7)
        elif kind == 1:  # smooth blobs, touching the border
            z = cv2.GaussianBlur(rng.normal(size=(32, 32)).astype(np.float32), (0, 0), rng.uniform(1, 3))
            m = z > rng.uniform(-0.2, 0.2)
        elif kind == 2:  # rings with islands in their holes, 1-3 px walls
            m8 = np.zeros((32, 32), np.uint8)
            for _ in range(rng.integers(1, 4)):
                c = (int(rng.integers(0, 32)), int(rng.integers(0, 32)))
                cv2.circle(m8, c, int(rng.integers(3, 14)), 1, int(rng.integers(1, 4)))
                cv2.circle(m8, c, int(rng.integers(0, 2)), 1, -1)
            m = m8 > 0
        elif kind == 3:  # thin lines and diagonals: zero-area and back-and-forth contours
            m8 = np.zeros((32, 32), np.uint8)
            for _ in range(rng.integers(2, 7)):
                p, q = tuple(int(a) for a in rng.integers(0, 32, 2)), tuple(int(a) for a in rng.integers(0, 32, 2))
                cv2.line(m8, p, q, 1, 1)
            m = m8 > 0
        else:  # blobs with noise holes
            z = cv2.GaussianBlur(rng.normal(size=(32, 32)).astype(np.float32), (0, 0), 2)
            m = (z > 0) ^ (rng.random((32, 32)) < 0.08)
        masks.append(m.astype(np.uint8))
    masks[0][:] = 1  # the whole image: one contour along the border
    masks[5][:] = 0  # nothing
    masks = np.stack(masks)
    counts, all_contours, all_seeds = [], [], []
    for m in masks:
        contours, seeds = contours_and_seeds(m)
        counts.append(len(contours))
        all_contours += list(contours)
        all_seeds += seeds
    save("masks", np.packbits(masks, axis=2))
    save("masks_contour_counts", np.array(counts, np.int32))
    save_contours("masks", all_contours, all_seeds)
    print(f"masks: {len(masks)} masks, {len(all_contours)} contours, "
          f"{sum(len(c) for c in all_contours)} points")


def watershed_cases(seed=5, n=24):
    rng = np.random.default_rng(seed)
    imgs, marks, labs = [], [], []
    for t in range(n):
        levels = rng.integers(0, 5, (20, 20)).astype(np.uint8)
        if t % 3 == 0:  # smoother: blocks of equal value (plateaus)
            levels = np.kron(rng.integers(0, 5, (5, 5)), np.ones((4, 4), int)).astype(np.uint8)
        inside = rng.random((20, 20)) < rng.uniform(0.6, 1.0)
        markers = np.where(rng.random((20, 20)) < rng.uniform(0.02, 0.12), rng.integers(1, 9, (20, 20)), 0)
        image = levels.astype(np.float32) / np.float32(4)
        labels = watershed(image, markers.astype(np.int32), mask=inside)
        imgs.append(np.where(inside, levels, 255).astype(np.uint8))
        marks.append(markers.astype(np.uint8))
        labs.append(labels.astype(np.uint8))
    save("ws_image", np.stack(imgs))
    save("ws_markers", np.stack(marks))
    save("ws_labels", np.stack(labs))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".npy"):
            os.remove(os.path.join(OUT, f))
    run_case("gauss128", gauss_blobs_128())
    contours, seeds, _ = run_case("plateau96", plateaus_96())
    assert any(len(c) >= 3 and cv2.moments(c)["m00"] == 0 for c in contours), "need a zero-area seed"
    with_seed = [(x, y) for has, x, y in seeds if has]
    assert len(with_seed) > len(set(with_seed)), "plateau96 must contain a seed collision"
    assert any(not has for has, _, _ in seeds), "plateau96 must contain seedless contours"
    rng = np.random.default_rng(2024)
    param_case("grid256q", 256, 256, random_cells(rng, 256, 256, 36, 14, 26), 32)
    param_case("cells520x704", 520, 704, random_cells(rng, 520, 704, 260, 12, 26), 0)
    contour_masks()
    watershed_cases()
    versions = {"opencv": cv2.__version__, "scikit-image": skimage.__version__, "numpy": np.__version__}
    import samcell

    versions["samcell"] = getattr(samcell, "__version__", "1.1.4")
    with open(os.path.join(OUT, "versions.json"), "w") as f:
        json.dump(versions, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"total {total / 1024:.1f} KiB in {OUT}")


if __name__ == "__main__":
    main()
