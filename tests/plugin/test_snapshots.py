"""Snapshot location, serializer and comparison (pytest_pyimgano.snapshots)."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_pyimgano.snapshots import (
    compare,
    find_snapshot,
    legacy_snapshots,
    migrate_suite_snapshots,
    serialize,
    snapshot_path,
    tolerance_warnings,
)
from tests.core.test_report import make_report


def snapshot(**metrics):
    return {"metrics": metrics, "n_test": 10, "n_anomalous": 4, "environment": {"torch": "x"}}


def test_location():
    path = snapshot_path(Path("/r/suites/release.yaml"), "patchcore-wrn50", "bottle")
    assert path == Path("/r/suites/__pyimgano_snapshots__/release/patchcore-wrn50/bottle.json")


def test_serialize_keeps_metrics_and_counts_never_speed():
    report = make_report()
    report.metrics["ms_per_image"] = 3.0  # even if a speed value were in metrics
    data = serialize(report)
    assert set(data) == {"schema_version", "kind", "metrics", "n_test", "n_anomalous",
                         "environment"}
    assert "ms_per_image" not in data["metrics"] and data["metrics"]["image_ap"] is None
    assert (data["n_test"], data["n_anomalous"]) == (3, 1)


def test_compare_tolerance_nulls_and_counts():
    stored = snapshot(a=0.95, b=None, c=0.5, gone=0.1)
    current = snapshot(a=0.952, b=None, c=None, new=0.3)
    current["n_test"] = 11
    rows = {r.metric: r for r in compare(stored, current, lambda m: 0.002)}
    assert rows["a"].passed and abs(rows["a"].delta - 0.002) < 1e-12  # |Δ| == tolerance passes
    assert rows["b"].passed                                            # null on both sides
    assert not rows["c"].passed and rows["c"].note == "null on one side only"
    assert not rows["gone"].passed and rows["gone"].note == "no longer computed"
    assert not rows["new"].passed and rows["new"].note == "not in the snapshot"
    assert not rows["n_test"].passed and rows["n_anomalous"].passed
    exact = {r.metric: r for r in compare(snapshot(a=0.5), snapshot(a=0.5 + 1e-16),
                                          lambda m: 0.0)}
    assert not exact["a"].passed  # tolerance 0 means exact


def test_tolerance_warning_only_between_zero_and_the_step():
    resolution = {"image_auroc": 0.01}  # a report's resolution object
    assert tolerance_warnings(resolution, lambda m: 0.0) == []
    assert tolerance_warnings(resolution, lambda m: 0.01) == []
    assert tolerance_warnings({}, lambda m: 0.002) == []  # undefined AUROC: no resolution
    (message,) = tolerance_warnings(resolution, lambda m: 0.002)
    assert "0.002 for image_auroc is below its resolution 0.01 (resolution.image_auroc" in message


def _write(path: Path, kind: str = "pyimgano-snapshot") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"kind": kind, "metrics": {}}), encoding="utf-8")
    return path


def test_old_place_is_read_and_migrated_without_touching_syrupy_files(tmp_path):
    suite = tmp_path / "release.yaml"
    suite.write_text("pyimgano_suite: 1\n")
    old = _write(tmp_path / "__snapshots__" / "release" / "m" / "bottle.json")
    syrupy_json = _write(tmp_path / "__snapshots__" / "release" / "m" / "cable.json", "other")
    amber = tmp_path / "__snapshots__" / "test_values.ambr"
    amber.write_text("# syrupy\n")
    new = tmp_path / "__pyimgano_snapshots__" / "release" / "m" / "bottle.json"

    assert find_snapshot(suite, "m", "bottle") == (old, True)
    assert find_snapshot(suite, "m", "nothing") == (snapshot_path(suite, "m", "nothing"), False)
    assert legacy_snapshots(suite) == [old]
    assert migrate_suite_snapshots(suite) == [new]
    assert new.is_file() and not old.exists()
    assert syrupy_json.is_file() and amber.is_file()  # not ours: never moved
    assert find_snapshot(suite, "m", "bottle") == (new, False)
    assert migrate_suite_snapshots(suite) == []


def test_new_place_wins_over_the_old(tmp_path):
    suite = tmp_path / "release.yaml"
    old = _write(tmp_path / "__snapshots__" / "release" / "m" / "bottle.json")
    new = _write(snapshot_path(suite, "m", "bottle"))
    new.write_text(json.dumps({"kind": "pyimgano-snapshot", "metrics": {"a": 1}}), "utf-8")
    assert find_snapshot(suite, "m", "bottle") == (new, False)
    migrate_suite_snapshots(suite)
    assert not old.exists() and json.loads(new.read_text("utf-8"))["metrics"] == {"a": 1}
    assert not (tmp_path / "__snapshots__").exists()  # emptied old folders are removed


DEMO_SNAPSHOTS = Path(__file__).resolve().parents[2] / "suites" / "__pyimgano_snapshots__" / "demo"


def test_snapshots_written_before_report_1_2_still_match(tmp_path):
    """Committed snapshots hold ``image_borderline`` and ``image_auroc_step`` among their
    metrics (a count and a resolution, not metrics since report schema 1.2): reading ignores
    them, so a report with the same metrics matches, and the file is not rewritten."""
    from pytest_pyimgano.snapshots import read_snapshot

    files = sorted(DEMO_SNAPSHOTS.glob("*/*.json"))
    assert files, DEMO_SNAPSHOTS
    for path in files:
        raw = json.loads(path.read_text("utf-8"))
        assert {"image_borderline", "image_auroc_step"} <= set(raw["metrics"]), path
        stored = read_snapshot(path)
        expected = {k: v for k, v in raw["metrics"].items()
                    if k not in ("image_borderline", "image_auroc_step")}
        assert stored["metrics"] == expected
        report = make_report(metrics=dict(expected))
        report.dataset.update(n_test=raw["n_test"], n_anomalous=raw["n_anomalous"])
        current = serialize(report)
        assert "image_borderline" not in current["metrics"]
        rows = compare(stored, current, lambda m: 0.0)
        assert all(row.passed for row in rows), [r for r in rows if not r.passed]
        assert json.loads(path.read_text("utf-8")) == raw  # reading never rewrites


def test_serialize_never_snapshots_resources_or_side_values():
    report = make_report()
    report.metrics["image_borderline"] = 0.0  # as a report before 1.2 would have had it
    data = serialize(report)
    assert "image_borderline" not in data["metrics"]
    assert "resources" not in data and "decision" not in data
