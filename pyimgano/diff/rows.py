"""Metric rows of a diff (docs/REFERENCE.md §9): every comparable number of two reports, its
delta and its verdict.

Verdicts per metric row:

- ``equal``: same number, or no number on either side (``null`` and absent count alike);
- ``within``: both numbers, ``0 < |Δ| <= tolerance``;
- ``beyond``: ``|Δ| > tolerance`` (fails the diff);
- ``nullness``: a number on one side only (fails the diff);
- ``ungated``: a timing metric moved (or changed nullness) but no tolerance was given for it
  explicitly; shown, never fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyimgano.diff.tolerances import Tolerances, within
from pyimgano.gates import TIMING_METRICS
from pyimgano.metrics.results import METRIC_ORDER

EQUAL = "equal"
WITHIN = "within"
BEYOND = "beyond"
NULLNESS = "nullness"
UNGATED = "ungated"
FAILING = frozenset({BEYOND, NULLNESS})

#: Row order: these first (docs/REFERENCE.md §5 order), other metrics by name, then per defect,
#: then timing.
METRIC_ORDER = METRIC_ORDER


@dataclass(frozen=True)
class MetricRow:
    """One metric of one item on both sides. ``old``/``new`` are ``None`` for null or absent."""

    metric: str
    old: float | None
    new: float | None
    tolerance: float | None
    status: str
    old_present: bool = True
    new_present: bool = True

    @property
    def delta(self) -> float | None:
        """``new - old`` when both are numbers."""
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "old": self.old,
            "new": self.new,
            "old_present": self.old_present,
            "new_present": self.new_present,
            "delta": self.delta,
            "tolerance": self.tolerance,
            "status": self.status,
        }


def metric_values(report: Mapping[str, Any]) -> dict[str, float | None]:
    """Every comparable number of a report: metrics, ``<defect>/<metric>`` (per defect, and
    per defect type for MVTec LOCO's AU-sPRO) and timing.

    ``decision`` (borderline count), ``resolution`` and ``resources`` are not metrics and are
    not compared; a changed borderline count is a note of
    :func:`~pyimgano.diff.compare.diff_reports`.
    """
    values: dict[str, float | None] = dict(report.get("metrics") or {})
    for grouped in ("metrics_by_defect", "metrics_by_defect_type"):
        for group, metrics in (report.get(grouped) or {}).items():
            for name, value in metrics.items():
                values[f"{group}/{name}"] = value
    timing = report.get("timing") or {}
    for name in TIMING_METRICS:
        if name in timing:
            values[name] = timing[name]
    return values


def _row_order(metric: str) -> tuple[int, int, str]:
    base = metric.rsplit("/", 1)[-1]
    rank = METRIC_ORDER.index(base) if base in METRIC_ORDER else len(METRIC_ORDER)
    if base in TIMING_METRICS:
        return (3, TIMING_METRICS.index(base), metric)
    if "/" in metric:
        return (2, rank, metric)
    return (0 if rank < len(METRIC_ORDER) else 1, rank, metric)


def compare_values(old: float | None, new: float | None, tolerance: float | None) -> str:
    """The verdict of one row (see the module docstring)."""
    if old is None or new is None:
        if (old is None) == (new is None):
            return EQUAL
        return UNGATED if tolerance is None else NULLNESS
    if new == old:
        return EQUAL
    if tolerance is None:
        return UNGATED
    return WITHIN if within(abs(new - old), tolerance) else BEYOND


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def compare_metrics(
    old: Mapping[str, float | None], new: Mapping[str, float | None], tolerances: Tolerances
) -> tuple[MetricRow, ...]:
    """One row per metric named on either side, in report order."""
    rows = []
    for metric in sorted(set(old) | set(new), key=_row_order):
        before, after = _float(old.get(metric)), _float(new.get(metric))
        tolerance = tolerances.for_metric(metric)
        rows.append(
            MetricRow(
                metric=metric,
                old=before,
                new=after,
                tolerance=tolerance,
                status=compare_values(before, after, tolerance),
                old_present=metric in old,
                new_present=metric in new,
            )
        )
    return tuple(rows)

