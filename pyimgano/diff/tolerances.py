"""``pyimgano-diff --tolerance`` (docs/REFERENCE.md §9): absolute tolerances per metric row, how
they are parsed and checked against the compared rows, and the one "within" test (a few ULPs
of slack).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyimgano.errors import ConfigError
from pyimgano.gates import TIMING_METRICS

if TYPE_CHECKING:
    from pyimgano.diff.result import ItemDiff

#: |Δ| may exceed the tolerance by this relative amount (a few ULPs), so that 0.95 → 0.96 is
#: within a tolerance of 0.01 although ``0.96 - 0.95 == 0.010000000000000009``.
_ULP_SLACK = 1e-12


@dataclass(frozen=True)
class Tolerances:
    """Absolute tolerances: one default plus per-metric overrides.

    A per-metric entry ``image_auroc`` also covers every ``<defect>/image_auroc`` row unless
    that row has its own entry. Timing metrics (``ms_per_image``, ``images_per_s``) are gated
    only by a per-metric entry; the default never applies to them.
    """

    default: float = 0.0
    per_metric: Mapping[str, float] = field(default_factory=dict)

    def for_metric(self, metric: str) -> float | None:
        """The tolerance of a row, or ``None`` when the row is not gated."""
        if metric in self.per_metric:
            return self.per_metric[metric]
        base = metric.rsplit("/", 1)[-1]
        if base in self.per_metric:
            return self.per_metric[base]
        if base in TIMING_METRICS:
            return None
        return self.default

    def to_dict(self) -> dict[str, Any]:
        return {"default": self.default, "per_metric": dict(sorted(self.per_metric.items()))}


def _tolerance_number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: a tolerance must be a finite number >= 0, got {text!r}")
    return value


def parse_tolerances(values: Iterable[str]) -> Tolerances:
    """Parse ``--tolerance`` values: ``0.01`` (the default) or ``metric=0.02`` (repeatable).

    Raises :class:`~pyimgano.errors.ConfigError` for non-numbers, negative values, two
    defaults, or one metric given twice.
    """
    default: float | None = None
    per_metric: dict[str, float] = {}
    for text in values:
        name, sep, number = text.partition("=")
        if not sep:
            if default is not None:
                raise ConfigError(
                    f"--tolerance {text}: a global tolerance was already given ({default:g})"
                )
            default = _tolerance_number(text, "--tolerance")
            continue
        name = name.strip()
        if not name:
            raise ConfigError(f"--tolerance {text}: expected METRIC=VALUE")
        if name in per_metric:
            raise ConfigError(f"--tolerance {text}: {name} was already given a tolerance")
        per_metric[name] = _tolerance_number(number, f"--tolerance {name}")
    return Tolerances(default=0.0 if default is None else default, per_metric=per_metric)


def within(distance: float, tolerance: float) -> bool:
    return distance <= tolerance or distance - tolerance <= _ULP_SLACK * max(tolerance, distance)


def check_tolerance_names(tolerances: Tolerances, items: Iterable[ItemDiff]) -> None:
    """A per-metric tolerance naming neither a pyimgano metric nor any compared row is a typo:
    :class:`ConfigError` listing the known names."""
    if not tolerances.per_metric:
        return
    from pyimgano.metrics import METRIC_DIRECTIONS

    names: set[str] = set(METRIC_DIRECTIONS)
    for item in items:
        for row in item.rows:
            names.add(row.metric)
            names.add(row.metric.rsplit("/", 1)[-1])
    unknown = sorted(set(tolerances.per_metric) - names)
    if unknown:
        raise ConfigError(
            f"--tolerance names unknown metric(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(n for n in names if '/' not in n))}"
        )

