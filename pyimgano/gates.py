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
#: Gates read from ``report.resources`` (docs/REFERENCE.md §6); lower is better. Like the speed
#: metrics they are reported and gated, never snapshotted.
RESOURCE_METRICS = ("peak_rss_mb", "peak_device_mb", "params")
#: Gate names a snapshot tolerance may not name: reported and gated, never snapshotted.
NOT_SNAPSHOTTED = (*TIMING_METRICS, *RESOURCE_METRICS)
#: Gate names that are not metrics any more (schema 1.2) → ``(report section, key)``.
SIDE_VALUES = {
    "image_borderline": ("decision", "borderline"),
    "image_auroc_step": ("resolution", "image_auroc"),
}


def metric_directions() -> dict[str, bool]:
    """Metric name → higher_is_better, for every metric a bound may name."""
    from pyimgano.metrics import METRIC_DIRECTIONS

    return {**METRIC_DIRECTIONS, **dict.fromkeys(RESOURCE_METRICS, False)}


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
        if metric in RESOURCE_METRICS:
            higher = False
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
    if metric in RESOURCE_METRICS or metric in SIDE_VALUES:
        section, key = SIDE_VALUES.get(metric, ("resources", metric))
        values = getattr(report, section, None) or {}
        value = values.get(key)
        if value is not None:
            return value, None
        notes = values.get("notes") or {}
        return None, notes.get(key) or report.metric_notes.get(metric.removesuffix("_step")) or (
            f"{section}.{key} was not recorded"
        )
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


# ------------------------------------------------------------------------------------------
# gates recorded in a written report


@dataclass(frozen=True)
class RecordedFailure:
    """A gate that a report records as failed: its kind (``threshold``, ``parity`` or
    ``comparison``, the summary's ``failure_cause`` names) and a one-line description."""

    cause: str
    text: str


def _short(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def parity_failed(parity: Any) -> bool:
    """Did a report's ``parity`` object fail? ``passed`` false, or a degenerate artifact
    (which fails whatever the bounds say). No parity object, or parity measured without
    bounds (``passed`` null): not failed."""
    if not isinstance(parity, Mapping):
        return False
    return parity.get("passed") is False or bool(parity.get("degenerate"))


def recorded_failures(report: Mapping[str, Any]) -> list[RecordedFailure]:
    """Every gate a report (the JSON object) records as failed, in a fixed order.

    Read from the report alone, whoever wrote it (the plugin or ``pyimgano-benchmark``):
    ``thresholds.<metric>.passed`` false; ``parity`` failed (:func:`parity_failed`: a bound
    exceeded or a degenerate artifact); ``comparison.<metric>.passed`` false (release
    comparisons against a baseline). A gate that was not given, or that was only measured
    (``passed`` null), never fails. Empty when nothing failed.
    """
    found: list[RecordedFailure] = []
    thresholds = report.get("thresholds")
    if isinstance(thresholds, Mapping):
        for metric in sorted(thresholds):
            entry = thresholds[metric]
            if isinstance(entry, Mapping) and entry.get("passed") is False:
                limits = [f"{side} {_short(entry[side])}" for side in ("min", "max")
                          if side in entry]
                reason = f" ({entry['reason']})" if entry.get("reason") else ""
                value = entry.get("value")
                where = "bound" if value is None else "outside"
                found.append(RecordedFailure(
                    "threshold",
                    f"threshold {metric} {_short(value)} {where} "
                    f"{', '.join(limits) or '?'}{reason}",
                ))
    parity = report.get("parity")
    if parity_failed(parity):
        assert isinstance(parity, Mapping)
        if parity.get("degenerate"):
            found.append(RecordedFailure("parity", f"parity: degenerate artifact: "
                                                   f"{parity['degenerate']}"))
        checks = [c for c in parity.get("checks") or []
                  if isinstance(c, Mapping) and c.get("passed") is False]
        for check in checks:
            found.append(RecordedFailure(
                "parity", f"parity {check.get('name')} {_short(check.get('value'))} > "
                          f"{_short(check.get('bound'))}"))
        if not checks and not parity.get("degenerate"):
            found.append(RecordedFailure("parity", "parity failed"))
    comparison = report.get("comparison")
    if isinstance(comparison, Mapping):
        for metric in sorted(comparison):
            entry = comparison[metric]
            if isinstance(entry, Mapping) and entry.get("passed") is False:
                found.append(RecordedFailure(
                    "comparison",
                    f"comparison {metric}: delta {_short(entry.get('delta'))} against the "
                    "baseline",
                ))
    return found
