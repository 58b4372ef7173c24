"""The API on tiny arrays: dtypes, results, errors. Runs without the shared data."""

import math

import numpy as np
import pytest

import samcell_rs


@pytest.fixture(scope="module")
def seg():
    return samcell_rs.Segmenter()


def blobs(h=48, w=64):
    """A dark background with two bright discs (uint8, full 0..255 range)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.full((h, w), 20, np.uint8)
    for cy, cx in [(16, 18), (30, 44)]:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < 64] = 230
    img[0, 0], img[-1, -1] = 0, 255
    return img


def test_segment_returns_labels_and_map(seg):
    r = seg.segment(blobs())
    assert r.labels.dtype == np.uint32 and r.labels.shape == (48, 64)
    assert r.distance_map.dtype == np.float32 and r.distance_map.shape == (48, 64)
    assert (r.peak, r.fill) == (pytest.approx(0.47), pytest.approx(0.09))
    assert r.n_cells == int(r.labels.max())
    assert set(r.timings) == {"scale", "tiling", "enhance", "predict", "blend", "postprocess", "total"}
    assert all(v >= 0 for v in r.timings.values())
    # the arrays own Rust's buffers: writable NumPy arrays, not views of a copy kept elsewhere
    assert r.labels.flags["C_CONTIGUOUS"] and r.labels.flags["WRITEABLE"]


def test_scale_resizes_for_the_model_and_keeps_the_shape(seg):
    img = blobs()
    r = seg.segment(img, scale=2.0)
    assert r.labels.shape == (48, 64) and r.distance_map.shape == (48, 64)
    assert r.n_cells == int(r.labels.max()) >= 1
    # the model saw another image: the map differs from the one at scale 1
    assert not np.array_equal(r.distance_map, seg.segment(img, scale=1.0).distance_map)


def test_wide_types_are_scaled_like_files(seg):
    # min-max scaling maps these back to the uint8 values exactly, so the labels are the same
    img = blobs()
    ref = seg.segment(img)
    for wide in (
        img.astype(np.uint16) * 257,
        img.astype(np.float64) / 255.0,
        img.astype(np.float32) * 2.0 - 7.0,
        img.astype(np.int32) * 1000,
    ):
        r = seg.segment(wide)
        np.testing.assert_array_equal(r.labels, ref.labels)
        np.testing.assert_array_equal(r.distance_map, ref.distance_map)


def test_non_contiguous_input_is_read_in_order(seg):
    # a Fortran-ordered array is contiguous too, column by column: it must be read row by row
    img = blobs()
    ref = seg.segment(img)
    assert ref.n_cells == 2, "the default model finds both discs (else the comparison is empty)"
    fortran = np.asfortranarray(img)
    strided = np.zeros((48, 128), np.uint8)
    strided[:, ::2] = img
    for view in (fortran, strided[:, ::2]):
        r = seg.segment(view)
        np.testing.assert_array_equal(r.distance_map, ref.distance_map)
        np.testing.assert_array_equal(r.labels, ref.labels)


def test_percentile_scaling(seg):
    img = blobs().astype(np.float32)
    # percentiles 0 and 100 are the minimum and maximum: min-max scaling
    full = seg.segment(img, percentile=(0, 100))
    np.testing.assert_array_equal(full.distance_map, seg.segment(img).distance_map)
    # one hot pixel squeezes every other value to near 0 under min-max; the 1..99 percentile
    # range clips it away and keeps the cells' contrast
    img[5, 5] = 1e6
    squeezed = seg.segment(img)
    clipped = seg.segment(img, percentile=(1, 99))
    assert clipped.distance_map.max() > squeezed.distance_map.max()


def test_postprocess_reruns_the_thresholds(seg):
    r = seg.segment(blobs())
    again = seg.postprocess(r.distance_map, r.peak, r.fill)
    np.testing.assert_array_equal(again.labels, r.labels)
    assert set(again.timings) == {"postprocess", "total"}
    none = seg.postprocess(np.zeros((8, 8), np.float32), 0.5, 0.1)
    assert none.n_cells == 0 and none.labels.sum() == 0


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((0, 0), np.uint8), "empty image (0x0)"),
        (np.zeros((0, 5), np.uint16), "empty image"),
        (np.zeros((4, 4, 3), np.uint8), "2-D"),
        (np.zeros(7, np.uint8), "2-D"),
        (np.zeros((4, 4), bool), "dtype"),
        (np.array([[1.0, np.nan], [0.0, 2.0]]), "non-finite"),
        ("not an image", "2-D"),
    ],
)
def test_bad_images_are_value_errors(seg, image, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seg.segment(image)


def test_bad_settings_are_value_errors(seg):
    with pytest.raises(ValueError, match="--fill 0.6 is above --peak 0.3"):
        seg.segment(blobs(), peak=0.3, fill=0.6)
    with pytest.raises(ValueError, match="outside 0..1"):
        seg.segment(blobs(), peak=1.5)
    with pytest.raises(ValueError, match="need 0 <= LO < HI <= 100"):
        seg.segment(blobs(), percentile=(99, 1))
    with pytest.raises(ValueError, match="scale 8 is outside 0.25..4"):
        seg.segment(blobs(), scale=8)
    with pytest.raises(ValueError, match="--fill"):
        seg.postprocess(np.zeros((4, 4), np.float32), 0.1, 0.2)
    with pytest.raises(ValueError, match="float"):
        seg.postprocess(np.zeros((4, 4), np.uint8))


def test_model_errors_are_the_clis():
    with pytest.raises(ValueError, match=r'model "no-such-model" not found: --model takes'):
        samcell_rs.Segmenter("no-such-model")
    with pytest.raises(ValueError, match="not found"):
        samcell_rs.Segmenter("lite:/nonexistent/weights.safetensors")
    with pytest.raises(ValueError, match="device"):
        samcell_rs.Segmenter(device="tpu")
    with pytest.raises(ValueError, match="precision"):
        samcell_rs.Segmenter(precision="f8")


def test_model_info_names_the_built_in_model(seg):
    info = seg.model_info
    assert info["name"] == "lite" and info["url"] is None
    assert len(info["sha256"]) == 64
    crop, overlap = seg.tiling
    assert crop > 2 * overlap > 0
    assert seg.threads >= 1


def two_squares():
    labels = np.zeros((20, 30), np.int32)
    labels[2:6, 3:7] = 1  # 4x4
    labels[10:13, 20:25] = 7  # 3x5
    return labels


def test_measure_columns():
    m = samcell_rs.measure(two_squares())
    names = list(m)
    assert names[:3] == ["label", "Area_px2", "Perimeter_px"]
    assert names[-1] == "FirstClosestDistance_px"
    assert all(v.ndim == 1 and len(v) == 2 for v in m.values())
    assert m["label"].dtype == np.int64 and list(m["label"]) == [1, 7]
    assert list(m["Area_px2"]) == [16, 15]
    assert list(m["FirstClosestObjectNumber"]) == [7.0, 1.0]
    assert m["Solidity"].dtype == np.float64
    assert "MeanIntensity" not in m and "Area_um2" not in m


def test_measure_with_image_and_pixel_size():
    labels = two_squares()
    image = np.arange(labels.size, dtype=np.uint16).reshape(labels.shape)
    m = samcell_rs.measure(labels, image, pixel_size=0.5)
    inside = image[labels == 1]
    assert m["MeanIntensity_raw"][0] == pytest.approx(inside.mean())
    assert m["MeanIntensity"][0] == pytest.approx(inside.mean() / 65535)
    assert m["Area_um2"][0] == pytest.approx(16 * 0.25)
    for size in ((0.5, 0.5), "0.5um", "500nm"):
        m2 = samcell_rs.measure(labels, pixel_size=size)
        assert m2["Area_um2"][1] == pytest.approx(15 * 0.25)
    lone = np.zeros((5, 5), np.uint8)
    lone[1:3, 1:3] = 4
    m3 = samcell_rs.measure(lone)
    assert math.isnan(m3["FirstClosestObjectNumber"][0])


def test_measure_errors():
    with pytest.raises(ValueError, match="outside 0..=4294967295"):
        samcell_rs.measure(-two_squares())
    with pytest.raises(ValueError, match="integer label array"):
        samcell_rs.measure(two_squares().astype(np.float32))
    with pytest.raises(ValueError):
        samcell_rs.measure(two_squares(), np.zeros((3, 3), np.uint8))
    with pytest.raises(ValueError, match="pixel_size"):
        samcell_rs.measure(two_squares(), pixel_size=-1.0)
    with pytest.raises(ValueError, match="2-D"):
        samcell_rs.measure(np.zeros((2, 2, 2), np.uint32))


def test_evaluate_identical_and_empty():
    labels = two_squares()
    e = samcell_rs.evaluate(labels, labels)
    assert (e["seg"], e["det"], e["op_csb"]) == (1.0, 1.0, 1.0)
    assert e["ap"] == [1.0] * 10 and len(e["ap_thresholds"]) == 10
    assert e["ap_thresholds"][0] == pytest.approx(0.5)
    assert e["n_gt"] == 2 and e["n_pred"] == 2 and e["warnings"] == []
    empty = samcell_rs.evaluate(labels, np.zeros_like(labels))
    assert math.isnan(empty["seg"]) and empty["det_fp"] == 2
    assert "ground truth has no objects" in empty["warnings"][0]
    with pytest.raises(ValueError):
        samcell_rs.evaluate(labels, labels[:10])
