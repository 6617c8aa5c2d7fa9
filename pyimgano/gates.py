"""Threshold gates on a report's metrics (docs/REFERENCE.md §8).

A bound is ``min`` and/or ``max`` on one metric. A bare number bounds the metric in its better
direction (``min`` for quality metrics, ``max`` for ``ms_per_image`` and rates). A bound on a
metric that came out ``null`` fails with the metric's reason — it never passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyimgano.errors import SuiteError
from pyimgano.report import Report

#: Metrics read from ``report.timing`` instead of ``report.metrics``.
TIMING_METRICS = ("ms_per_image", "images_per_s")


def metric_directions() -> dict[str, bool]:
    """Metric name → higher_is_better, for every metric a bound may name."""
    from pyimgano.metrics import METRIC_DIRECTIONS

    return dict(METRIC_DIRECTIONS)


@dataclass(frozen=True)
class Bound:
    """Limits on one metric; ``None`` means unbounded on that side."""

    metric: str
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SuiteError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def parse_bounds(spec: Any, *, where: str) -> dict[str, Bound]:
    """Parse ``{metric: number | {min: x, max: y}}`` into bounds.

    ``where`` prefixes every error (e.g. ``"suite.yaml: models[0].thresholds"``). Unknown
    metric names, unknown keys, non-numbers and ``min > max`` are :class:`SuiteError`.
    """
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise SuiteError(f"{where}: expected a mapping of metric → bound, got {spec!r}")
    from pyimgano.metrics import metric_direction

    directions = metric_directions()
    bounds: dict[str, Bound] = {}
    for metric, value in spec.items():
        here = f"{where}.{metric}"
        higher = metric_direction(metric) if isinstance(metric, str) else None
        if higher is None:
            parametrised = ["aupro_<limit>", "auspro_<limit>", "image_tpr_at_fpr_<x>"]
            allowed = [*sorted(directions), *parametrised]
            raise SuiteError(
                f"{here}: unknown metric {metric!r}; allowed: {', '.join(allowed)}"
            )
        if isinstance(value, Mapping):
            extra = sorted(set(value) - {"min", "max"}, key=repr)  # keys of any type
            if extra or not value:
                raise SuiteError(
                    f"{here}: unknown key(s) {', '.join(map(repr, extra)) or '(none given)'};"
                    " allowed keys: min, max"
                )
            low = _number(value["min"], f"{here}.min") if "min" in value else None
            high = _number(value["max"], f"{here}.max") if "max" in value else None
            if low is not None and high is not None and low > high:
                raise SuiteError(f"{here}: min {low:g} is greater than max {high:g}")
            bounds[metric] = Bound(metric, low, high)
        else:
            number = _number(value, here)
            bounds[metric] = (
                Bound(metric, min=number) if higher else Bound(metric, max=number)
            )
    return bounds


def merge_bounds(*layers: Mapping[str, Bound]) -> dict[str, Bound]:
    """Per metric, a later layer's bound replaces an earlier one's."""
    merged: dict[str, Bound] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def metric_value(report: Report, metric: str) -> tuple[float | None, str | None]:
    """A metric's value and, when ``None``, the reason."""
    if metric in TIMING_METRICS:
        value = report.timing.get(metric)
        reason = None if value is not None else "fewer than two inference batches timed"
        return value, reason
    value = report.metrics.get(metric)
    if value is None:
        reason = report.metric_notes.get(metric) or (
            f"{metric} was not computed (pixel metrics need pixel: true)"
            if metric not in report.metrics
            else f"{metric} is undefined"
        )
        return None, reason
    return value, None


@dataclass(frozen=True)
class GateRow:
    """One checked bound: a row of the failure table."""

    metric: str
    value: float | None
    bound: Bound
    passed: bool
    reason: str | None = None


def check_bounds(report: Report, bounds: Mapping[str, Bound]) -> list[GateRow]:
    """Check every bound, record them in ``report.thresholds`` and return the rows."""
    rows = []
    for metric in sorted(bounds):
        bound = bounds[metric]
        value, reason = metric_value(report, metric)
        if value is None:
            passed = False
        else:
            passed = (bound.min is None or value >= bound.min) and (
                bound.max is None or value <= bound.max
            )
        entry: dict[str, Any] = {"value": value, "passed": passed}
        if bound.min is not None:
            entry["min"] = bound.min
        if bound.max is not None:
            entry["max"] = bound.max
        if reason:
            entry["reason"] = reason
        report.thresholds[metric] = entry
        rows.append(GateRow(metric, value, bound, passed, reason))
    return rows
