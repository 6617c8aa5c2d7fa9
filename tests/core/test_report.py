"""Reports (docs/REFERENCE.md §6): strict JSON, sorted keys, atomic writes, schema."""

from __future__ import annotations

import json
import os

import pytest

from pyimgano.errors import ReportError
from pyimgano.report import Report, dumps, read_report, records_path, validate_report, write_report


def make_report(**overrides) -> Report:
    fields = dict(
        metrics={
            "image_auroc": 0.1 + 0.2,  # 0.30000000000000004: floats are written as produced
            "image_ap": None,
            "image_f1_max": 1.0,
            "image_miss_rate": None,
            "image_false_reject_rate": None,
        },
        metric_notes={"image_ap": "only one class", "image_miss_rate": "no pred_label"},
        metrics_by_defect={"crack": {"image_auroc": 1.0, "image_ap": 1.0}},
        model={
            "name": "m",
            "checkpoint": "c.pt",
            "checkpoint_sha256": "a" * 64,
            "kwargs": {"device": "cpu"},
            "outputs_normalized": True,
            "saturated_fraction": 0.0,
        },
        dataset={
            "format": "mvtec",
            "root": "/d",
            "category": "bottle",
            "n_test": 3,
            "n_anomalous": 1,
            "fingerprint": "b" * 64,
        },
        timing={
            "load_s": 0.1, "inference_s": 0.2, "metrics_s": 0.0, "total_s": 0.3,
            "images_per_s": None, "ms_per_image": None,
        },
        environment={
            "pyimgano": "0.1.0", "anomalib": None, "torch": None, "torchvision": None,
            "python": "3.11.7", "device": "cpu", "gpu": None, "cuda": None, "threads": 2,
            "batch_size": 16, "workers": 1,
        },
        records=[{"path": "ü.png", "label": 1, "defect": "crack", "score": 0.5,
                  "pred_label": None}],
    )
    fields.update(overrides)
    return Report(**fields)


def test_written_report_is_strict_sorted_and_validates(tmp_path):
    path = write_report(make_report(), tmp_path / "sub" / "r.json")
    text = path.read_text("utf-8")
    assert text.endswith("\n")
    data = json.loads(text)
    validate_report(data)
    assert list(data) == sorted(data)
    assert data["metrics"]["image_auroc"] == 0.30000000000000004
    assert data["item"] is None
    lines = records_path(path).read_text("utf-8").splitlines()
    assert [json.loads(line)["path"] for line in lines] == ["ü.png"]
    assert sorted(os.listdir(path.parent)) == ["r.json", "r.jsonl"]  # no temp files left


def test_nan_is_refused_and_nothing_is_written(tmp_path):
    report = make_report()
    report.metrics["image_auroc"] = float("nan")
    with pytest.raises(ReportError, match=r"\$\.metrics\.image_auroc is nan"):
        write_report(report, tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []


def test_schema_violation_is_refused(tmp_path):
    report = make_report()
    del report.model["checkpoint_sha256"]
    with pytest.raises(ReportError, match="model.*checkpoint_sha256"):
        write_report(report, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = write_report(make_report(), tmp_path / "r.json")
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", explode)
    report = make_report()
    report.metrics["image_f1_max"] = 0.5
    with pytest.raises(KeyboardInterrupt):
        write_report(report, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.jsonl"]


def _fail_second_replace(monkeypatch, error: BaseException) -> list[tuple[str, str]]:
    """``os.replace`` works once, then raises ``error`` (the report's rename after the
    JSONL's); later calls (putting things back) work again. Returns the calls."""
    real = os.replace
    calls: list[tuple[str, str]] = []

    def replace(src, dst, *args, **kwargs):
        calls.append((os.fspath(src), os.fspath(dst)))
        if len(calls) == 2:
            raise error
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_second_rename_keeps_the_old_pair(tmp_path, monkeypatch, error):
    """The report and its JSONL are written all or nothing: when the report's rename fails
    after the JSONL's, the old JSONL is put back beside the old report."""
    path = write_report(make_report(), tmp_path / "r.json")
    old_report, old_records = path.read_bytes(), records_path(path).read_bytes()
    report = make_report()
    report.metrics["image_f1_max"] = 0.5
    report.records = [{"path": "new.png", "label": 0, "defect": "good", "score": 0.1,
                       "pred_label": 0}]
    calls = _fail_second_replace(monkeypatch, error)
    with pytest.raises(type(error)):
        write_report(report, path)
    assert [os.path.basename(dst) for _, dst in calls[:2]] == ["r.jsonl", "r.json"]
    assert path.read_bytes() == old_report
    assert records_path(path).read_bytes() == old_records
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.jsonl"]


def test_failed_second_rename_of_a_first_write_leaves_nothing(tmp_path, monkeypatch):
    """No earlier pair: a failed report rename removes the JSONL it had already put there."""
    _fail_second_replace(monkeypatch, OSError(5, "Input/output error"))
    with pytest.raises(OSError):
        write_report(make_report(), tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []


def test_dumps_is_stable():
    expected = '{\n  "a": [\n    1.5,\n    null\n  ],\n  "b": 1\n}\n'
    assert dumps({"b": 1, "a": [1.5, None]}) == expected


def test_read_report_errors_name_the_file(tmp_path):
    with pytest.raises(ReportError, match="missing.json: no such report"):
        read_report(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match="bad.json: not a readable JSON"):
        read_report(bad)
    listy = tmp_path / "list.json"
    listy.write_text("[]")
    with pytest.raises(ReportError, match="list.json: expected a JSON object"):
        read_report(listy)


def test_written_files_get_the_usual_mode(tmp_path):
    import stat

    mask = os.umask(0o022)
    try:
        path = write_report(make_report(), tmp_path / "r.json")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(records_path(path).stat().st_mode) == 0o644
