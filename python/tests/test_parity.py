"""On real images: the bindings give what the `samcell` program gives for the same file.

Labels of `Segmenter().segment(array)` (built-in model) equal `<name>_masks.tif` bit for bit,
`measure` equals `<name>_cells.csv` (every column, every value), and `evaluate` equals
`samcell eval`'s `eval.json`. Needs the shared Usiigaci images (SAMCELL_DATA) and the program.
"""

import csv
import json
import math
import shutil

import numpy as np
import pytest

import samcell_rs
from conftest import require_data, run_samcell

tifffile = pytest.importorskip("tifffile")
Image = pytest.importorskip("PIL.Image")

NAMES = ["set1", "set7"]


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """The images, and the program's outputs for them (one `samcell segment` run)."""
    images = require_data(*[f"usiigaci-phc/train/images/{n}.tif" for n in NAMES])
    gts = require_data(*[f"usiigaci-phc/train/masks/{n}.png" for n in NAMES])
    out = tmp_path_factory.mktemp("segment")
    run_samcell("segment", *images, "--output", out)
    return {"images": dict(zip(NAMES, images)), "gts": dict(zip(NAMES, gts)), "out": out}


@pytest.fixture(scope="module")
def seg():
    return samcell_rs.Segmenter()


@pytest.fixture(scope="module")
def results(cli, seg):
    return {n: seg.segment(tifffile.imread(cli["images"][n])) for n in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_labels_equal_the_programs(cli, results, name):
    masks = tifffile.imread(cli["out"] / f"{name}_masks.tif")
    labels = results[name].labels
    assert labels.dtype == np.uint32 and labels.shape == masks.shape
    assert results[name].n_cells > 10
    np.testing.assert_array_equal(labels, masks.astype(np.uint32))


@pytest.mark.parametrize("name", NAMES)
def test_measure_equals_cells_csv(cli, results, name):
    image = tifffile.imread(cli["images"][name])
    table = samcell_rs.measure(results[name].labels, image)
    with open(cli["out"] / f"{name}_cells.csv", newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    assert list(table) == header
    assert all(len(table[c]) == len(rows) for c in header)
    for k, column in enumerate(header):
        for i, row in enumerate(rows):
            got, want = table[column][i], row[k]
            if want in ("", "NaN"):
                assert math.isnan(got), (column, i)
            else:
                # the CSV holds the shortest round-trip form: exact equality
                assert got == float(want), (column, i, got, want)


def test_evaluate_equals_samcell_eval(cli, results, tmp_path):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    for n in NAMES:
        shutil.copy(cli["out"] / f"{n}_masks.tif", pred)
        shutil.copy(cli["gts"][n], gt)
    run_samcell("eval", "--pred", pred, "--gt", gt, "--output", tmp_path / "eval")
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    by_name = {i["name"]: i for i in report["images"]}
    for n in NAMES:
        got = samcell_rs.evaluate(results[n].labels, np.asarray(Image.open(cli["gts"][n])))
        want = {**by_name[n]["scores"], **by_name[n]["counts"]}
        assert want.keys() <= got.keys()
        for key, value in want.items():
            if value is None:
                assert math.isnan(got[key]), key
            else:
                assert got[key] == value, key
        assert 0.0 < got["op_csb"] <= 1.0
