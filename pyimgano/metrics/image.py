"""Image-level ranking metrics: AUROC, AP, F1-max and the ROC curve (docs/REFERENCE.md §5).

Scores are ordered once with a stable sort and swept by the same curve code as the pixel
metrics (:mod:`pyimgano.metrics._curves`), so both levels compute each metric the same way.

Definedness rule: every ranking metric (``auroc``, ``average_precision``, ``f1_max``) needs
both classes; with only normal or only anomalous images it is ``None`` (scikit-learn warns and
returns NaN instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics._curves import AveragePrecision, Block, CurveCollector, F1Max, RocArea
from pyimgano.metrics._sweep import Consumer, sweep
from pyimgano.metrics._validation import check_labels, check_limit, check_scores
from pyimgano.metrics.results import MetricResults, limit_key, one_class_note

__all__ = [
    "auroc",
    "average_precision",
    "f1_max",
    "f1_max_threshold",
    "image_metrics",
    "roc_curve",
    "tpr_at_fpr",
    "tpr_at_fpr_key",
]

IMAGE_METRICS = ("image_auroc", "image_ap", "image_f1_max", "image_auroc_step")


def tpr_at_fpr_key(fpr_limit: float) -> str:
    """Metric name of an operating point: ``image_tpr_at_fpr_`` + :func:`limit_key`."""
    return f"image_tpr_at_fpr_{limit_key(fpr_limit)}"


def check_fpr_limits(limits: Any, *, name: str = "fpr_limits") -> tuple[float, ...]:
    """Return the FPR limits as floats in (0, 1], duplicates dropped, order kept."""
    if isinstance(limits, (str, bytes)) or not isinstance(limits, (list, tuple)):
        raise MetricInputError(f"{name} is {limits!r}; expected a list of numbers in (0, 1]")
    values: list[float] = []
    for index, limit in enumerate(limits):
        value = check_limit(limit, name=f"{name}[{index}]")
        if value not in values:
            values.append(value)
    return tuple(values)


class TprAtFpr:
    """Highest TPR over the ROC points (ties collapsed) whose FPR ``fp / n_neg`` is ``<= limit``.

    The curve's ``(0, 0)`` start always qualifies, so the value is 0 when even the highest
    score has too many normal images at or above it.
    """

    def __init__(self, n_neg: int, n_pos: int, limit: float) -> None:
        self._n_neg, self._n_pos, self._limit = int(n_neg), int(n_pos), float(limit)
        self._best_tp = 0

    def update(self, block: Block) -> None:
        inside = block.fp / self._n_neg <= self._limit
        if inside.any():  # fp and tp grow along the sweep: the last point inside is best
            self._best_tp = max(self._best_tp, int(block.tp[np.flatnonzero(inside)[-1]]))

    def compute(self) -> float:
        return self._best_tp / self._n_pos


def _validate(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = check_labels(labels)
    return y, check_scores(scores, y.size)


def _sweep_scores(
    y: np.ndarray, scores: np.ndarray, consumers: list[Consumer], *, keep_scores: bool = False
) -> None:
    """Sweep image scores, highest first (stable sort, as scikit-learn's ``_binary_clf_curve``)."""
    order = np.argsort(scores, kind="stable")[::-1]
    sweep([(scores[order], y[order], None)], consumers, keep_scores=keep_scores)


def _counts(y: np.ndarray) -> tuple[int, int]:
    n_pos = int(np.count_nonzero(y))
    return y.size - n_pos, n_pos


def _ranking(labels: Any, scores: Any, make: Any) -> float | None:
    y, s = _validate(labels, scores)
    n_neg, n_pos = _counts(y)
    if n_neg == 0 or n_pos == 0:
        return None
    accumulator = make(n_neg, n_pos)
    _sweep_scores(y, s, [accumulator])
    return float(accumulator.compute())


def auroc(labels: Any, scores: Any) -> float | None:
    """Area under the ROC curve, equal to scikit-learn's ``roc_auc_score``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 (or True) for anomalous, 0 (or False) for normal.
    scores : array-like of shape (n_samples,), bool, int or float
        Anomaly scores, higher means more anomalous; finite. Used at their own precision.

    Returns
    -------
    float or None
        The AUROC, or ``None`` unless both classes are present.

    Raises
    ------
    MetricInputError
        Empty or non-1-D input, lengths that differ, labels other than 0/1, NaN or Inf scores.

    Notes
    -----
    Trapezoidal area over the ROC points at every distinct score (tied scores form one point),
    starting at (0, 0), exactly as ``sklearn.metrics.roc_auc_score``; the area is summed in
    integers and divided once. Undefined (``None``) with a single class.

    Examples
    --------
    >>> auroc(np.array([0, 1]), np.array([0.1, 0.9]))
    1.0
    >>> auroc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.2, 0.9]))  # one tie
    0.875
    """
    return _ranking(labels, scores, RocArea)


def average_precision(labels: Any, scores: Any) -> float | None:
    """Average precision, equal to scikit-learn's ``average_precision_score``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 (or True) for anomalous, 0 (or False) for normal.
    scores : array-like of shape (n_samples,), bool, int or float
        Anomaly scores, higher means more anomalous; finite.

    Returns
    -------
    float or None
        ``sum_n (R_n - R_{n-1}) P_n`` over the distinct thresholds in decreasing order, or
        ``None`` unless both classes are present.

    Raises
    ------
    MetricInputError
        Empty or non-1-D input, lengths that differ, labels other than 0/1, NaN or Inf scores.

    Notes
    -----
    The step-wise (non-interpolated) sum of scikit-learn; tied scores form one threshold.
    Undefined (``None``) with a single class, where scikit-learn returns NaN or 0 with a
    warning.

    Examples
    --------
    >>> average_precision(np.array([0, 1]), np.array([0.1, 0.9]))
    1.0
    """
    return _ranking(labels, scores, lambda n_neg, n_pos: AveragePrecision(n_pos))


def f1_max(labels: Any, scores: Any) -> float | None:
    """Best F1 over every distinct score threshold (anomalous when ``score >= t``).

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 (or True) for anomalous, 0 (or False) for normal.
    scores : array-like of shape (n_samples,), bool, int or float
        Anomaly scores, higher means more anomalous; finite.

    Returns
    -------
    float or None
        ``max_t 2 TP / (2 TP + FP + FN)``, or ``None`` unless both classes are present.

    Raises
    ------
    MetricInputError
        Empty or non-1-D input, lengths that differ, labels other than 0/1, NaN or Inf scores.

    Notes
    -----
    Exact: every distinct score is a candidate threshold (no binning); tied scores are
    predicted together. Undefined (``None``) with a single class, like the other ranking
    metrics.

    Examples
    --------
    >>> f1_max(np.array([0, 1, 1]), np.array([0.9, 0.1, 0.8]))  # t=0.1: TP 2, FP 1 -> 4/5
    0.8
    """
    return _ranking(labels, scores, lambda n_neg, n_pos: F1Max(n_pos))


def f1_max_threshold(labels: Any, scores: Any) -> float | None:
    """The lowest score threshold ``t`` at which ``score >= t`` reaches :func:`f1_max`.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 (or True) for anomalous, 0 (or False) for normal.
    scores : array-like of shape (n_samples,), bool, int or float
        Anomaly scores, higher means more anomalous; finite.

    Returns
    -------
    float or None
        One of the scores, or ``None`` unless both classes are present (as :func:`f1_max`).

    Raises
    ------
    MetricInputError
        For the input errors of :func:`f1_max`.

    Notes
    -----
    The same sweep and F1 accumulator as :func:`f1_max`: every distinct score is a candidate;
    among thresholds with the maximal F1 the lowest one is returned.

    Examples
    --------
    >>> f1_max_threshold(np.array([0, 1, 1]), np.array([0.9, 0.1, 0.8]))
    0.1
    """
    y, s = _validate(labels, scores)
    n_neg, n_pos = _counts(y)
    if n_neg == 0 or n_pos == 0:
        return None
    f1 = F1Max(n_pos)
    _sweep_scores(y, s, [f1], keep_scores=True)
    return f1.threshold


def tpr_at_fpr(labels: Any, scores: Any, *, fpr_limit: float) -> float | None:
    """Operating point: the highest TPR reachable with FPR ``<= fpr_limit`` (ROC step function).

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 (or True) for anomalous, 0 (or False) for normal.
    scores : array-like of shape (n_samples,), bool, int or float
        Anomaly scores, higher means more anomalous; finite.
    fpr_limit : float
        The largest false-positive rate allowed, in (0, 1].

    Returns
    -------
    float or None
        ``max {TPR(t) : FPR(t) <= fpr_limit}`` over every threshold ``t`` (anomalous when
        ``score >= t``), or ``None`` unless both classes are present.

    Raises
    ------
    MetricInputError
        For the input errors of :func:`auroc`, and ``fpr_limit`` outside (0, 1].

    Notes
    -----
    Exact on the ROC step function: only the ROC vertices are reachable (a threshold cannot
    split tied scores, so a tie between a normal and an anomalous image moves both rates at
    once), and no point between vertices is interpolated. ``FPR = fp / n_normal`` is compared
    with ``fpr_limit`` as computed, so ``fpr_limit=0.01`` with 300 normal images allows 3 false
    positives. With 0 reachable true positives the value is 0.0.

    Examples
    --------
    >>> tpr_at_fpr([0, 0, 1, 1], [0.1, 0.8, 0.7, 0.9], fpr_limit=0.4)
    0.5
    >>> tpr_at_fpr([0, 0, 1, 1], [0.1, 0.8, 0.8, 0.9], fpr_limit=0.4)  # the tie at 0.8
    0.5
    """
    limit = check_limit(fpr_limit, name="fpr_limit")
    return _ranking(labels, scores, lambda n_neg, n_pos: TprAtFpr(n_neg, n_pos, limit))


def roc_curve(
    labels: Any, scores: Any, *, drop_intermediate: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve at every distinct score, as scikit-learn's ``roc_curve``.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        1 (or True) for anomalous, 0 (or False) for normal.
    scores : array-like of shape (n_samples,), bool, int or float
        Anomaly scores, higher means more anomalous; finite.
    drop_intermediate : bool, default False
        Drop points collinear with their neighbours, with scikit-learn's rule (its default is
        True; the area does not change).

    Returns
    -------
    fpr, tpr : ndarray of float64, shape (n_points,)
        Rates at each threshold, starting at (0, 0) and ending at (1, 1).
    thresholds : ndarray, shape (n_points,)
        ``inf`` then the distinct scores in decreasing order (float64, or the scores' own
        dtype where that is wider).

    Raises
    ------
    MetricInputError
        For the input errors of :func:`auroc`, and when only one class is present (the
        curve is then undefined).

    Examples
    --------
    >>> fpr, tpr, thresholds = roc_curve(np.array([0, 1]), np.array([0.1, 0.9]))
    >>> fpr.tolist(), tpr.tolist(), thresholds.tolist()
    ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [inf, 0.9, 0.1])
    """
    y, s = _validate(labels, scores)
    n_neg, n_pos = _counts(y)
    if n_neg == 0 or n_pos == 0:
        raise MetricInputError(f"roc_curve is undefined: {one_class_note(n_neg, n_pos)}")
    collector = CurveCollector()
    _sweep_scores(y, s, [collector], keep_scores=True)
    fps, tps, _, thresholds = collector.arrays()
    assert thresholds is not None
    if drop_intermediate and fps.size > 2:
        corner = (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0)
        keep = np.concatenate(([True], corner, [True]))
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    dtype = np.result_type(s.dtype, np.float64)
    fpr = np.concatenate(([0.0], fps / n_neg))
    tpr = np.concatenate(([0.0], tps / n_pos))
    return fpr, tpr, np.concatenate(([np.inf], thresholds)).astype(dtype, copy=False)


def image_metrics(labels: Any, scores: Any, *, fpr_limits: Sequence[float] = ()) -> MetricResults:
    """Image-level metrics of docs/REFERENCE.md §5: AUROC, AP, F1-max and the AUROC resolution.

    Parameters
    ----------
    labels : array-like of shape (n_images,)
        1 (or True) for anomalous, 0 (or False) for normal.
    scores : array-like of shape (n_images,), bool, int or float
        Image anomaly scores, higher means more anomalous; finite; used at their own precision.
    fpr_limits : sequence of float, default ()
        Operating points: one ``image_tpr_at_fpr_<x>`` (:func:`tpr_at_fpr`) per limit in
        (0, 1], named with :func:`~pyimgano.metrics.limit_key` (``image_tpr_at_fpr_0.01``).

    Returns
    -------
    MetricResults
        ``image_auroc``, ``image_ap``, ``image_f1_max`` (see :func:`auroc`,
        :func:`average_precision`, :func:`f1_max`), ``image_auroc_step``
        ``= 1 / (n_anomalous * n_normal)``, the smallest change AUROC can make, and the
        operating points. All are ``None`` with a note (e.g. ``"only one class in labels
        (12 normal, 0 anomalous)"``) unless both classes are present.

    Raises
    ------
    MetricInputError
        Empty or non-1-D input, lengths that differ, labels other than 0/1, NaN or Inf scores.

    Notes
    -----
    One stable sort serves all metrics; ties form one threshold (as in scikit-learn).

    Examples
    --------
    >>> r = image_metrics([0, 0, 1], [0.1, 0.4, 0.35])
    >>> r["image_auroc"], r["image_auroc_step"]
    (0.5, 0.5)
    """
    limits = check_fpr_limits(fpr_limits)
    y, s = _validate(labels, scores)
    n_neg, n_pos = _counts(y)
    results = MetricResults()
    names = [*IMAGE_METRICS, *(tpr_at_fpr_key(limit) for limit in limits)]
    if n_neg == 0 or n_pos == 0:
        results.set_undefined(names, one_class_note(n_neg, n_pos))
        return results
    roc, ap, f1 = RocArea(n_neg, n_pos), AveragePrecision(n_pos), F1Max(n_pos)
    points = [TprAtFpr(n_neg, n_pos, limit) for limit in limits]
    _sweep_scores(y, s, [roc, ap, f1, *points])
    results.set("image_auroc", roc.compute())
    results.set("image_ap", ap.compute())
    results.set("image_f1_max", f1.compute())
    results.set("image_auroc_step", 1.0 / (n_neg * n_pos))
    for limit, point in zip(limits, points, strict=True):
        results.set(tpr_at_fpr_key(limit), point.compute())
    return results
