#!/usr/bin/env python
"""Calibration (pixel size) fixtures for crates/samcell-io (tests/calibration.rs).

Needs tifffile and numpy only (tested with tifffile 2026.3.3, numpy 2.x):
    <python>/bin/python reference/gen_calibration_fixtures.py           # writes the fixtures
    <python>/bin/python reference/gen_calibration_fixtures.py --check-written FILE.tif
The first form rewrites crates/samcell-io/tests/fixtures-calibration/: five 8x6 u8 TIFFs
(a few hundred bytes each, synthetic) whose expected pixel sizes are asserted in
tests/calibration.rs:
    ome_065um.ome.tif     OME-XML PhysicalSizeX = PhysicalSizeY = 0.65 (unit µm, the default)
    imagej_micron.tif     ImageJ description unit=micron, X/YResolution = 1/0.65 per µm
    imagej_nm.tif         ImageJ description unit=nm, X/YResolution = 1/650 per nm (0.65 µm)
    plain_cm.tif          no description, ResolutionUnit 3 (cm), 20000 x 16000 px/cm
                          (0.5 x 0.625 µm)
    uncalibrated.tif      no description, ResolutionUnit 1 (none)
The second form checks a calibrated TIFF written by samcell-io's writer (keep one with
SAMCELL_IO_KEEP=DIR and `cargo test -p samcell-io --test calibration`): tifffile must see an
ImageJ file (`imagej_metadata["unit"] == "micron"`) whose X/YResolution inverts to the pixel
size stored in the file name's stem (`<x>x<y>um_*.tif`), ResolutionUnit NONE.
"""
import os
import sys

import numpy as np
import tifffile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
OUT = os.path.join(REPO, "crates", "samcell-io", "tests", "fixtures-calibration")


def p(name):
    return os.path.join(OUT, name)


def generate():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(p(f))
    img = (np.arange(48, dtype=np.uint8) * 5).reshape(6, 8)
    tifffile.imwrite(p("ome_065um.ome.tif"), img, ome=True,
                     metadata={"axes": "YX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65})
    tifffile.imwrite(p("imagej_micron.tif"), img, imagej=True, resolution=(1 / 0.65, 1 / 0.65),
                     metadata={"unit": "micron"})
    tifffile.imwrite(p("imagej_nm.tif"), img, imagej=True, resolution=(1 / 650, 1 / 650),
                     metadata={"unit": "nm"})
    tifffile.imwrite(p("plain_cm.tif"), img, resolution=(20000, 16000), resolutionunit="CENTIMETER")
    tifffile.imwrite(p("uncalibrated.tif"), img, resolutionunit="NONE")
    # what the files hold, as tifffile reads it back
    for f in sorted(os.listdir(OUT)):
        with tifffile.TiffFile(p(f)) as t:
            page = t.pages[0]
            tags = page.tags
            res = tags.get("XResolution")
            unit = tags.get("ResolutionUnit")
            print(f, "imagej:", t.imagej_metadata and t.imagej_metadata.get("unit"),
                  "ome:", t.is_ome, "XResolution:", res and res.value,
                  "ResolutionUnit:", unit and unit.value)


def check_written(path):
    stem = os.path.basename(path).split("um_")[0]
    x, y = (float(v) for v in stem.split("x"))
    with tifffile.TiffFile(path) as t:
        assert t.is_imagej, path
        assert t.imagej_metadata["unit"] == "micron", t.imagej_metadata
        tags = t.pages[0].tags
        xn, xd = tags["XResolution"].value
        yn, yd = tags["YResolution"].value
        assert abs(xd / xn - x) <= 1e-9 * x and abs(yd / yn - y) <= 1e-9 * y, (xn, xd, yn, yd)
        assert tags["ResolutionUnit"].value == 1, tags["ResolutionUnit"].value
        print(f"ok {path}: ImageJ unit=micron, pixel size {xd / xn} x {yd / yn} µm "
              f"(XResolution {xn}/{xd}, YResolution {yn}/{yd}, ResolutionUnit NONE)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-written":
        check_written(sys.argv[2])
    else:
        generate()
