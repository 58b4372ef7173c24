#!/usr/bin/env python3
"""Golden fixtures for the intensity measurements of crates/samcell-measure on raw (16-bit) data.

Reference: scikit-image 0.25.2 `skimage.measure.regionprops` (what CellProfiler's
MeasureObjectIntensity computes with), numpy 2.2.

CellProfiler loads images as floats in 0..1 (skimage `img_as_float`: u16 / 65535) and measures
those; samcell writes these as MeanIntensity etc. and the values on the stored samples as
MeanIntensity_raw etc. Both are computed here with regionprops(labels, intensity_image=...):
  raw     intensity_image = the uint16 array
  scaled  intensity_image = skimage.img_as_float(the uint16 array)
Features per label: intensity_mean, intensity_std (population, ddof 0), intensity_min,
intensity_max, and the integrated intensity (CellProfiler IntegratedIntensity) = sum of
image_intensity over the region's pixels.

What is stored (small synthetic arrays made here, no external data), in
crates/samcell-measure/tests/fixtures/:
  intensity_raw_u16.npy    uint16 (40, 48): background ~1500 with noise, cells of 5000..62000,
                           one saturated pixel (65535) and one 0
  intensity_labels.npy     uint32 (40, 48): non-consecutive labels (3 .. 70000), a one-pixel cell,
                           a cell in two disconnected parts, a ring, cells touching each other
  intensity_expected.npy   float64 (n_labels, 12), rows in ascending label order, columns:
                           label, area,
                           mean_raw, std_raw, min_raw, max_raw, integrated_raw,
                           mean, std, min, max, integrated        (scaled 0..1)

Run:  reference/venv/bin/python reference/gen_intensity_fixtures.py
      (or any python with numpy and scikit-image)
"""
from pathlib import Path

import numpy as np
import skimage
from skimage.measure import regionprops

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "crates" / "samcell-measure" / "tests" / "fixtures"

H, W = 40, 48
COLUMNS = [
    "label", "area",
    "mean_raw", "std_raw", "min_raw", "max_raw", "integrated_raw",
    "mean", "std", "min", "max", "integrated",
]


def make_arrays():
    rng = np.random.default_rng(14)
    yy, xx = np.mgrid[0:H, 0:W]
    labels = np.zeros((H, W), np.uint32)
    # a disk, a rectangle touching it, an ellipse, a ring, a two-part cell, a one-pixel cell
    labels[(yy - 10) ** 2 + (xx - 10) ** 2 <= 36] = 3
    labels[4:17, 17:26] = 7
    labels[((yy - 28) / 7.0) ** 2 + ((xx - 12) / 10.0) ** 2 <= 1] = 12
    ring = ((yy - 27) ** 2 + (xx - 36) ** 2 <= 64) & ((yy - 27) ** 2 + (xx - 36) ** 2 > 16)
    labels[ring] = 40
    labels[2:6, 30:36] = 65535
    labels[8:11, 42:47] = 65535
    labels[37, 2] = 70000
    raw = 1500 + rng.normal(0, 120, (H, W))
    for lab, level, spread in [(3, 31230, 900), (7, 52000, 2500), (12, 5000, 300),
                               (40, 18000, 4000), (65535, 62000, 1500), (70000, 40000, 0)]:
        m = labels == lab
        raw[m] = level + rng.normal(0, spread, m.sum()) if spread else level
    raw[labels == 7] += 40 * xx[labels == 7]  # a gradient inside a cell
    raw = np.clip(np.rint(raw), 0, 65535).astype(np.uint16)
    raw[5, 33] = 65535  # saturated pixel inside label 65535
    raw[39, 47] = 0
    return raw, labels


def expected(raw, labels):
    scaled = skimage.img_as_float(raw)
    assert scaled.dtype == np.float64 and np.allclose(scaled, raw / 65535.0, rtol=0, atol=1e-15)
    rows = []
    for r_raw, r_sc in zip(regionprops(labels, intensity_image=raw),
                           regionprops(labels, intensity_image=scaled)):
        assert r_raw.label == r_sc.label
        row = [r_raw.label, r_raw.area]
        for r in (r_raw, r_sc):
            vals = r.image_intensity[r.image].astype(np.float64)
            row += [r.intensity_mean, r.intensity_std, r.intensity_min, r.intensity_max,
                    float(np.sum(vals))]
            assert np.isclose(r.intensity_std, np.std(vals), rtol=1e-12, atol=0)
        rows.append(row)
    return np.array(rows, np.float64)


def main():
    raw, labels = make_arrays()
    table = expected(raw, labels)
    assert table.shape[1] == len(COLUMNS)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(OUT / "intensity_raw_u16.npy", raw)
    np.save(OUT / "intensity_labels.npy", labels)
    np.save(OUT / "intensity_expected.npy", table)
    for row in table:
        print(f"label {int(row[0]):6d} area {int(row[1]):4d} mean_raw {row[2]:10.3f} "
              f"mean {row[7]:.6f}")


if __name__ == "__main__":
    main()
