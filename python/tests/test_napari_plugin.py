"""The napari plugin's Qt-free parts (python/napari-samcell-rs): the reader on what
`samcell segment` writes, the layers a result becomes and the threshold rerun; and its npe2
manifest. Needs the plugin installed (python/test.sh installs it) and the `samcell` program."""

import shutil

import numpy as np
import pytest

import samcell_rs
from conftest import run_samcell, skip

tifffile = pytest.importorskip("tifffile")

try:
    from napari_samcell_rs import layers as L
    from napari_samcell_rs._reader import napari_get_reader, read_samcell
except ImportError as e:  # pragma: no cover - the plugin is installed by python/test.sh
    L = None
    IMPORT_ERROR = e


@pytest.fixture(autouse=True)
def plugin():
    if L is None:
        skip(
            f"the napari plugin is not installed ({IMPORT_ERROR}; "
            "pip install -e python/napari-samcell-rs)"
        )


def cells(h=96, w=112):
    """Dark discs on a bright background (uint16, as a phase-contrast file), some of which the
    built-in model finds."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.full((h, w), 30000, np.uint16)
    for cy, cx, r in [(20, 22, 9), (30, 70, 11), (70, 40, 10), (72, 90, 8)]:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 900
    return img


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """`samcell segment` on a small TIFF with the distance map and a pixel size."""
    root = tmp_path_factory.mktemp("napari")
    (root / "in").mkdir()
    image = root / "in" / "well.tif"
    tifffile.imwrite(image, cells())
    out = root / "out"
    run_samcell("segment", image, "--output", out, "--save-distmap", "--pixel-size", "0.5x0.6um")
    return root, out


def by_name(layers):
    return {meta["name"]: (data, meta, kind) for data, meta, kind in layers}


def test_reader_gives_image_distance_map_and_masks(segmented):
    root, out = segmented
    reader = napari_get_reader(str(out))
    assert reader is read_samcell
    layers = by_name(reader(str(out)))
    assert list(layers) == ["well", "well distance map", "well masks"]
    image, meta, kind = layers["well"]
    assert kind == "image" and meta["scale"] == (0.6, 0.5)
    np.testing.assert_array_equal(image, cells())
    dmap, meta, kind = layers["well distance map"]
    assert kind == "image" and dmap.dtype == np.float32 and meta["visible"] is False
    np.testing.assert_array_equal(dmap, tifffile.imread(out / "well_distmap.tif"))
    masks, meta, kind = layers["well masks"]
    assert kind == "labels" and meta["scale"] == (0.6, 0.5)
    np.testing.assert_array_equal(masks, tifffile.imread(out / "well_masks.tif"))
    assert meta["metadata"]["samcell"]["pixel_size_um"] == [0.5, 0.6]
    # the program's labels are the bindings' labels
    result = samcell_rs.Segmenter().segment(cells())
    np.testing.assert_array_equal(masks.astype(np.uint32), result.labels)


def test_reader_takes_one_masks_file_and_a_folder_above(segmented, tmp_path):
    root, out = segmented
    assert napari_get_reader([str(out / "well_masks.tif")]) is read_samcell
    layers = by_name(read_samcell(out / "well_masks.tif"))
    assert list(layers) == ["well", "well distance map", "well masks"]
    # a copy elsewhere without the image beside it: masks and map, with a warning
    moved = tmp_path / "nested" / "run"
    shutil.copytree(out, moved)
    (root / "in" / "well.tif").rename(root / "in" / "well.tif.bak")
    try:
        with pytest.warns(UserWarning, match="not found"):
            layers = by_name(read_samcell(tmp_path))
    finally:
        (root / "in" / "well.tif.bak").rename(root / "in" / "well.tif")
    assert list(layers) == ["well distance map", "well masks"]


def test_reader_declines_other_paths(tmp_path):
    assert napari_get_reader(str(tmp_path)) is None  # a folder without masks
    other = tmp_path / "cells.tif"
    tifffile.imwrite(other, cells())
    assert napari_get_reader(str(other)) is None
    assert napari_get_reader([str(other), str(other)]) is None
    with pytest.raises(ValueError, match="no \\*_masks.tif"):
        read_samcell(tmp_path)


def test_layers_of_a_result_and_the_rethreshold():
    seg = L.segmenter("lite")
    assert L.segmenter("lite") is seg  # loaded once
    result = seg.segment(cells())
    layers = by_name(L.segmentation_layers(result, "well", scale=(0.6, 0.5)))
    dmap, meta, kind = layers["well distance map"]
    assert kind == "image" and dmap is result.distance_map and meta["scale"] == (0.6, 0.5)
    labels, meta, kind = layers["well masks"]
    assert kind == "labels" and labels is result.labels
    assert meta["metadata"]["n_cells"] == result.n_cells
    again = L.rethreshold(seg, result.distance_map, 0.6, 0.2)
    np.testing.assert_array_equal(
        again.labels, seg.postprocess(result.distance_map, peak=0.6, fill=0.2).labels
    )
    with pytest.raises(ValueError, match="fill"):
        L.rethreshold(seg, result.distance_map, 0.2, 0.6)


def test_model_choices_and_planes(tmp_path):
    names = ["lite", "lite-cells", "lite-nuclei", "generalist", "cyto"]
    assert [L.model_spec(m) for m in names] == names
    assert L.model_spec("file", tmp_path / "m.pt") == str(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="checkpoint"):
        L.model_spec("file", None)
    with pytest.raises(ValueError, match="expected one of"):
        L.model_spec("huge")
    stack = np.arange(3 * 4 * 5).reshape(3, 4, 5)
    np.testing.assert_array_equal(L.image_plane(stack[0]), stack[0])
    # the viewer's position along the leading axes picks the plane
    np.testing.assert_array_equal(L.image_plane(stack, current_step=(2, 0, 0)), stack[2])
    np.testing.assert_array_equal(L.image_plane(stack, current_step=(7, 1, 0, 0)), stack[1])
    with pytest.raises(ValueError, match="RGB"):
        L.image_plane(np.zeros((4, 5, 3)), rgb=True)


def test_manifest_is_valid():
    try:
        import npe2
    except ImportError:
        skip("npe2 (installed with napari) is missing: python/test.sh installs napari")
    manifest = npe2.PluginManifest.from_distribution("napari-samcell-rs")
    assert manifest.name == "napari-samcell-rs"
    commands = {c.id: c.python_name for c in manifest.contributions.commands}
    assert commands["napari-samcell-rs.get_reader"].endswith(":napari_get_reader")
    assert manifest.contributions.readers[0].accepts_directories
    assert [w.display_name for w in manifest.contributions.widgets] == ["Segment cells"]
    # every command resolves to its function or class
    for command in manifest.contributions.commands:
        module, attr = command.python_name.split(":")
        assert callable(getattr(__import__(module, fromlist=[attr]), attr))
