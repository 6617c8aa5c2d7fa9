"""Metric snapshots of suite items (SPEC §8), split as syrupy splits its own.

- location: :func:`snapshot_path` — ``<suite dir>/__snapshots__/<suite stem>/<id>/<category>.json``
- serializer: :func:`serialize` / :func:`read_snapshot` / :func:`write_snapshot` — the metrics
  (never the speed metrics), ``n_test``, ``n_anomalous`` and, not compared, ``environment``.
- comparison: :func:`compare` — every ``|Δ| ≤ tolerance``; null on one side only is a change.

:func:`hidden_from_syrupy` keeps syrupy's unused-snapshot detection away from these files
(see docs/PLUGIN.md, "Snapshots beside syrupy's").
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyimgano.errors import PyImganoError
from pyimgano.gates import TIMING_METRICS
from pyimgano.report import Report, dumps, write_text_atomic

SNAPSHOT_DIRNAME = "__snapshots__"
SNAPSHOT_KIND = "pyimgano-snapshot"
SNAPSHOT_VERSION = "1.0"
COUNTS = ("n_test", "n_anomalous")
#: metric → the report metric giving its resolution (a tolerance below it is meaningless).
RESOLUTIONS = {"image_auroc": "image_auroc_step"}


class SnapshotError(PyImganoError):
    """A snapshot file that cannot be read."""


class SnapshotToleranceWarning(UserWarning):
    """A snapshot tolerance finer than the metric can move (SPEC §5 resolution)."""


# ------------------------------------------------------------------------------------------
# location


def suite_snapshot_dir(suite_path: Path) -> Path:
    """The directory holding every snapshot of ``suite_path``."""
    return suite_path.parent / SNAPSHOT_DIRNAME / suite_path.stem


def snapshot_path(suite_path: Path, item_id: str, category: str) -> Path:
    """Where the snapshot of ``<item_id>[<category>]`` of ``suite_path`` lives."""
    return suite_snapshot_dir(suite_path) / item_id / f"{category}.json"


def is_suite_snapshot(path: str | Path, *, _cache: dict[Path, bool] | None = None) -> bool:
    """True for ``X/__snapshots__/S/<id>/<category>.json`` where ``X/S.yaml|.yml`` is a suite."""
    from pytest_pyimgano.suite import SUITE_SUFFIXES, looks_like_suite

    file = Path(path)
    parts = file.parts
    if file.suffix != ".json" or len(parts) < 5 or parts[-4] != SNAPSHOT_DIRNAME:
        return False
    base = Path(*parts[:-4]) / parts[-3]
    cache = {} if _cache is None else _cache
    if base not in cache:
        cache[base] = any(
            looks_like_suite(base.with_name(base.name + suffix)) for suffix in SUITE_SUFFIXES
        )
    return cache[base]


# ------------------------------------------------------------------------------------------
# serializer


def serialize(report: Report) -> dict[str, Any]:
    """The snapshot object of a report: metrics (no speed), counts, environment."""
    metrics = {k: v for k, v in report.metrics.items() if k not in TIMING_METRICS}
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
    metrics: Mapping[str, Any], tolerance: Callable[[str], float]
) -> list[str]:
    """Messages for tolerances that are non-zero but below the metric's resolution."""
    messages = []
    for metric, resolution_key in RESOLUTIONS.items():
        step = metrics.get(resolution_key)
        tol = tolerance(metric)
        if isinstance(step, (int, float)) and 0 < tol < step and metric in metrics:
            messages.append(
                f"snapshot tolerance {tol:g} for {metric} is below its resolution "
                f"{resolution_key}={step:.6g}: any change fails; use 0 or at least {step:.6g}"
            )
    return messages


def warn_tolerances(
    metrics: Mapping[str, Any], tolerance: Callable[[str], float], *, suite_path: Path
) -> None:
    """Issue a :class:`SnapshotToleranceWarning` per finer-than-resolution tolerance.

    The warning points at the suite file (where the tolerance is written), not at this code.
    """
    for message in tolerance_warnings(metrics, tolerance):
        warnings.warn_explicit(
            SnapshotToleranceWarning(message), SnapshotToleranceWarning, str(suite_path), 0
        )


# ------------------------------------------------------------------------------------------
# syrupy


@contextlib.contextmanager
def hidden_from_syrupy() -> Iterator[bool]:
    """Keep suite snapshots out of syrupy's snapshot discovery while the block runs.

    syrupy (7.x) discovers snapshot collections with ``walk_snapshot_dir``, an ``rglob`` of a
    test directory's ``__snapshots__``; with its default (amber) extension every file there that
    it does not own is an "unknown collection", reported unused and deleted by
    ``--snapshot-update``. Discovery is the only place syrupy looks at files it did not write,
    so the walk is filtered: files for which :func:`is_suite_snapshot` holds are skipped. The
    attribute is restored when the block ends. Yields whether syrupy was found and filtered.
    """
    try:
        import syrupy.extensions.base as syrupy_base
    except ImportError:
        yield False
        return
    original = getattr(syrupy_base, "walk_snapshot_dir", None)
    if original is None:  # a syrupy that discovers differently: nothing to filter
        yield False
        return
    cache: dict[Path, bool] = {}

    def walk_without_suite_snapshots(root: Any, **kwargs: Any) -> Iterator[str]:
        for filepath in original(root, **kwargs):
            if not is_suite_snapshot(filepath, _cache=cache):
                yield filepath

    syrupy_base.walk_snapshot_dir = walk_without_suite_snapshots
    try:
        yield True
    finally:
        syrupy_base.walk_snapshot_dir = original
