"""Release decisions: a candidate against a baseline on the same images (docs/REFERENCE.md §12).

Pure functions on per-image data (labels, both models' scores, per-image AUPIMO, per-image
pixel statistics); the tests themselves are those of :mod:`pyimgano.metrics.stats`:

- ``image_auroc``: DeLong's paired test (:func:`~pyimgano.metrics.stats.delong_test`);
- ``aupimo_mean``: Wilcoxon signed-rank on per-image AUPIMO
  (:func:`~pyimgano.metrics.stats.wilcoxon_aupimo`);
- every other metric: a paired bootstrap over images stratified by label (2000 resamples,
  seed 0; :func:`~pyimgano.metrics.stats.paired_bootstrap`). Pixel metrics (``pixel_auroc``,
  ``aupro``) are resampled from per-image statistics on a fine threshold grid, their point
  estimates staying exact (``comparison_notes``).

``parse_compare`` validates a ``compare`` mapping (suite key, CLI flag) into :class:`Bound`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.errors import ConfigError

__all__ = [
    "Bound",
    "as_bounds",
    "IMAGE_METRICS",
    "PIXEL_METRICS",
    "compare_models",
    "comparable",
    "metrics_ci",
    "parse_compare",
    "parse_compare_flag",
]

#: Keys of one ``compare`` entry.
BOUND_KEYS = ("max_drop", "mode", "alpha")
MODES = ("regression", "non_inferior")
#: Metrics compared on image scores (``image_tpr_at_fpr_<x>`` too).
IMAGE_METRICS = ("image_auroc", "image_ap", "image_f1_max")
#: Metrics compared on per-image pixel statistics.
PIXEL_METRICS = ("pixel_auroc", "aupro")
#: The note a report carries for a metric resampled on the threshold grid.
GRID_NOTE = (
    "interval and p-value from a bootstrap of per-image statistics on a fine threshold grid; "
    "the point estimates are exact"
)


@dataclass(frozen=True)
class Bound:
    """One metric's comparison bound: the margin δ (``max_drop`` >= 0), ``mode`` and ``alpha``."""

    max_drop: float
    mode: str = "regression"
    alpha: float = 0.05


def comparable(name: str) -> bool:
    """Whether metric ``name`` can be compared (or get a ``metrics_ci`` interval)."""
    from pyimgano.metrics.results import metric_direction

    if name in IMAGE_METRICS or name in PIXEL_METRICS or name == "aupimo_mean":
        return True
    return name.startswith("image_tpr_at_fpr_") and metric_direction(name) is not None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def parse_compare(
    compare: Any, *, where: str = "compare", alpha: float | None = None
) -> dict[str, Bound]:
    """Validate a ``compare`` mapping ``{metric: {max_drop, mode?, alpha?}}`` into bounds.

    Parameters
    ----------
    compare : mapping
        Per metric: ``max_drop`` (>= 0, required), ``mode`` (``regression`` (default) or
        ``non_inferior``), ``alpha`` (in (0, 0.5); default ``alpha`` or 0.05).
    where : str
        Where the mapping comes from (a suite file and entry, a flag), named in errors.
    alpha : float, optional
        The default level (``--alpha``).

    Raises
    ------
    ConfigError
        An unknown metric or key, a missing or negative ``max_drop``, a bad ``mode``/``alpha``;
        the message names ``where`` and the key.
    """
    default_alpha = 0.05 if alpha is None else _check_alpha(alpha, f"{where}: alpha")
    if not isinstance(compare, Mapping) or not compare:
        raise ConfigError(
            f"{where} is {compare!r}; expected a mapping of metric names to "
            "{max_drop: <number>, mode: regression|non_inferior, alpha: <number>}"
        )
    bounds: dict[str, Bound] = {}
    for metric, entry in compare.items():
        key = f"{where}.{metric}"
        if not isinstance(metric, str) or not comparable(metric):
            raise ConfigError(
                f"{key}: unknown metric {metric!r}; expected one of "
                f"{', '.join((*IMAGE_METRICS, 'image_tpr_at_fpr_<x>', *PIXEL_METRICS))}, "
                "aupimo_mean"
            )
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{key} is {entry!r}; expected a mapping with max_drop")
        unknown = sorted(str(k) for k in entry if k not in BOUND_KEYS)
        if unknown:
            raise ConfigError(
                f"{key}: unknown key {unknown[0]!r}; expected {', '.join(BOUND_KEYS)}"
            )
        if "max_drop" not in entry:
            raise ConfigError(f"{key}: max_drop is missing; expected a number >= 0")
        max_drop = _number(entry["max_drop"])
        if max_drop is None or max_drop < 0:
            raise ConfigError(
                f"{key}.max_drop is {entry['max_drop']!r}; expected a number >= 0"
            )
        mode = entry.get("mode", "regression")
        if mode not in MODES:
            raise ConfigError(f"{key}.mode is {mode!r}; expected regression or non_inferior")
        level = (
            _check_alpha(entry["alpha"], f"{key}.alpha") if "alpha" in entry else default_alpha
        )
        bounds[metric] = Bound(max_drop, str(mode), level)
    return bounds


def as_bounds(compare: Mapping[str, Any], *, where: str = "compare") -> dict[str, Bound]:
    """``compare`` as bounds: already :class:`Bound` values are kept, a plain mapping parsed."""
    if isinstance(compare, Mapping) and compare and all(
        isinstance(v, Bound) for v in compare.values()
    ):
        return dict(compare)
    return parse_compare(compare, where=where)


def _check_alpha(value: Any, key: str) -> float:
    number = _number(value)
    if number is None or not 0 < number < 0.5:
        raise ConfigError(f"{key} is {value!r}; expected a number in (0, 0.5)")
    return number


def parse_compare_flag(text: str, *, alpha: float | None = None) -> dict[str, Bound]:
    """``--compare image_auroc=0.005,aupro=0.01`` as bounds (mode ``regression``).

    Raises
    ------
    ConfigError
        A malformed pair, an unknown metric, a bad number (the flag and pair named).
    """
    entries: dict[str, dict[str, Any]] = {}
    for pair in (part.strip() for part in str(text).split(",")):
        name, sep, value = pair.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not name.strip() or number is None:
            raise ConfigError(
                f"--compare: {pair!r} is not <metric>=<max_drop>; expected e.g. "
                "image_auroc=0.005,aupro=0.01"
            )
        entries[name.strip()] = {"max_drop": number}
    return parse_compare(entries, where="--compare", alpha=alpha)


def check_computed(bounds: Mapping[str, Bound], metrics: Mapping[str, Any], where: str) -> None:
    """A :class:`ConfigError` for a compared metric the item does not compute."""
    for name in bounds:
        if name not in metrics:
            hint = " (pixel metrics need pixel: true / --pixel)" if (
                name in PIXEL_METRICS or name == "aupimo_mean"
            ) else ""
            raise ConfigError(
                f"{where}: compares {name!r}, which this item does not compute{hint}; "
                f"it computes {', '.join(sorted(metrics))}"
            )


def _aupimo(values: Any) -> np.ndarray:
    return np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def compare_models(
    labels: Sequence[int] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    bounds: Mapping[str, Bound],
    *,
    candidate_aupimo: Sequence[float | None] | None = None,
    baseline_aupimo: Sequence[float | None] | None = None,
    pixel: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """The report's ``comparison``: one paired test per bounded metric.

    Parameters
    ----------
    labels : array-like of shape (n_images,)
        1 anomalous, 0 normal.
    candidate, baseline : array-like of shape (n_images,)
        Both models' image scores on the same images.
    bounds : mapping
        ``{metric: Bound}`` (:func:`parse_compare`).
    candidate_aupimo, baseline_aupimo : sequences, optional
        Per-image AUPIMO (None for normal images); needed for ``aupimo_mean``.
    pixel : mapping, optional
        For pixel metrics: ``{"candidate": PixelStatistics, "baseline": PixelStatistics,
        "exact": {metric: (candidate, baseline)}, "aupro_limit": float}``.

    Returns
    -------
    dict
        ``{metric: {candidate, baseline, delta, ci_low, ci_high, p_value, method, passed}}``.

    Raises
    ------
    ConfigError
        A metric whose per-image data was not given.
    MetricInputError
        Inputs the statistics refuse (one class only, lengths that differ).
    """
    from pyimgano.metrics import stats

    y = np.asarray(labels)
    cand = np.asarray(candidate, dtype=np.float64)
    base = np.asarray(baseline, dtype=np.float64)
    out: dict[str, dict[str, Any]] = {}
    for name, bound in bounds.items():
        options = {"max_drop": bound.max_drop, "alpha": bound.alpha, "mode": bound.mode}
        if name == "image_auroc":
            test = stats.delong_test(y, base, cand, **options)
        elif name == "aupimo_mean":
            if candidate_aupimo is None or baseline_aupimo is None:
                raise ConfigError("comparing aupimo_mean needs both models' per-image AUPIMO")
            test = stats.wilcoxon_aupimo(
                _aupimo(baseline_aupimo), _aupimo(candidate_aupimo), **options
            )
        elif name in PIXEL_METRICS:
            if pixel is None:
                raise ConfigError(f"comparing {name} needs both models' anomaly maps")
            metric = (
                stats.pixel_auroc_metric()
                if name == "pixel_auroc"
                else stats.aupro_metric(float(pixel.get("aupro_limit", 0.3)))
            )
            exact = pixel.get("exact", {}).get(name)
            test = stats.paired_bootstrap(
                y, metric, pixel["baseline"], pixel["candidate"],
                exact=None if exact is None else (exact[1], exact[0]), **options,
            )
        else:
            test = stats.paired_bootstrap(
                y, stats.image_bootstrap_metric(name), base, cand, **options
            )
        out[name] = test.as_dict()
    return out


def metrics_ci(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    metrics: Mapping[str, Any],
    *,
    level: float,
    aupimo: Sequence[float | None] | None = None,
    pixel: Mapping[str, Any] | None = None,
) -> dict[str, list[float]]:
    """``metrics_ci{<metric>: [low, high]}``: a bootstrap over images stratified by label.

    Every image metric of ``metrics`` with a finite value (``image_auroc``, ``image_ap``,
    ``image_f1_max``, ``image_tpr_at_fpr_<x>``); given per-image ``aupimo``, ``aupimo_mean``;
    given ``pixel`` (``{"stats": PixelStatistics, "aupro_limit": float}``), ``pixel_auroc``
    and ``aupro`` (resampled on the threshold grid around the exact value). The same
    resamples as the comparisons (2000, seed 0). ``level`` in (0, 1).
    """
    from pyimgano.metrics import stats

    y = np.asarray(labels)
    data = np.asarray(scores, dtype=np.float64)
    out: dict[str, list[float]] = {}
    for name, value in metrics.items():
        if _number(value) is None or not comparable(name):
            continue
        if name in PIXEL_METRICS:
            if pixel is None:
                continue
            metric = (stats.pixel_auroc_metric() if name == "pixel_auroc"
                      else stats.aupro_metric(float(pixel.get("aupro_limit", 0.3))))
            interval = stats.bootstrap_ci(y, metric, pixel["stats"], level=level,
                                          exact=float(value))
        elif name == "aupimo_mean":
            if aupimo is None:
                continue
            interval = stats.bootstrap_ci(
                y, _nanmean, _aupimo(aupimo), level=level, exact=float(value)
            )
        else:
            interval = stats.bootstrap_ci(
                y, stats.image_bootstrap_metric(name), data, level=level, exact=float(value)
            )
        out[name] = [float(interval.low), float(interval.high)]
    return out


def _nanmean(labels: np.ndarray, values: np.ndarray) -> float | None:
    """Mean of the defined per-image values (AUPIMO: the anomalous images)."""
    defined = values[np.isfinite(values)]
    return float(defined.mean()) if defined.size else None


def comparison_table(
    comparison: Mapping[str, Mapping[str, Any]], bounds: Mapping[str, Any] | None = None
) -> str:
    """A plain-text table of a report's ``comparison``: metric, candidate, baseline, Δ,
    interval, p, bound, verdict (``bounds``: ``settings.compare``, for the bound column)."""
    from pyimgano.text_table import text_table

    rows = [("metric", "candidate", "baseline", "Δ", "interval", "p", "bound", "verdict")]
    for metric in sorted(comparison):
        entry = comparison[metric]
        bound = (bounds or {}).get(metric) or {}
        if isinstance(bound, Bound):
            bound = {"max_drop": bound.max_drop, "mode": bound.mode, "alpha": bound.alpha}
        bound_text = (
            f"drop <= {bound['max_drop']:g} ({bound.get('mode', 'regression')}, "
            f"alpha {bound.get('alpha', 0.05):g})" if "max_drop" in bound else "?"
        )
        rows.append((
            metric,
            f"{entry['candidate']:.4f}",
            f"{entry['baseline']:.4f}",
            f"{entry['delta']:+.4f}",
            f"[{entry['ci_low']:+.4f}, {entry['ci_high']:+.4f}]",
            f"{entry['p_value']:.3g}",
            bound_text,
            ("pass" if entry["passed"] else "FAIL") + f" ({entry['method']})",
        ))
    return "\n".join(text_table(rows))
