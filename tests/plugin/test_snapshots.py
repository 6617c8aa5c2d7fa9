"""Snapshot location, serializer and comparison (pytest_pyimgano.snapshots)."""

from __future__ import annotations

from pathlib import Path

from pytest_pyimgano.snapshots import (
    compare,
    is_suite_snapshot,
    serialize,
    snapshot_path,
    tolerance_warnings,
)
from tests.core.test_report import make_report


def snapshot(**metrics):
    return {"metrics": metrics, "n_test": 10, "n_anomalous": 4, "environment": {"torch": "x"}}


def test_location():
    path = snapshot_path(Path("/r/suites/release.yaml"), "patchcore-wrn50", "bottle")
    assert path == Path("/r/suites/__snapshots__/release/patchcore-wrn50/bottle.json")


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
    metrics = {"image_auroc": 0.9, "image_auroc_step": 0.01}
    assert tolerance_warnings(metrics, lambda m: 0.0) == []
    assert tolerance_warnings(metrics, lambda m: 0.01) == []
    (message,) = tolerance_warnings(metrics, lambda m: 0.002)
    assert "0.002 for image_auroc is below its resolution image_auroc_step=0.01" in message


def test_is_suite_snapshot(tmp_path):
    (tmp_path / "release.yaml").write_text("pyimgano_suite: 1\n")
    (tmp_path / "other.yaml").write_text("a: 1\n")
    snaps = tmp_path / "__snapshots__"
    assert is_suite_snapshot(snaps / "release" / "m" / "bottle.json")
    assert not is_suite_snapshot(snaps / "other" / "m" / "bottle.json")
    assert not is_suite_snapshot(snaps / "release" / "m" / "bottle.ambr")
    assert not is_suite_snapshot(snaps / "release" / "bottle.json")
    assert not is_suite_snapshot(snaps / "test_release.ambr")
