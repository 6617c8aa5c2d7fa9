"""Python tests with syrupy (docs/REFERENCE.md §15) over a REAL trained PaDiM checkpoint.

A pytester project holds a Python test module using ``pyimgano_evaluate`` + ``snapshot`` with
:class:`~pyimgano.testing.MetricsSnapshotExtension`, and a YAML suite of the same model entry.
Relative paths (``ckpt/tiles/model.ckpt``, ``data``) are links to the session's trained
checkpoint and data, so the module reads as a user's would.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from pyimgano.report import read_report, validate_report
from tests.plugin.conftest import write_suite

pytestmark = pytest.mark.anomalib

BASE = ["--pyimgano-no-plots", "-p", "no:xdist"]
#: what the spec calls the speed metrics: reported, never snapshotted.
SPEED = ("ms_per_image", "images_per_s")

MODULE = '''
from pyimgano.testing import MetricsSnapshotExtension

ENTRY = dict(model="vision_padim_anomalib", checkpoint="ckpt/tiles/model.ckpt",
             dataset={"format": "mvtec", "root": "data"}, category="tiles", batch_size=4)


def test_padim_tiles(pyimgano_evaluate, snapshot):
    result = pyimgano_evaluate(**ENTRY, pixel=True)
    assert result == snapshot(
        extension_class=MetricsSnapshotExtension.with_tolerance({"image_ap": 0.01}))
'''

IMAGE_ONLY = '''

def test_padim_image(pyimgano_evaluate, snapshot):
    assert pyimgano_evaluate(**ENTRY) == snapshot(extension_class=MetricsSnapshotExtension)
'''

SUITE = """
    pyimgano_suite: 1
    datasets:
      syn: {format: mvtec, root: data}
    models:
      - id: padim
        model: vision_padim_anomalib
        checkpoint: ckpt/{category}/model.ckpt
        dataset: syn
        categories: [tiles]
        pixel: true
        batch_size: 4
"""


def _project(pytester: pytest.Pytester, data: Path, checkpoint: Path, module: str) -> Path:
    (pytester.path / "ckpt" / "tiles").mkdir(parents=True)
    os.symlink(checkpoint, pytester.path / "ckpt" / "tiles" / "model.ckpt")
    os.symlink(data, pytester.path / "data")
    path = pytester.path / "test_padim.py"
    path.write_text(textwrap.dedent(module), encoding="utf-8")
    return path


def _snap(pytester: pytest.Pytester, test: str) -> Path:
    return pytester.path / "__snapshots__" / "test_padim" / f"{test}.json"


def _edit(path: Path, metric: str, delta: float, **environment: str) -> tuple[float, float]:
    data = json.loads(path.read_text("utf-8"))
    old = data["metrics"][metric]
    data["metrics"][metric] = old + delta
    data["environment"].update(environment)
    path.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return old, data["metrics"][metric]


def test_python_test_lifecycle_and_yaml_parity(suite_dir, padim, anomalib_data):
    """First run fails without a snapshot, ``--snapshot-update`` writes it, a rerun passes, a
    metric moved beyond tolerance fails with the table; syrupy counts, keeps and reports the
    files; the YAML item of the same entry gives the same metrics and report."""
    _project(suite_dir, anomalib_data, padim.ckpt_path, MODULE + IMAGE_ONLY)
    write_suite(suite_dir, SUITE, name="suite.yaml")
    pixel, image = _snap(suite_dir, "test_padim_tiles"), _snap(suite_dir, "test_padim_image")

    missing = suite_dir.runpytest(*BASE, "test_padim.py")
    missing.assert_outcomes(failed=2)
    missing.stdout.fnmatch_lines([
        "E * assert [[]+ received[]] == [[]- snapshot[]]",
        f"E * no snapshot at {pixel}; run pytest with --snapshot-update to record it",
    ])
    missing.stdout.fnmatch_lines(["2 snapshots failed."])
    assert not (suite_dir.path / "__snapshots__").exists()

    update = suite_dir.runpytest(*BASE, "--snapshot-update")
    update.assert_outcomes(passed=3)
    update.stdout.fnmatch_lines(["2 snapshots generated."])
    text = pixel.read_text("utf-8")
    stored = json.loads(text)
    # the suite snapshot format: sorted keys, indent 2, trailing newline, the same keys
    assert text == json.dumps(stored, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    suite_snap = suite_dir.path / "__pyimgano_snapshots__" / "suite" / "padim" / "tiles.json"
    yaml_stored = json.loads(suite_snap.read_text("utf-8"))
    assert set(stored) == set(yaml_stored) == {
        "schema_version", "kind", "metrics", "n_test", "n_anomalous", "environment"}
    assert (stored["n_test"], stored["n_anomalous"]) == (20, 12)  # 8 good + 12 defective

    # the report: where docs/REFERENCE.md §15 says, valid, and the same as the YAML item's
    reports = suite_dir.path / "pyimgano-reports"
    py_report = read_report(reports / "test_padim" / "test_padim_tiles" / "tiles.json")
    yaml_report = read_report(reports / "suite" / "padim" / "tiles.json")
    validate_report(py_report)
    assert py_report["item"] == {"suite": "test_padim.py", "id": "test_padim_tiles",
                                 "nodeid": "test_padim.py::test_padim_tiles",
                                 "category": "tiles"}
    assert py_report["metrics"]["aupro"] is not None
    assert stored["metrics"] == {k: v for k, v in py_report["metrics"].items()
                                 if k not in SPEED}
    assert stored["metrics"] == yaml_stored["metrics"]
    for key in ("model", "dataset", "metric_notes"):
        assert py_report[key] == yaml_report[key], key
    assert py_report["model"]["checkpoint_sha256"] == padim.ckpt_sha256
    assert json.loads(image.read_text("utf-8"))["metrics"].get("aupro") is None

    # a rerun passes; within the per-metric tolerance too, and --snapshot-update then leaves
    # the file alone
    _edit(pixel, "image_ap", -0.009)
    within = pixel.read_bytes()
    rerun = suite_dir.runpytest(*BASE, "test_padim.py", "--snapshot-update")
    rerun.assert_outcomes(passed=2)
    rerun.stdout.fnmatch_lines(["2 snapshots passed."])
    assert pixel.read_bytes() == within

    # beyond tolerance (image_auroc is exact here): the plugin's table and both environments
    old, moved = _edit(pixel, "image_auroc", -0.05, torch="0.0-old")
    failed = suite_dir.runpytest(*BASE, "test_padim.py", "-vv")
    failed.assert_outcomes(failed=1, passed=1)
    failed.stdout.fnmatch_lines([
        f"E * image_auroc={old:.6g} (snapshot {moved:.6g}, Δ +0.05, tolerance 0); "
        "1 of * checks failed: image_auroc",
        "E * metric*value*bound*snapshot*delta*tolerance*result",
        "E * image_ap *ok",
        f"E * image_auroc*{old:.6g}*-*{moved:.6g}*+0.05*0*FAIL",
        "E * n_test*20*20*+0*0*ok",
        f"E * snapshot: *{pixel}",
        "E * snapshot environment: *torch=0.0-old*",
        "E * current environment: *torch=*",
        "E * environment changes: *torch 0.0-old -> *",
        "E * report: *test_padim_tiles*tiles.json",
    ])
    failed.stdout.fnmatch_lines(["1 snapshot failed. 1 snapshot passed."])
    # a -k subset with --snapshot-update updates what it ran and deletes nothing
    before_image = image.read_bytes()
    subset = suite_dir.runpytest(*BASE, "test_padim.py", "-k", "tiles", "--snapshot-update")
    subset.assert_outcomes(passed=1, deselected=1)
    subset.stdout.fnmatch_lines(["1 snapshot updated."])
    assert "unused" not in subset.stdout.str() and "Deleted" not in subset.stdout.str()
    assert image.read_bytes() == before_image
    assert json.loads(pixel.read_text("utf-8"))["metrics"] == stored["metrics"]

    # a removed test: syrupy reports its snapshot unused, and --snapshot-update deletes it
    (suite_dir.path / "test_padim.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    unused = suite_dir.runpytest(*BASE, "test_padim.py", "--snapshot-warn-unused")
    unused.stdout.fnmatch_lines(["1 snapshot passed. 1 snapshot unused."])
    assert unused.ret == 0 and image.is_file()
    deleted = suite_dir.runpytest(*BASE, "test_padim.py", "--snapshot-update")
    deleted.stdout.fnmatch_lines(["1 snapshot passed. 1 unused snapshot deleted."])
    assert not image.exists() and pixel.is_file()
    assert suite_snap.is_file()  # syrupy never touches the suite's snapshots


PINS = '''
from pyimgano.testing import MetricsSnapshotExtension

DATA = {{"format": "mvtec", "root": "data"}}


def test_unpinned_pt(pyimgano_evaluate):
    pyimgano_evaluate(model="vision_padim_anomalib", checkpoint="{pt}", dataset=DATA,
                      category="tiles")


def test_pinned_pt(pyimgano_evaluate):
    result = pyimgano_evaluate(model="vision_padim_anomalib", checkpoint="{pt}",
                               sha256="{pt_sha}", dataset=DATA, category="tiles")
    assert result.environment["device"] == "cpu"


def test_wrong_pin(pyimgano_evaluate):
    pyimgano_evaluate(model="vision_padim_anomalib", checkpoint="{pt}", sha256="{zeros}",
                      dataset=DATA, category="tiles")
'''


def test_pins_trust_and_device(suite_dir, padim, anomalib_data):
    """Pins are checked, an unpinned pickle needs --pyimgano-trust-checkpoints, and
    --pyimgano-device/--pyimgano-report-dir are honoured."""
    _project(suite_dir, anomalib_data, padim.ckpt_path, PINS.format(
        pt=padim.pt_path, pt_sha=padim.pt_sha256, zeros="0" * 64))
    result = suite_dir.runpytest(*BASE, "--pyimgano-device", "cpu",
                                 "--pyimgano-report-dir", "out")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*pyimgano_evaluate() in test_padim.py::test_unpinned_pt: *model.pt: refusing to "
        "unpickle an untrusted checkpoint*--pyimgano-trust-checkpoints*",
    ])
    result.stdout.fnmatch_lines([
        f"*test_wrong_pin: *model.pt: sha256 mismatch, refusing to load it*{'0' * 64}*",
    ])
    out = result.stdout.str()
    assert "Traceback" not in out and "During handling" not in out
    report = read_report(suite_dir.path / "out" / "test_padim" / "test_pinned_pt" / "tiles.json")
    assert report["environment"]["device"] == "cpu"
    assert report["model"]["checkpoint_sha256"] == padim.pt_sha256
    assert not (suite_dir.path / "pyimgano-reports").exists()

    trusted = suite_dir.runpytest(*BASE, "-k", "unpinned", "--pyimgano-trust-checkpoints")
    trusted.assert_outcomes(passed=1, deselected=2)
