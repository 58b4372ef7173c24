"""The built-in model's out-of-domain warning (``Segmentation.warnings``): an image unlike its
phase-contrast training data gets one sentence with the remedy for Python, and the default lite
model segments it with the built-in nuclei model instead (``lite-cells`` and ``lite-nuclei`` are
either model alone); a phase-contrast image like the training set (Usiigaci, shared data) gets
none, nor does a model other than the built-in one. ``postprocess`` weighs the map alone."""

import numpy as np
import pytest

import samcell_rs
from conftest import REPO, require_data

REMEDY = 'try Segmenter(model="generalist")'


@pytest.fixture(scope="module")
def seg():
    return samcell_rs.Segmenter()


def nuclei(h=192, w=192):
    """Fluorescence-like: a dark background with bright blurred round nuclei (uint8)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.full((h, w), 8.0)
    for cy, cx in [(40, 40), (60, 130), (130, 70), (150, 150)]:
        img += 220.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 9.0**2))
    return (np.minimum(img, 250) + (xx * 7 + yy * 13) % 5).astype(np.uint8)


def test_a_fluorescence_like_image_is_flagged_with_the_remedy(seg):
    r = seg.segment(nuclei())
    assert len(r.warnings) == 1, r.warnings
    w = r.warnings[0]
    assert w.startswith("the image looks unlike the built-in model's training data"), w
    assert "background level" in w and w.endswith(REMEDY), w
    # the default lite model segmented it with its fallback, the built-in nuclei model
    assert "it was segmented with samcell-lite-nuclei (built-in) instead" in w, w
    assert seg.model_info["fallback"]["path"] == "samcell-lite-nuclei (built-in)"
    assert r.n_cells >= 3, r.n_cells


def test_lite_cells_is_the_cell_model_alone():
    cells = samcell_rs.Segmenter("lite-cells")
    assert "fallback" not in cells.model_info
    (w,) = cells.segment(nuclei()).warnings
    assert "background level" in w and "segmented with" not in w, w
    nuclei_model = samcell_rs.Segmenter("lite-nuclei")
    assert nuclei_model.model_info["path"] == "samcell-lite-nuclei (built-in)"
    assert nuclei_model.segment(nuclei()).warnings == []


def test_small_nuclei_get_the_scale_advice():
    """Dots about 6 px across: the nuclei model suggests scale=2; given a scale, it does not."""
    yy, xx = np.mgrid[0:192, 0:192].astype(np.float64)
    dy, dx = yy % 14 - 7, xx % 14 - 7
    dots = (10 + 220 * np.exp(-(dx**2 + dy**2) / (2 * 2.5**2))).astype(np.uint8)
    nuclei_model = samcell_rs.Segmenter("lite-nuclei")
    (w,) = nuclei_model.segment(dots).warnings
    assert "px across" in w and w.endswith("try scale=2"), w
    assert nuclei_model.segment(dots, scale=1.0).warnings == []


def test_postprocess_weighs_the_map_alone(seg):
    r = seg.segment(nuclei())
    again = seg.postprocess(r.distance_map, r.peak, r.fill)
    assert not any("background level" in w for w in again.warnings), again.warnings
    # 1 of 64 foreground pixels at the seed level: unsure; nothing above fill: empty
    m = np.full((8, 8), 0.2, np.float32)
    m[0, 0] = 0.9
    (unsure,) = seg.postprocess(m, 0.47, 0.09).warnings
    assert "unsure: only 1.6%" in unsure and unsure.endswith(REMEDY), unsure
    (empty,) = seg.postprocess(np.zeros((8, 8), np.float32), 0.47, 0.09).warnings
    assert "empty" in empty, empty
    assert seg.postprocess(np.full((8, 8), 0.6, np.float32), 0.47, 0.09).warnings == []


def test_phase_contrast_is_not_flagged(seg):
    tifffile = pytest.importorskip("tifffile")
    (path,) = require_data("usiigaci-phc/train/images/set1.tif")
    r = seg.segment(tifffile.imread(path))
    assert r.n_cells > 0 and r.warnings == [], r.warnings


def test_another_model_is_not_checked():
    weights = REPO / "models" / "samcell-lite.safetensors"
    if not weights.is_file():
        pytest.skip(f"no samcell-lite weights file at {weights.relative_to(REPO)}")
    other = samcell_rs.Segmenter(f"lite:{weights}")
    assert other.segment(nuclei()).warnings == []
