"""Evaluate one suite item, without pytest: run → report → gates → snapshot → result.

:func:`run_item` is the body of ``CaseItem.runtest``: it calls the shared runner
(:func:`pyimgano.runner.run_case`), fills ``report.item``, checks the merged bounds
(:func:`pyimgano.gates.check_bounds`), writes report + JSONL + plots
(:func:`pyimgano.artifacts.write_evaluation`) and compares or updates the snapshot.
:mod:`pytest_pyimgano.failure` renders a failed item.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyimgano.gates import TIMING_METRICS, GateRow
from pytest_pyimgano import snapshots
from pytest_pyimgano.spec import ItemSpec
from pytest_pyimgano.warnings import LegacySnapshotWarning, SpeedGateWarning

#: snapshot states; the first two fail the item.
SNAPSHOT_MISSING = "missing"
SNAPSHOT_CHANGED = "changed"
SNAPSHOT_MATCHED = "matched"
SNAPSHOT_CREATED = "created"
SNAPSHOT_UPDATED = "updated"
SNAPSHOT_STATES = (SNAPSHOT_CREATED, SNAPSHOT_UPDATED, SNAPSHOT_MATCHED, SNAPSHOT_CHANGED,
                   SNAPSHOT_MISSING)

#: why a failed item failed (``failure_cause`` in summary.json / junit), in order of precedence.
CAUSE_THRESHOLD = "threshold"
CAUSE_PARITY = "parity"
CAUSE_COMPARISON = "comparison"
CAUSE_SNAPSHOT = "snapshot"
CAUSE_ERROR = "error"
CAUSES = (CAUSE_THRESHOLD, CAUSE_PARITY, CAUSE_COMPARISON, CAUSE_SNAPSHOT, CAUSE_ERROR)


@dataclass(frozen=True)
class SnapshotCheck:
    """Outcome of the snapshot step."""

    path: Path
    state: str
    rows: tuple[snapshots.SnapshotRow, ...] = ()
    stored_environment: Mapping[str, Any] | None = None
    moved_from: Path | None = None

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
    def parity(self) -> Mapping[str, Any] | None:
        """``report.parity`` (export parity, docs/REFERENCE.md §11), when the evaluation has one."""
        parity = getattr(self.report, "parity", None)
        return parity if isinstance(parity, Mapping) else None

    @property
    def parity_passed(self) -> bool:
        """Not failed (:func:`pyimgano.gates.parity_failed`); measured without bounds counts."""
        from pyimgano.gates import parity_failed

        return not parity_failed(self.parity)

    @property
    def comparison(self) -> Mapping[str, Any] | None:
        """``report.comparison`` (release decision, docs/REFERENCE.md §12), when there is one."""
        comparison = getattr(self.report, "comparison", None)
        return comparison if isinstance(comparison, Mapping) else None

    @property
    def comparison_passed(self) -> bool:
        """No compared metric has ``passed: false`` (the gate of
        :func:`pyimgano.gates.recorded_failures`)."""
        from pyimgano.gates import recorded_failures

        return not any(f.cause == CAUSE_COMPARISON
                       for f in recorded_failures({"comparison": self.comparison}))

    @property
    def gates_passed(self) -> bool:
        return all(row.passed for row in self.gate_rows)

    @property
    def passed(self) -> bool:
        return (self.snapshot.passed and self.gates_passed and self.parity_passed
                and self.comparison_passed)

    @property
    def failure_cause(self) -> str | None:
        """``threshold``, ``parity``, ``comparison`` or ``snapshot`` (the first that failed),
        None if passed."""
        if not self.gates_passed:
            return CAUSE_THRESHOLD
        if not self.parity_passed:
            return CAUSE_PARITY
        if not self.comparison_passed:
            return CAUSE_COMPARISON
        if not self.snapshot.passed:
            return CAUSE_SNAPSHOT
        return None


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

    A snapshot still at the old place (``__snapshots__``) is compared as well; with
    ``--snapshot-update`` it is moved to the new place (``moved_from``), else a
    :class:`~pytest_pyimgano.warnings.LegacySnapshotWarning` says so.
    """
    path = snapshots.snapshot_path(spec.suite.path, spec.id, spec.category)
    found, legacy = snapshots.find_snapshot(spec.suite.path, spec.id, spec.category)
    current = snapshots.serialize(report)
    stored = snapshots.read_snapshot(found)
    if stored is None:
        if update or new_only:
            snapshots.write_snapshot(path, current)
            return SnapshotCheck(path, SNAPSHOT_CREATED)
        return SnapshotCheck(path, SNAPSHOT_MISSING)
    rows = tuple(snapshots.compare(stored, current, spec.tolerance.for_metric))
    environment = stored.get("environment") if isinstance(stored.get("environment"), dict) else {}
    passed = all(row.passed for row in rows)
    moved_from = None
    if legacy:
        if update or new_only:
            if passed or not update:
                snapshots.move_snapshot(found, path)
            else:
                snapshots.write_snapshot(path, current)
                snapshots.move_snapshot(found, path)  # the new file wins: the old one goes
            moved_from = found
        else:
            warnings.warn_explicit(
                LegacySnapshotWarning(
                    f"{spec.name}: snapshot read from the old place {found}; run pytest with "
                    f"--snapshot-update to move it to {path} (syrupy reports files it does not "
                    "own in __snapshots__ as unused)"
                ),
                LegacySnapshotWarning, str(spec.suite.path), spec.line,
            )
            path = found
    if passed:
        return SnapshotCheck(path, SNAPSHOT_MATCHED, rows, environment, moved_from)
    if update:
        if not legacy:
            snapshots.write_snapshot(path, current)
        return SnapshotCheck(path, SNAPSHOT_UPDATED, rows, environment, moved_from)
    return SnapshotCheck(path, SNAPSHOT_CHANGED, rows, environment, moved_from)


def evaluate_spec(
    spec: ItemSpec,
    *,
    nodeid: str,
    report_path: Path,
    device: str | None = None,
    plots: bool = True,
    cache_dir: Path | None = None,
    report_dir: Path | None = None,
) -> tuple[Any, Path, list[GateRow]]:
    """Run the item's case, fill ``report.item``, check its bounds and write its files.

    The part of :func:`run_item` before the snapshot step, shared with the
    ``pyimgano_evaluate`` fixture (:mod:`pytest_pyimgano.fixture`). Returns the report, the
    written report path and the gate rows; raises what the runner raises.

    ``device`` replaces the case's device (per xdist worker); ``cache_dir`` is where a runtime
    may write caches (the plugin passes ``<report dir>/.cache``, never the working directory).
    With ``report_dir`` the files are checked before the run (a file pyimgano did not write is
    never overwritten: :func:`pyimgano.manifest.check_writable`) and recorded in the report
    dir's manifest after it.
    """
    from pyimgano.artifacts import companion_paths, write_evaluation
    from pyimgano.gates import check_bounds
    from pyimgano.runner import run_case

    assert spec.case is not None, "placeholder items are not run"
    if report_dir is not None:
        from pyimgano.manifest import check_writable

        check_writable(report_dir, report_path, companion_paths(report_path, plots=plots),
                       nodeid=nodeid)
    changes: dict[str, Any] = {}
    if device is not None:
        changes["device"] = device
    if cache_dir is not None:
        changes["cache_dir"] = cache_dir
    case = dataclasses.replace(spec.case, **changes) if changes else spec.case
    evaluation = run_case(case)
    report = evaluation.report
    report.item = {
        "suite": spec.suite.source,
        "id": spec.id,
        "nodeid": nodeid,
        "category": spec.category,
    }
    gate_rows = check_bounds(report, spec.bounds)
    warn_shared_speed_gates(spec, report)
    path = write_evaluation(evaluation, report_path, plots=plots, manifest_dir=report_dir)
    return report, path, gate_rows


def run_item(
    spec: ItemSpec,
    *,
    nodeid: str,
    report_path: Path,
    device: str | None = None,
    plots: bool = True,
    update_snapshots: bool = False,
    update_new_snapshots_only: bool = False,
    cache_dir: Path | None = None,
    report_dir: Path | None = None,
) -> ItemResult:
    """Evaluate one item (:func:`evaluate_spec`), then its snapshot; raises what the runner
    raises (a PyImganoError on bad input)."""
    report, path, gate_rows = evaluate_spec(
        spec, nodeid=nodeid, report_path=report_path, device=device, plots=plots,
        cache_dir=cache_dir, report_dir=report_dir,
    )
    snapshots.warn_tolerances(
        report.resolution, spec.tolerance.for_metric, suite_path=spec.suite.path,
        line=spec.suite.line_of(f"{spec.keypath}.snapshot", "defaults.snapshot", spec.keypath),
    )
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
            SpeedGateWarning, str(spec.suite.path),
            spec.suite.line_of(f"{spec.keypath}.thresholds", "defaults.thresholds", spec.keypath),
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
    if result.failure_cause is not None:
        properties.append(("pyimgano_failure_cause", result.failure_cause))
    if result.parity is not None:
        properties.append(("pyimgano_parity", json.dumps(result.parity, sort_keys=True)))
    if result.comparison is not None:
        properties.append(("pyimgano_comparison", json.dumps(result.comparison, sort_keys=True)))
    resources = getattr(report, "resources", None)
    if isinstance(resources, Mapping):
        properties.append(("pyimgano_resources", json.dumps(resources, sort_keys=True)))
    properties.extend((name, value) for name, value in sorted(report.metrics.items()))
    return properties


def describe_environment(environment: Mapping[str, Any]) -> str:
    """``cpu`` or ``cuda:0 (GPU name)``."""
    device = str(environment.get("device") or "?")
    return f"{device} ({environment['gpu']})" if environment.get("gpu") else device
