"""`track` against `samcell track --labels` on a small synthetic sequence (written here as TIFFs):
the tracked masks equal the program's maskTTT.tif, the lineage its res_track.txt, the tables its
tracks.csv and growth.csv, value for value; and bad input is a ValueError with the program's
words. Needs the `samcell` program for the parity tests, no shared data."""

import csv
import math
import subprocess

import numpy as np
import pytest

import samcell_rs
from conftest import run_samcell, samcell_bin

tifffile = pytest.importorskip("tifffile")

H, W, T = 60, 80, 6


def sequence():
    """Label frames (uint16, labels renumbered every frame): a cell drifting right, a cell that
    splits in two at frame 3, a cell missing from frame 2 (a gap), a cell entering at the border
    at frame 4."""
    yy, xx = np.mgrid[0:H, 0:W]
    frames = []
    for t in range(T):
        f = np.zeros((H, W), np.uint16)
        f[(yy - 15) ** 2 + (xx - 12 - 2 * t) ** 2 < 36] = 7 + t
        disc = (yy - 42) ** 2 + (xx - 40) ** 2 < 90
        if t < 3:
            f[disc] = 3
        else:
            f[disc & (xx < 39)] = 11
            f[disc & (xx > 41)] = 12
        if t != 2:
            f[(yy - 15) ** 2 + (xx - 60) ** 2 < 30] = 20 - t
        if t >= 4:
            f[50:, 70:] = 30
        frames.append(f)
    return frames


def grey(labels, t):
    """A uint8 grey frame: cells brighter than the background, a gradient for the intensities."""
    g = (20 + 3 * t + np.arange(W, dtype=np.uint16)[None, :] // 4).astype(np.uint8)
    return np.where(labels > 0, g + 120 + labels % 50, g).astype(np.uint8)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """The program's result folders: labels only (time in frames), and labels with the grey
    frames and a frame interval."""
    root = tmp_path_factory.mktemp("track")
    (root / "labels").mkdir()
    (root / "grey").mkdir()
    frames = sequence()
    for t, f in enumerate(frames):
        tifffile.imwrite(root / "labels" / f"t{t}.tif", f)
        tifffile.imwrite(root / "grey" / f"t{t}.tif", grey(f, t))
    run_samcell("track", "--labels", root / "labels", "--output", root / "plain")
    run_samcell(
        "track", root / "grey", "--labels", root / "labels", "--frame-interval", "10min",
        "--output", root / "timed",
    )
    return root


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def assert_table_equal(table, path):
    header, rows = read_csv(path)
    assert list(table) == header
    for k, column in enumerate(header):
        assert len(table[column]) == len(rows), column
        for i, row in enumerate(rows):
            got, want = table[column][i], row[k]
            if want in ("", "NaN"):
                assert math.isnan(got), (column, i)
            else:
                # the CSV holds the shortest round-trip form: exact equality
                assert got == float(want), (column, i, got, want)


def assert_result_equal(r, out):
    masks = [tifffile.imread(out / f"mask{t:03d}.tif") for t in range(T)]
    assert r.masks.dtype == np.uint32 and r.masks.shape == (T, H, W)
    np.testing.assert_array_equal(r.masks, np.stack(masks).astype(np.uint32))
    res_track = np.loadtxt(out / "res_track.txt", dtype=np.int64, ndmin=2)
    assert r.lineage.dtype == np.int64
    np.testing.assert_array_equal(r.lineage, res_track)
    assert_table_equal(r.tracks, out / "tracks.csv")
    assert_table_equal(r.growth, out / "growth.csv")


def test_track_equals_the_program(program):
    # a 3-D array, time in frames
    r = samcell_rs.track(np.stack(sequence()))
    assert_result_equal(r, program / "plain")
    assert r.time_unit == "frames" and "time_frames" in r.tracks
    # the sequence has what it was made for: a division, a gap closed, a cell entering
    assert r.n_divisions == 1 and r.divisions.shape == (1, 4)
    frame, parent, *daughters = r.divisions[0]
    assert frame == 3 and list(r.lineage[np.array(daughters) - 1, 3]) == [parent, parent]
    assert r.n_tracks == len(r.lineage) >= 6
    assert int(r.masks.max()) == r.n_tracks


def test_track_with_images_and_interval_equals_the_program(program):
    frames = sequence()
    images = [grey(f, t) for t, f in enumerate(frames)]
    r = samcell_rs.track(frames, frame_interval="10min", images=images)
    assert_result_equal(r, program / "timed")
    assert r.time_unit == "min" and "MeanIntensity" in r.tracks
    np.testing.assert_array_equal(r.growth["time_min"], np.arange(T) * 10.0)
    # a number is seconds, written in the largest unit it fills
    r = samcell_rs.track(frames, frame_interval=600)
    assert r.time_unit == "min" and r.growth["time_min"][1] == 10.0


def test_linker_settings_are_passed_on():
    frames = sequence()
    # a gap closed makes the continuation a child of the track before the gap (CTC rule)
    with_parent = lambda r: int((r.lineage[:, 3] > 0).sum())
    no_gap = samcell_rs.track(frames, max_gap=0)
    assert with_parent(no_gap) == with_parent(samcell_rs.track(frames)) - 1 == 2
    strict = samcell_rs.track(frames, min_iou=1.0)
    assert strict.n_tracks > no_gap.n_tracks


def test_frame_size_error_is_the_programs(tmp_path):
    frames = sequence()[:2]
    frames[1] = frames[1][:, :70]
    with pytest.raises(ValueError) as e:
        samcell_rs.track(frames)
    assert "frame 1 is 70x60 but frame 0 is 80x60" in str(e.value)
    (tmp_path / "labels").mkdir()
    for t, f in enumerate(frames):
        tifffile.imwrite(tmp_path / "labels" / f"t{t}.tif", f)
    r = subprocess.run(
        [str(samcell_bin()), "track", "--labels", str(tmp_path / "labels"), "--output",
         str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert r.returncode != 0 and str(e.value) in r.stderr, r.stderr


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(frames=[]), "frames: no frames"),
        (dict(frames=np.zeros((4, 4), np.uint16)), "expected a sequence of 2-D arrays"),
        (dict(frames="masks/"), "expected a sequence of 2-D arrays"),
        (dict(frames=[np.zeros((4, 4), np.float32)]), "frames[0]: expected an integer label array"),
        (dict(frames=[np.zeros((4, 4), np.uint8), -np.ones((4, 4), np.int32)]),
         "frames[1]: label -1 is outside"),
        (dict(frames=[np.zeros((4, 4, 2), np.uint8)]), "frames[0]: expected a 2-D array"),
        (dict(frames=[np.zeros((4, 4), np.uint8)], frame_interval="30"), "add a unit"),
        (dict(frames=[np.zeros((4, 4), np.uint8)], frame_interval="3 days"), "unknown unit"),
        (dict(frames=[np.zeros((4, 4), np.uint8)], frame_interval=-5), "must be positive"),
        (dict(frames=[np.zeros((4, 4), np.uint8)], min_iou=0.0), "min_iou 0 is outside (0, 1]"),
        (dict(frames=[np.zeros((4, 4), np.uint8)], images=[np.zeros((4, 4))] * 2),
         "images has 2 frames but frames has 1 label images"),
        (dict(frames=[np.zeros((4, 4), np.uint8)], images=[np.zeros((5, 4), np.uint8)]),
         "4x5"),
    ],
)
def test_bad_input_is_a_value_error(kwargs, message):
    with pytest.raises(ValueError) as e:
        samcell_rs.track(**kwargs)
    assert message in str(e.value)


def test_the_program_words_the_interval_error_alike(tmp_path):
    with pytest.raises(ValueError) as e:
        samcell_rs.track([np.zeros((4, 4), np.uint8)], frame_interval="3 days")
    r = subprocess.run(
        [str(samcell_bin()), "track", "--labels", str(tmp_path), "--frame-interval", "3 days"],
        capture_output=True, text=True,
    )
    assert r.returncode != 0
    assert str(e.value).removeprefix("frame_interval: ") in r.stderr, r.stderr
