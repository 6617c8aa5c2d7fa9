"""``pyimgano-diff`` across report schema 1.1 and 1.2, and an artifact against its checkpoint.

A value an exported artifact cannot know (the borderline count needs the checkpoint's
threshold) is not a metric: the diff of an artifact's report against its own checkpoint's,
with equal scores, passes; the borderline counts appear as a note.
"""

from __future__ import annotations

import json

import pytest

from pyimgano.datasets import load_dataset
from pyimgano.datasets.synthetic import generate
from pyimgano.diff import diff_paths
from pyimgano.evaluation import evaluate
from pyimgano.report import dumps, write_report, write_text_atomic
from tests.core.test_report_sections import Scripted, _scores
from tests.diff.helpers import make_report


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate(root, categories=("tiles",), seed=0, size=32)
    return load_dataset("mvtec", root, "tiles")


def _rows(result) -> dict[str, object]:
    (item,) = result.items
    return {row.metric: row for row in item.rows}


def test_artifact_against_its_checkpoint_passes(tmp_path, dataset):
    scores = _scores(dataset)
    checkpoint = evaluate(Scripted(scores, normalized=True, labels=True), dataset).report
    artifact = evaluate(Scripted(scores, normalized=None, labels=True), dataset).report
    assert checkpoint.decision["borderline"] == 2 and artifact.decision["borderline"] is None
    old = write_report(checkpoint, tmp_path / "ckpt" / "tiles.json")
    new = write_report(artifact, tmp_path / "onnx" / "tiles.json")
    result = diff_paths(old, new)
    assert result.exit_code == 0, [r for r in _rows(result).values() if r.failed]
    rows = _rows(result)
    assert "image_borderline" not in rows and "image_auroc_step" not in rows
    assert rows["image_auroc"].status == "equal"
    (item,) = result.items
    assert "decision.borderline: 2 → null" in item.notes
    assert "decision.threshold_source: checkpoint → pred_label" in item.notes


def _as_1_1(path, *, borderline, step, loco=None):
    """Rewrite a 1.2 report file as pyimgano 1.1 wrote it (counts inside ``metrics``)."""
    data = json.loads(path.read_text("utf-8"))
    for key in ("resolution", "decision", "resources", "metrics_by_defect_type"):
        data.pop(key, None)
    data["schema_version"] = "1.1"
    data["metrics"]["image_borderline"] = borderline
    data["metrics"]["image_auroc_step"] = step
    if loco:
        for group, values in loco.items():
            data["metrics_by_defect"].setdefault(group, {}).update(values)
    write_text_atomic(path, dumps(data))


LOCO_GROUPS = {"logical_anomalies": {"image_auroc": 0.9, "image_ap": 0.8},
               "structural_anomalies": {"image_auroc": 0.7, "image_ap": 0.6}}
LOCO_TYPES = {"logical_anomalies": {"auspro_0.05": 0.4},
              "structural_anomalies": {"auspro_0.05": 0.3}}


def test_a_1_1_report_diffs_against_a_1_2_one(tmp_path):
    old_report = make_report("box", by_defect=LOCO_GROUPS)
    old = write_report(old_report, tmp_path / "old" / "box.json")
    _as_1_1(old, borderline=0.0, step=0.01, loco=LOCO_TYPES)
    new_report = make_report("box", by_defect=LOCO_GROUPS)
    new_report.metrics_by_defect_type = {k: dict(v) for k, v in LOCO_TYPES.items()}
    new_report.decision = {"borderline": None, "threshold": None, "threshold_source": None,
                           "notes": {"borderline": "no threshold"}}
    new = write_report(new_report, tmp_path / "new" / "box.json")
    assert json.loads(new.read_text("utf-8"))["schema_version"] == "1.2"
    result = diff_paths(old, new)
    assert result.exit_code == 0, [r for r in _rows(result).values() if r.failed]
    rows = _rows(result)
    assert "image_borderline" not in rows and "image_auroc_step" not in rows
    for group, values in LOCO_TYPES.items():
        for name in values:
            assert rows[f"{group}/{name}"].status == "equal"
            assert rows[f"{group}/{name}"].old_present and rows[f"{group}/{name}"].new_present
    (item,) = result.items
    assert "decision.borderline: 0 → null" in item.notes

    # a real change of a per-type metric still fails, whichever version wrote it
    new_report.metrics_by_defect_type["structural_anomalies"]["auspro_0.05"] = 0.35
    write_report(new_report, new)
    assert diff_paths(old, new).exit_code == 1


def test_a_1_1_summary_without_reports_is_compared_on_metrics_only(tmp_path):
    def summary(directory, borderline):
        item = {"nodeid": "s.yaml::m[a]", "suite": "s.yaml", "id": "m", "category": "a",
                "outcome": "passed", "report": None, "thresholds": {}, "message": None,
                "metrics": {"image_auroc": 0.9, "image_borderline": borderline,
                            "image_auroc_step": 0.01}}
        data = {"schema_version": "1.1", "kind": "pyimgano-summary", "items": [item]}
        return write_text_atomic(directory / "summary.json", dumps(data))

    old = summary(tmp_path / "old", 0.0)
    new = summary(tmp_path / "new", None)
    result = diff_paths(old, new)
    assert result.exit_code == 0
    assert set(_rows(result)) == {"image_auroc"}
