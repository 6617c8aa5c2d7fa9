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

from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError

__all__ = [
    "CURVE_CELLS",
    "AveragePrecision",
    "Block",
    "SweptPoints",
    "CurveCollector",
    "F1Max",
    "ProArea",
    "RocArea",
    "ThresholdCounts",
    "ThinCurveCollector",
    "thin_curve",
]

#: :func:`thin_curve` grid: cells per axis (a curve keeps at most about 4x this many points).
CURVE_CELLS = 1000


def thin_curve(x: Any, y: Any, *, cells: int = CURVE_CELLS) -> np.ndarray:
    """Indices of the points of a curve worth drawing; its shape is kept to ``1/cells``.

    Parameters
    ----------
    x, y : array-like of shape (n,)
        The curve's points in drawing order, both axes on the unit scale (rates in [0, 1]).
    cells : int, default :data:`CURVE_CELLS`
        Grid cells per axis.

    Returns
    -------
    ndarray of int64
        Increasing indices into ``x``/``y``; the first and the last point are always kept.
        A curve of at most ``4 * cells`` points is kept whole.

    Raises
    ------
    MetricInputError
        ``x`` and ``y`` are not 1-D of one length, or ``cells`` is below 1.

    Notes
    -----
    The unit square is cut into ``cells × cells`` squares; of each run of consecutive points
    that fall into the same square only the run's first and last points are kept. Every
    dropped point thus lies in the square of the kept point before it (within ``1/cells`` on
    both axes), and so does the drawn segment that replaces it, while a jump between squares
    (a ROC's vertical rise at FPR 0, a PRO curve's horizontal steps) is kept exactly. A
    monotone curve passes through at most ``2 * cells + 1`` squares, so at most about
    ``4 * cells`` points remain: with the default 1000, a million-point pixel curve becomes a
    few thousand points and the error is a tenth of a pixel on a 460-pixel axis.

    Examples
    --------
    >>> thin_curve(np.linspace(0, 1, 9), np.linspace(0, 1, 9), cells=1).tolist()
    [0, 7, 8]
    >>> thin_curve(np.linspace(0, 0.5, 9), np.zeros(9), cells=1).tolist()
    [0, 8]
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise MetricInputError(
            f"thin_curve needs two 1-D arrays of one length; got shapes {xs.shape} and {ys.shape}"
        )
    if int(cells) < 1:
        raise MetricInputError(f"thin_curve cells is {cells!r}; expected an integer >= 1")
    n = xs.size
    if n <= 4 * int(cells):
        return np.arange(n, dtype=np.int64)
    column = np.floor(xs * cells).astype(np.int64)
    row = np.floor(ys * cells).astype(np.int64)
    moved = (column[1:] != column[:-1]) | (row[1:] != row[:-1])
    keep = np.zeros(n, dtype=bool)
    keep[[0, -1]] = True
    keep[1:] |= moved  # first point of a run
    keep[:-1] |= moved  # last point of a run
    return np.flatnonzero(keep).astype(np.int64)


class SweptPoints:
    """The curve points of one chunk of sorted samples, described instead of listed.

    ``ends``: positions in the chunk of the last sample of each run of equal scores (one point
    each, increasing); ``anomalous_at``: positions of the chunk's anomalous samples
    (increasing); ``at_point``: for each of them, the point it is counted at
    (``searchsorted(ends, anomalous_at)``; ``ends.size`` for a run that ends in the next chunk);
    ``seen`` / ``tp_seen``: samples / anomalous samples of the earlier chunks; ``running_pro``
    (optional): ``running_pro[k]`` is the region-weight sum of the chunk's first ``k``
    anomalous samples, ``pro_seen`` that of the earlier chunks.

    Point ``j`` has ``tp = tp_seen + #{at_point <= j}``, ``fp = seen + ends[j] + 1 - tp`` and
    ``pro = running_pro[tp - tp_seen] + pro_seen``: any point is read in ``O(log)``, and the
    full arrays are built only when a consumer asks for them.
    """

    __slots__ = ("ends", "anomalous_at", "at_point", "seen", "tp_seen", "running_pro",
                 "pro_seen", "rises_tp_local", "_tp_local")

    def __init__(
        self,
        ends: np.ndarray,
        anomalous_at: np.ndarray,
        at_point: np.ndarray,
        seen: int,
        tp_seen: int,
        running_pro: np.ndarray | None = None,
        pro_seen: float = 0.0,
        rises_tp_local: np.ndarray | None = None,
    ) -> None:
        self.ends = ends
        self.rises_tp_local = rises_tp_local  # tp_local at the block's rises, when known
        self.anomalous_at = anomalous_at
        self.at_point = at_point
        self.seen = int(seen)
        self.tp_seen = int(tp_seen)
        self.running_pro = running_pro
        self.pro_seen = pro_seen
        self._tp_local: np.ndarray | None = None

    def tp_local(self, index: np.ndarray | None = None) -> np.ndarray:
        """The chunk's anomalous samples at or above each point (all points, or ``index``)."""
        if index is None:
            if self._tp_local is None:
                counts = np.bincount(self.at_point, minlength=self.ends.size + 1)
                local = counts[: self.ends.size]
                np.cumsum(local, out=local)
                self._tp_local = local
            return self._tp_local
        if self._tp_local is not None:
            return self._tp_local[index]
        return np.searchsorted(self.at_point, index, side="right")

    def release(self) -> None:
        """Forget every array once the block has built its full ``fp``/``tp``/``pro`` from
        them (``ends`` and the running counts live on as ``fp`` and ``tp``)."""
        self._tp_local = None
        self.anomalous_at = self.at_point = self.running_pro = self.rises_tp_local = None

    def fp_first_at_least(self, borders: np.ndarray) -> np.ndarray:
        """For each border ``b`` (increasing), the first point with ``fp >= b``.

        ``fp[j] >= b`` exactly when the chunk holds at least ``m = b - (seen - tp_seen)``
        normal samples up to ``ends[j]``; the ``m``-th normal sample sits at position
        ``m - 1 + #{k : anomalous_at[k] - k <= m - 1}`` (``anomalous_at[k] - k`` is the number
        of normal samples before the ``k``-th anomalous one).
        """
        # integer counts: fp >= b  <=>  fp >= ceil(b)
        needed = np.ceil(np.asarray(borders, dtype=np.float64)).astype(np.int64)
        needed -= self.seen - self.tp_seen
        normals_before = self.anomalous_at - np.arange(self.anomalous_at.size)
        position = needed - 1 + np.searchsorted(normals_before, needed - 1, side="right")
        return np.searchsorted(self.ends, position, side="left")


class Block:
    """Consecutive curve points in decreasing-threshold order (see the module docstring).

    ``prev_fp`` and ``prev_tp`` are the point just before ``fp[0]`` — the previous block's last
    point, or the curve's ``(0, 0)`` start. ``scores`` (only when the sweep was asked to keep
    them) are the thresholds of the points.

    The points are given as arrays (``fp``, ``tp``, ``pro``) or, by the pixel sweep, as
    :class:`SweptPoints` (``points``) with their ``rises``: then ``fp``/``tp``/``pro`` are built
    only when a consumer reads them, and :meth:`fp_at`, :meth:`tp_at`, :meth:`pro_at` and
    :meth:`fp_first_at_least` read single points without them (the same values).
    """

    __slots__ = ("prev_fp", "prev_tp", "scores", "size", "_fp", "_tp", "_pro", "_points",
                 "_rises", "_at_rises")

    def __init__(
        self,
        fp: np.ndarray | None = None,
        tp: np.ndarray | None = None,
        pro: np.ndarray | None = None,
        prev_fp: int = 0,
        prev_tp: int = 0,
        scores: np.ndarray | None = None,
        *,
        rises: np.ndarray | None = None,
        points: SweptPoints | None = None,
    ) -> None:
        assert (fp is not None and tp is not None) or points is not None
        self._fp = fp
        self._tp = tp
        self.prev_fp = prev_fp
        self.prev_tp = prev_tp
        self.scores = scores
        self._pro = pro
        self._points = points
        self._rises = rises
        self._at_rises: tuple[np.ndarray, np.ndarray] | None = None
        #: Number of points.
        self.size = int(points.ends.size if points is not None else fp.size)  # type: ignore[union-attr]

    @property
    def tp(self) -> np.ndarray:
        """``tp`` at every point (int64).

        Built with :attr:`fp` and :attr:`pro` (whoever reads one reads all: AU-PRO, full
        curves), in place of the swept description's arrays to save memory: ``pro`` first
        from the running counts, which then become ``tp``, and the run ends become ``fp``.
        """
        if self._tp is None:
            points = self._points
            assert points is not None
            if self.pro_steps_with_tp:
                _ = self.pro
            tp = points.tp_local()
            tp += points.tp_seen
            self._tp = tp
            self.fp  # noqa: B018 - the run ends become fp now (no copy)
            points.release()
        return self._tp

    @property
    def fp(self) -> np.ndarray:
        """``fp`` at every point (int64; see :attr:`tp`)."""
        if self._fp is None:
            points = self._points
            assert points is not None
            tp = self.tp
            if self._fp is None:
                self._at_rises = self.at_rises() if self._rises is not None else None
                fp = points.ends  # its last use: the points are read from fp and tp now
                fp += points.seen + 1
                fp -= tp
                self._fp = fp
        return self._fp

    def tp_at(self, index: np.ndarray) -> np.ndarray:
        """``tp[index]``."""
        if self._tp is not None:
            return self._tp[index]
        assert self._points is not None
        return self._points.tp_local(index) + self._points.tp_seen

    def fp_at(self, index: np.ndarray) -> np.ndarray:
        """``fp[index]``."""
        if self._fp is not None:
            return self._fp[index]
        points = self._points
        assert points is not None
        fp = points.ends[index] + (points.seen + 1)
        fp -= self.tp_at(index)
        return fp

    def fp_first_at_least(self, borders: np.ndarray) -> np.ndarray:
        """``searchsorted(fp, borders, side="left")`` (``fp`` is non-decreasing)."""
        if self._fp is not None or self._points is None:
            return np.searchsorted(self.fp, borders, side="left")
        return self._points.fp_first_at_least(borders)

    @property
    def has_pro(self) -> bool:
        """True when the points carry PRO sums (without building :attr:`pro`)."""
        return self._pro is not None or (
            self._points is not None and self._points.running_pro is not None
        )

    @property
    def pro(self) -> np.ndarray | None:
        """``pro`` at every point (None without region weights)."""
        if self._pro is None and self.pro_steps_with_tp:
            points = self._points
            assert points is not None and points.running_pro is not None
            pro = points.running_pro[points.tp_local()]
            pro += points.pro_seen
            self._pro = pro
        return self._pro

    @property
    def pro_steps_with_tp(self) -> bool:
        """True for :class:`SweptPoints` with region weights: ``pro`` changes only where
        ``tp`` rises."""
        return self._points is not None and self._points.running_pro is not None

    def pro_at(self, index: np.ndarray) -> np.ndarray:
        """``pro[index]`` (the same float64 values), built only at ``index``."""
        if self._pro is None and self.pro_steps_with_tp:
            points = self._points
            assert points is not None and points.running_pro is not None
            pro = points.running_pro[points.tp_local(index)]
            pro += points.pro_seen
            return pro
        assert self._pro is not None, "a block without region weights"
        return self._pro[index]

    @property
    def tp_rises(self) -> np.ndarray:
        """Indices of the points whose ``tp`` is larger than the point before them."""
        if self._rises is None:
            steps = np.diff(self.tp, prepend=self.prev_tp)
            self._rises = np.flatnonzero(steps)
        return self._rises

    def at_rises(self) -> tuple[np.ndarray, np.ndarray]:
        """``(tp, fp)`` at the :attr:`tp_rises` (int64, computed once per block)."""
        if self._at_rises is None:
            rises = self.tp_rises
            points = self._points
            if self._tp is None and points is not None and points.rises_tp_local is not None:
                tp = points.rises_tp_local  # its only use: becomes tp in place
                points.rises_tp_local = None
                tp += points.tp_seen
                fp = points.ends[rises] + (points.seen + 1)
                fp -= tp
            else:
                tp = self.tp_at(rises).astype(np.int64, copy=False)
                fp = self.fp_at(rises).astype(np.int64, copy=False)
            self._at_rises = (tp, fp)
        return self._at_rises

    def before_rises(self) -> tuple[np.ndarray, np.ndarray]:
        """``(tp, fp)`` at the point just before each rise (``prev_tp`` / ``prev_fp`` before
        index 0). ``tp`` only changes at rises, so it is the previous rise's ``tp``."""
        rises = self.tp_rises
        tp, _ = self.at_rises()
        tp_before = np.empty_like(tp)
        tp_before[:1] = self.prev_tp
        tp_before[1:] = tp[:-1]
        before = np.maximum(rises - 1, 0)
        points = self._points
        if self._fp is not None or points is None:
            fp_before = self.fp_at(before).astype(np.int64)
        else:
            fp_before = points.ends[before] + (points.seen + 1)
            fp_before -= tp_before
        if rises.size and rises[0] == 0:
            fp_before[0] = self.prev_fp
        return tp_before, fp_before


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
        if self._dtype is np.int64:
            self._twice_area += self._twice_area_at_rises(block)
            return
        fp = block.fp.astype(self._dtype, copy=False)
        tp = block.tp.astype(self._dtype, copy=False)
        width = np.diff(fp, prepend=self._dtype(block.prev_fp))
        heights = np.empty_like(tp)
        heights[0] = block.prev_tp
        heights[1:] = tp[:-1]
        heights += tp
        self._twice_area += np.dot(width, heights).item()

    @staticmethod
    def _twice_area_at_rises(block: Block) -> int:
        """The block's ``sum((fp[i] - fp[i-1]) * (tp[i] + tp[i-1]))`` from its rises alone.

        ``tp`` is constant between the points where it rises, so the sum is
        ``2 * sum(tp_k * (fp span at tp_k)) + sum(fp step * tp step at each rise)``: the
        same integer, read at the rises and the block's ends instead of at every point.
        """
        rises = block.tp_rises
        last_fp = int(block.fp_at(np.array([block.size - 1]))[0])
        if rises.size == 0:
            return 2 * int(block.prev_tp) * (last_fp - int(block.prev_fp))
        tp_at, fp_at = block.at_rises()
        tp_before, fp_before = block.before_rises()
        # between rises tp holds one level: tp_before[k] up to rise k, tp_at[-1] after the last
        span_ends = np.empty(rises.size + 1, dtype=np.int64)
        span_ends[:-1] = fp_at
        span_ends[-1] = last_fp
        span_starts = np.empty_like(span_ends)
        span_starts[0] = block.prev_fp
        span_starts[1:] = fp_at
        levels = np.empty_like(span_ends)
        levels[:-1] = tp_before
        levels[-1] = tp_at[-1]
        flat = int(np.dot(levels, span_ends - span_starts))
        steps = int(np.dot(fp_at - fp_before, tp_at - tp_before))
        return 2 * flat + steps

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
        tp, fp = block.at_rises()
        previous = block.before_rises()[0]
        precision = tp / (tp + fp)
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
        tp, fp = block.at_rises()
        ratio = tp / (tp + fp + self._n_pos)
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
        fp, pro = block.fp, block.pro
        # Only the points up to the first one past the limit matter: every point with
        # fp >= limit * n_neg + 2 has x > limit whatever the rounding, so cut after the first.
        cut = int(np.searchsorted(fp, int(self._limit * self._n_neg) + 2, side="left")) + 1
        if cut < fp.size:
            fp, pro = fp[:cut], pro[:cut]
        x = fp / self._n_neg
        y = np.minimum(pro / self._n_regions, 1.0)
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
            point = np.array([above - 1])
            self.fp, self.tp = int(block.fp_at(point)[0]), int(block.tp_at(point)[0])
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


class ThinCurveCollector:
    """Keeps, while sweeping, the points of the pixel ROC and PRO curves that a plot can show.

    The rule of :func:`thin_curve`, applied block by block to both curves at once: a point is
    kept when it starts or ends a run of points that share one ``1/cells`` square on the ROC
    curve ``(fp / n_neg, tp / n_pos)`` or on the PRO curve ``(fp / n_neg, pro / n_regions)``;
    the last point of every block is kept too. So at most about ``8 * cells`` points plus one
    per block remain, whatever the number of pixels, and every dropped point lies within
    ``1/cells`` (on both axes) of a kept one. The metrics never read these curves: their
    accumulators see every point.
    """

    def __init__(self, n_neg: int, n_pos: int, n_regions: int, cells: int = CURVE_CELLS) -> None:
        self._n_neg = max(int(n_neg), 1)
        self._n_pos = max(int(n_pos), 1)
        self._n_regions = max(int(n_regions), 1)
        self._cells = int(cells)
        self._last = (-1.0, -1.0, -1.0)  # the previous point (fp, tp, pro); none yet
        self._fp: list[np.ndarray] = []
        self._tp: list[np.ndarray] = []
        self._pro: list[np.ndarray] = []

    @staticmethod
    def _borders(previous: float, top: float, scale: float, cells: int) -> np.ndarray:
        """The cell borders a monotone curve crosses going from ``previous`` up to ``top``.

        The cell of ``v`` is the number of ``k`` in ``1..cells`` with ``v >= k * scale``
        (in float64); the first point at or above each border enters a higher cell than the
        point before it. Found by binary search, not by a pass over the block.
        """
        cell = min(max(int(previous / scale), 0), cells)  # the previous point's cell, then exact
        while cell < cells and previous >= (cell + 1) * scale:
            cell += 1
        while cell > 0 and previous < cell * scale:
            cell -= 1
        if cell == cells or top < (cell + 1) * scale:
            return np.empty(0, dtype=np.float64)
        borders = np.arange(cell + 1, cells + 1, dtype=np.float64) * scale
        return borders[: int(np.searchsorted(borders, top, side="right"))]

    def update(self, block: Block) -> None:
        size = block.size
        last = np.array([size - 1])
        last_fp, last_tp = int(block.fp_at(last)[0]), int(block.tp_at(last)[0])
        fp_borders = self._borders(self._last[0], last_fp, self._n_neg / self._cells, self._cells)
        moved = [block.fp_first_at_least(fp_borders)]
        # tp (and the sweep's pro) change only where tp rises: their cells are searched there
        rises = block.tp_rises
        if rises.size:
            tp_rises = block.at_rises()[0]
            scale = self._n_pos / self._cells
            borders = self._borders(self._last[1], float(tp_rises[-1]), scale, self._cells)
            moved.append(rises[np.searchsorted(tp_rises, borders, side="left")])
        if block.has_pro:
            scale = self._n_regions / self._cells
            if block.pro_steps_with_tp:
                if rises.size:
                    pro_rises = block.pro_at(rises)
                    borders = self._borders(self._last[2], float(pro_rises[-1]), scale, self._cells)
                    moved.append(rises[np.searchsorted(pro_rises, borders, side="left")])
            else:
                pro = block.pro
                assert pro is not None
                borders = self._borders(self._last[2], float(pro[-1]), scale, self._cells)
                moved.append(np.searchsorted(pro, borders, side="left"))
        if self._last[0] < 0:  # the curve's first point
            moved.append(np.zeros(1, dtype=np.int64))
        starts = np.unique(np.concatenate(moved))  # first points of runs (0: left the last)
        keep = np.union1d(starts, starts - 1)
        keep = keep[keep >= 0]
        if keep.size == 0 or keep[-1] != size - 1:
            keep = np.append(keep, size - 1)  # the block's last point is always kept
        self._fp.append(block.fp_at(keep))
        self._tp.append(block.tp_at(keep))
        last_pro = 0.0
        if block.has_pro:
            pro_kept = block.pro_at(keep)
            self._pro.append(pro_kept)
            last_pro = float(pro_kept[-1])
        self._last = (float(last_fp), float(last_tp), last_pro)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, None]:
        """``(fp, tp, pro, None)`` over the kept points, as :meth:`CurveCollector.arrays`."""
        assert self._fp, "no curve points were swept"
        pro = np.concatenate(self._pro) if self._pro else None
        return np.concatenate(self._fp), np.concatenate(self._tp), pro, None
