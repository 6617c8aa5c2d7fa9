"""Real-IAD sample metrics: a sample is the views of one object, scored by their maximum.

The layout is written here with every view's sample known from construction (not parsed
back), and the expected S-AUROC / S-AP / S-F1-max are scikit-learn's values on the maxima
of the per-view scores the JSONL reports, grouped by that construction.
"""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest
from PIL import Image

from pyimgano.datasets import load_dataset
from pyimgano.datasets.realiad import sample_id
from pyimgano.diff.rows import compare_metrics
from pyimgano.diff.tolerances import check_tolerance_names, parse_tolerances
from pyimgano.errors import DatasetError
from pyimgano.evaluation import evaluate
from pyimgano.gates import parse_bounds
from pyimgano.report import jsonl_text, validate_report
from pytest_pyimgano.snapshots import compare, serialize
from tests.fakes import FakeDetector
from tests.metrics._reference import ref_ap, ref_auroc, ref_f1_max

#: (sample number, class in the name, per view: (defect code or "OK", spot intensity)) — an NG
#: object may show its defect in some views only (the others are "OK" in the JSON). The fake
#: detector scores a view by its spot (intensity / 255), so the sample maxima are known:
#: normal 60, 30, 70 and anomalous 40, 80, 55 — S-AUROC 5/9, not the per-view value.
OBJECTS = [
    (1, "OK", [("OK", 10), ("OK", 60), ("OK", 5)]),
    (2, "OK", [("OK", 30), ("OK", 20), ("OK", 25)]),
    (3, "OK", [("OK", 50), ("OK", 45), ("OK", 70)]),
    (4, "NG", [("AK", 40), ("OK", 15), ("OK", 10)]),
    (5, "NG_QS", [("QS", 65), ("QS", 35), ("OK", 80)]),
    (6, "NG", [("OK", 20), ("OK", 55), ("BX", 50)]),
]


def _view(intensity: int) -> bytes:
    grey = np.full((10, 12), 100, np.uint8)
    grey[3:5, 4:6] = 100 + intensity
    from io import BytesIO

    buffer = BytesIO()
    Image.fromarray(grey, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def write_multiview(root, category="toy", resolution="256"):
    """The layout of anomalib 2.7's RealIAD; returns {image file name: its sample}."""
    base = root / f"realiad_{resolution}" / category
    entries, truth = [], {}
    for number, cls, views in OBJECTS:
        sample = f"{category}_{number:04d}_{cls}"
        folder = "OK" if cls == "OK" else f"NG/{cls.removeprefix('NG_') or 'XX'}"
        for view, (code, intensity) in enumerate(views, start=1):
            name = f"{sample}_C{view}_2023092212{number:02d}{view}.png"
            rel = f"{folder}/S{number:04d}/{name}"
            path = base / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_view(intensity))
            entries.append({"category": category, "anomaly_class": code, "image_path": rel,
                            "mask_path": None})
            truth[name] = sample
    split = root / "realiad_jsons/realiad_jsons" / f"{category}.json"
    split.parent.mkdir(parents=True, exist_ok=True)
    split.write_text(json.dumps({"train": [], "test": entries}))
    return truth


def test_sample_metrics_against_an_independent_grouping(tmp_path):
    truth = write_multiview(tmp_path)
    dataset = load_dataset("realiad", tmp_path, "toy")
    evaluation = evaluate(FakeDetector(), dataset)
    report = evaluation.report.to_dict()
    validate_report(report)
    records = [json.loads(line) for line in jsonl_text(evaluation.report.records).splitlines()]
    scores, labels = defaultdict(list), defaultdict(list)
    for record in records:
        name = record["path"].rsplit("/", 1)[-1]
        assert record["sample"] == truth[name]  # the JSONL says each image's sample
        scores[truth[name]].append(record["score"])
        labels[truth[name]].append(record["label"])
    samples = sorted(scores)
    assert len(samples) == len(OBJECTS)
    s_scores = [max(scores[s]) for s in samples]
    s_labels = [max(labels[s]) for s in samples]
    assert s_labels == [0, 0, 0, 1, 1, 1]
    assert s_scores == pytest.approx([60 / 255, 30 / 255, 70 / 255, 40 / 255, 80 / 255,
                                      55 / 255], abs=1e-6)
    metrics = report["metrics"]
    assert metrics["sample_auroc"] == pytest.approx(5 / 9)
    assert metrics["sample_auroc"] == pytest.approx(ref_auroc(s_labels, s_scores), abs=1e-12)
    assert metrics["sample_ap"] == pytest.approx(ref_ap(s_labels, s_scores), abs=1e-12)
    assert metrics["sample_f1_max"] == pytest.approx(ref_f1_max(s_labels, s_scores), abs=1e-12)
    # the per-view image metrics stay beside them, and differ (18 views, 6 samples)
    v_labels = [r["label"] for r in records]
    v_scores = [r["score"] for r in records]
    assert metrics["image_auroc"] == pytest.approx(ref_auroc(v_labels, v_scores), abs=1e-12)
    assert metrics["image_auroc"] != pytest.approx(metrics["sample_auroc"])
    assert report["dataset"]["resolution"] == "256"


def test_sample_metrics_in_gates_snapshots_and_diffs(tmp_path):
    write_multiview(tmp_path)
    report = evaluate(FakeDetector(), load_dataset("realiad", tmp_path, "toy")).report
    bounds = parse_bounds({"sample_auroc": 0.5, "sample_f1_max": {"max": 1.0}}, where="t")
    assert bounds["sample_auroc"].min == 0.5  # higher is better: a bare number is a minimum
    snapshot = serialize(report)
    assert set(snapshot["metrics"]) >= {"sample_auroc", "sample_ap", "sample_f1_max"}
    moved = {**snapshot, "metrics": {**snapshot["metrics"],
                                     "sample_auroc": snapshot["metrics"]["sample_auroc"] - 0.1}}
    rows = {row.metric: row for row in compare(snapshot, moved, lambda metric: 0.01)}
    assert not rows["sample_auroc"].passed and rows["image_auroc"].passed
    tolerances = parse_tolerances(["sample_auroc=0.2"])
    check_tolerance_names(tolerances, [])  # a known metric name, not a typo
    diff = {row.metric: row for row in compare_metrics(
        snapshot["metrics"], moved["metrics"], tolerances)}
    assert diff["sample_auroc"].status == "within"


def test_sample_id_follows_the_real_iad_pattern():
    assert sample_id("a/audiojack_0001_NG_QS_C3_20231021130216.jpg") == "audiojack_0001_NG_QS"
    assert sample_id("pcb_0123_OK_C5_2023.png") == "pcb_0123_OK"
    assert sample_id("u_block_0002_NG_C1_x.jpg") == "u_block_0002_NG"
    with pytest.raises(DatasetError, match=r"toy_12_OK_C1\.png: no sample id in its name"):
        sample_id("toy_12_OK_C1.png")


def test_a_view_without_sample_id_is_named_at_load_time(tmp_path):
    write_multiview(tmp_path)
    split = tmp_path / "realiad_jsons/realiad_jsons/toy.json"
    data = json.loads(split.read_text())
    old = tmp_path / "realiad_256/toy" / data["test"][0]["image_path"]
    new = old.with_name("view.png")
    old.rename(new)
    data["test"][0]["image_path"] = str(new.relative_to(tmp_path / "realiad_256/toy"))
    split.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"toy\.json: test\[0\]\.image_path: .*view\.png: no "
                       r"sample id"):
        load_dataset("realiad", tmp_path, "toy")


def test_session_summary_shows_the_protocol_metrics_where_items_have_them():
    from pyimgano.summary import ItemRecord, headline_columns, terminal_lines

    plain = ItemRecord("a::x[bottle]", "a", "x", "bottle", metrics={"image_auroc": 0.9})
    realiad = ItemRecord("a::y[toy]", "a", "y", "toy",
                         metrics={"image_auroc": 0.8, "sample_auroc": 0.875})
    ad2 = ItemRecord("a::z[can]", "a", "z", "can", metrics={"image_auroc": 0.7, "seg_f1": 0.25})
    assert headline_columns([plain]) == ["image_auroc"]
    assert headline_columns([plain, realiad, ad2]) == ["image_auroc", "sample_auroc", "seg_f1"]
    lines = terminal_lines([plain, realiad, ad2])
    assert "sample_auroc" in lines[0] and "seg_f1" in lines[0]
    assert "0.8750" in lines[3] and "0.2500" in lines[4]
