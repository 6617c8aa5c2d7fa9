"""AUPIMO: area under the per-image overlap curve, as anomalib 2.7 computes it.

The protocol metric of docs/REFERENCE.md §5.

Reference: J. P. C. Bertoldo, D. Ameln, A. Vaidya, S. Akçay, "AUPIMO: Redefining Anomaly
Localization Benchmarks with High Speed and Low Tolerance", BMVC 2024 (arXiv:2401.01984), and
its implementation in ``anomalib.metrics.pimo`` (``aupimo_scores``), which this module follows:

1. ``K`` thresholds (default 300,000) ``torch.linspace(min, max, K)`` over the maps of the
   *normal* images (empty mask), in the maps' dtype; a pixel is positive where
   ``score >= threshold``.
2. Shared FPR at each threshold: the mean over the normal images of each image's FPR.
   Per-image TPR of each anomalous image: its defect pixels at or above the threshold / its
   defect pixels.
3. The integration range: the threshold whose shared FPR is closest to each FPR bound (ties:
   the lowest such threshold, as ``torch.argmin`` on anomalib's ascending thresholds).
4. Per anomalous image: ``trapezoid(tpr, log(shared_fpr))`` over that range (ascending FPR),
   divided by ``log(upper / lower)``, clipped to [0, 1]. Normal images have no AUPIMO.

How it is computed here: from the one descending sweep of the pooled pixels that serves every
pixel metric (:mod:`pyimgano.metrics._sweep`). Only the top of the ranking matters (the
bounds are shared FPRs of at most 1e-4 by default), so the accumulator reads chunks only until
the shared FPR has passed the upper bound far enough to fix the bound thresholds, and keeps
two small integers per defect pixel seen until then. ``torch`` is imported (lazily) only to
draw the thresholds with ``torch.linspace``: NumPy's ``linspace`` rounds differently, and
equal thresholds are what makes the result equal to anomalib's.

Where anomalib raises, the value is ``None`` with that reason (no normal image, no anomalous
image, constant maps on the normal images, an FPR bound outside the reachable shared FPRs,
bounds that select the same threshold, 30 or fewer points in the integration range — anomalib
raises there unless ``force=True``, which pyimgano never sets). Where anomalib only logs a
warning (a bound not matched within 1 %, fewer than 300 points), the value is computed as
anomalib computes it and the warning is kept in :attr:`AupimoResult.warnings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics._pixels import CHUNK_SIZE, PooledPixels, pool_pixels, threshold_keys
from pyimgano.metrics._sweep import sweep
from pyimgano.metrics._validation import check_maps_masks
from pyimgano.metrics.results import MetricResults

__all__ = ["DEFAULT_FPR_BOUNDS", "NUM_THRESHOLDS", "AupimoResult", "aupimo"]

DEFAULT_FPR_BOUNDS = (1e-5, 1e-4)
#: anomalib's default ``num_thresholds`` of ``AUPIMO``.
NUM_THRESHOLDS = 300_000
AUPIMO_METRICS = ("aupimo_mean", "aupimo_std")
_MIN_POINTS = 30  # anomalib raises at or below this many points in the integration range
_FEW_POINTS = 300  # ... and warns below this many
_BOUND_RTOL = 1e-2  # anomalib's torch.isclose(..., rtol=1e-2) check of the achieved bounds
_ISCLOSE_ATOL = 1e-8  # torch.isclose's default atol
_SLICE = 1 << 16  # pixels per step of the accumulator


@dataclass(frozen=True)
class AupimoResult:
    """AUPIMO of one set of images.

    Attributes
    ----------
    mean, std : float or None
        Mean and population standard deviation (``ddof=0``) of the anomalous images' AUPIMO;
        ``None`` when undefined (``note`` says why).
    per_image : list of float or None
        One value per image, in input order; ``None`` for normal images (and for every image
        when AUPIMO is undefined).
    note : str or None
        Why AUPIMO is undefined, else None.
    warnings : tuple of str
        What anomalib would log as a warning on the same input.
    n_points : int
        Points of the integration range (anomalib's ``num_thresholds_auc``); 0 when undefined.
    """

    mean: float | None
    std: float | None
    per_image: list[float | None]
    note: str | None = None
    warnings: tuple[str, ...] = ()
    n_points: int = 0

    @classmethod
    def undefined(cls, n_images: int, note: str) -> AupimoResult:
        return cls(None, None, [None] * n_images, note=note)

    def store(self, results: MetricResults) -> None:
        """Set ``aupimo_mean`` and ``aupimo_std`` in ``results``."""
        results.set("aupimo_mean", self.mean, self.note)
        results.set("aupimo_std", self.std, self.note)


def check_fpr_bounds(bounds: Any, *, name: str = "aupimo_fpr_bounds") -> tuple[float, float]:
    """Return ``(lower, upper)`` with ``0 < lower < upper <= 1``."""
    try:
        lower, upper = (float(v) for v in bounds if not isinstance(v, bool))
    except (TypeError, ValueError):
        raise MetricInputError(
            f"{name} is {bounds!r}; expected two numbers (lower, upper) with 0 < lower < upper <= 1"
        ) from None
    if not (0.0 < lower < upper <= 1.0):
        raise MetricInputError(
            f"{name} is {bounds!r}; expected two numbers (lower, upper) with 0 < lower < upper <= 1"
        )
    return lower, upper


def _check_num_thresholds(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise MetricInputError(f"num_thresholds is {value!r}; expected an integer >= 2")
    return int(value)


def aupimo(
    maps: Sequence[Any],
    masks: Sequence[Any],
    *,
    fpr_bounds: tuple[float, float] = DEFAULT_FPR_BOUNDS,
    num_thresholds: int = NUM_THRESHOLDS,
) -> AupimoResult:
    """Per-image AUPIMO and its mean and standard deviation, equal to anomalib 2.7's ``AUPIMO``.

    Parameters
    ----------
    maps : sequence of ndarray of shape (H_i, W_i)
        Anomaly maps, one per image; finite. Sizes may differ (anomalib needs one size).
    masks : sequence of ndarray of shape (H_i, W_i)
        Ground truth, one per image; non-zero pixels are defect. An image with an empty mask
        is *normal*: the shared FPR is measured on those images only.
    fpr_bounds : (float, float), default (1e-5, 1e-4)
        Shared-FPR integration range, ``0 < lower < upper <= 1``.
    num_thresholds : int, default 300000
        Number of thresholds (anomalib's ``num_thresholds``).

    Returns
    -------
    AupimoResult
        ``per_image`` (None for normal images), ``mean``, ``std`` (``ddof=0``), or ``None``
        values with ``note`` when undefined.

    Raises
    ------
    MetricInputError
        Bad maps or masks (see :func:`~pyimgano.metrics.pixel_metrics`), bad bounds or
        ``num_thresholds``.

    Notes
    -----
    See the module docstring for the definition, the edge cases, and where this differs from
    anomalib (never in value: anomalib's float64 sums are re-done in NumPy, so results agree
    to rounding, ~1e-15). Thresholds are drawn with ``torch.linspace``; without torch the
    result is ``None`` with that reason. Integer or bool maps use float64 thresholds (anomalib
    accepts floating maps only).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> maps = [rng.random((200, 200)) for _ in range(2)]
    >>> masks = [np.zeros((200, 200)), np.zeros((200, 200))]
    >>> masks[1][:50, :50] = 1
    >>> maps[1][:50, :50] += 1.0
    >>> r = aupimo(maps, masks, fpr_bounds=(1e-3, 1e-2))
    >>> r.per_image[0] is None, round(r.mean, 3)  # every defect pixel found; < 1 because the
    ... # achieved FPR bounds are not exactly (1e-3, 1e-2) and the area is normalised by those
    (True, 0.989)
    """
    checked_maps, checked_masks = check_maps_masks(maps, masks)
    bounds = check_fpr_bounds(fpr_bounds, name="fpr_bounds")
    k = _check_num_thresholds(num_thresholds)
    return compute_aupimo(checked_maps, checked_masks, bounds, num_thresholds=k)


def compute_aupimo(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    fpr_bounds: tuple[float, float],
    *,
    num_thresholds: int = NUM_THRESHOLDS,
    chunk_size: int = CHUNK_SIZE,
) -> AupimoResult:
    """:func:`aupimo` on validated input, with its own sweep (pixel metrics share theirs)."""
    pooled = pool_pixels(maps, masks)
    accumulator = AupimoAccumulator.create(maps, pooled, fpr_bounds, num_thresholds)
    if isinstance(accumulator, AupimoResult):
        return accumulator
    sweep(
        pooled.chunks(chunk_size),
        [],
        first_defect=pooled.first_defect,
        pixel_consumers=[accumulator],
    )
    return accumulator.result()


def undefined_reason(pooled: PooledPixels) -> str | None:
    """Why AUPIMO is undefined for these images whatever the scores, else None."""
    n_anomalous = int(np.count_nonzero(pooled.defect_counts))
    if pooled.n_good == 0:
        return (
            f"no normal images (all {n_anomalous} images have defects); AUPIMO's FPR is "
            "measured on normal images"
        )
    if n_anomalous == 0:
        return f"no anomalous images (all {pooled.n_good} images are normal)"
    return None


def _linspace(low: float, high: float, count: int, dtype: np.dtype) -> np.ndarray:
    import torch  # lazily: importing pyimgano.metrics never imports torch

    torch_dtype = {
        np.dtype(np.float16): torch.float16,
        np.dtype(np.float32): torch.float32,
        np.dtype(np.float64): torch.float64,
    }[dtype]
    return torch.linspace(low, high, count, dtype=torch_dtype).numpy()


def _threshold_dtype(maps: Sequence[np.ndarray]) -> np.dtype:
    dtype = np.result_type(*(amap.dtype for amap in maps))
    if dtype.kind == "f" and dtype.itemsize <= 8:
        return np.dtype(dtype)
    return np.dtype(np.float64)


class AupimoAccumulator:
    """Sweep consumer for AUPIMO (a pixel consumer of :func:`~pyimgano.metrics._sweep.sweep`).

    Per chunk: each pixel's bucket ``m`` = the number of thresholds ``<= score`` (the pixel is
    positive at ascending thresholds ``0 .. m - 1``). Normal-image pixels are counted per
    (image size, bucket); defect pixels keep ``(bucket, anomalous image)``. After a chunk ending
    at score ``s``, every threshold ``> s`` has its final counts.
    """

    def __init__(
        self,
        pooled: PooledPixels,
        fpr_bounds: tuple[float, float],
        thresholds: np.ndarray,
    ) -> None:
        self._pooled = pooled
        self._bounds = fpr_bounds
        self.thresholds = thresholds
        self._n_thresholds = thresholds.size
        self._keys = threshold_keys(pooled, thresholds) if pooled.has_pixels else thresholds
        good_images = pooled.label_image[1 : pooled.first_defect]
        good_sizes = pooled.image_sizes[good_images]
        self._group_sizes, group_of_good = np.unique(good_sizes, return_inverse=True)
        # label -> size group (good labels) or -1
        self._label_group = np.full(pooled.first_defect, -1, dtype=np.int64)
        self._label_group[1:] = group_of_good
        # Counts per (size group, bucket) for buckets hist_low .. K only: the sweep reaches
        # ever lower buckets, so the histogram grows downwards as it goes.
        self._hist = np.zeros((self._group_sizes.size, 1), dtype=np.int64)
        self._hist_low = self._n_thresholds
        anomalous = np.flatnonzero(pooled.defect_counts)
        self._anomalous_images = anomalous
        ordinal = np.full(pooled.image_sizes.size, -1, dtype=np.int64)
        ordinal[anomalous] = np.arange(anomalous.size)
        self._label_anomalous = ordinal[pooled.label_image[pooled.first_defect :]].astype(np.int32)
        self._defect_buckets: list[np.ndarray] = []
        self._defect_images: list[np.ndarray] = []
        self._valid_from = 0  # thresholds with index >= this have their final counts
        self._done = False
        self._tp_histogram = self._stored_tp_histogram

    @property
    def good_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """``(group_sizes, label_group)``: the normal-image size groups, and each good label's
        group (-1 for the other labels below ``first_defect``)."""
        return self._group_sizes, self._label_group

    @property
    def anomalous_images(self) -> np.ndarray:
        """Indices of the anomalous images, in the order of the TPR rows."""
        return self._anomalous_images

    def load_counts(self, good_hist: np.ndarray, tp_histogram: Any) -> None:
        """Counts computed elsewhere (the torch path), instead of :meth:`update_pixels`.

        ``good_hist``: shape (n_groups, K + 1), normal-image pixels per (size group, bucket);
        ``tp_histogram(start, width)``: shape (n_anomalous, width + 1), defect pixels per
        (anomalous image, ``clip(bucket - start, 0, width)``).
        """
        self._hist = np.asarray(good_hist, dtype=np.int64)
        self._hist_low = 0
        self._valid_from = 0
        self._done = False
        self._tp_histogram = tp_histogram

    @classmethod
    def create(
        cls,
        maps: Sequence[np.ndarray],
        pooled: PooledPixels,
        fpr_bounds: tuple[float, float],
        num_thresholds: int = NUM_THRESHOLDS,
    ) -> AupimoAccumulator | AupimoResult:
        """The accumulator for these images, or the undefined result when no sweep can help."""
        n_images = pooled.image_sizes.size
        reason = undefined_reason(pooled)
        if reason is not None:
            return AupimoResult.undefined(n_images, reason)
        dtype = _threshold_dtype(maps)
        good = [amap for amap, n in zip(maps, pooled.defect_counts, strict=True) if n == 0]
        low = min(float(amap.min()) for amap in good)
        high = max(float(amap.max()) for amap in good)
        return cls.from_range(pooled, fpr_bounds, low, high, dtype, num_thresholds)

    @classmethod
    def from_range(
        cls,
        pooled: PooledPixels,
        fpr_bounds: tuple[float, float],
        low: float,
        high: float,
        dtype: np.dtype,
        num_thresholds: int = NUM_THRESHOLDS,
    ) -> AupimoAccumulator | AupimoResult:
        """As :meth:`create`, from the normal images' score range ``[low, high]``."""
        n_images = pooled.image_sizes.size
        low, high = float(dtype.type(low)), float(dtype.type(high))
        if not low < high:
            return AupimoResult.undefined(
                n_images,
                f"the normal images' maps are constant ({low!r}); anomalib needs a threshold "
                "range min < max on them",
            )
        try:
            thresholds = _linspace(low, high, num_thresholds, dtype)
        except ImportError:
            return AupimoResult.undefined(
                n_images, "AUPIMO needs torch (its thresholds are torch.linspace values)"
            )
        return cls(pooled, fpr_bounds, thresholds)

    @property
    def done(self) -> bool:
        return self._done

    def update_pixels(self, scores: np.ndarray, ids: np.ndarray, next_score: object = None) -> None:
        # In slices, so that the top of the ranking (all AUPIMO needs) is read, not the chunk.
        for start in range(0, scores.size, _SLICE):
            if self._done:
                return
            self._update_slice(scores[start : start + _SLICE], ids[start : start + _SLICE])

    def _update_slice(self, scores: np.ndarray, ids: np.ndarray) -> None:
        buckets = np.searchsorted(self._keys, scores, side="right")
        first_defect = self._pooled.first_defect
        good = (ids >= 1) & (ids < first_defect)
        if good.any():
            good_buckets = buckets[good]
            # buckets fall with the scores: the chunk touches only [low, high] of the histogram
            low, high = int(good_buckets[-1]), int(good_buckets[0])
            span = high - low + 1
            groups = self._label_group[ids[good]]
            n_groups = self._group_sizes.size
            counts = np.bincount(groups * span + (good_buckets - low), minlength=n_groups * span)
            self._grow_hist(low)
            start = low - self._hist_low
            self._hist[:, start : start + span] += counts.reshape(n_groups, span)
        defect = ids >= first_defect
        if defect.any():
            self._defect_buckets.append(buckets[defect].astype(np.int32))
            self._defect_images.append(
                self._label_anomalous[ids[defect].astype(np.int64) - first_defect]
            )
        self._valid_from = int(buckets[-1])
        if self._enough():
            self._done = True

    def _grow_hist(self, low: int) -> None:
        if low >= self._hist_low:
            return
        new_low = max(0, min(low, self._n_thresholds - 2 * (self._n_thresholds - self._hist_low)))
        grown = np.zeros((self._hist.shape[0], self._n_thresholds + 1 - new_low), dtype=np.int64)
        grown[:, self._hist_low - new_low :] = self._hist
        self._hist, self._hist_low = grown, new_low

    def _shared_fpr(self) -> np.ndarray:
        """Shared FPR at the thresholds ``valid_from ..`` (ascending), from the final counts."""
        self._grow_hist(self._valid_from)
        # positives at threshold j: pixels with bucket > j
        tail = self._hist[:, self._valid_from + 1 - self._hist_low :]
        above = np.cumsum(tail[:, ::-1], axis=1)[:, ::-1]
        total = np.zeros(above.shape[1], dtype=np.float64)
        for row, size in zip(above, self._group_sizes, strict=True):
            total += row / float(size)
        return total / self._pooled.n_good

    def _enough(self) -> bool:
        """True once both bound thresholds are fixed by the final counts (see ``_bound_index``)."""
        upper = self._bounds[1]
        if upper >= 1.0:
            return False
        fpr = self._shared_fpr()
        above = fpr[fpr > upper]
        return above.size > 0 and above[0] != above[-1]

    def result(self) -> AupimoResult:
        n_images = self._pooled.image_sizes.size
        if not self._done:
            self._valid_from = 0  # the sweep ran to the end: every count is final
        offset = self._valid_from
        fpr = self._shared_fpr()  # thresholds offset .. K - 1
        lower, upper = self._bounds
        try:
            # f(0) == 1 exactly (every normal pixel is >= the normal images' minimum)
            lower_index = offset + _bound_index(fpr, lower, 1.0)
            upper_index = offset + _bound_index(fpr, upper, 1.0)
        except ValueError as exc:
            return AupimoResult.undefined(n_images, str(exc))
        lower_fpr, upper_fpr = fpr[lower_index - offset], fpr[upper_index - offset]
        achieved = (("lower", lower, lower_fpr), ("upper", upper, upper_fpr))
        warnings = [
            f"the {which} FPR bound {level!r} is achieved as {float(value)!r}, not within "
            f"rtol={_BOUND_RTOL}"
            for which, level, value in achieved
            if abs(value - level) > _ISCLOSE_ATOL + _BOUND_RTOL * abs(level)
        ]
        # reminder: the lower FPR bound is the upper threshold bound
        start, stop = upper_index, lower_index
        if start >= stop:
            return AupimoResult.undefined(
                n_images,
                f"the FPR bounds {self._bounds!r} select the same threshold or the wrong order "
                f"(threshold indices {start} and {stop} of {self._n_thresholds})",
            )
        shared = fpr[start - offset : stop - offset + 1][::-1]  # ascending FPR
        with np.errstate(divide="ignore"):
            log_fpr = np.log(shared)
        finite = np.isfinite(log_fpr)
        if not finite.any():
            return AupimoResult.undefined(
                n_images, "the shared FPR is 0 over the whole integration range"
            )
        n_points = int(np.count_nonzero(finite))
        if n_points <= _MIN_POINTS:
            return AupimoResult.undefined(
                n_images,
                f"only {n_points} thresholds in the integration range (anomalib needs more than "
                f"{_MIN_POINTS}); the normal images' score range is too coarse for "
                f"{self._n_thresholds} thresholds",
            )
        if not finite.all():
            warnings.append("some shared FPRs in the integration range are 0 and were left out")
        if n_points < _FEW_POINTS:
            warnings.append(
                f"only {n_points} points in the integration range (anomalib warns below "
                f"{_FEW_POINTS}); AUPIMO may be inaccurate"
            )
        tpr = self._tpr(start, stop)[:, ::-1][:, finite]
        x = log_fpr[finite]
        aucs = ((tpr[:, :-1] + tpr[:, 1:]) * np.diff(x)).sum(axis=1) / 2.0
        values = np.clip(aucs / float(np.log(upper / lower)), 0.0, 1.0)
        per_image: list[float | None] = [None] * n_images
        for image, value in zip(self._anomalous_images, values, strict=True):
            per_image[int(image)] = float(value)
        return AupimoResult(
            mean=float(values.mean()),
            std=float(values.std()),
            per_image=per_image,
            warnings=tuple(warnings),
            n_points=n_points,
        )

    def _stored_tp_histogram(self, start: int, width: int) -> np.ndarray:
        n_anomalous = self._anomalous_images.size
        hist = np.zeros(n_anomalous * (width + 1), dtype=np.int64)
        for buckets, images in zip(self._defect_buckets, self._defect_images, strict=True):
            within = np.clip(buckets.astype(np.int64) - start, 0, width)
            hist += np.bincount(images * (width + 1) + within, minlength=hist.size)
        return hist.reshape(n_anomalous, width + 1)

    def _tpr(self, start: int, stop: int) -> np.ndarray:
        """Per anomalous image TPR at thresholds ``start .. stop``, shape (n_anomalous, M)."""
        width = stop - start + 1
        hist = np.asarray(self._tp_histogram(start, width), dtype=np.int64)
        positives = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1][:, 1:]
        totals = self._pooled.defect_counts[self._anomalous_images].astype(np.float64)
        return positives / totals[:, None]


def _bound_index(fpr: np.ndarray, level: float, high: float) -> int:
    """anomalib's ``thresh_at_shared_fpr_level`` on ascending thresholds (raises ValueError).

    ``fpr`` is the tail of the shared FPR that holds the answer; ``high`` the full curve's
    maximum (its first value).
    """
    low = float(fpr[-1])
    if not low <= level <= high:
        raise ValueError(
            f"the FPR bound {level!r} is outside the shared FPRs reachable on the normal images "
            f"[{low!r}, {high!r}] (the smallest is one pixel of the normal images above the "
            "highest threshold)"
        )
    if level == 1.0:
        return int(np.flatnonzero(fpr == level).max())
    return int(np.argmin(np.abs(fpr - level)))
