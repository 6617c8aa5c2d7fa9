"""AU-PRO and the PRO curve, following the MVTec AD evaluation protocol (docs/REFERENCE.md §5).

Reference: P. Bergmann et al., "The MVTec Anomaly Detection Dataset", IJCV 129 (2021), and
the official evaluation code (``compute_pro`` in ``pro_curve_util.py``, ``trapezoid`` in
``generic_util.py``) that ships with MVTec AD.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics._curves import CurveCollector, ProArea
from pyimgano.metrics._pixels import CHUNK_SIZE, count_defect_pixels, pool_pixels
from pyimgano.metrics._sweep import sweep
from pyimgano.metrics._validation import check_limit, check_maps_masks

__all__ = ["aupro", "pro_curve"]

NO_REGIONS = "no ground-truth regions (no anomalous pixels in masks)"
NO_NORMAL = "no normal pixels in masks (every pixel is anomalous)"


def aupro_undefined(n_normal: int, n_defect: int) -> str | None:
    """The reason AU-PRO is undefined for these pixel counts, or None when it is defined."""
    if n_defect == 0:
        return NO_REGIONS
    if n_normal == 0:
        return NO_NORMAL
    return None


def pro_curve(maps: Sequence[Any], masks: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The full PRO curve (per-region overlap against false positive rate), as MVTec AD.

    Parameters
    ----------
    maps : sequence of ndarray of shape (H_i, W_i)
        Anomaly maps, one per image (sizes may differ between images); finite; any real or
        integer dtype, used at its own precision.
    masks : sequence of ndarray of shape (H_i, W_i)
        Ground truth, one per image; non-zero pixels are defect.

    Returns
    -------
    fpr, pro : ndarray of float64, shape (n_distinct_scores + 2,)
        The curve from ``(0, 0)`` through one point per distinct score (highest first) to
        ``(1, 1)``; ``fpr`` is non-decreasing.

    Raises
    ------
    MetricInputError
        Bad input (see :func:`pyimgano.metrics.pixel_metrics`), or no ground-truth region or
        no normal pixel (the curve is then undefined).

    Notes
    -----
    Regions are the 8-connected components of each mask. At threshold ``t`` (predict defect
    where ``score >= t``), PRO is the mean over all regions of all images of the fraction of
    the region's pixels at or above ``t``, and FPR the fraction of all non-defect pixels of all
    images (good images included) at or above ``t``. Tied scores form one point; PRO is
    clipped at 1 against rounding. The official script stores FPR in float32; here it is
    float64 (no other difference).

    Examples
    --------
    >>> fpr, pro = pro_curve([np.array([[0.9, 0.1], [0.2, 0.3]])], [np.array([[1, 0], [0, 0]])])
    >>> fpr.tolist(), pro.tolist()
    ([0.0, 0.0, 0.3333333333333333, 0.6666666666666666, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    """
    checked_maps, checked_masks = check_maps_masks(maps, masks)
    reason = _reason(checked_maps, checked_masks)
    if reason is not None:
        raise MetricInputError(f"pro_curve is undefined: {reason}")
    pooled = pool_pixels(checked_maps, checked_masks)
    collector = CurveCollector()
    sweep(
        pooled.chunks(CHUNK_SIZE),
        [collector],
        weights=pooled.weights,
        first_defect=pooled.first_defect,
    )
    fp, _, pro, _ = collector.arrays()
    assert pro is not None
    fpr = np.concatenate(([0.0], fp / pooled.n_normal, [1.0]))
    pro_rate = np.concatenate(([0.0], np.minimum(pro / pooled.n_regions, 1.0), [1.0]))
    return fpr, pro_rate


def _reason(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> str | None:
    n_defect = count_defect_pixels(masks)
    return aupro_undefined(sum(m.size for m in maps) - n_defect, n_defect)


def aupro(maps: Sequence[Any], masks: Sequence[Any], limit: float = 0.3) -> float | None:
    """Normalised area under the PRO curve up to an FPR limit (MVTec AD AU-PRO).

    Parameters
    ----------
    maps : sequence of ndarray of shape (H_i, W_i)
        Anomaly maps, one per image; finite; used at their own precision.
    masks : sequence of ndarray of shape (H_i, W_i)
        Ground truth, one per image; non-zero pixels are defect.
    limit : float, default 0.3
        Upper FPR integration limit, in (0, 1].

    Returns
    -------
    float or None
        Area under :func:`pro_curve` from FPR 0 to ``limit``, divided by ``limit``; ``None``
        when there is no ground-truth region or no normal pixel.

    Raises
    ------
    MetricInputError
        Bad input (see :func:`pyimgano.metrics.pixel_metrics`) or a limit outside (0, 1].

    Notes
    -----
    The trapezoidal rule of MVTec's ``trapezoid(x, y, x_max=limit)``: every curve segment up to
    ``limit`` counts; when ``limit`` is not itself a curve x value, PRO is linearly
    interpolated at ``limit`` between its neighbours. See :func:`pro_curve` for the curve.

    Examples
    --------
    >>> aupro([np.array([[0.9, 0.1], [0.2, 0.3]])], [np.array([[1, 0], [0, 0]])])
    1.0
    """
    checked_maps, checked_masks = check_maps_masks(maps, masks)
    value = check_limit(limit, name="limit")
    if _reason(checked_maps, checked_masks) is not None:
        return None
    return compute_aupro(checked_maps, checked_masks, value)


def compute_aupro(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    limit: float,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> float:
    """AU-PRO of validated input with at least one region and one normal pixel."""
    pooled = pool_pixels(maps, masks)
    area = ProArea(pooled.n_normal, pooled.n_regions, limit)
    sweep(
        pooled.chunks(chunk_size), [area], weights=pooled.weights, first_defect=pooled.first_defect
    )
    area.finish()
    return float(area.compute())
