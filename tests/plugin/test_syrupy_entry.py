"""``pyimgano_evaluate`` entries and ``MetricsSnapshotExtension`` without a real model
(docs/REFERENCE.md §15): validation, options, gates, tolerance, the failure table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pyimgano.errors import ConfigError, SuiteError
from pytest_pyimgano.fixture import ENTRY_KEYS, default_id, entry_spec
from pytest_pyimgano.spec import RunSettings
from tests.plugin.conftest import DATA_VAR

BASE = ["--pyimgano-no-plots", "-p", "no:xdist"]
FAKE = {"model": "test_fake_detector", "category": "tiles",
        "dataset": {"format": "mvtec", "root": "data"}}


def _spec(tmp_path: Path, **entry):
    return entry_spec(entry, test_path=tmp_path / "tests" / "test_m.py", source="tests/test_m.py",
                      where="pyimgano_evaluate() in tests/test_m.py::test_a", test_id="test_a",
                      settings=RunSettings(device="cpu"), environ={})


@pytest.fixture
def registered():
    from pyimgano.models import register_model, unregister_model

    register_model("test_fake_detector", "tests.fakes:FakeDetector",
                   metadata={"backend": "test", "requires_checkpoint": False}, overwrite=True)
    yield
    unregister_model("test_fake_detector")


# -- entries ----------------------------------------------------------------------------------


def test_entry_is_a_suite_model_entry(tmp_path, registered):
    spec = _spec(tmp_path, **FAKE, pixel=True, batch_size=3, device="cuda",
                 thresholds={"image_auroc": 0.9}, checkpoint=Path("ckpt/{category}/m.pt"))
    case = spec.case
    assert (spec.id, spec.category, spec.suite.source) == ("test_a", "tiles", "tests/test_m.py")
    # relative paths are relative to the test file's directory, as a suite's to the suite
    assert case.root == tmp_path / "tests" / "data"
    assert case.checkpoint == tmp_path / "tests" / "ckpt" / "tiles" / "m.pt"
    assert (case.pixel, case.batch_size) == (True, 3)
    assert case.device == "cpu"  # the command line beats the entry, as for suites
    assert spec.bounds["image_auroc"].min == 0.9
    assert _spec(tmp_path, **FAKE, id="padim").id == "padim"


@pytest.mark.parametrize(("entry", "message"), [
    ({**FAKE, "pixle": True},
     "pyimgano_evaluate() in tests/test_m.py::test_a: unknown key 'pixle'; allowed keys: id, "
     "model, checkpoint, sha256, model_kwargs, dataset, category, reference, reference_sha256, "
     "parity, pixel, "),
    ({**FAKE, "snapshot": {"tolerance": 0.1}},
     "MetricsSnapshotExtension.with_tolerance(...)"),
    ({**FAKE, "categories": ["tiles"]}, "categories: pyimgano_evaluate() evaluates one category"),
    ({k: v for k, v in FAKE.items() if k != "category"}, "missing required key 'category'"),
    ({**FAKE, "dataset": "mvtec"}, "dataset: expected a mapping such as"),
    ({**FAKE, "category": "a/b"}, "test_a: category: invalid category name 'a/b'"),
    ({**FAKE, "dataset": {"format": "mvtec", "root": "d", "rot": 1}},
     "test_a: dataset.rot: unknown key 'rot'; allowed keys: format, root, fingerprint"),
    ({**FAKE, "thresholds": {"image_aurc": 0.9}},
     "test_a: thresholds.image_aurc: unknown metric 'image_aurc'"),
    ({**FAKE, "checkpoint": 3}, "test_a: checkpoint: expected a non-empty string, got 3"),
    ({**FAKE, "model": "vision_nope"}, "test_a: model: "),
    ({**FAKE, "model_kwargs": {"trust_checkpoint": True}},
     "test_a: model_kwargs.trust_checkpoint: not allowed"),
])
def test_bad_entries_name_the_key(tmp_path, registered, entry, message):
    with pytest.raises(SuiteError) as info:
        _spec(tmp_path, **entry)
    assert message in str(info.value)
    assert "models[0]" not in str(info.value) and "datasets." not in str(info.value)


def test_entry_keys_are_the_suite_model_keys():
    from pytest_pyimgano.suite_keys import MODEL_KEYS

    assert set(ENTRY_KEYS) == (set(MODEL_KEYS) - {"categories", "snapshot"}) | {"category"}


def test_default_id():
    assert default_id("test_padim") == "test_padim"
    assert default_id("test_x[a b/c]") == "test_x-a-b-c"


# -- tolerance and comparison (hand-written snapshot objects) --------------------------------


def _snapshot(**metrics) -> str:
    return json.dumps({"kind": "pyimgano-snapshot", "metrics": metrics, "n_test": 10,
                       "n_anomalous": 4, "environment": {"torch": "2"}})


def test_with_tolerance_validates_and_subclasses():
    from pyimgano.testing import MetricsSnapshotExtension

    loose = MetricsSnapshotExtension.with_tolerance({"aupro": 0.02})
    assert issubclass(loose, MetricsSnapshotExtension) and loose is not MetricsSnapshotExtension
    assert loose.tolerance.for_metric("aupro") == 0.02
    assert loose.tolerance.for_metric("image_auroc") == 0.0
    assert MetricsSnapshotExtension.tolerance.for_metric("aupro") == 0.0
    assert MetricsSnapshotExtension.with_tolerance(0.5).tolerance.for_metric("pixel_ap") == 0.5
    for bad, message in [
        ({"aupr": 0.1}, "aupr: unknown metric 'aupr'; allowed keys: "),
        ({"ms_per_image": 1}, "ms_per_image: speed metrics are never snapshotted"),
        (-0.1, "a tolerance cannot be negative"),
        ("0.1", "expected a finite number, got '0.1'"),
        (float("nan"), "expected a finite number"),
    ]:
        with pytest.raises(ConfigError) as info:
            MetricsSnapshotExtension.with_tolerance(bad)
        assert message in str(info.value), str(info.value)
        assert str(info.value).startswith("MetricsSnapshotExtension.with_tolerance()")


def test_matching_uses_the_tolerance_per_metric():
    from pyimgano.testing import MetricsSnapshotExtension

    ext = MetricsSnapshotExtension.with_tolerance({"image_ap": 0.25})()
    stored = _snapshot(image_ap=0.5, image_auroc=0.75, aupro=None)
    assert ext.matches(serialized_data=_snapshot(image_ap=0.75, image_auroc=0.75, aupro=None),
                       snapshot_data=stored)  # |Δ| == tolerance passes
    assert not ext.matches(serialized_data=_snapshot(image_ap=0.76, image_auroc=0.75, aupro=None),
                           snapshot_data=stored)
    assert not ext.matches(serialized_data=_snapshot(image_ap=0.5, image_auroc=0.7500001,
                                                     aupro=None), snapshot_data=stored)
    assert not ext.matches(serialized_data=_snapshot(image_ap=0.5, image_auroc=0.75, aupro=0.1),
                           snapshot_data=stored)  # null on one side only
    assert not ext.matches(serialized_data=_snapshot(image_ap=0.5, image_auroc=0.75),
                           snapshot_data=stored)  # a metric gone
    changed_count = json.loads(_snapshot(image_ap=0.5, image_auroc=0.75, aupro=None))
    changed_count["n_test"] = 11
    assert not ext.matches(serialized_data=json.dumps(changed_count), snapshot_data=stored)
    assert not ext.matches(serialized_data=stored, snapshot_data="{not json")


def test_diff_lines_are_the_plugin_table():
    from pyimgano.testing import MetricsSnapshotExtension

    ext = MetricsSnapshotExtension.with_tolerance(0.01)()
    current = json.loads(_snapshot(image_ap=0.9, image_auroc=0.75))
    current["environment"]["torch"] = "3"
    lines = list(ext.diff_lines(json.dumps(current), _snapshot(image_ap=0.8, image_auroc=0.75)))
    assert lines[0] == ("image_ap=0.9 (snapshot 0.8, Δ +0.1, tolerance 0.01); "
                        "1 of 4 checks failed: image_ap")
    table = [line.split() for line in lines[2:8]]
    assert table[0] == ["metric", "value", "bound", "snapshot", "delta", "tolerance", "result"]
    assert table[2] == ["image_ap", "0.9", "-", "0.8", "+0.1", "0.01", "FAIL"]
    assert table[3] == ["image_auroc", "0.75", "-", "0.75", "+0", "0.01", "ok"]
    assert table[4] == ["n_test", "10", "-", "10", "+0", "0", "ok"]
    assert "snapshot environment: torch=2" in lines
    assert "current environment:  torch=3" in lines
    assert not any(line.startswith(("report:", "snapshot:  ")) for line in lines)


def test_serialize_refuses_other_data():
    from pyimgano.testing import MetricsSnapshotExtension

    with pytest.raises(TypeError, match="pyimgano_evaluate"):
        MetricsSnapshotExtension().serialize([1, 2])
    text = MetricsSnapshotExtension().serialize({"metrics": {"b": 1.0, "a": None}})
    assert text == '{\n  "metrics": {\n    "a": null,\n    "b": 1.0\n  }\n}\n'


def test_import_is_light():
    code = ("import sys, pyimgano.testing, pytest_pyimgano.plugin; "
            "print(sorted(m for m in ('syrupy', 'torch', 'numpy') if m in sys.modules)); "
            "pyimgano.testing.MetricsSnapshotExtension; print('syrupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.split("\n")[:2] == ["[]", "True"]


# -- real sessions (fake detector) ------------------------------------------------------------

MODULE = f'''
import pytest
from pyimgano.errors import GateFailure
from pyimgano.testing import MetricsSnapshotExtension

DATA = {{"format": "mvtec", "root": "${{{DATA_VAR}}}"}}


def test_gate(pyimgano_evaluate):
    pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="tiles",
                      thresholds={{"image_auroc": 0.999}})


def test_gate_is_catchable(pyimgano_evaluate):
    with pytest.raises(GateFailure):
        pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="tiles",
                          thresholds={{"image_auroc": {{"min": 0.999}}}})


def test_typo(pyimgano_evaluate):
    pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="tiles", pixle=True)


def test_unset(pyimgano_evaluate):
    pyimgano_evaluate(model="test_fake_detector", category="tiles",
                      dataset={{"format": "mvtec", "root": "${{PYIMGANO_UNSET_VAR}}"}})


def test_twice(pyimgano_evaluate):
    pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="disk")
    pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="disk", id="other")
    pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="disk")


def test_use_extension(pyimgano_evaluate, snapshot):
    result = pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="tiles",
                               batch_size=4)
    assert result.n_test == 10 and result.environment["batch_size"] == 2
    assert result == snapshot.use_extension(MetricsSnapshotExtension)
'''


def test_fixture_in_a_session(suite_dir):
    suite_dir.makepyfile(test_m=MODULE)
    result = suite_dir.runpytest(*BASE, "--pyimgano-batch-size", "2", "--snapshot-update",
                                 "-rs")
    result.assert_outcomes(passed=2, failed=3, skipped=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "E *GateFailure: image_auroc=* (>= 0.999, Δ -*); 1 of 1 checks failed: image_auroc",
        "E * metric*value*bound*snapshot*delta*tolerance*result",
        "E * image_auroc*>= 0.999*-*-*-*FAIL",
    ])
    result.stdout.fnmatch_lines([
        "pyimgano_evaluate() in test_m.py::test_typo: unknown key 'pixle'; allowed keys: *",
    ])
    result.stdout.fnmatch_lines([
        "*test_twice: id 'test_twice', category 'disk' was evaluated before in this test*",
    ])
    result.stdout.fnmatch_lines(["SKIPPED*environment variable ${PYIMGANO_UNSET_VAR} is not set "
                                 "(dataset.root)"])
    assert "During handling" not in out
    reports = suite_dir.path / "pyimgano-reports" / "test_m"
    assert (reports / "test_twice" / "disk.json").is_file()
    assert (reports / "other" / "disk.json").is_file()
    snap = suite_dir.path / "__snapshots__" / "test_m" / "test_use_extension.json"
    assert json.loads(snap.read_text("utf-8"))["environment"]["batch_size"] == 2

    # snapshot.use_extension(...): syrupy itself prints the extension's table
    data = json.loads(snap.read_text("utf-8"))
    data["metrics"]["image_ap"] += 0.5
    snap.write_text(json.dumps(data), encoding="utf-8")
    changed = suite_dir.runpytest(*BASE, "--pyimgano-batch-size", "2", "-k", "use_extension",
                                  "--pyimgano-strict")
    changed.assert_outcomes(failed=1, deselected=5)
    changed.stdout.fnmatch_lines(["E * image_ap=* (snapshot *, Δ -0.5, tolerance 0); *"])
    strict = suite_dir.runpytest(*BASE, "-k", "unset", "--pyimgano-strict")
    strict.assert_outcomes(failed=1, deselected=5)
    strict.stdout.fnmatch_lines(["*PYIMGANO_UNSET_VAR*[[]--pyimgano-strict: skips fail[]]*"])


XDIST_MODULE = f'''
from pyimgano.testing import MetricsSnapshotExtension

DATA = {{"format": "mvtec", "root": "${{{DATA_VAR}}}"}}
LOOSE = MetricsSnapshotExtension.with_tolerance(0.001)


def test_tiles(pyimgano_evaluate, snapshot):
    result = pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="tiles")
    assert result == snapshot(extension_class=LOOSE)


def test_disk(pyimgano_evaluate, snapshot):
    result = pyimgano_evaluate(model="test_fake_detector", dataset=DATA, category="disk")
    assert result == snapshot(extension_class=LOOSE)
'''


def test_under_xdist(suite_dir):
    """Workers write and compare, the controller's syrupy counts and cleans up."""
    pytest.importorskip("xdist")
    suite_dir.makepyfile(test_x=XDIST_MODULE)
    run = [*BASE[:1], "-n", "2"]
    written = suite_dir.runpytest_subprocess(*run, "--snapshot-update")
    written.assert_outcomes(passed=2)
    written.stdout.fnmatch_lines(["2 snapshots generated."])
    tiles = suite_dir.path / "__snapshots__" / "test_x" / "test_tiles.json"
    disk = tiles.with_name("test_disk.json")
    data = json.loads(tiles.read_text("utf-8"))
    data["metrics"]["image_auroc"] -= 0.25
    tiles.write_text(json.dumps(data), encoding="utf-8")
    failed = suite_dir.runpytest_subprocess(*run)
    failed.assert_outcomes(passed=1, failed=1)
    failed.stdout.fnmatch_lines(["E * image_auroc=* (snapshot *, Δ +0.25, tolerance 0.001); *"])
    failed.stdout.fnmatch_lines(["1 snapshot failed. 1 snapshot passed."])
    suite_dir.makepyfile(test_x=XDIST_MODULE[:XDIST_MODULE.index("\n\ndef test_disk")])
    cleaned = suite_dir.runpytest_subprocess(*run, "--snapshot-update")
    cleaned.assert_outcomes(passed=1)
    cleaned.stdout.fnmatch_lines(["1 snapshot updated. 1 unused snapshot deleted."])
    assert tiles.is_file() and not disk.exists()


def test_diff_lines_without_a_snapshot():
    from pyimgano.testing import MetricsSnapshotExtension

    lines = list(MetricsSnapshotExtension().diff_lines(_snapshot(image_ap=0.5), ""))
    assert lines == ["run pytest with --snapshot-update to record it"]
    bad = list(MetricsSnapshotExtension().diff_lines(_snapshot(image_ap=0.5), "[1]"))
    assert bad[0].startswith("snapshot is not a pyimgano metrics snapshot")
