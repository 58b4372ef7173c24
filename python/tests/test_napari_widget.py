"""The napari plugin in a real viewer (Qt, headless): the dock widget segments an image layer in
a worker thread and adds the labels and the distance map that samcell_rs gives for the same
array; the threshold sliders rerun the post-processing alone and update the labels layer in
place; the widget and the reader are reachable through napari's plugin machinery.

Needs napari with a Qt binding, pytest-qt and a display for napari's OpenGL canvas (an X server;
python/test.sh runs the suite under xvfb-run when there is no display). Without them the tests
skip with one line; with SAMCELL_REQUIRE_DATA=1 (CI, which installs them) they fail instead."""

import importlib.util
import os

import numpy as np
import pytest

import samcell_rs
from conftest import run_samcell, skip


def _missing():
    for module in ("napari", "pytestqt", "napari_samcell_rs"):
        if importlib.util.find_spec(module) is None:
            return (
                f"{module} is not installed "
                "(python/test.sh installs napari, pytest-qt and the plugin)"
            )
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return (
            "no display for napari's OpenGL canvas "
            "(run under xvfb-run; python/test.sh does so when it is installed)"
        )
    return None


MISSING = _missing()


@pytest.fixture(autouse=True)
def qt_stack():
    if MISSING:
        skip(f"napari widget tests: {MISSING}")


if MISSING:
    @pytest.fixture
    def make_napari_viewer():  # stands in for napari's fixture so that collection works
        return None


def cells(h=96, w=112):
    """Dark discs on a bright background, some of which the built-in model finds."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.full((h, w), 30000, np.uint16)
    for cy, cx, r in [(20, 22, 9), (30, 70, 11), (70, 40, 10), (72, 90, 8)]:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 900
    return img


@pytest.fixture
def widget(make_napari_viewer):
    from napari_samcell_rs._widget import SegmentWidget

    viewer = make_napari_viewer()
    viewer.add_image(cells(), name="well", scale=(0.6, 0.5))
    w = SegmentWidget(viewer)
    viewer.window.add_dock_widget(w)
    w.reset_choices()
    w._image.value = viewer.layers["well"]
    return viewer, w


def segment_and_wait(w, qtbot):
    worker = w.run()
    assert worker is not None, w.status
    # the button is disabled while the worker runs and enabled again by its finished signal
    # (connected before the start, so that a quick worker cannot finish unseen)
    assert not w._run.enabled
    qtbot.waitUntil(lambda: w._run.enabled, timeout=180_000)


def test_widget_segments_then_rethresholds_in_place(widget, qtbot):
    viewer, w = widget
    segment_and_wait(w, qtbot)
    ref = samcell_rs.Segmenter().segment(cells())
    labels = viewer.layers["well masks"]
    dmap = viewer.layers["well distance map"]
    np.testing.assert_array_equal(labels.data, ref.labels)
    np.testing.assert_array_equal(dmap.data, ref.distance_map)
    assert tuple(labels.scale) == (0.6, 0.5) and tuple(dmap.scale) == (0.6, 0.5)
    assert ref.n_cells > 0 and w.status.startswith(f"{ref.n_cells} cells")
    # dark discs on a light background: the default model's note (segmented by the nuclei
    # model) is shown, not dropped
    assert ref.warnings and all(note in w.status for note in ref.warnings), w.status
    assert labels.metadata["warnings"] == ref.warnings

    # a slider reruns the post-processing only, into the same layer
    w._fill.value = 0.3
    want = samcell_rs.Segmenter().postprocess(ref.distance_map, peak=w._peak.value, fill=0.3)
    assert viewer.layers["well masks"] is labels
    np.testing.assert_array_equal(labels.data, want.labels)
    assert labels.metadata["fill"] == pytest.approx(0.3)

    # thresholds samcell refuses leave the labels and say why
    before = labels.data.copy()
    w._fill.value = 0.9
    assert "fill" in w.status and "peak" in w.status
    np.testing.assert_array_equal(labels.data, before)

    # a second run updates the layers instead of adding new ones
    w._fill.value = 0.09
    segment_and_wait(w, qtbot)
    assert [layer.name for layer in viewer.layers] == ["well", "well distance map", "well masks"]


def test_widget_says_what_is_missing(make_napari_viewer):
    from napari_samcell_rs._widget import SegmentWidget

    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    assert w.run() is None and "image layer" in w.status
    viewer.add_image(np.zeros((8, 8, 3), np.uint8), name="rgb", rgb=True)
    w.reset_choices()
    w._image.value = viewer.layers["rgb"]
    assert w.run() is None and "RGB" in w.status
    # the checkpoint field shows with the model "file", which needs a file
    assert not w._path.native.isVisibleTo(w.native)
    w._model.value = "file"
    assert w._path.native.isVisibleTo(w.native)
    viewer.add_image(cells(), name="well")
    w.reset_choices()
    w._image.value = viewer.layers["well"]
    assert w.run() is None and "checkpoint" in w.status


def test_plugin_widget_and_reader_through_napari(make_napari_viewer, tmp_path):
    import tifffile
    from napari_samcell_rs._widget import SegmentWidget

    viewer = make_napari_viewer()
    _dock, w = viewer.window.add_plugin_dock_widget("napari-samcell-rs", "Segment cells")
    assert isinstance(w, SegmentWidget)

    image = tmp_path / "well.tif"
    tifffile.imwrite(image, cells())
    run_samcell("segment", image, "--output", tmp_path / "out", "--save-distmap",
                "--pixel-size", "0.5um")
    viewer.open(str(tmp_path / "out"), plugin="napari-samcell-rs")
    assert [layer.name for layer in viewer.layers] == ["well", "well distance map", "well masks"]
    assert tuple(viewer.layers["well masks"].scale) == (0.5, 0.5)
    np.testing.assert_array_equal(
        viewer.layers["well masks"].data, tifffile.imread(tmp_path / "out" / "well_masks.tif")
    )
