"""AU-sPRO (MVTec LOCO AD) for the paired bootstrap: per-image statistics on a threshold grid.

:func:`spro_statistics` histograms every image once on one fine grid (as
:func:`~pyimgano.metrics.stats.pixel_statistics`): its defect-free pixels per bin, and the sum
over its defects of their *saturated* overlap at each threshold, ``min(1, covered / saturation)``
(saturation clips each defect on its own, so the sum is taken per image, after clipping). A
resample's sPRO curve is then the sum of its images' rows: FPR = resampled defect-free pixels
above the threshold ÷ all resampled defect-free pixels, y = resampled saturated overlaps ÷
resampled defects. :func:`auspro_bootstrap_metric` integrates it to the FPR limit as
:func:`~pyimgano.metrics.auspro` does — per type (its anomalous images with every good image)
and the mean of the types — so each resample's value is that of its images, to the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics.stats import SEED, BootstrapMetric, pro_areas, threshold_grid

__all__ = ["SproStatistics", "auspro_bootstrap_metric", "spro_statistics"]


@dataclass(frozen=True)
class SproStatistics:
    """Per-image sPRO statistics on one threshold grid (highest bin first).

    Attributes
    ----------
    free : ndarray of float64, shape (n_images, n_bins)
        Defect-free pixels (outside all of the image's defects) at or above each bin.
    saturated : ndarray of float64, shape (n_images, n_bins)
        Sum over the image's defects of ``min(1, covered pixels / saturation)`` at each bin.
    n_defects : ndarray of float64, shape (n_images,)
    groups : tuple of (str or None)
        Each image's type (``None``: a good image, or no types given).
    """

    free: np.ndarray
    saturated: np.ndarray
    n_defects: np.ndarray
    groups: tuple[str | None, ...]

    @property
    def n_images(self) -> int:
        return int(self.free.shape[0])

    @cached_property
    def types(self) -> tuple[str, ...]:
        """The distinct type names, sorted."""
        return tuple(sorted({g for g in self.groups if g is not None}))


def spro_statistics(
    maps: Any,
    defects: Sequence[Sequence[Any]],
    *,
    groups: Sequence[str | None] | None = None,
    n_bins: int = 2048,
    sample: int = 1_000_000,
    seed: int = SEED,
) -> SproStatistics:
    """Histogram every image for the AU-sPRO bootstrap (:func:`auspro_bootstrap_metric`).

    Parameters
    ----------
    maps : sequence of 2-D arrays
        Anomaly maps, one per image; finite.
    defects : sequence of sequences of (mask, saturation)
        As :func:`~pyimgano.metrics.auspro` (empty for a good image; saturation in pixels,
        clipped to the defect's area).
    groups : sequence of str or None, optional
        As :func:`~pyimgano.metrics.auspro`: each image's type, None for a good image.
    n_bins, sample, seed
        The grid, as :func:`~pyimgano.metrics.stats.pixel_statistics` (its bins cut at equal
        shares of all pixels and of the defect pixels; exact when there are no more distinct
        scores than bins).

    Raises
    ------
    MetricInputError
        The input errors of :func:`~pyimgano.metrics.auspro`.
    """
    from pyimgano.metrics._validation import check_maps_masks
    from pyimgano.metrics.spro import check_defects, check_groups, defect_union

    defect_list = check_defects(maps, defects)
    unions = [defect_union(shape, image_defects) for shape, image_defects in defect_list]
    maps_, _ = check_maps_masks(maps, unions)
    names = check_groups(groups, defect_list) or [None] * len(maps_)
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 2:
        raise MetricInputError(f"n_bins is {n_bins!r}; expected an integer >= 2")
    edges, to_bins = threshold_grid(maps_, n_bins, sample, seed, unions)
    width = edges.size + 1
    free = np.zeros((len(maps_), width), dtype=np.float64)
    saturated = np.zeros((len(maps_), width), dtype=np.float64)
    n_defects = np.zeros(len(maps_), dtype=np.float64)
    for i, (amap, union, (_, image_defects)) in enumerate(
        zip(maps_, unions, defect_list, strict=True)
    ):
        bins = to_bins(np.asarray(amap).ravel())
        outside = ~union.ravel()
        free[i] = np.cumsum(np.bincount(bins[outside], minlength=width)[::-1])
        n_defects[i] = len(image_defects)
        for mask, saturation in image_defects:
            covered = np.cumsum(np.bincount(bins[mask.ravel()], minlength=width)[::-1])
            saturated[i] += np.minimum(covered / saturation, 1.0)
    return SproStatistics(free, saturated, n_defects, tuple(names))


def _area_rows(stats: SproStatistics, weights: np.ndarray, limit: float) -> np.ndarray:
    return pro_areas(
        weights @ stats.free,
        weights @ stats.saturated,
        weights @ stats.free[:, -1],
        weights @ stats.n_defects,
        limit,
    )


def _auspro_rows(stats: SproStatistics, counts: np.ndarray, limit: float) -> np.ndarray:
    """AU-sPRO per resample: with types, the mean over the types of each type's value (its
    anomalous images with every good image), NaN unless every type has a defect."""
    weights = np.asarray(counts, dtype=np.float64)
    if not stats.types:
        return _area_rows(stats, weights, limit)
    groups = np.asarray([g if g is not None else "" for g in stats.groups], dtype=object)
    values = [
        _area_rows(stats, weights * ((groups == "") | (groups == name)), limit)
        for name in stats.types
    ]
    return np.mean(values, axis=0) if len(values) >= 2 else np.full(weights.shape[0], np.nan)


def auspro_bootstrap_metric(limit: float = 0.05) -> BootstrapMetric:
    """``auspro_<limit>`` on :class:`SproStatistics` for the paired bootstrap (binned; pass
    the exact values through ``exact``). With types, the official ``mean`` of the types'
    values (undefined unless at least two types have defects, as :func:`auspro`)."""
    from pyimgano.metrics._validation import check_limit
    from pyimgano.metrics.results import limit_key

    bound = check_limit(limit)

    def value(labels: np.ndarray, stats: SproStatistics) -> float | None:
        result = float(_auspro_rows(stats, np.ones((1, stats.n_images)), bound)[0])
        return result if np.isfinite(result) else None

    return BootstrapMetric(
        f"auspro_{limit_key(bound)}",
        value,
        lambda labels, stats, counts: _auspro_rows(stats, counts, bound),
    )
