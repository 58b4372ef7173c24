#!/usr/bin/env python
"""TIFF compression, layout and stack fixtures for crates/samcell-io (tests/tiff_layouts.rs).

Run with the reference venv from the repository root (tifffile 2026.3.3, imagecodecs 2026.3.6,
opencv-python-headless 4.12.0.88, numpy 2.2.6):
    reference/venv/bin/python reference/gen_tiff_layout_fixtures.py
It rewrites crates/samcell-io/tests/fixtures-layouts/ (tiny synthetic images, 40x30 or 8x6
pixels, about 2 KB each, 124 KB in all; no real data; the same bytes on every run, OME UUIDs
included) with four manifests:

- `layouts.txt`, one line per read case: `input pages page channel scaling golden max_abs max_pct`
  (channel `-` = none). The golden is what samcell-io's contract says the read gives, computed
  from tifffile's decode of the file (imagecodecs' codecs): 8-bit grey as stored, 8-bit colour
  through OpenCV's BGR2GRAY weights (4899, 9617, 1868 at 14 bits, rounded), a picked channel as
  stored; wider data with the documented float64 min-max scaling (gen_io_fixtures.scale). Where
  OpenCV can read the file (not ZSTD), `cv2.imread(IMREAD_GRAYSCALE)` is asserted equal to that
  golden, so for 8-bit input it is also the cv2 golden of gen_io_fixtures.py. `max_abs`/`max_pct`
  is the tolerance: 0/0 (exact) except for JPEG, whose DCT is decoded by zune-jpeg here and by
  libjpeg-turbo in imagecodecs/libtiff: |diff| <= 2 on <= 8% of the pixels (measured: <= 1 on
  <= 1%), and for a colour channel picked from a 4:2:0 file <= 16 on <= 40% (chroma upsampling;
  see the JPEG section below).
- `stacks.txt`: `input source order channels slices frames pages`, the channel / Z / time layout
  samcell-io must read from the ImageJ or OME metadata; `stack_pages.txt`: `input page c z t`, the
  position of every page as tifffile's series orders pages (`numpy.unravel_index` of the page
  over the series shape without Y and X, axes as tifffile names them). Each plane's first pixel
  is 50 t + 10 z + c, so a test can check that it read the right page.
- `unsupported.txt`: `input compression` for files whose compression samcell-io refuses (the
  error must name the file, the number and the name).
"""
import os
import re
import sys
import uuid

import cv2
import numpy as np
import tifffile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gen_io_fixtures import scale, smooth_u8  # noqa: E402

REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "crates", "samcell-io", "tests", "fixtures-layouts")
W, H = 40, 30


def p(name):
    return os.path.join(OUT, name)


def ome_uuid(name):
    """A fixed OME UUID per file (tifffile draws a random one), so that the fixtures are the same
    bytes on every run."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "samcell-fixture:" + name))


def cv_grey(rgb):
    """OpenCV's icvCvt_BGR2Gray_8u_C3C1R on RGB u8."""
    a = rgb.astype(np.int64)
    return ((4899 * a[..., 0] + 9617 * a[..., 1] + 1868 * a[..., 2] + 8192) >> 14).astype(np.uint8)


class Manifest:
    def __init__(self):
        self.layouts, self.stacks, self.pages, self.unsupported = [], [], [], []
        self.goldens = {}  # bytes -> name

    def golden(self, arr, stem):
        arr = np.ascontiguousarray(arr, dtype=np.uint8)
        key = arr.shape, arr.tobytes()
        if key not in self.goldens:
            name = stem + ".npy"
            assert name not in self.goldens.values(), name
            np.save(p(name), arr)
            self.goldens[key] = name
        return self.goldens[key]

    def case(self, inp, golden, page=0, channel=None, scaling="cv2", tol=(0, 0.0)):
        """One read case; `golden` is the expected u8 array of `inp` read at `page`/`channel`."""
        with tifffile.TiffFile(p(inp)) as t:
            n_pages = len([q for q in t.pages if not (q.subfiletype & 1)])
        stem = inp.replace(".", "_") + (f".p{page}" if page else "") + (
            f".c{channel}" if channel is not None else "")
        g = self.golden(golden, stem)
        ch = "-" if channel is None else str(channel)
        self.layouts.append(f"{inp} {n_pages} {page} {ch} {scaling} {g} {tol[0]} {tol[1]}")

    def write(self):
        def out(name, header, lines):
            with open(p(name), "w") as f:
                f.write(f"# {header} (written by reference/gen_tiff_layout_fixtures.py)\n")
                f.write("\n".join(lines) + "\n")

        out("layouts.txt", "input pages page channel scaling golden max_abs max_pct", self.layouts)
        out("stacks.txt", "input source order channels slices frames pages", self.stacks)
        out("stack_pages.txt", "input page c z t", self.pages)
        out("unsupported.txt", "input compression", self.unsupported)


def read_back(name, **kw):
    """tifffile's decode of page 0 (level 0), imagecodecs' codecs."""
    with tifffile.TiffFile(p(name)) as t:
        return t.pages[0].asarray(**kw)


def check_cv2(name, golden):
    """Where OpenCV's libtiff reads the file, its grey read is the golden."""
    c = cv2.imread(p(name), cv2.IMREAD_GRAYSCALE)
    if c is not None:
        assert np.array_equal(c, golden), name
    return c is not None


def generate():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(p(f))
    m = Manifest()
    grey = smooth_u8(41, W, H)
    rgb = np.stack([smooth_u8(42, W, H), smooth_u8(43, W, H)[:, ::-1], smooth_u8(44, W, H)[::-1]], -1)
    rng = np.random.default_rng(45)
    g16 = (grey.astype(np.float64) * 150 + 2000 + rng.normal(0, 40, grey.shape)).astype(np.uint16)
    W8 = tifffile.imwrite

    # --- compressions, 8-bit grey (exact) and colour
    u8 = {
        "grey_u8_zstd.tif": dict(compression="zstd"),
        "grey_u8_zstd_pred.tif": dict(compression="zstd", predictor=True),
        "grey_u8_lzw.tif": dict(compression="lzw"),
        "grey_u8_deflate.tif": dict(compression="zlib"),  # 8
        "grey_u8_deflate_old.tif": dict(compression="deflate"),  # 32946
        "grey_u8_packbits.tif": dict(compression="packbits"),
        # layouts
        "grey_u8_tiled.tif": dict(tile=(16, 16)),  # edge tiles cut at 40x30
        "grey_u8_tiled_zstd.tif": dict(tile=(16, 16), compression="zstd"),
        "grey_u8_bigtiff.tif": dict(bigtiff=True),
        "grey_u8_bigendian_lzw.tif": dict(byteorder=">", compression="lzw"),
        "grey_u8_bigtiff_bigendian_zstd.tif": dict(bigtiff=True, byteorder=">", compression="zstd"),
    }
    for name, kw in u8.items():
        W8(p(name), grey, **kw)
        assert np.array_equal(read_back(name), grey), name
        check_cv2(name, grey)
        m.case(name, grey)
    W8(p("rgb_u8_zstd.tif"), rgb, photometric="rgb", compression="zstd")
    assert np.array_equal(read_back("rgb_u8_zstd.tif"), rgb)
    m.case("rgb_u8_zstd.tif", cv_grey(rgb))
    for c in range(3):
        m.case("rgb_u8_zstd.tif", rgb[..., c], channel=c)

    # --- JPEG (compression 7). tifffile writes grey as JPEG grey and RGB as YCbCr, 2x2 chroma
    # subsampling unless told otherwise. The golden is imagecodecs' (libjpeg-turbo) decode,
    # colour converted to RGB by libjpeg and then to grey as cv2 does; it equals
    # cv2.imread(IMREAD_GRAYSCALE) (asserted). samcell-io decodes the DCT with zune-jpeg, whose
    # integer IDCT and chroma upsampling are not libjpeg-turbo's: measured here at most 2 grey
    # levels apart on under 5% of the pixels (2% typical); tolerance |diff| <= 2 on <= 8%.
    jpeg_tol = (2, 8.0)
    W8(p("grey_u8_jpeg.tif"), grey, compression="jpeg", compressionargs={"level": 90})
    W8(p("rgb_u8_jpeg.tif"), rgb, photometric="rgb", compression="jpeg", compressionargs={"level": 90})
    W8(p("rgb_u8_jpeg_tiled.tif"), rgb, photometric="rgb", compression="jpeg", compressionargs={"level": 90}, tile=(16, 16))
    W8(p("rgb_u8_jpeg_444.tif"), rgb, photometric="rgb", compression="jpeg", compressionargs={"level": 90}, subsampling=(1, 1))
    for name in ["grey_u8_jpeg.tif", "rgb_u8_jpeg.tif", "rgb_u8_jpeg_tiled.tif", "rgb_u8_jpeg_444.tif"]:
        with tifffile.TiffFile(p(name)) as t:
            pg = t.pages[0]
            assert pg.compression == 7, name
            if name.startswith("rgb"):
                assert pg.photometric == 6, (name, pg.photometric)  # YCbCr
        dec = read_back(name)
        g = dec if dec.ndim == 2 else cv_grey(dec)
        assert check_cv2(name, g), name
        m.case(name, g, tol=jpeg_tol)
    # a picked colour channel is not Y: it carries the chroma, which zune-jpeg upsamples from
    # 4:2:0 otherwise than libjpeg-turbo's fancy upsampling (measured: up to 14 levels on 30% of
    # the pixels of this fixture, most within 2); at 4:4:4 (no upsampling) it is as close as grey
    m.case("rgb_u8_jpeg_444.tif", read_back("rgb_u8_jpeg_444.tif")[..., 2], channel=2, tol=jpeg_tol)
    m.case("rgb_u8_jpeg.tif", read_back("rgb_u8_jpeg.tif")[..., 1], channel=1, tol=(16, 40.0))

    # --- 16-bit variants and a float predictor (documented min-max scaling, exact)
    u16 = {
        "grey_u16_zstd.tif": dict(compression="zstd"),
        "grey_u16_zstd_pred.tif": dict(compression="zstd", predictor=True),
        "grey_u16_lzw_pred.tif": dict(compression="lzw", predictor=True),
        "grey_u16_deflate.tif": dict(compression="zlib"),
        "grey_u16_packbits.tif": dict(compression="packbits"),
        "grey_u16_tiled_zstd.tif": dict(tile=(16, 16), compression="zstd"),
        "grey_u16_bigendian_deflate.tif": dict(byteorder=">", compression="zlib", predictor=True),
        "grey_u16_bigtiff_tiled_lzw.tif": dict(bigtiff=True, tile=(16, 16), compression="lzw"),
    }
    for name, kw in u16.items():
        W8(p(name), g16, **kw)
        assert np.array_equal(read_back(name), g16), name
        m.case(name, scale(g16), scaling="minmax")
    f32 = (grey.astype(np.float32) / 37.0 - 2.5).astype(np.float32)
    W8(p("grey_f32_deflate_fpred.tif"), f32, compression="zlib", predictor=True)
    with tifffile.TiffFile(p("grey_f32_deflate_fpred.tif")) as t:
        assert t.pages[0].predictor == 3  # floating point
    m.case("grey_f32_deflate_fpred.tif", scale(f32), scaling="minmax")
    rgb16 = rgb.astype(np.uint16) * 257
    W8(p("rgb_u16_planar_zstd.tif"), np.ascontiguousarray(rgb16.transpose(2, 0, 1)), photometric="rgb",
       planarconfig="separate", compression="zstd")
    m.case("rgb_u16_planar_zstd.tif", scale(rgb16), scaling="minmax")
    m.case("rgb_u16_planar_zstd.tif", scale(rgb16[..., 2]), channel=2, scaling="minmax")

    # --- pyramids: level 0 is the page
    with tifffile.TiffWriter(p("pyramid_subifds_u16.tif")) as t:  # levels in SubIFDs
        t.write(g16, subifds=2, compression="zlib")
        t.write(g16[::2, ::2], subfiletype=1, compression="zlib")
        t.write(g16[::4, ::4], subfiletype=1, compression="zlib")
    with tifffile.TiffFile(p("pyramid_subifds_u16.tif")) as t:
        assert len(t.pages) == 1 and len(t.series[0].levels) == 3
    m.case("pyramid_subifds_u16.tif", scale(g16), scaling="minmax")
    with tifffile.TiffWriter(p("pyramid_chain_u8.tif")) as t:  # reduced pages in the main chain
        t.write(grey)
        t.write(grey[::2, ::2], subfiletype=1)
    with tifffile.TiffFile(p("pyramid_chain_u8.tif")) as t:
        assert len(t.pages) == 2 and t.pages[1].is_reduced and len(t.series[0].levels) == 2
    m.case("pyramid_chain_u8.tif", grey)
    two = np.stack([grey, 255 - grey])
    with tifffile.TiffWriter(p("pyramid_ome_c2.ome.tif"), ome=True) as t:  # OME pyramid, 2 channels
        t.write(two, subifds=1, metadata={"axes": "CYX", "UUID": ome_uuid("pyramid_ome_c2")},
                compression="zlib")
        t.write(two[:, ::2, ::2], subfiletype=1, compression="zlib")
    with tifffile.TiffFile(p("pyramid_ome_c2.ome.tif")) as t:
        s = t.series[0]
        assert t.is_ome and len(t.pages) == 2 and len(s.levels) == 2 and s.axes == "CYX"
    m.case("pyramid_ome_c2.ome.tif", grey)
    m.case("pyramid_ome_c2.ome.tif", 255 - grey, page=1, channel=1)
    m.stacks.append("pyramid_ome_c2.ome.tif OME XYCZT 2 1 1 2")

    # --- stacks: OME in every dimension order, ImageJ hyperstacks; plane (c, z, t) has first
    # pixel 50 t + 10 z + c
    def planes(axes, sizes):
        shape = tuple(sizes[a] for a in axes) + (6, 8)
        idx = np.indices(shape[:-2])
        pos = {a: idx[i] for i, a in enumerate(axes)}
        val = 50 * pos.get("T", 0) + 10 * pos.get("Z", 0) + pos.get("C", 0)
        yy, xx = np.mgrid[0:6, 0:8]
        a = val[..., None, None] + np.minimum(yy + xx, 20)  # first pixel: val
        return a.astype(np.uint8), shape

    def stack_case(name, source, axes, sizes, **kw):
        data, shape = planes(axes, sizes)
        meta = {"axes": axes + "YX"}
        if source == "OME":
            meta["UUID"] = ome_uuid(name)
        tifffile.imwrite(p(name), data, metadata=meta, **kw)
        with tifffile.TiffFile(p(name)) as t:
            s = t.series[0]
            assert s.axes == axes + "YX" and s.shape == shape, (name, s.axes, s.shape)
            desc = t.pages[0].description
            order = (re.search(r'DimensionOrder="(\w+)"', desc).group(1) if source == "OME"
                     else "XYCZT")
            n = len(t.pages)
            for page in range(n):
                ix = np.unravel_index(page, shape[:-2])
                pos = dict(zip(axes, (int(i) for i in ix)))
                c, z, tt = pos.get("C", 0), pos.get("Z", 0), pos.get("T", 0)
                assert t.pages[page].asarray()[0, 0] == 50 * tt + 10 * z + c
                m.pages.append(f"{name} {page} {c} {z} {tt}")
        m.stacks.append(f"{name} {source} {order} {sizes.get('C', 1)} {sizes.get('Z', 1)} "
                        f"{sizes.get('T', 1)} {n}")

    sizes = {"C": 2, "Z": 3, "T": 2}
    for axes in ["TZC", "ZTC", "TCZ", "CTZ", "ZCT", "CZT"]:
        stack_case(f"ome_{axes.lower()}.ome.tif", "OME", axes, sizes, ome=True)
    stack_case("imagej_tzc.tif", "ImageJ", "TZC", sizes, imagej=True)
    stack_case("imagej_frames.tif", "ImageJ", "T", {"T": 4}, imagej=True)
    stack_case("imagej_channels_zstd.tif", "ImageJ", "C", {"C": 3}, imagej=True, compression="zstd")
    # RGB frames: SizeC counts the 3 samples of one page; one channel plane per frame
    rgbt = np.stack([rgb[:6, :8], 255 - rgb[:6, :8]])
    tifffile.imwrite(p("ome_rgb_frames.ome.tif"), rgbt, photometric="rgb", ome=True,
                     metadata={"axes": "TYXS", "UUID": ome_uuid("ome_rgb_frames")})
    with tifffile.TiffFile(p("ome_rgb_frames.ome.tif")) as t:
        assert 'SizeC="3"' in t.pages[0].description and len(t.pages) == 2
    m.stacks.append("ome_rgb_frames.ome.tif OME XYCZT 1 1 2 2")
    m.case("ome_rgb_frames.ome.tif", 255 - rgb[:6, :8, 1], page=1, channel=1)

    # --- compressions samcell-io refuses (named in the error)
    W8(p("grey_u8_jpeg2000.tif"), grey, compression="jpeg2000")
    m.unsupported.append("grey_u8_jpeg2000.tif 34712")
    W8(p("grey_u8_lzma.tif"), grey, compression="lzma")
    m.unsupported.append("grey_u8_lzma.tif 34925")
    for line in m.unsupported:
        name, code = line.split()
        with tifffile.TiffFile(p(name)) as t:
            assert t.pages[0].compression == int(code)

    m.write()
    total = sum(os.path.getsize(p(f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.1f} KiB, to {OUT}")


if __name__ == "__main__":
    generate()
