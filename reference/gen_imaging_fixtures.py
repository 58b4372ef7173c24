#!/usr/bin/env python
"""Golden fixtures for crates/samcell-imaging (CLAHE, min-max, Pillow bilinear, OpenCV linear).

Reference versions (the exact ones samcell 1.1.4 runs on): opencv-python-headless 4.12.0.88,
Pillow 11.3.0, numpy 2.2.6, transformers 4.57.6.

Run with the reference venv from the repository root:
    <venv>/bin/python reference/gen_imaging_fixtures.py
It rewrites crates/samcell-imaging/tests/fixtures/*.npy (about 300 KB in all; ~10 s). Every input is
synthetic and seeded: no real data is stored. The Rust tests rebuild the small inputs as crops of
`input_256.npy` (plus the integer transforms below), so the CASES tables here and in
tests/golden_*.rs must stay in step; each test checks the fixture shapes it expects.

Large outputs (1024-wide resizes) are stored as per-row and per-column checksums
(sum over the line of (index + 1) * value, u32), which any wrong pixel changes.
"""
import os
import sys

import cv2
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(REPO, "..", "shared"))  # not needed here
OUT = os.path.join(REPO, "crates", "samcell-imaging", "tests", "fixtures")


def synthetic_256(seed=20250101):
    """Phase-contrast-like 256x256 u8: dark cells with bright halos, blur, noise, gradient."""
    rng = np.random.default_rng(seed)
    h = w = 256
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = 105.0 + 18.0 * (xx / w) - 12.0 * (yy / h)  # illumination gradient
    for _ in range(28):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        ax, ay = rng.uniform(5, 20), rng.uniform(4, 13)
        th = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)) / ax
        v = (-(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)) / ay
        r = np.sqrt(u * u + v * v)
        img -= rng.uniform(15, 45) * np.exp(-(r ** 4))  # cell body
        img += rng.uniform(20, 60) * np.exp(-((r - 1.15) ** 2) / 0.02)  # halo
    img += rng.normal(0, 7, img.shape)
    # a saturated patch and a dark patch so both ends of the range occur
    img[200:214, 20:40] = 255
    img[30:38, 220:236] = 0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def crop(a, x0, y0, w, h):
    return a[y0:y0 + h, x0:x0 + w]


def transform(a, kind):
    """Integer transforms the Rust tests reproduce exactly."""
    if kind == "none":
        return a.copy()
    if kind == "low":  # low-contrast: 16 grey levels around 100, heavy clipping in CLAHE
        return (a // 16 + 100).astype(np.uint8)
    if kind.startswith("const"):  # constant image of the given value
        return np.full(a.shape, int(kind[5:]), np.uint8)
    raise ValueError(kind)


def line_sums(a):
    """(rows, cols): u32 sums of (index + 1) * value along each row / each column."""
    a64 = a.astype(np.uint64)
    wx = np.arange(1, a.shape[1] + 1, dtype=np.uint64)
    wy = np.arange(1, a.shape[0] + 1, dtype=np.uint64)
    rows = (a64 * wx[None, :]).sum(axis=1)
    cols = (a64 * wy[:, None]).sum(axis=0)
    assert rows.max() < 2 ** 32 and cols.max() < 2 ** 32
    return rows.astype(np.uint32), cols.astype(np.uint32)


def clahe(a, clip, tiles_x, tiles_y):
    return cv2.createCLAHE(clipLimit=clip, tileGridSize=(tiles_x, tiles_y)).apply(a)


def minmax(a):
    return cv2.normalize(a, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


def pil_bilinear(a, w, h):
    return np.asarray(Image.fromarray(a).resize((w, h), Image.BILINEAR))


# --- CLAHE cases: (name, x0, y0, w, h, transform, clip, tiles_x, tiles_y) on crops of input_256.
CLAHE_CASES = [
    ("w40h48", 3, 5, 40, 48, "none", 1.0, 8, 8),  # smallest divisible size
    ("w48h40", 150, 100, 48, 40, "none", 1.0, 8, 8),
    ("w61h77", 17, 111, 61, 77, "none", 1.0, 8, 8),  # neither side divisible
    ("w64h50", 90, 7, 64, 50, "none", 1.0, 8, 8),  # width divisible: still padded by 8
    ("w50h64", 190, 170, 50, 64, "none", 1.0, 8, 8),  # height divisible: still padded by 8
    ("w45h37_const77", 0, 0, 45, 37, "const77", 1.0, 8, 8),
    ("w50h42_low", 40, 140, 50, 42, "low", 1.0, 8, 8),
    ("w50h42_clip0", 40, 140, 50, 42, "none", 0.0, 8, 8),  # clipping disabled
    ("w50h42_clip0.5", 40, 140, 50, 42, "none", 0.5, 8, 8),
    ("w50h42_clip2.5", 40, 140, 50, 42, "none", 2.5, 8, 8),
    ("w50h42_clip40", 40, 140, 50, 42, "none", 40.0, 8, 8),
    ("w61h77_t4x6_clip1.5", 17, 111, 61, 77, "none", 1.5, 4, 6),
    ("w5h3", 200, 200, 5, 3, "none", 1.0, 8, 8),  # smaller than the grid: padding > size
    ("w13h9", 60, 60, 13, 9, "none", 1.0, 8, 8),
]

# --- Pillow BILINEAR cases with full outputs: (name, x0, y0, w, h, out_w, out_h)
PIL_FULL_CASES = [
    ("w48h48_to_w192h192", 100, 60, 48, 48, 192, 192),  # the SAM upscale ratio (4x)
    ("w200h150_to_w61h47", 30, 50, 200, 150, 61, 47),  # downscale both
    ("w64h64_to_w30h100", 100, 60, 64, 64, 30, 100),  # down in x, up in y
    ("w32h32_to_w32h50", 100, 60, 32, 32, 32, 50),  # vertical pass only
    ("w32h32_to_w50h32", 100, 60, 32, 32, 50, 32),  # horizontal pass only
    ("w7h5_to_w3h11", 9, 9, 7, 5, 3, 11),
]

# --- Pillow BILINEAR cases stored as checksums, SamImageProcessor shapes (longest side 1024)
PIL_SUM_CASES = [
    ("w48h40_to_w1024h853", 0, 0, 48, 40),
    ("w200h150_to_w1024h768", 30, 50, 200, 150),
]

# --- OpenCV INTER_LINEAR on f32 = crop of input_256 as f32 / 255: (name, x0, y0, w, h, out_w, out_h).
# The x86-64 wheel routes sources of at least 2x2 through Intel IPP; 1-pixel sides use OpenCV's loop.
CV_CASES = [
    ("w64h64_to_w50h50", 20, 30, 64, 64, 50, 50),  # the 256 -> 200 ratio
    ("w64h64_to_w32h32", 20, 30, 64, 64, 32, 32),  # exact 2x
    ("w64h48_to_w23h31", 120, 10, 64, 48, 23, 31),
    ("w12h10_to_w40h33", 77, 88, 12, 10, 40, 33),  # upscale
    ("w24h40_to_w24h77", 10, 180, 24, 40, 24, 77),  # width unchanged
    ("w7h1_to_w13h5", 5, 240, 7, 1, 13, 5),  # single source row: OpenCV's own loop
    ("w1h9_to_w4h20", 100, 3, 1, 9, 4, 20),  # single source column: OpenCV's own loop
]
# The real use, 256 -> 200: only the bottom-right 48x48 window of the output is stored (large source
# positions, where OpenCV's own single-precision loop is up to 5e-6 away from the IPP result).
CV_WINDOW = ("w256h256_to_w200h200_br48", 200, 200, 152, 152, 48)


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(arr))


def minmax_triples(rng):
    """(lo, hi, v, out) rows: cv2.normalize of an image with minimum lo and maximum hi at value v.

    OpenCV converts with float32 scale/shift and a fused multiply-add; the rows where that differs
    from float64 arithmetic or from an unfused float32 multiply-add are over-represented."""
    sensitive, plain = [], []
    base = np.arange(256)
    for lo in range(256):
        for hi in range(lo + 1, 256):
            v = np.arange(lo, hi + 1)
            scale = 255.0 * (1.0 / (hi - lo))
            shift = 0.0 - lo * scale
            a, b = np.float32(scale), np.float32(shift)
            unfused = np.clip(np.rint(v.astype(np.float32) * a + b), 0, 255)
            f64 = np.clip(np.rint(v * scale + shift), 0, 255)
            fused = np.clip(np.rint((v * np.float64(a) + np.float64(b)).astype(np.float32)), 0, 255)
            odd = np.nonzero((unfused != f64) | (fused != f64) | (fused != unfused))[0]
            for i in odd:
                sensitive.append((lo, hi, lo + i))
            plain.append((lo, hi, int(rng.integers(lo, hi + 1))))
    sensitive = np.array(sensitive)
    plain = np.array(plain)
    pick = np.concatenate([
        sensitive[rng.choice(len(sensitive), 1500, replace=False)],
        plain[rng.choice(len(plain), 500, replace=False)],
        np.array([[0, 255, v] for v in range(0, 256, 15)] + [[0, 1, 0], [0, 1, 1], [254, 255, 255]]),
    ])
    rows = []
    for lo, hi, v in pick:
        # a realistic-width image (SIMD path) holding lo, hi and v
        img = np.clip(base, lo, hi).astype(np.uint8).reshape(16, 16).copy()
        img[7, 7] = v
        out = minmax(img)
        rows.append((lo, hi, v, out[7, 7]))
        # the tiny-image (scalar) path gives the same numbers; check it here
        tiny = minmax(np.array([[lo, v, hi]], np.uint8))
        assert tiny[0, 1] == out[7, 7], (lo, hi, v)
    return np.array(rows, np.uint8)


def sam_shapes(rng):
    """(h, w, longest, new_h, new_w) from transformers' SamImageProcessor._get_preprocess_shape."""
    from transformers import SamImageProcessor

    proc = SamImageProcessor()
    shapes = [(40, 48), (48, 40), (150, 200), (200, 150), (256, 256), (1, 4096), (4096, 1),
              (853, 1024), (1022, 1024), (520, 704), (3, 1024), (1023, 1024), (1, 1)]
    shapes += [tuple(int(x) for x in rng.integers(1, 2049, 2)) for _ in range(700)]
    shapes += [(int(x), 3 * int(x)) for x in range(1, 200)]  # x * 1024 / 3x: the .5 boundary
    shapes += [(int(x), 7 * int(x) + 1) for x in range(1, 100)]
    rows = []
    for i, (h, w) in enumerate(shapes):
        longest = [1024, 256, 1000][i % 3] if i >= 13 else 1024
        nh, nw = proc._get_preprocess_shape((h, w), longest)
        rows.append((h, w, longest, nh, nw))
    return np.array(rows, np.uint16)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".npy"):
            os.remove(os.path.join(OUT, f))
    rng = np.random.default_rng(7)
    src = synthetic_256()
    save("input_256", src)

    # the per-crop chain of samcell: CLAHE(1, 8x8) -> NORM_MINMAX -> Pillow BILINEAR to 1024
    c = clahe(src, 1.0, 8, 8)
    save("clahe_w256h256", c)
    m = minmax(c)
    r, k = line_sums(m)
    save("chain_minmax_w256h256_rows", r)
    save("chain_minmax_w256h256_cols", k)
    big = pil_bilinear(m, 1024, 1024)
    # what samcell really calls: SamImageProcessor.resize on the 3-channel crop
    from transformers import SamImageProcessor
    from transformers.image_utils import PILImageResampling

    rgb = np.repeat(m[:, :, None], 3, axis=2)
    via_hf = SamImageProcessor().resize(rgb, {"longest_edge": 1024}, resample=PILImageResampling.BILINEAR)
    assert via_hf.shape == (1024, 1024, 3) and all((via_hf[:, :, i] == big).all() for i in range(3))
    r, k = line_sums(big)
    save("chain_pillow_w1024h1024_rows", r)
    save("chain_pillow_w1024h1024_cols", k)

    for name, x0, y0, w, h, kind, clip, tx, ty in CLAHE_CASES:
        a = transform(crop(src, x0, y0, w, h), kind)
        save(f"clahe_{name}", clahe(a, clip, tx, ty))

    save("minmax_triples", minmax_triples(rng))
    save("minmax_low", minmax(transform(crop(src, 40, 140, 50, 42), "low")))

    for name, x0, y0, w, h, ow, oh in PIL_FULL_CASES:
        save(f"pillow_{name}", pil_bilinear(crop(src, x0, y0, w, h).copy(), ow, oh))
    proc = SamImageProcessor()
    for name, x0, y0, w, h in PIL_SUM_CASES:
        oh, ow = proc._get_preprocess_shape((h, w), 1024)
        out = pil_bilinear(crop(src, x0, y0, w, h).copy(), ow, oh)
        assert name.endswith(f"_to_w{ow}h{oh}"), (name, ow, oh)
        r, k = line_sums(out)
        save(f"pillow_{name}_rows", r)
        save(f"pillow_{name}_cols", k)
    save("sam_shapes", sam_shapes(rng))

    f32 = src.astype(np.float32) / np.float32(255)
    for name, x0, y0, w, h, ow, oh in CV_CASES:
        a = crop(f32, x0, y0, w, h).copy()
        out = cv2.resize(a, (ow, oh))
        assert out.dtype == np.float32 and out.shape == (oh, ow)
        save(f"cvlinear_{name}", out)
    name, ow, oh, wx, wy, n = CV_WINDOW
    out = cv2.resize(f32, (ow, oh))
    save(f"cvlinear_{name}", out[wy:wy + n, wx:wx + n])

    total = 0
    for f in sorted(os.listdir(OUT)):
        n = os.path.getsize(os.path.join(OUT, f))
        total += n
        print(f"{n:8d}  {f}")
    print(f"{total:8d}  total in {os.path.relpath(OUT, REPO)}")
    print(f"cv2 {cv2.__version__}, numpy {np.__version__}, Pillow {Image.__version__}")


if __name__ == "__main__":
    sys.exit(main())
