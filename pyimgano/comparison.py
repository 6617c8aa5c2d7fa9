"""Release decisions: a candidate against a baseline on the same images (docs/REFERENCE.md §12).

Pure functions on per-image data (labels, both models' scores, per-image AUPIMO, per-image
pixel statistics, per-image SegF1 counts, sample ids); the tests themselves are those of
:mod:`pyimgano.metrics.stats`:

- ``image_auroc``: DeLong's paired test (:func:`~pyimgano.metrics.stats.delong_test`);
- ``aupimo_mean``: Wilcoxon signed-rank on per-image AUPIMO
  (:func:`~pyimgano.metrics.stats.wilcoxon_aupimo`);
- every other metric: a paired bootstrap over images stratified by label (2000 resamples,
  seed 0; :func:`~pyimgano.metrics.stats.paired_bootstrap`):

  - ``image_ap``, ``image_f1_max``, ``image_tpr_at_fpr_<x>``: on the image scores (exact);
  - ``pixel_auroc``, ``pixel_ap``, ``pixel_f1_max``, ``aupro``, ``aupro_<limit>``: from
    per-image statistics on a fine threshold grid, their point estimates staying exact
    (``comparison_notes``: :data:`GRID_NOTE`);
  - ``seg_f1``: from per-image (TP, FP, FN) at each model's calibrated threshold (exact);
  - ``aupimo_std``: on per-image AUPIMO (lower is better: a worsening is a rise);
  - ``sample_auroc``, ``sample_ap``, ``sample_f1_max``: over *samples* (the maximum over a
    sample's views) stratified by sample label.

  - ``auspro_<limit>`` (MVTec LOCO): from per-image sPRO statistics on the grid
    (:mod:`pyimgano.metrics.spro_stats`), the official mean of the two types.
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
    "AUPIMO_METRICS",
    "Bound",
    "as_bounds",
    "IMAGE_METRICS",
    "PIXEL_METRICS",
    "SAMPLE_METRICS",
    "compare_models",
    "comparable",
    "method_of",
    "metrics_ci",
    "needs_maps",
    "on_grid",
    "parse_compare",
    "parse_compare_flag",
]

#: Keys of one ``compare`` entry.
BOUND_KEYS = ("max_drop", "mode", "alpha")
MODES = ("regression", "non_inferior")
#: Metrics compared on image scores (``image_tpr_at_fpr_<x>`` too).
IMAGE_METRICS = ("image_auroc", "image_ap", "image_f1_max")
#: Metrics compared on per-image pixel statistics on the threshold grid (``aupro_<x>`` too).
PIXEL_METRICS = ("pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro")
#: Metrics compared on per-image AUPIMO.
AUPIMO_METRICS = ("aupimo_mean", "aupimo_std")
#: Real-IAD's sample metrics, compared over samples (:mod:`pyimgano.metrics.samples`).
SAMPLE_METRICS = ("sample_auroc", "sample_ap", "sample_f1_max")
#: What a ``compare`` entry may name (parametrised names in angle brackets).
COMPARABLE = (
    *IMAGE_METRICS, "image_tpr_at_fpr_<x>", *PIXEL_METRICS, "aupro_<limit>", "auspro_<limit>",
    "seg_f1",
    *AUPIMO_METRICS, *SAMPLE_METRICS,
)
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


def _limited(name: str, prefix: str) -> bool:
    from pyimgano.metrics.results import metric_direction

    return name.startswith(prefix) and metric_direction(name) is not None


def on_grid(name: str) -> bool:
    """Whether metric ``name`` is resampled from pixel statistics on the threshold grid."""
    return name in PIXEL_METRICS or _limited(name, "aupro_") or _limited(name, "auspro_")


def needs_maps(name: str) -> bool:
    """Whether comparing metric ``name`` needs both models' anomaly maps (pixel metrics)."""
    return on_grid(name) or name in AUPIMO_METRICS or name == "seg_f1"


def comparable(name: str) -> bool:
    """Whether metric ``name`` can be compared (or get a ``metrics_ci`` interval)."""
    if name in IMAGE_METRICS or name in AUPIMO_METRICS or name in SAMPLE_METRICS:
        return True
    return name == "seg_f1" or on_grid(name) or _limited(name, "image_tpr_at_fpr_")


def method_of(name: str) -> str:
    """The test a comparable metric gets: ``delong``, ``wilcoxon`` or ``bootstrap``."""
    return {"image_auroc": "delong", "aupimo_mean": "wilcoxon"}.get(name, "bootstrap")


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
                f"{key}: unknown metric {metric!r}; expected one of {', '.join(COMPARABLE)}"
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
            hint = " (pixel metrics need pixel: true / --pixel)" if needs_maps(name) else ""
            if name == "seg_f1":
                hint = " (seg_f1: the mvtec_ad2 format with pixel metrics)"
            elif name.startswith("auspro_"):
                hint = " (auspro_<limit>: the mvtec_loco format with pixel metrics and that limit)"
            elif name in SAMPLE_METRICS:
                hint = " (sample metrics: the realiad format)"
            raise ConfigError(
                f"{where}: compares {name!r}, which this item does not compute{hint}; "
                f"it computes {', '.join(sorted(metrics))}"
            )


def _aupimo(values: Any) -> np.ndarray:
    return np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _resampling(
    name: str, labels: np.ndarray, inputs: Mapping[str, Any], roles: tuple[str, ...]
) -> tuple[np.ndarray, Any, list[Any]]:
    """What the bootstrap of metric ``name`` resamples: ``(labels, metric, data per role)``,
    the labels being those of the resampled units (images or samples).

    ``inputs``: ``scores``, ``aupimo``, ``pixel`` (PixelStatistics), ``spro``
    (SproStatistics), ``seg_f1`` (per-image counts), each ``{role: data}``; ``aupro_limit``;
    ``sample_ids``. A missing input is a :class:`ConfigError` naming the metric and what it
    needs.
    """
    from pyimgano.metrics import resampled, stats

    def needed(key: str, what: str) -> list[Any]:
        given = inputs.get(key) or {}
        if any(given.get(role) is None for role in roles):
            raise ConfigError(f"{name}: the bootstrap of {name} needs {what}")
        return [given[role] for role in roles]

    if name in SAMPLE_METRICS:
        ids = inputs.get("sample_ids")
        if ids is None:
            raise ConfigError(
                f"{name}: the bootstrap of {name} needs each image's sample id (the realiad "
                "format's per-view sample ids); none were given"
            )
        scores = needed("scores", "the image scores")
        sample_labels, grouped = resampled.sample_data(labels, scores, list(ids))
        return sample_labels, resampled.sample_bootstrap_metric(name), grouped
    if name == "aupimo_std":
        values = [_aupimo(v) for v in needed("aupimo", "per-image AUPIMO")]
        return labels, resampled.aupimo_std_metric(), values
    if name == "aupimo_mean":
        values = [_aupimo(v) for v in needed("aupimo", "per-image AUPIMO")]
        return labels, _nanmean, values
    if name == "seg_f1":
        counts = needed("seg_f1", "per-image (TP, FP, FN) counts at the calibrated threshold "
                        "(seg_f1_counts)")
        return labels, resampled.seg_f1_metric(), counts
    if name.startswith("auspro_"):
        from pyimgano.metrics.spro_stats import auspro_bootstrap_metric

        data = needed("spro", "per-image sPRO statistics (spro_statistics of the maps and the "
                      "defects)")
        return labels, auspro_bootstrap_metric(float(name.removeprefix("auspro_"))), data
    if on_grid(name):
        data = needed("pixel", "per-image pixel statistics (pixel_statistics of the maps)")
        if name == "pixel_auroc":
            metric = stats.pixel_auroc_metric()
        elif name == "pixel_ap":
            metric = resampled.pixel_ap_metric()
        elif name == "pixel_f1_max":
            metric = resampled.pixel_f1_max_metric()
        elif name == "aupro":
            metric = stats.aupro_metric(float(inputs.get("aupro_limit", 0.3)))
        else:
            metric = stats.aupro_metric(float(name.removeprefix("aupro_")))
        return labels, metric, data
    data = needed("scores", "the image scores")
    return labels, stats.image_bootstrap_metric(name), data


def compare_models(
    labels: Sequence[int] | np.ndarray,
    candidate: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    bounds: Mapping[str, Bound],
    *,
    candidate_aupimo: Sequence[float | None] | None = None,
    baseline_aupimo: Sequence[float | None] | None = None,
    pixel: Mapping[str, Any] | None = None,
    sample_ids: Sequence[str] | None = None,
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
        Per-image AUPIMO (None for normal images); needed for ``aupimo_mean``/``aupimo_std``.
    pixel : mapping, optional
        For the grid metrics (``pixel_auroc``, ``pixel_ap``, ``pixel_f1_max``, ``aupro``,
        ``aupro_<limit>``): ``{"candidate": PixelStatistics, "baseline": PixelStatistics,
        "exact": {metric: (candidate, baseline)}, "aupro_limit": float}``; for ``seg_f1``:
        ``"seg_f1": (candidate counts, baseline counts)`` (:func:`~pyimgano.metrics.seg_f1_counts`
        at each model's threshold, shape (n_images, 3)); for ``auspro_<limit>``: ``"spro":
        {"candidate": SproStatistics, "baseline": SproStatistics}`` (exact values in
        ``"exact"``).
    sample_ids : sequence of str, optional
        Each image's sample id; needed for ``sample_*`` (resampled over samples).

    Returns
    -------
    dict
        ``{metric: {candidate, baseline, delta, ci_low, ci_high, p_value, method, passed}}``.

    Raises
    ------
    ConfigError
        A metric whose per-image data was not given (the metric and the data named).
    MetricInputError
        Inputs the statistics refuse (one class only, lengths that differ).
    """
    from pyimgano.metrics import stats
    from pyimgano.metrics.results import metric_direction

    y = np.asarray(labels)
    cand = np.asarray(candidate, dtype=np.float64)
    base = np.asarray(baseline, dtype=np.float64)
    pixel = pixel or {}
    seg = pixel.get("seg_f1") or (None, None)
    inputs = {
        "scores": {"candidate": cand, "baseline": base},
        "aupimo": {"candidate": candidate_aupimo, "baseline": baseline_aupimo},
        "pixel": {"candidate": pixel.get("candidate"), "baseline": pixel.get("baseline")},
        "seg_f1": {"candidate": seg[0], "baseline": seg[1]},
        "spro": dict(pixel.get("spro") or {}),
        "aupro_limit": pixel.get("aupro_limit", 0.3),
        "sample_ids": sample_ids,
    }
    roles = ("baseline", "candidate")
    out: dict[str, dict[str, Any]] = {}
    for name, bound in bounds.items():
        options = {"max_drop": bound.max_drop, "alpha": bound.alpha, "mode": bound.mode}
        if name == "image_auroc":
            test = stats.delong_test(y, base, cand, **options)
        elif name == "aupimo_mean":
            _, _, (base_values, cand_values) = _resampling(name, y, inputs, roles)
            test = stats.wilcoxon_aupimo(base_values, cand_values, **options)
        else:
            units, metric, (base_data, cand_data) = _resampling(name, y, inputs, roles)
            exact = pixel.get("exact", {}).get(name) if on_grid(name) else None
            test = stats.paired_bootstrap(
                units, metric, base_data, cand_data,
                exact=None if exact is None else (exact[1], exact[0]),
                higher_is_better=metric_direction(name) is not False, **options,
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
    sample_ids: Sequence[str] | None = None,
) -> dict[str, list[float]]:
    """``metrics_ci{<metric>: [low, high]}``: a bootstrap over images stratified by label.

    Every comparable metric of ``metrics`` with a finite value whose per-image data is given:
    the image metrics (``image_auroc``, ``image_ap``, ``image_f1_max``,
    ``image_tpr_at_fpr_<x>``); given per-image ``aupimo``, ``aupimo_mean`` and ``aupimo_std``;
    given ``pixel`` (``{"stats": PixelStatistics, "aupro_limit": float}``), ``pixel_auroc``,
    ``pixel_ap``, ``pixel_f1_max``, ``aupro`` and ``aupro_<limit>`` (resampled on the threshold
    grid around the exact value), with ``pixel["seg_f1"]`` (per-image counts) ``seg_f1``, with
    ``pixel["spro"]`` (SproStatistics) ``auspro_<limit>``;
    given ``sample_ids``, the ``sample_*`` metrics over samples. The same resamples as the
    comparisons (2000, seed 0). ``level`` in (0, 1).
    """
    from pyimgano.metrics import stats

    y = np.asarray(labels)
    pixel = pixel or {}
    inputs = {
        "scores": {"model": np.asarray(scores, dtype=np.float64)},
        "aupimo": {"model": aupimo},
        "pixel": {"model": pixel.get("stats")},
        "seg_f1": {"model": pixel.get("seg_f1")},
        "spro": {"model": pixel.get("spro")},
        "aupro_limit": pixel.get("aupro_limit", 0.3),
        "sample_ids": sample_ids,
    }
    out: dict[str, list[float]] = {}
    for name, value in metrics.items():
        if _number(value) is None or not comparable(name):
            continue
        try:
            units, metric, (data,) = _resampling(name, y, inputs, ("model",))
        except ConfigError:  # its per-image data was not kept: no interval
            continue
        interval = stats.bootstrap_ci(units, metric, data, level=level, exact=float(value))
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
