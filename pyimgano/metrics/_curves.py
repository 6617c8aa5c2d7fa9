"""Threshold curves -> metrics: the one implementation of AUROC, AP, F1-max and AU-PRO.

A *sweep* (see :mod:`pyimgano.metrics._sweep`) visits every distinct score once, from the
highest to the lowest, and hands the accumulators below blocks of consecutive curve points.
Point ``i`` of a block holds the cumulative counts over all samples whose score is ``>=`` the
``i``-th distinct threshold:

- ``fp[i]``: normal samples (false positives), ``tp[i]``: anomalous samples (true positives),
- ``pro[i]``: the sum over ground-truth regions of the region's covered pixel count divided
  by its size (MVTec's per-region overlap before the division by the number of regions).

Ties are already collapsed (one point per distinct score), so these are exactly the points of
scikit-learn's ``roc_curve(..., drop_intermediate=False)`` / ``precision_recall_curve`` and of
the MVTec AD ``compute_pro`` curve, without the ``(0, 0)`` start, which each block carries as
its ``prev_fp`` / ``prev_tp`` point. Image metrics feed one block; pixel metrics feed one block
per chunk of the pooled, sorted pixels — the same accumulators, so every metric exists once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = [
    "AveragePrecision",
    "Block",
    "CurveCollector",
    "F1Max",
    "ProArea",
    "RocArea",
    "ThresholdCounts",
]


@dataclass(eq=False)
class Block:
    """Consecutive curve points in decreasing-threshold order (see the module docstring).

    ``prev_fp`` and ``prev_tp`` are the point just before ``fp[0]`` — the previous block's last
    point, or the curve's ``(0, 0)`` start. ``scores`` (only when the sweep was asked to keep
    them) are the thresholds of the points.
    """

    fp: np.ndarray
    tp: np.ndarray
    pro: np.ndarray | None
    prev_fp: int = 0
    prev_tp: int = 0
    scores: np.ndarray | None = None

    @cached_property
    def tp_rises(self) -> np.ndarray:
        """Indices of the points whose ``tp`` is larger than the point before them."""
        steps = np.diff(self.tp, prepend=self.prev_tp)
        return np.flatnonzero(steps)


class RocArea:
    """AUROC: trapezoidal area under the ROC points, as scikit-learn's ``roc_auc_score``.

    The area is accumulated exactly in integers, ``sum((fp[i] - fp[i-1]) * (tp[i] + tp[i-1]))``,
    and divided once by ``2 * n_neg * n_pos``; scikit-learn applies ``np.trapezoid`` to the
    normalised rates, which agrees up to its own rounding (~1e-16).
    """

    def __init__(self, n_neg: int, n_pos: int) -> None:
        self._denominator = 2 * int(n_neg) * int(n_pos)
        # Each product and every partial sum is at most 2 * n_neg * n_pos; int64 holds it
        # for any realistic input, float64 (rounded) beyond that.
        self._dtype = np.int64 if self._denominator < 2**62 else np.float64
        self._twice_area = 0

    def update(self, block: Block) -> None:
        fp = block.fp.astype(self._dtype, copy=False)
        tp = block.tp.astype(self._dtype, copy=False)
        width = np.diff(fp, prepend=self._dtype(block.prev_fp))
        heights = np.empty_like(tp)
        heights[0] = block.prev_tp
        heights[1:] = tp[:-1]
        heights += tp
        self._twice_area += np.dot(width, heights).item()

    def compute(self) -> float:
        return self._twice_area / self._denominator


class AveragePrecision:
    """AP as scikit-learn's ``average_precision_score``: ``sum((R_i - R_{i-1}) * P_i)``.

    Only points where recall rises contribute; the sum runs over them in float64 and is
    divided by ``n_pos`` at the end.
    """

    def __init__(self, n_pos: int) -> None:
        self._n_pos = int(n_pos)
        self._sum = 0.0

    def update(self, block: Block) -> None:
        rises = block.tp_rises
        if rises.size == 0:
            return
        tp = block.tp[rises]
        previous = np.empty_like(tp)
        previous[0] = block.tp[rises[0] - 1] if rises[0] > 0 else block.prev_tp
        previous[1:] = block.tp[rises[1:] - 1]
        precision = tp / (tp + block.fp[rises])
        self._sum += float(np.dot((tp - previous).astype(np.float64), precision))

    def compute(self) -> float:
        return self._sum / self._n_pos


class F1Max:
    """Maximum over all distinct thresholds of ``F1 = 2 TP / (2 TP + FP + FN)``.

    ``2 TP + FP + FN = TP + FP + n_pos``. Among points with equal ``tp`` the one with the
    smallest ``fp`` (the first one, where ``tp`` rose) has the largest F1, so only those
    points are evaluated; F1 is 0 where no anomalous sample is ever above threshold.

    When the sweep keeps its scores, :attr:`threshold` is the lowest threshold reaching the
    maximum (``None`` until then).
    """

    def __init__(self, n_pos: int) -> None:
        self._n_pos = int(n_pos)
        self._best = 0.0
        self.threshold: float | None = None

    def update(self, block: Block) -> None:
        rises = block.tp_rises
        if rises.size == 0:
            return
        tp = block.tp[rises]
        ratio = tp / (tp + block.fp[rises] + self._n_pos)
        best = float(ratio.max())
        if block.scores is not None and best >= self._best:
            # thresholds decrease along the sweep: the last point at the maximum is the lowest
            last = int(np.flatnonzero(ratio == best)[-1])
            self.threshold = float(block.scores[rises[last]])
        self._best = max(self._best, best)

    def compute(self) -> float:
        return 2.0 * self._best


class ProArea:
    """Normalised area under the PRO curve up to an FPR limit (MVTec AD ``trapezoid``).

    The curve is ``(fp / n_neg, min(pro / n_regions, 1))`` with ``(0, 0)`` prepended and
    ``(1, 1)`` appended (:meth:`finish`). Every segment whose end has ``x <= limit`` counts in
    full; if ``limit`` is not itself a curve ``x``, the segment that crosses it is linearly
    interpolated at ``limit`` and counted up to there. The area is divided by ``limit``.
    """

    def __init__(self, n_neg: int, n_regions: int, limit: float) -> None:
        self._n_neg = int(n_neg)
        self._n_regions = int(n_regions)
        self._limit = float(limit)
        self._area = 0.0
        self._last = (0.0, 0.0)
        self._done = False

    @property
    def n_neg(self) -> int:
        """The FPR's denominator (normal samples)."""
        return self._n_neg

    @property
    def done(self) -> bool:
        """True once the curve has passed the limit; later points change nothing."""
        return self._done

    def _add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Add the segments from the last point through ``(x, y)`` (x non-decreasing)."""
        inside = int(np.searchsorted(x, self._limit, side="right"))
        xs = np.concatenate(([self._last[0]], x[:inside]))
        ys = np.concatenate(([self._last[1]], y[:inside]))
        self._area += float(np.sum(0.5 * (ys[1:] + ys[:-1]) * (xs[1:] - xs[:-1])))
        self._last = (float(xs[-1]), float(ys[-1]))
        if inside == x.size:
            return
        self._done = True
        x_last, y_last = self._last
        if x_last != self._limit:
            x_next, y_next = float(x[inside]), float(y[inside])
            y_limit = y_last + (y_next - y_last) * (self._limit - x_last) / (x_next - x_last)
            self._area += 0.5 * (y_limit + y_last) * (self._limit - x_last)

    def update(self, block: Block) -> None:
        if self._done:
            return
        assert block.pro is not None, "ProArea needs a sweep with region weights"
        x = block.fp / self._n_neg
        y = np.minimum(block.pro / self._n_regions, 1.0)
        self._add(x, y)

    def finish(self) -> None:
        """Append the curve's ``(1, 1)`` end (call once, after the last block)."""
        if not self._done:
            self._add(np.array([1.0]), np.array([1.0]))
            self._done = True

    def compute(self) -> float:
        return self._area / self._limit


class ThresholdCounts:
    """The counts at one fixed threshold: ``fp`` and ``tp`` of the samples with score ``>= t``.

    ``key`` is the threshold in the sweep's score space (for packed pixels the key of
    :func:`pyimgano.metrics._pixels.threshold_keys`); blocks must carry their scores. Along the
    sweep the thresholds decrease, so the last point whose score is ``>= key`` holds the counts;
    the consumer is :attr:`done` at the first point below it. No point at or above ``key``:
    ``fp = tp = 0``.
    """

    def __init__(self, key: object) -> None:
        self._key = key
        self.fp = 0
        self.tp = 0
        self.done = False

    def update(self, block: Block) -> None:
        if self.done:
            return
        assert block.scores is not None, "ThresholdCounts needs a sweep that keeps its scores"
        above = int(np.count_nonzero(block.scores >= self._key))  # a prefix: scores decrease
        if above:
            self.fp, self.tp = int(block.fp[above - 1]), int(block.tp[above - 1])
        if above < block.scores.size:
            self.done = True

    def f1(self, n_pos: int) -> float:
        """``2 TP / (2 TP + FP + FN)`` with ``FN = n_pos - TP`` (``n_pos`` > 0)."""
        return 2.0 * self.tp / (self.tp + self.fp + int(n_pos))


class CurveCollector:
    """Keeps every point (for ``roc_curve`` / ``pro_curve`` and plots)."""

    def __init__(self) -> None:
        self._fp: list[np.ndarray] = []
        self._tp: list[np.ndarray] = []
        self._pro: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []

    def update(self, block: Block) -> None:
        self._fp.append(block.fp)
        self._tp.append(block.tp)
        if block.pro is not None:
            self._pro.append(block.pro)
        if block.scores is not None:
            self._scores.append(block.scores)

    @staticmethod
    def _join(parts: list[np.ndarray]) -> np.ndarray | None:
        return np.concatenate(parts) if parts else None

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(fp, tp, pro, scores)`` over all points (``pro``/``scores`` None if not swept)."""
        fp = self._join(self._fp)
        tp = self._join(self._tp)
        assert fp is not None and tp is not None, "no curve points were swept"
        return fp, tp, self._join(self._pro), self._join(self._scores)
