"""Metric snapshots of suite items (docs/REFERENCE.md §8), split as syrupy splits its own.

- location: :func:`snapshot_path` —
  ``<suite dir>/__pyimgano_snapshots__/<suite stem>/<id>/<category>.json``, outside syrupy's
  ``__snapshots__`` so that syrupy never sees them (with or without this plugin). Files at the
  old place, ``<suite dir>/__snapshots__/<suite stem>/…``, are read (:func:`find_snapshot`) and
  moved by :func:`migrate_suite_snapshots` under ``--snapshot-update``.
- serializer: :func:`serialize` / :func:`read_snapshot` / :func:`write_snapshot` — the metrics
  (never the speed metrics, nor the report's ``resources``), ``n_test``, ``n_anomalous`` and,
  not compared, ``environment``. Snapshots written before report schema 1.2 also hold
  ``image_borderline`` and ``image_auroc_step`` among their metrics; they are not metrics (a
  count and a resolution) and are ignored when such a file is read, which stays as it is.
- comparison: :func:`compare` — every ``|Δ| ≤ tolerance``; null on one side only is a change.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyimgano.errors import PyImganoError
from pyimgano.gates import TIMING_METRICS
from pyimgano.report import MOVED_OUT_OF_METRICS, Report, dumps, write_text_atomic
from pytest_pyimgano.warnings import SnapshotToleranceWarning

SNAPSHOT_DIRNAME = "__pyimgano_snapshots__"
#: where snapshots lived before (inside syrupy's directory); read, and moved on update.
LEGACY_SNAPSHOT_DIRNAME = "__snapshots__"
SNAPSHOT_KIND = "pyimgano-snapshot"
SNAPSHOT_VERSION = "1.0"
COUNTS = ("n_test", "n_anomalous")


class SnapshotError(PyImganoError):
    """A snapshot file that cannot be read."""


# ------------------------------------------------------------------------------------------
# location


def suite_snapshot_dir(suite_path: Path) -> Path:
    """The directory holding every snapshot of ``suite_path``."""
    return suite_path.parent / SNAPSHOT_DIRNAME / suite_path.stem


def snapshot_path(suite_path: Path, item_id: str, category: str) -> Path:
    """Where the snapshot of ``<item_id>[<category>]`` of ``suite_path`` lives."""
    return suite_snapshot_dir(suite_path) / item_id / f"{category}.json"


def legacy_snapshot_path(suite_path: Path, item_id: str, category: str) -> Path:
    """Where the snapshot of ``<item_id>[<category>]`` lived before (``__snapshots__``)."""
    return suite_path.parent / LEGACY_SNAPSHOT_DIRNAME / suite_path.stem / item_id / (
        f"{category}.json"
    )


def find_snapshot(suite_path: Path, item_id: str, category: str) -> tuple[Path, bool]:
    """The file holding the item's snapshot and whether it is at the old place.

    The new place wins when both exist; with neither, the new place is returned (not there).
    """
    path = snapshot_path(suite_path, item_id, category)
    if not path.exists():
        legacy = legacy_snapshot_path(suite_path, item_id, category)
        if legacy.is_file():
            return legacy, True
    return path, False


def move_snapshot(old: Path, new: Path) -> bool:
    """Move a snapshot from the old place to the new one; False when another process did.

    A file already at the new place wins; the old one is then removed. Empty directories
    left at the old place are removed (``__snapshots__`` itself only when empty).
    """
    try:
        if new.exists():
            old.unlink()
        else:
            new.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old, new)
    except FileNotFoundError:  # an xdist worker moved it first
        return False
    for parent in (old.parent, old.parent.parent, old.parent.parent.parent):
        with contextlib.suppress(OSError):  # not empty, or already removed
            parent.rmdir()
    return True


def _is_pyimgano_snapshot(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == SNAPSHOT_KIND


def legacy_snapshots(suite_path: Path) -> list[Path]:
    """The suite's snapshots still at the old place (``__snapshots__/<stem>/<id>/<cat>.json``).

    Only files whose ``kind`` is ``pyimgano-snapshot`` count: syrupy's own files are never
    touched.
    """
    base = suite_path.parent / LEGACY_SNAPSHOT_DIRNAME / suite_path.stem
    if not base.is_dir():
        return []
    return [p for p in sorted(base.glob("*/*.json")) if p.is_file() and _is_pyimgano_snapshot(p)]


def migrate_suite_snapshots(suite_path: Path) -> list[Path]:
    """Move every snapshot of ``suite_path`` from the old place to the new; the new paths."""
    moved = []
    for old in legacy_snapshots(suite_path):
        new = snapshot_path(suite_path, old.parent.name, old.stem)
        if move_snapshot(old, new):
            moved.append(new)
    return moved


# ------------------------------------------------------------------------------------------
# serializer


def serialize(report: Report) -> dict[str, Any]:
    """The snapshot object of a report: metrics (no speed), counts, environment."""
    metrics = {
        k: v
        for k, v in report.metrics.items()
        if k not in TIMING_METRICS and k not in MOVED_OUT_OF_METRICS
    }
    return {
        "schema_version": SNAPSHOT_VERSION,
        "kind": SNAPSHOT_KIND,
        "metrics": metrics,
        "n_test": report.dataset.get("n_test"),
        "n_anomalous": report.dataset.get("n_anomalous"),
        "environment": dict(report.environment),
    }


def read_snapshot(path: Path) -> dict[str, Any] | None:
    """The stored snapshot, or ``None`` if there is none; SnapshotError names a bad file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"snapshot {path}: cannot read it ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"snapshot {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise SnapshotError(f"snapshot {path}: not a pyimgano snapshot (no 'metrics' object)")
    for name in MOVED_OUT_OF_METRICS:  # written before report schema 1.2: not metrics
        data["metrics"].pop(name, None)
    return data


def write_snapshot(path: Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` atomically (strict JSON, sorted keys, trailing newline)."""
    return write_text_atomic(path, dumps(dict(data)))


# ------------------------------------------------------------------------------------------
# comparison


@dataclass(frozen=True)
class SnapshotRow:
    """One compared value: a metric or a count."""

    metric: str
    stored: float | None
    current: float | None
    delta: float | None
    tolerance: float
    passed: bool
    note: str | None = None


def _delta(stored: Any, current: Any) -> float | None:
    if isinstance(stored, (int, float)) and isinstance(current, (int, float)):
        return float(current) - float(stored)
    return None


def compare(
    stored: Mapping[str, Any],
    current: Mapping[str, Any],
    tolerance: Callable[[str], float],
) -> list[SnapshotRow]:
    """Compare two snapshot objects; one row per metric in either, then the counts.

    A metric passes when ``|Δ| ≤ tolerance(metric)``, or when it is null on both sides; null on
    one side only, or present on one side only, is a change. Counts must be equal.
    """
    old_metrics = stored.get("metrics", {})
    new_metrics = current.get("metrics", {})
    rows = []
    for metric in sorted(set(old_metrics) | set(new_metrics)):
        old, new = old_metrics.get(metric), new_metrics.get(metric)
        tol = tolerance(metric)
        note = None
        if metric not in old_metrics:
            passed, note = False, "not in the snapshot"
        elif metric not in new_metrics:
            passed, note = False, "no longer computed"
        elif old is None and new is None:
            passed = True
        elif old is None or new is None:
            passed, note = False, "null on one side only"
        else:
            delta = float(new) - float(old)
            # Tolerance 0 means exact. Otherwise a few ulps of slack, so that a change equal
            # to the tolerance in decimal (0.952 - 0.95 vs 0.002) passes as |Δ| ≤ tolerance.
            slack = 4 * math.ulp(max(abs(float(new)), abs(float(old)), 1.0)) if tol > 0 else 0.0
            passed = abs(delta) <= tol + slack
        rows.append(SnapshotRow(metric, old, new, _delta(old, new), tol, passed, note))
    for count in COUNTS:
        old, new = stored.get(count), current.get(count)
        rows.append(SnapshotRow(count, old, new, _delta(old, new), 0.0, old == new))
    return rows


def tolerance_warnings(
    resolution: Mapping[str, Any], tolerance: Callable[[str], float]
) -> list[str]:
    """Messages for tolerances that are non-zero but below the metric's resolution.

    ``resolution`` is a report's ``resolution`` object (metric → smallest possible change).
    """
    messages = []
    for metric, step in sorted(resolution.items()):
        tol = tolerance(metric)
        if isinstance(step, (int, float)) and 0 < tol < step:
            messages.append(
                f"snapshot tolerance {tol:g} for {metric} is below its resolution {step:.6g} "
                f"(resolution.{metric} in the report): any change fails; use 0 or at least "
                f"{step:.6g}"
            )
    return messages


def warn_tolerances(
    resolution: Mapping[str, Any],
    tolerance: Callable[[str], float],
    *,
    suite_path: Path,
    line: int = 1,
) -> None:
    """Issue a :class:`SnapshotToleranceWarning` per finer-than-resolution tolerance.

    The warning points at the suite file and ``line`` (1-based; where the tolerance is
    written), not at this code.
    """
    for message in tolerance_warnings(resolution, tolerance):
        warnings.warn_explicit(
            SnapshotToleranceWarning(message), SnapshotToleranceWarning, str(suite_path), line
        )
