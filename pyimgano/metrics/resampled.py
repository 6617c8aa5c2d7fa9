"""Bootstrap metrics beyond those of stats, all resamples at once (docs/REFERENCE.md §12).

The :class:`~pyimgano.metrics.stats.BootstrapMetric` of every metric that
:func:`~pyimgano.metrics.stats.paired_bootstrap` and
:func:`~pyimgano.metrics.stats.bootstrap_ci` resample beyond those of
:mod:`pyimgano.metrics.stats` (image metrics, ``pixel_auroc``, ``aupro``):

- :func:`pixel_ap_metric`, :func:`pixel_f1_max_metric`: ``pixel_ap`` and ``pixel_f1_max`` on
  :class:`~pyimgano.metrics.stats.PixelStatistics` (binned on its threshold grid; pass the
  exact values through ``exact``);
- :func:`seg_f1_metric`: ``seg_f1`` from per-image ``(TP, FP, FN)``
  (:func:`~pyimgano.metrics.seg_f1_counts`): exact, a resample's counts are sums;
- :func:`aupimo_std_metric`: ``aupimo_std`` (``ddof=0``) of per-image AUPIMO (NaN: undefined);
- :func:`sample_data` and :func:`sample_bootstrap_metric`: ``sample_auroc``, ``sample_ap``,
  ``sample_f1_max`` with the *sample* (the maximum over its views) as the resampled unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics.stats import BootstrapMetric, PixelStatistics, image_bootstrap_metric

__all__ = [
    "aupimo_std_metric",
    "pixel_ap_metric",
    "pixel_f1_max_metric",
    "sample_bootstrap_metric",
    "sample_data",
    "seg_f1_metric",
]


def _descending_pixels(
    stats: PixelStatistics, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tp, fp, n_pos)`` per resample: defect and normal pixels at or above each bin, highest
    bin first (the pooled pixel curve on the grid), and the defect pixels in all."""
    weights = np.asarray(counts, dtype=np.float64)
    both = weights @ stats.positives_descending
    tp, fp = np.split(both, 2, axis=1)
    return tp, fp, tp[:, -1]


def _binned_ap_rows(stats: PixelStatistics, counts: np.ndarray) -> np.ndarray:
    """Binned pixel AP per resample: ``Σ (R_k − R_{k−1}) P_k`` over the bins (scikit-learn's
    step sum, one threshold per bin); NaN without defect pixels."""
    tp, fp, n_pos = _descending_pixels(stats, counts)
    rises = np.diff(tp, axis=1, prepend=0.0)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=rises > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("rk,rk->r", rises, precision) / n_pos


def _binned_f1_rows(stats: PixelStatistics, counts: np.ndarray) -> np.ndarray:
    """Binned pixel F1-max per resample: ``max_k 2 TP_k / (TP_k + FP_k + n_pos)``; NaN without
    defect pixels."""
    tp, fp, n_pos = _descending_pixels(stats, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        best = np.max(tp / (tp + fp + n_pos[:, None]), axis=1)
    return np.where(n_pos > 0, 2.0 * best, np.nan)


def _first(rows: np.ndarray) -> float | None:
    value = float(rows[0])
    return value if np.isfinite(value) else None


def pixel_ap_metric() -> BootstrapMetric:
    """``pixel_ap`` on :class:`~pyimgano.metrics.stats.PixelStatistics` for the bootstrap.

    Returns
    -------
    BootstrapMetric
        The binned AP: scikit-learn's ``Σ (R_k − R_{k−1}) P_k`` with one threshold per grid
        bin (pixels in one bin count as tied), O(n_images · n_bins) per resample. Equal to
        :func:`~pyimgano.metrics.average_precision` of the pooled pixels when every distinct
        score has its own bin; otherwise within the grid's resolution, so pass the exact
        values through ``exact``.
    """
    return BootstrapMetric(
        "pixel_ap",
        lambda labels, stats: _first(_binned_ap_rows(stats, np.ones((1, stats.n_images)))),
        lambda labels, stats, counts: _binned_ap_rows(stats, counts),
    )


def pixel_f1_max_metric() -> BootstrapMetric:
    """``pixel_f1_max`` on :class:`~pyimgano.metrics.stats.PixelStatistics` for the bootstrap.

    Returns
    -------
    BootstrapMetric
        The binned F1-max: ``max_k 2 TP_k / (2 TP_k + FP_k + FN_k)`` over the grid's bins as
        thresholds; equal to :func:`~pyimgano.metrics.f1_max` of the pooled pixels when every
        distinct score has its own bin, otherwise within the grid's resolution (pass the exact
        values through ``exact``).
    """
    return BootstrapMetric(
        "pixel_f1_max",
        lambda labels, stats: _first(_binned_f1_rows(stats, np.ones((1, stats.n_images)))),
        lambda labels, stats, counts: _binned_f1_rows(stats, counts),
    )


def _seg_f1_rows(counts_per_image: np.ndarray, counts: np.ndarray) -> np.ndarray:
    weights = np.asarray(counts, dtype=np.float64)
    tp, fp, fn = (weights @ counts_per_image.astype(np.float64)).T
    denominator = 2.0 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2.0 * tp / denominator, np.nan)


def _check_seg_counts(data: Any) -> np.ndarray:
    array = np.asarray(data)
    if array.ndim != 2 or array.shape[1] != 3 or (array.size and array.min() < 0):
        raise MetricInputError(
            f"seg_f1 data has shape {array.shape}; expected per-image (TP, FP, FN) counts >= 0 "
            "of shape (n_images, 3) (seg_f1_counts)"
        )
    return array


def seg_f1_metric() -> BootstrapMetric:
    """``seg_f1`` from per-image ``(TP, FP, FN)`` for the bootstrap (exact, no grid).

    Data: :func:`~pyimgano.metrics.seg_f1_counts` of the maps at the threshold, shape
    (n_images, 3). A resample's SegF1 is ``2 ΣTP / (2 ΣTP + ΣFP + ΣFN)`` of its images'
    counts (with multiplicity), exactly :func:`~pyimgano.metrics.seg_f1` of those images;
    undefined (NaN, dropped) when the resample has no defect and no predicted pixel.

    Raises
    ------
    MetricInputError
        Data that is not of shape (n_images, 3) or holds negative counts.
    """

    def value(labels: np.ndarray, data: Any) -> float | None:
        rows = _seg_f1_rows(_check_seg_counts(data), np.ones((1, len(data))))
        return _first(rows)

    return BootstrapMetric(
        "seg_f1", value, lambda labels, data, counts: _seg_f1_rows(_check_seg_counts(data), counts)
    )


def _aupimo_std_rows(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Weighted ``ddof=0`` standard deviation of the defined values per resample (NaN when a
    resample holds none), centred on the weighted mean (two passes: no cancellation)."""
    defined = np.isfinite(values)
    v = np.where(defined, values, 0.0)
    weights = np.asarray(counts, dtype=np.float64) * defined
    total = weights.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    mean = (weights @ v) / safe
    spread = np.einsum("ri,ri->r", weights, (v[None, :] - mean[:, None]) ** 2) / safe
    return np.where(total > 0, np.sqrt(spread), np.nan)


def aupimo_std_metric() -> BootstrapMetric:
    """``aupimo_std`` (the ``ddof=0`` standard deviation of the defined per-image AUPIMO) for
    the bootstrap.

    Data: per-image AUPIMO, NaN for the images where it is undefined (normal images); a
    resample's value is the weighted standard deviation of its defined images (weights = how
    often each is drawn), exactly ``np.std`` of the resampled values.
    """
    return BootstrapMetric(
        "aupimo_std",
        lambda labels, values: _first(_aupimo_std_rows(np.asarray(values, np.float64),
                                                       np.ones((1, len(values))))),
        lambda labels, values, counts: _aupimo_std_rows(np.asarray(values, np.float64), counts),
    )


def sample_data(
    labels: Any, scores: Sequence[Any], sample_ids: Sequence[str]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per-view labels and several models' per-view scores as per-sample data.

    Parameters
    ----------
    labels : array-like of shape (n_views,)
    scores : sequence of array-likes of shape (n_views,)
        Each model's view scores (the same views).
    sample_ids : sequence of str, length n_views

    Returns
    -------
    sample_labels : ndarray of int64, shape (n_samples,)
    sample_scores : list of ndarray, shape (n_samples,)
        Each model's sample scores (the maximum over the sample's views), the samples in the
        same (sorted id) order, so a bootstrap over them is paired and stratified by sample
        label.

    Raises
    ------
    MetricInputError
        As :func:`~pyimgano.metrics.group_samples`.
    """
    from pyimgano.metrics.samples import group_samples

    grouped = [group_samples(labels, s, sample_ids) for s in scores]
    sample_labels = grouped[0][1]
    return sample_labels, [g[2] for g in grouped]


def sample_bootstrap_metric(name: str) -> BootstrapMetric:
    """``sample_auroc``, ``sample_ap`` or ``sample_f1_max`` on per-sample data
    (:func:`sample_data`): the image metric's bootstrap form with the sample as the unit.

    Raises
    ------
    MetricInputError
        Any other name.
    """
    from pyimgano.metrics.samples import SAMPLE_METRICS

    if name not in SAMPLE_METRICS:
        raise MetricInputError(
            f"no sample bootstrap metric {name!r}; expected one of {', '.join(SAMPLE_METRICS)}"
        )
    image = image_bootstrap_metric("image_" + name.removeprefix("sample_"))
    return BootstrapMetric(name, image.value, image.resampled)
