#!/usr/bin/env python
"""Golden fixtures for crates/samcell-io (image reading).

Reference versions (the exact ones samcell 1.1.4 runs on): opencv-python-headless 4.12.0.88
(libpng 1.6.48, libjpeg-turbo 3.1.0, libtiff 4.6.0), Pillow 11.3.0, numpy 2.2.6, tifffile.

Run with the reference venv from the repository root:
    <venv>/bin/python reference/gen_io_fixtures.py            # writes the fixtures
    <venv>/bin/python reference/gen_io_fixtures.py --check-written DIR
The first form rewrites crates/samcell-io/tests/fixtures/ (small synthetic images, under 300 KB
in all; no real data is stored) and its manifest `goldens.txt` (see `Goldens`). For every 8-bit
input the golden is cv2.imread(path, cv2.IMREAD_GRAYSCALE), the exact array samcell feeds its
pipeline. For inputs wider than 8 bits the golden is the documented scaling computed here in
float64 (samcell-io's contract; cv2 would truncate these to 8 bits instead):
    grey = 0.299 R + 0.587 G + 0.114 B              (colour inputs only, alpha ignored)
    u8   = round_half_away((v - lo) * 255 / (hi - lo)), v clipped to [lo, hi]
with (lo, hi) = (min, max) by default, or numpy.percentile(..., method="linear") for percentile
scaling; a constant image maps to all 0.

The second form checks label/float TIFFs that the Rust writer produced (see the crate's
tests/write_roundtrip.rs; run `cargo test -p samcell-io --test write_roundtrip` with
SAMCELL_IO_KEEP=DIR to keep them): each `*.tif` is read with tifffile, Pillow and (except u32,
which OpenCV does not read) cv2, and compared with the `*.npy` of the same stem written beside it.
"""
import os
import struct
import sys
import zlib

import cv2
import numpy as np
import tifffile
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("SAMCELL_SHARED", os.path.join(REPO, "..", "shared"))  # not needed here
OUT = os.path.join(REPO, "crates", "samcell-io", "tests", "fixtures")

W, H = 64, 48


def smooth_u8(seed, w=W, h=H):
    """Gradient + blobs + noise: smooth regions and edges (exercises JPEG rounding)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = 90 + 80 * xx / w - 40 * yy / h
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(4, 12)
        img += rng.uniform(-70, 70) * (((xx - cx) ** 2 + (yy - cy) ** 2) < r * r)
    img += rng.normal(0, 6, img.shape)
    img[0, 0], img[-1, -1] = 0, 255
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def rgb_u8(seed):
    return np.stack([smooth_u8(seed), smooth_u8(seed + 1)[:, ::-1], smooth_u8(seed + 2)[::-1]], -1)


def round_half_away(x):
    r = np.floor(x)
    return r + (x - r >= 0.5)


def to_grey_f64(a):
    a = a.astype(np.float64)
    if a.ndim == 3:
        a = 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
    return a


def scale(a, lo_hi=None):
    g = to_grey_f64(a)
    if lo_hi is None:
        lo, hi = g.min(), g.max()
    else:
        lo, hi = np.percentile(g, lo_hi, method="linear")
        g = np.clip(g, lo, hi)
    if hi == lo:
        return np.zeros(g.shape, np.uint8)
    return round_half_away((g - lo) * 255.0 / (hi - lo)).astype(np.uint8)


def png_with_chunk(png, ctype, data):
    """Insert an ancillary chunk right after IHDR (8-byte signature + 25-byte IHDR)."""
    chunk = struct.pack(">I", len(data)) + ctype + data
    chunk += struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)
    return png[:33] + chunk + png[33:]


def p(name):
    return os.path.join(OUT, name)


class Goldens:
    """Expected arrays, each stored once (inputs with equal goldens share one .npy), and the
    manifest `goldens.txt`: one line `<input> <scaling> <page> <golden.npy>` per case, where
    scaling is `cv2` (8-bit input, golden = cv2.imread(IMREAD_GRAYSCALE)), `minmax` or
    `percentile:<lo>:<hi>`."""

    def __init__(self):
        self.stored = {}  # bytes -> file name
        self.lines = []

    def add(self, inp, scaling, page, arr, stem):
        arr = np.ascontiguousarray(arr, dtype=np.uint8)
        key = arr.shape, arr.tobytes()
        if key not in self.stored:
            name = stem + ".npy"
            assert name not in self.stored.values(), name
            np.save(p(name), arr)
            self.stored[key] = name
        self.lines.append(f"{inp} {scaling} {page} {self.stored[key]}")

    def add_cv2(self, inp):
        g = cv2.imread(p(inp), cv2.IMREAD_GRAYSCALE)
        assert g is not None, inp
        self.add(inp, "cv2", 0, g, inp.replace(".", "_") + ".cv2")

    def write(self):
        with open(p("goldens.txt"), "w") as f:
            f.write("# input scaling page golden (written by reference/gen_io_fixtures.py)\n")
            f.write("\n".join(self.lines) + "\n")


def write_bytes(name, b):
    with open(p(name), "wb") as f:
        f.write(b)


def generate():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(p(f))
    grey = smooth_u8(1)
    rgb = rgb_u8(10)
    alpha = smooth_u8(20)
    rgba = np.concatenate([rgb, alpha[..., None]], -1)
    bgr = np.ascontiguousarray(rgb[..., ::-1])

    u8_inputs = []
    # --- PNG, 8 bit
    cv2.imwrite(p("grey_u8.png"), grey)
    cv2.imwrite(p("rgb_u8.png"), bgr)
    cv2.imwrite(p("rgba_u8.png"), np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]))
    ok, buf = cv2.imencode(".png", bgr)
    write_bytes("rgb_gamma_u8.png", png_with_chunk(bytes(buf), b"gAMA", struct.pack(">I", 45455)))
    write_bytes("rgb_srgb_u8.png", png_with_chunk(bytes(buf), b"sRGB", b"\x00"))
    Image.fromarray(rgb).quantize(colors=40, method=Image.Quantize.MEDIANCUT).save(p("palette_u8.png"))
    Image.fromarray(grey > 128).save(p("grey_1bit.png"))
    u8_inputs += ["grey_u8.png", "rgb_u8.png", "rgba_u8.png", "rgb_gamma_u8.png", "rgb_srgb_u8.png",
                  "palette_u8.png", "grey_1bit.png"]
    # --- JPEG (libjpeg-turbo writes YCbCr; default 4:2:0)
    cv2.imwrite(p("grey_u8.jpg"), grey, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(p("rgb_u8.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(p("rgb_u8_progressive.jpg"), bgr,
                [cv2.IMWRITE_JPEG_QUALITY, 75, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    u8_inputs += ["grey_u8.jpg", "rgb_u8.jpg", "rgb_u8_progressive.jpg"]
    # --- EXIF orientation 6 (cv2.imread rotates JPEG and PNG)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(grey).save(p("orient6.jpg"), exif=exif.tobytes(), quality=90)
    Image.fromarray(grey).save(p("orient6.png"), exif=exif.tobytes())
    u8_inputs += ["orient6.jpg", "orient6.png"]
    # --- TIFF, 8 bit
    tifffile.imwrite(p("grey_u8.tif"), grey)
    tifffile.imwrite(p("grey_u8_lzw.tif"), grey, compression="lzw")
    tifffile.imwrite(p("grey_u8_lzw_pred.tif"), grey, compression="lzw", predictor=True)
    tifffile.imwrite(p("grey_u8_deflate.tif"), grey, compression="adobe_deflate")
    tifffile.imwrite(p("grey_u8_packbits.tif"), grey, compression="packbits")
    tifffile.imwrite(p("grey_u8_tiled.tif"), grey, tile=(16, 16))
    tifffile.imwrite(p("grey_u8_bigendian.tif"), grey, byteorder=">")
    tifffile.imwrite(p("grey_u8_miniswhite.tif"), grey, photometric="miniswhite")
    tifffile.imwrite(p("rgb_u8.tif"), rgb, photometric="rgb", compression="lzw")
    tifffile.imwrite(p("rgba_u8.tif"), rgba, photometric="rgb", extrasamples=["unassalpha"],
                     compression="adobe_deflate")
    tifffile.imwrite(p("rgba_u8_assoc.tif"), rgba, photometric="rgb", extrasamples=["assocalpha"],
                     compression="adobe_deflate")
    tifffile.imwrite(p("grey_alpha_u8.tif"), np.stack([grey, alpha], -1), photometric="minisblack",
                     extrasamples=["unassalpha"], compression="adobe_deflate")
    tifffile.imwrite(p("rgb_u8_planar.tif"), np.ascontiguousarray(rgb.transpose(2, 0, 1)),
                     photometric="rgb", planarconfig="separate")
    pages = np.stack([smooth_u8(30), smooth_u8(31)[::-1], 255 - smooth_u8(32)])
    tifffile.imwrite(p("pages3_u8.tif"), pages, photometric="minisblack")
    u8_inputs += ["grey_u8.tif", "grey_u8_lzw.tif", "grey_u8_lzw_pred.tif", "grey_u8_deflate.tif",
                  "grey_u8_packbits.tif", "grey_u8_tiled.tif", "grey_u8_bigendian.tif",
                  "grey_u8_miniswhite.tif", "rgb_u8.tif", "rgba_u8.tif", "rgba_u8_assoc.tif",
                  "grey_alpha_u8.tif", "rgb_u8_planar.tif",
                  "pages3_u8.tif"]
    page_goldens = []
    ok, mats = cv2.imreadmulti(p("pages3_u8.tif"), flags=cv2.IMREAD_GRAYSCALE)
    assert ok and len(mats) == 3
    for i, m in enumerate(mats):
        assert np.array_equal(m, pages[i])
        page_goldens.append(m)
    # --- BMP (cv2 writes 8-bit grey with a grey palette, 24-bit BGR, 32-bit BGRA)
    cv2.imwrite(p("grey_u8.bmp"), grey)
    cv2.imwrite(p("rgb_u8.bmp"), bgr)
    cv2.imwrite(p("rgba_u8.bmp"), np.ascontiguousarray(rgba[..., [2, 1, 0, 3]]))
    Image.fromarray(rgb).quantize(colors=40, method=Image.Quantize.MEDIANCUT).save(p("palette_u8.bmp"))
    u8_inputs += ["grey_u8.bmp", "rgb_u8.bmp", "rgba_u8.bmp", "palette_u8.bmp"]
    gold = Goldens()
    for name in u8_inputs:
        gold.add_cv2(name)
    for i, m in enumerate(page_goldens[1:], 1):
        gold.add("pages3_u8.tif", "cv2", i, m, f"pages3_u8_tif.page{i}.cv2")

    # --- wider than 8 bits: documented scaling
    rng = np.random.default_rng(5)
    g16 = (grey.astype(np.float64) * 150 + 2000 + rng.normal(0, 40, grey.shape)).astype(np.uint16)
    rgb16 = (rgb[::2, ::2].astype(np.uint16) * 200 + 1000).astype(np.uint16)  # 32x24
    wide = {
        "grey_u16.png": g16, "rgb_u16.png": rgb16, "grey_u16.tif": g16, "rgb_u16.tif": rgb16,
        "grey_u32.tif": grey.astype(np.uint32) * 11_000_000 + 7,
        "grey_i16.tif": (grey.astype(np.int16) - 128) * 100,
        "grey_f32.tif": (grey.astype(np.float32) / 37.0 - 2.5 + rng.normal(0, 0.01, grey.shape)).astype(np.float32),
        "grey_f64.tif": grey[:24, :32].astype(np.float64) * 1e-3 - 0.05,
        "constant_u16.tif": np.full((H, W), 1234, np.uint16),
    }
    cv2.imwrite(p("grey_u16.png"), g16)
    cv2.imwrite(p("rgb_u16.png"), np.ascontiguousarray(rgb16[..., ::-1]))
    assert np.array_equal(cv2.imread(p("rgb_u16.png"), cv2.IMREAD_UNCHANGED)[..., ::-1], rgb16)
    tifffile.imwrite(p("grey_u16.tif"), g16, compression="adobe_deflate")
    tifffile.imwrite(p("rgb_u16.tif"), rgb16, photometric="rgb", compression="lzw", predictor=True)
    tifffile.imwrite(p("grey_u32.tif"), wide["grey_u32.tif"], compression="zlib")
    tifffile.imwrite(p("grey_i16.tif"), wide["grey_i16.tif"], compression="packbits")
    tifffile.imwrite(p("grey_f32.tif"), wide["grey_f32.tif"], compression="lzw")
    tifffile.imwrite(p("grey_f64.tif"), wide["grey_f64.tif"])
    tifffile.imwrite(p("constant_u16.tif"), wide["constant_u16.tif"], compression="zlib")
    for name, arr in wide.items():
        assert np.array_equal(tifffile.imread(p(name)) if name.endswith(".tif") else
                              cv2.imread(p(name), cv2.IMREAD_UNCHANGED)[..., ::-1] if arr.ndim == 3 else
                              cv2.imread(p(name), cv2.IMREAD_UNCHANGED), arr), name
        gold.add(name, "minmax", 0, scale(arr), name.replace(".", "_") + ".minmax")
    gold.add("grey_u16.tif", "percentile:1:99", 0, scale(g16, (1.0, 99.0)), "grey_u16_tif.p1_99")
    gold.add("grey_u16.png", "percentile:1:99", 0, scale(g16, (1.0, 99.0)), "grey_u16_png.p1_99")
    gold.add("grey_f32.tif", "percentile:0.5:99.5", 0, scale(wide["grey_f32.tif"], (0.5, 99.5)),
             "grey_f32_tif.p0.5_99.5")
    gold.write()

    # --- bad inputs
    f32nan = wide["grey_f32.tif"][:12, :16].copy()
    f32nan[5, 7] = np.nan
    tifffile.imwrite(p("grey_f32_nan.tif"), f32nan)
    f32inf = wide["grey_f32.tif"][:12, :16].copy()
    f32inf[3, 2] = np.inf
    tifffile.imwrite(p("grey_f32_inf.tif"), f32inf)
    with open(p("grey_u8.png"), "rb") as f:
        b = f.read()
    write_bytes("truncated.png", b[: len(b) // 2])
    with open(p("grey_u8_deflate.tif"), "rb") as f:
        b = f.read()
    write_bytes("truncated.tif", b[: len(b) // 2])
    write_bytes("not_an_image.png", b"this is a text file, not a PNG\n")
    # --- real data (never copied): checksums of the scaled Usiigaci set1.tif for tests/real_data.rs
    real = os.path.join(SHARED, "data", "usiigaci-phc", "train", "images", "set1.tif")
    if os.path.exists(real):
        u8 = scale(tifffile.imread(real)).astype(np.uint64).ravel()
        weighted = int(((np.arange(u8.size, dtype=np.uint64) + 1) * u8).sum())
        hist = np.bincount(u8.astype(np.int64), minlength=256)
        with open(p("real_set1_u8.txt"), "w") as f:
            f.write("# usiigaci-phc/train/images/set1.tif min-max scaled to u8 (gen_io_fixtures.py)\n")
            f.write(f"shape_hw {tifffile.imread(real).shape[0]} {tifffile.imread(real).shape[1]}\n")
            f.write(f"weighted_sum {weighted}\n")
            f.write("histogram " + " ".join(str(int(c)) for c in hist) + "\n")
    else:
        print(f"warning: {real} not found; real_set1_u8.txt not written (set SAMCELL_SHARED)")
    total = sum(os.path.getsize(p(f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.1f} KiB, to {OUT}")


def check_written(d):
    """Reads Rust-written TIFFs with tifffile and compares them with the arrays beside them."""
    n = 0
    for f in sorted(os.listdir(d)):
        if not f.endswith(".tif"):
            continue
        stem = f[:-4]
        want = np.load(os.path.join(d, stem + ".npy"))
        with tifffile.TiffFile(os.path.join(d, f)) as t:
            page = t.pages[0]
            got = page.asarray()
            info = (f"{f}: {got.dtype} {got.shape} compression={page.compression.name} "
                    f"photometric={page.photometric.name} sampleformat={page.sampleformat.name} "
                    f"rowsperstrip={page.rowsperstrip}")
        assert got.dtype == want.dtype and np.array_equal(got, want), info
        # libtiff-based readers too: Pillow (all), OpenCV (no unsigned 32-bit support)
        pil = np.array(Image.open(os.path.join(d, f)))
        assert np.array_equal(pil.astype(want.dtype), want), f + " (Pillow)"
        if want.dtype != np.uint32:
            cv = cv2.imread(os.path.join(d, f), cv2.IMREAD_UNCHANGED)
            assert cv is not None and cv.dtype == want.dtype and np.array_equal(cv, want), f + " (cv2)"
        print("ok", info, "(tifffile, Pillow" + (", cv2)" if want.dtype != np.uint32 else ")"))
        n += 1
    assert n > 0, f"no .tif files in {d}"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-written":
        check_written(sys.argv[2])
    else:
        generate()
