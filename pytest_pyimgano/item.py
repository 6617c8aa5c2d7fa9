"""What one suite item does, without pytest: run → report → gates → snapshot → result.

:func:`run_item` is the body of ``CaseItem.runtest``: it calls the shared runner
(:func:`pyimgano.runner.run_case`), fills ``report.item``, checks the merged bounds
(:func:`pyimgano.gates.check_bounds`), writes report + JSONL + plots
(:func:`pyimgano.artifacts.write_evaluation`) and compares or updates the snapshot.
:func:`failure_text` renders the SPEC §8 table of a failed item.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyimgano.errors import GateFailure
from pyimgano.gates import TIMING_METRICS, GateRow
from pytest_pyimgano import snapshots
from pytest_pyimgano.suite import ItemSpec

#: snapshot states; the first two fail the item.
SNAPSHOT_MISSING = "missing"
SNAPSHOT_CHANGED = "changed"
SNAPSHOT_MATCHED = "matched"
SNAPSHOT_CREATED = "created"
SNAPSHOT_UPDATED = "updated"


class SpeedGateWarning(UserWarning):
    """A speed gate checked while several xdist workers shared the machine (SPEC §8)."""


@dataclass(frozen=True)
class SnapshotCheck:
    """Outcome of the snapshot step."""

    path: Path
    state: str
    rows: tuple[snapshots.SnapshotRow, ...] = ()
    stored_environment: Mapping[str, Any] | None = None

    @property
    def passed(self) -> bool:
        return self.state not in (SNAPSHOT_MISSING, SNAPSHOT_CHANGED)


@dataclass
class ItemResult:
    """What :func:`run_item` produced for one item."""

    report: Any
    report_path: Path
    gate_rows: list[GateRow]
    snapshot: SnapshotCheck
    plots: list[Path] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.snapshot.passed and all(row.passed for row in self.gate_rows)


def report_path_for(report_dir: Path, suite_rel: Path, item_id: str, category: str) -> Path:
    """``<report-dir>/<suite path from rootdir, suffix dropped>/<id>/<category>.json``."""
    return report_dir / suite_rel.with_suffix("") / item_id / f"{category}.json"


def check_snapshot(
    spec: ItemSpec, report: Any, *, update: bool = False, new_only: bool = False
) -> SnapshotCheck:
    """Compare ``report`` with the item's snapshot; write it when updating.

    ``update`` (``--snapshot-update``) writes a missing snapshot and rewrites one that no
    longer matches; one within tolerance is left untouched so the file does not churn.
    ``new_only`` (``--snapshot-update-new-only``) writes missing snapshots only.
    """
    path = snapshots.snapshot_path(spec.suite.path, spec.id, spec.category)
    current = snapshots.serialize(report)
    stored = snapshots.read_snapshot(path)
    if stored is None:
        if update or new_only:
            snapshots.write_snapshot(path, current)
            return SnapshotCheck(path, SNAPSHOT_CREATED)
        return SnapshotCheck(path, SNAPSHOT_MISSING)
    rows = tuple(snapshots.compare(stored, current, spec.tolerance.for_metric))
    environment = stored.get("environment") if isinstance(stored.get("environment"), dict) else {}
    if all(row.passed for row in rows):
        return SnapshotCheck(path, SNAPSHOT_MATCHED, rows, environment)
    if update:
        snapshots.write_snapshot(path, current)
        return SnapshotCheck(path, SNAPSHOT_UPDATED, rows, environment)
    return SnapshotCheck(path, SNAPSHOT_CHANGED, rows, environment)


def run_item(
    spec: ItemSpec,
    *,
    nodeid: str,
    report_path: Path,
    device: str | None = None,
    plots: bool = True,
    update_snapshots: bool = False,
    update_new_snapshots_only: bool = False,
) -> ItemResult:
    """Evaluate one item; raises what the runner raises (a PyImganoError on bad input)."""
    from pyimgano.artifacts import write_evaluation
    from pyimgano.gates import check_bounds
    from pyimgano.runner import run_case

    assert spec.case is not None, "placeholder items are not run"
    case = spec.case if device is None else dataclasses.replace(spec.case, device=device)
    evaluation = run_case(case)
    report = evaluation.report
    report.item = {
        "suite": spec.suite.source,
        "id": spec.id,
        "nodeid": nodeid,
        "category": spec.category,
    }
    snapshots.warn_tolerances(
        report.metrics, spec.tolerance.for_metric, suite_path=spec.suite.path
    )
    gate_rows = check_bounds(report, spec.bounds)
    warn_shared_speed_gates(spec, report)
    path = write_evaluation(evaluation, report_path, plots=plots)
    snapshot = check_snapshot(
        spec, report, update=update_snapshots, new_only=update_new_snapshots_only
    )
    return ItemResult(report, path, gate_rows, snapshot, plot_files(path))


def warn_shared_speed_gates(spec: ItemSpec, report: Any) -> None:
    """Speed gates are valid only with one worker per device: warn when workers ran in parallel."""
    speed = sorted(m for m in spec.bounds if m in TIMING_METRICS)
    workers = report.environment.get("workers") or 1
    if speed and workers > 1:
        warnings.warn_explicit(
            SpeedGateWarning(
                f"{spec.name}: speed gate(s) {', '.join(speed)} checked with {workers} xdist "
                "workers; speed gates are valid only with one worker per device"
            ),
            SpeedGateWarning, str(spec.suite.path), 0,
        )


def plot_files(report_path: Path) -> list[Path]:
    """Image files written beside a report for it (``<category>*.png|.svg|.jpg``)."""
    stem = report_path.stem
    found = []
    if report_path.parent.is_dir():
        for candidate in sorted(report_path.parent.iterdir()):
            name = candidate.name
            if candidate.suffix.lower() not in (".png", ".svg", ".jpg", ".jpeg"):
                continue
            if name.startswith(f"{stem}.") or name.startswith(f"{stem}_") or name.startswith(
                f"{stem}-"
            ):
                found.append(candidate)
    return found


def user_properties(result: ItemResult) -> list[tuple[str, Any]]:
    """``(name, value)`` pairs for ``item.user_properties`` (and so ``--junitxml``)."""
    report = result.report
    properties: list[tuple[str, Any]] = [
        ("pyimgano_report", str(result.report_path)),
        ("pyimgano_device", describe_environment(report.environment)),
        ("pyimgano_snapshot", result.snapshot.state),
        ("pyimgano_thresholds", json.dumps(report.thresholds, sort_keys=True)),
    ]
    properties.extend((name, value) for name, value in sorted(report.metrics.items()))
    return properties


# ------------------------------------------------------------------------------------------
# the failure table


def _num(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}"


def _delta(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4g}"


def failure_rows(result: ItemResult) -> list[dict[str, Any]]:
    """One row per checked metric (gates ∪ snapshot), as ``GateFailure.rows`` holds them."""
    by_metric: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def row(metric: str) -> dict[str, Any]:
        if metric not in by_metric:
            order.append(metric)
            by_metric[metric] = {
                "metric": metric, "value": None, "bound": None, "snapshot": None,
                "delta": None, "tolerance": None, "passed": True, "reason": None,
                "snapshot_checked": False,
            }
        return by_metric[metric]

    for gate in result.gate_rows:
        entry = row(gate.metric)
        entry.update(value=gate.value, bound=gate.bound.describe(), passed=gate.passed,
                     reason=gate.reason)
    for snap in result.snapshot.rows:
        entry = row(snap.metric)
        if entry["bound"] is None:
            entry["value"] = snap.current
        entry.update(snapshot=snap.stored, delta=snap.delta, tolerance=snap.tolerance,
                     snapshot_checked=True)
        entry["passed"] = entry["passed"] and snap.passed
        if snap.note and not snap.passed:
            entry["reason"] = snap.note if entry["reason"] is None else entry["reason"]
        if entry["reason"] is None and snap.current is None and snap.metric in (
            result.report.metric_notes
        ):
            entry["reason"] = result.report.metric_notes[snap.metric]
    return [by_metric[m] for m in order]


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in body)]


def _environment(environment: Mapping[str, Any] | None) -> str:
    if not environment:
        return "(not recorded)"
    return ", ".join(f"{k}={environment[k]}" for k in sorted(environment))


def _environment_changes(
    stored: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> str:
    stored = stored or {}
    changes = [
        f"{key} {stored.get(key)} -> {current.get(key)}"
        for key in sorted(set(stored) | set(current))
        if stored.get(key) != current.get(key)
    ]
    return "; ".join(changes) or "none"


def headline(name: str, result: ItemResult, rows: Sequence[Mapping[str, Any]]) -> str:
    """The first line of a failure: what failed, in one line."""
    if result.snapshot.state == SNAPSHOT_MISSING:
        failed_gates = [r["metric"] for r in rows if not r["passed"]]
        extra = f"; gates failed: {', '.join(failed_gates)}" if failed_gates else ""
        return (
            f"{name}: no snapshot at {result.snapshot.path}; run pytest with "
            f"--snapshot-update to record it{extra}"
        )
    failed = [r["metric"] for r in rows if not r["passed"]]
    return f"{name}: {len(failed)} of {len(rows)} checks failed: {', '.join(failed)}"


def failure_text(name: str, result: ItemResult) -> tuple[str, list[dict[str, Any]]]:
    """The failure message (headline, table, null reasons, environments) and its rows."""
    rows = failure_rows(result)
    lines = [headline(name, result, rows), ""]
    body = []
    for r in rows:
        checked = r["snapshot_checked"]
        body.append([
            r["metric"],
            _num(r["value"]),
            r["bound"] or "-",
            _num(r["snapshot"]) if checked else "-",
            _delta(r["delta"]) if checked else "-",
            f"{r['tolerance']:g}" if checked else "-",
            "ok" if r["passed"] else "FAIL",
        ])
    if body:
        lines += _table(
            ["metric", "value", "bound", "snapshot", "delta", "tolerance", "result"], body
        )
    reasons = [r for r in rows if r["reason"] and not r["passed"]]
    if reasons:
        lines.append("")
        lines += [f"{r['metric']}: {r['reason']}" for r in reasons]
    if result.snapshot.state == SNAPSHOT_CHANGED:
        lines += [
            "",
            f"snapshot:    {result.snapshot.path}",
            f"snapshot environment: {_environment(result.snapshot.stored_environment)}",
            f"current environment:  {_environment(result.report.environment)}",
            "environment changes:  "
            + _environment_changes(result.snapshot.stored_environment, result.report.environment),
            "(run pytest with --snapshot-update to accept the new values)",
        ]
    lines += ["", f"report: {result.report_path}"]
    return "\n".join(lines), rows


def gate_failure(name: str, result: ItemResult) -> GateFailure:
    """The :class:`GateFailure` a failed item raises."""
    text, rows = failure_text(name, result)
    return GateFailure(text, rows)


def describe_environment(environment: Mapping[str, Any]) -> str:
    """``cpu`` or ``cuda:0 (GPU name)``."""
    device = str(environment.get("device") or "?")
    return f"{device} ({environment['gpu']})" if environment.get("gpu") else device

