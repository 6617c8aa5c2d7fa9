"""Report schema 1.2 (docs/REFERENCE.md §5, §6): ``metrics`` holds metrics only; ``resolution``,
``decision`` and ``resources`` beside it; older reports and snapshots still read.

Expected values are computed here from their definitions (the borderline count from the
scores, the resolution from the labels), never taken from the code under test.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from pyimgano.datasets import load_dataset
from pyimgano.datasets.synthetic import generate
from pyimgano.errors import ReportError, SuiteError
from pyimgano.evaluation import evaluate
from pyimgano.gates import check_bounds, parse_bounds
from pyimgano.models.base import Batch, Detector, ModelDescription
from pyimgano.outputs import to_prediction
from pyimgano.report import (
    SCHEMA_VERSION,
    upgrade_report,
    validate_report,
    write_report,
)
from pyimgano.resources import PeakMemory
from tests.core.test_report import make_report

CATEGORY = "tiles"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate(root, categories=(CATEGORY,), seed=0, size=32)
    return load_dataset("mvtec", root, CATEGORY)


class Scripted(Detector):
    """Scores from a list (in the dataset's order); ``pred_label = score >= 0.5`` if labelled.

    ``normalized`` is what :meth:`describe` says of ``outputs_normalized`` (True: anomalib's
    normalised scores, whose threshold is 0.5). ``hold_mb`` MiB are kept alive while it
    predicts (a memory-hungry model).
    """

    def __init__(self, scores: Sequence[float], *, normalized: bool | None, labels: bool,
                 hold_mb: int = 0) -> None:
        self.scores = list(scores)
        self.normalized = normalized
        self.labels = labels
        self.hold_mb = hold_mb
        self.load_seconds = 0.001

    def predict(self, image_paths: Sequence[Path], *, batch_size: int) -> Iterator[Batch]:
        held = np.ones(self.hold_mb * 1024 * 1024 // 8) if self.hold_mb else None
        for start in range(0, len(image_paths), batch_size):
            indices = tuple(range(start, min(start + batch_size, len(image_paths))))
            outputs = []
            for i in indices:
                output = {"pred_score": np.float64(self.scores[i])}
                if self.labels:
                    output["pred_label"] = self.scores[i] >= 0.5
                outputs.append(to_prediction(output, image=str(image_paths[i])))
            yield Batch(indices, tuple(outputs), 0.001)
        del held

    def describe(self) -> ModelDescription:
        return ModelDescription(checkpoint="scripted", outputs_normalized=self.normalized,
                                device="cpu", threads=1)


def _scores(dataset) -> list[float]:
    """Anomalous images score above normal ones; two sit within 1e-6 of 0.5, one just beyond."""
    scores = [0.9 if s.label else 0.1 for s in dataset]
    scores[0], scores[1], scores[-1] = 0.5 + 1e-7, 0.5 - 5e-7, 0.5 + 2e-6
    return scores


# -- metrics hold metrics only --------------------------------------------------------------------


def test_counts_and_resolutions_are_beside_the_metrics(dataset):
    scores = _scores(dataset)
    report = evaluate(Scripted(scores, normalized=True, labels=True), dataset).report
    data = report.to_dict()
    validate_report(data)
    assert data["schema_version"] == SCHEMA_VERSION == "1.2"
    assert "image_borderline" not in data["metrics"]
    assert "image_auroc_step" not in data["metrics"]
    labels = [s.label for s in dataset]
    n_pos, n_neg = sum(labels), len(labels) - sum(labels)
    assert data["resolution"] == {"image_auroc": 1 / (n_pos * n_neg)}
    borderline = sum(abs(s - 0.5) <= 1e-6 for s in scores)
    assert borderline == 2
    assert data["decision"] == {"borderline": borderline, "threshold": 0.5,
                                "threshold_source": "checkpoint", "notes": {}}
    assert isinstance(data["decision"]["borderline"], int)


@pytest.mark.parametrize(("labels", "source"), [(True, "pred_label"), (False, None)])
def test_no_known_threshold_gives_a_null_borderline_with_a_reason(dataset, labels, source):
    report = evaluate(Scripted(_scores(dataset), normalized=None, labels=labels), dataset).report
    validate_report(report.to_dict())
    decision = report.decision
    assert decision["borderline"] is None and decision["threshold_source"] == source
    assert "threshold" in decision["notes"]["borderline"]
    assert "image_borderline" not in report.metrics


def test_one_class_has_no_resolution(dataset):
    normal = dataclasses.replace(dataset, samples=tuple(s for s in dataset if s.label == 0))
    report = evaluate(Scripted([0.2] * len(normal), normalized=True, labels=True), normal).report
    assert report.resolution == {}
    assert report.metrics["image_auroc"] is None and report.metric_notes["image_auroc"]
    validate_report(report.to_dict())


def test_schema_refuses_counts_in_metrics_and_nulls_without_reasons(tmp_path):
    good = make_report().to_dict()
    validate_report(good)
    for edit, where in (
        (lambda d: d["metrics"].update(image_borderline=0.0), "metrics"),
        (lambda d: d["metrics"].update(image_auroc_step=0.01), "metrics"),
        (lambda d: d["resources"]["notes"].pop("params"), "resources"),
        (lambda d: d["decision"]["notes"].pop("borderline"), "decision"),
        (lambda d: d.pop("resources"), "top level"),
        (lambda d: d.pop("decision"), "top level"),
        (lambda d: d.pop("resolution"), "top level"),
        (lambda d: d["resources"].update(params=1.5), "resources"),
    ):
        data = copy.deepcopy(good)
        edit(data)
        with pytest.raises(ReportError, match=where):
            validate_report(data)


# -- older reports ---------------------------------------------------------------------------------


def _report_1_1() -> dict:
    data = make_report().to_dict()
    for key in ("resolution", "decision", "resources"):
        del data[key]
    data["schema_version"] = "1.1"
    data["metrics"].update(image_borderline=None, image_auroc_step=0.25, auspro_0_05=None)
    data["metric_notes"]["image_borderline"] = "the checkpoint's decision threshold is not known"
    data["metrics_by_defect"] = {
        "logical_anomalies": {"image_auroc": 1.0, "image_ap": 1.0, "auspro_0.05": None},
        "structural_anomalies": {"image_auroc": 0.5, "image_ap": 0.7, "auspro_0.05": 0.25},
    }
    data["metric_notes"]["metrics_by_defect.logical_anomalies.auspro_0.05"] = "no defect"
    return data


def test_a_1_1_report_is_read_in_the_1_2_layout():
    old = _report_1_1()
    before = copy.deepcopy(old)
    new = upgrade_report(old)
    assert old == before  # a copy: the input is untouched
    assert "image_borderline" not in new["metrics"] and "image_auroc_step" not in new["metrics"]
    assert new["decision"] == {
        "borderline": None,
        "notes": {"borderline": "the checkpoint's decision threshold is not known"},
    }
    assert new["resolution"] == {"image_auroc": 0.25}
    assert new["metrics_by_defect"] == {
        "logical_anomalies": {"image_auroc": 1.0, "image_ap": 1.0},
        "structural_anomalies": {"image_auroc": 0.5, "image_ap": 0.7},
    }
    assert new["metrics_by_defect_type"] == {
        "logical_anomalies": {"auspro_0.05": None},
        "structural_anomalies": {"auspro_0.05": 0.25},
    }
    assert new["metric_notes"] == {
        "image_ap": "only one class",
        "image_miss_rate": "no pred_label",
        "metrics_by_defect_type.logical_anomalies.auspro_0.05": "no defect",
    }
    counted = upgrade_report({"metrics": {"image_auroc": 0.9, "image_borderline": 3.0}})
    assert counted == {"metrics": {"image_auroc": 0.9}, "decision": {"borderline": 3}}
    current = make_report().to_dict()
    assert upgrade_report(current) == current


# -- resources -------------------------------------------------------------------------------------


def test_resources_of_a_model_without_torch_module(dataset):
    report = evaluate(Scripted(_scores(dataset), normalized=True, labels=True), dataset).report
    resources = report.resources
    assert resources["params"] is None and resources["flops_per_image"] is None
    assert "no torch module" in resources["notes"]["params"]
    assert resources["peak_device_mb"] is None
    assert "ran on cpu" in resources["notes"]["peak_device_mb"]
    if sys.platform.startswith("linux"):
        import resource

        process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert 0 < resources["peak_rss_mb"] <= process_peak + 1
        assert "peak_rss_mb" not in resources["notes"]  # VmHWM: the item's own peak


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only")
def test_peak_memory_is_each_items_own(dataset):
    """A first item holding 300 MiB must not raise a second item's peak (ru_maxrss would)."""
    scores = _scores(dataset)
    hungry = evaluate(Scripted(scores, normalized=True, labels=True, hold_mb=300), dataset)
    lean = evaluate(Scripted(scores, normalized=True, labels=True), dataset)
    big, small = hungry.report.resources["peak_rss_mb"], lean.report.resources["peak_rss_mb"]
    assert big - small > 250, (big, small)


def test_peak_memory_falls_back_to_ru_maxrss_with_a_note(monkeypatch):
    import pyimgano.resources as resources

    monkeypatch.setattr(resources, "_CLEAR_REFS", "/nonexistent/clear_refs")
    memory = PeakMemory.start()
    value, note = memory.host_mb()
    if sys.platform.startswith("linux"):
        import resource

        assert value == resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        assert "ru_maxrss" in note and "earlier items" in note
    else:  # pragma: no cover - the project is tested on Linux
        assert note


def test_written_report_keeps_resources_and_its_notes(tmp_path, dataset):
    evaluation = evaluate(Scripted(_scores(dataset), normalized=True, labels=True), dataset)
    path = write_report(evaluation.report, tmp_path / "r.json")
    data = json.loads(path.read_text("utf-8"))
    assert set(data["resources"]) == {"peak_rss_mb", "peak_device_mb", "params",
                                      "flops_per_image", "notes"}
    assert data["resources"]["notes"]["flops_per_image"]


# -- resource gates --------------------------------------------------------------------------------


def test_params_and_peak_memory_gates_bound_from_above():
    bounds = parse_bounds({"params": 1000, "peak_rss_mb": 512.0, "peak_device_mb": 100},
                          where="s.yaml: thresholds")
    assert all(b.min is None for b in bounds.values())
    assert (bounds["params"].max, bounds["peak_rss_mb"].max) == (1000, 512.0)
    report = make_report()
    report.resources = {"peak_rss_mb": 600.0, "peak_device_mb": None, "params": 999,
                        "flops_per_image": 10,
                        "notes": {"peak_device_mb": "the model ran on cpu: no device memory"}}
    rows = {row.metric: row for row in check_bounds(report, bounds)}
    assert rows["params"].passed and rows["params"].value == 999
    assert not rows["peak_rss_mb"].passed and rows["peak_rss_mb"].value == 600.0
    assert not rows["peak_device_mb"].passed  # a null never passes
    assert rows["peak_device_mb"].reason == "the model ran on cpu: no device memory"
    assert report.thresholds["peak_rss_mb"] == {"max": 512.0, "value": 600.0, "passed": False}
    validate_report(report.to_dict())
    with pytest.raises(SuiteError, match="flops_per_image"):
        parse_bounds({"flops_per_image": 1}, where="s.yaml: thresholds")


def test_old_gate_names_read_the_values_beside_the_metrics():
    report = make_report()
    report.decision = {"borderline": 2, "threshold": 0.5, "threshold_source": "checkpoint",
                       "notes": {}}
    report.resolution = {"image_auroc": 0.05}
    rows = {r.metric: r for r in check_bounds(report, parse_bounds(
        {"image_borderline": 1, "image_auroc_step": 0.1}, where="s.yaml: thresholds"))}
    assert (rows["image_borderline"].value, rows["image_borderline"].passed) == (2, False)
    assert (rows["image_auroc_step"].value, rows["image_auroc_step"].passed) == (0.05, True)


def test_resource_keys_are_never_snapshot_tolerances():
    from pytest_pyimgano.suite_gates import parse_tolerance

    assert parse_tolerance({"tolerance": {"image_auroc": 0.01}}, "s.yaml", "defaults.snapshot")
    for key in ("params", "peak_rss_mb", "peak_device_mb"):
        with pytest.raises(SuiteError, match=f"{key}: resource values are never snapshotted"):
            parse_tolerance({"tolerance": {key: 1}}, "s.yaml", "defaults.snapshot")


# -- the session summary ---------------------------------------------------------------------------


def test_summary_shows_peak_memory_per_item(tmp_path):
    from pyimgano.summary import ItemRecord, markdown, terminal_lines

    records = [
        ItemRecord("s.yaml::m[a]", "s.yaml", "m", "a", metrics={"image_auroc": 0.9},
                   resources={"peak_rss_mb": 1234.4, "peak_device_mb": None}),
        ItemRecord("s.yaml::m[b]", "s.yaml", "m", "b", metrics={"image_auroc": 0.8}),
    ]
    lines = terminal_lines(records)
    assert "peak MB" in lines[0] and "device MB" not in lines[0]
    assert "1234" in lines[2] and lines[3].split()[-2] == "-"
    text = markdown(records, tmp_path)
    assert "| peak MB |" in text and "| 1234 |" in text
    item = records[0].to_dict(tmp_path)
    assert item["resources"] == {"peak_rss_mb": 1234.4, "peak_device_mb": None}
    assert ItemRecord.from_dict(item).resources == item["resources"]
    assert "resources" not in records[1].to_dict(tmp_path)
    plain = terminal_lines([records[1]])
    assert "peak MB" not in plain[0]



class TinyTorch(Scripted):
    """A scripted detector holding a real torch module (one 3→4 3×3 convolution) on ``device``;
    while predicting it keeps ``hold_mb`` MiB on that device."""

    def __init__(self, scores, device: str, hold_mb: int = 0) -> None:
        import torch

        super().__init__(scores, normalized=True, labels=True)
        self.device = device
        self.module = torch.nn.Conv2d(3, 4, kernel_size=3).to(device).eval()
        self.hold_device_mb = hold_mb

    def predict(self, image_paths, *, batch_size):
        import torch

        held = torch.ones(self.hold_device_mb * 1024 * 1024 // 4, device=self.device)
        yield from super().predict(image_paths, batch_size=batch_size)
        del held

    def describe(self) -> ModelDescription:
        return ModelDescription(checkpoint="tiny", outputs_normalized=True, device=self.device,
                                runtime="torch")


def _devices() -> list:
    torch = pytest.importorskip("torch")
    return ["cpu", pytest.param("cuda:0", marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA device"))]


@pytest.mark.parametrize("device", _devices())
def test_resources_of_a_tiny_torch_model(dataset, device):
    from PIL import Image

    report = evaluate(TinyTorch(_scores(dataset), device, hold_mb=64), dataset).report
    resources = report.resources
    validate_report(report.to_dict())
    assert resources["params"] == 4 * 3 * 3 * 3 + 4  # weights + biases
    width, height = Image.open(dataset[0].image_path).size
    # a convolution's FLOPs: 2 (multiply, add) per weight per output pixel, as torch counts
    out_pixels = 4 * (height - 2) * (width - 2)
    assert resources["flops_per_image"] == 2 * out_pixels * 3 * 3 * 3
    if device == "cpu":
        assert resources["peak_device_mb"] is None
        assert resources["notes"]["peak_device_mb"] == "the model ran on cpu: no device memory"
    else:
        assert resources["peak_device_mb"] >= 64
        assert "peak_device_mb" not in resources["notes"]


def test_device_memory_outside_torch_is_not_guessed():
    memory = PeakMemory(host_source=None, host_note="none here")
    assert memory.host_mb() == (None, "none here")
    value, reason = memory.device_mb("cuda:0", "onnxruntime")
    assert value is None and "onnxruntime allocates device memory outside torch" in reason
    value, reason = memory.device_mb(None, "torch")
    assert value is None and "does not say which device" in reason


def test_flops_are_counted_once_per_module_and_input_size(dataset):
    detector = TinyTorch(_scores(dataset), "cpu")
    forwards = []
    detector.module.register_forward_pre_hook(lambda m, args: forwards.append(args[0].shape))
    first = evaluate(detector, dataset).report.resources["flops_per_image"]
    second = evaluate(detector, dataset).report.resources["flops_per_image"]
    assert first == second > 0
    assert len(forwards) == 1  # Scripted never calls the module: this is the counting pass
