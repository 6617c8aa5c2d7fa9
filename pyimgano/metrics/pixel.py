"""Pixel-level metrics of SPEC §5, all four from one ordering of the pooled pixels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyimgano.metrics._curves import AveragePrecision, F1Max, ProArea, RocArea
from pyimgano.metrics._pixels import CHUNK_SIZE, count_defect_pixels, pool_pixels
from pyimgano.metrics._sweep import Consumer, sweep
from pyimgano.metrics._validation import check_limit, check_maps_masks
from pyimgano.metrics.aupro import aupro_undefined
from pyimgano.metrics.results import MetricResults

__all__ = ["pixel_metrics"]

RANKING_METRICS = ("pixel_auroc", "pixel_ap", "pixel_f1_max")
PIXEL_METRICS = (*RANKING_METRICS, "aupro")


def pixel_metrics(
    maps: Sequence[Any], masks: Sequence[Any], aupro_limit: float = 0.3
) -> MetricResults:
    """Pixel AUROC, AP, F1-max and AU-PRO over the pooled pixels of all images.

    Parameters
    ----------
    maps : sequence of ndarray of shape (H_i, W_i)
        Anomaly maps, one per image; sizes may differ between images. Bool, integer or real
        floating values, finite. Used at their own precision: float64 maps are not rounded
        to float32; mixed dtypes are compared in their common result type.
    masks : sequence of ndarray of shape (H_i, W_i)
        Ground truth, one per image, at its map's shape; non-zero pixels are defect.
    aupro_limit : float, default 0.3
        FPR integration limit of AU-PRO, in (0, 1].

    Returns
    -------
    MetricResults
        ``pixel_auroc``, ``pixel_ap``, ``pixel_f1_max`` (as :func:`~pyimgano.metrics.auroc`,
        :func:`~pyimgano.metrics.average_precision`, :func:`~pyimgano.metrics.f1_max` over all
        pixels of all images) and ``aupro`` (as :func:`~pyimgano.metrics.aupro`).

    Raises
    ------
    MetricInputError
        Unequal numbers of maps and masks, no image or no pixel, an array that is not 2-D, a
        map whose shape differs from its mask's (naming the image and both shapes), NaN or
        Inf in a map (naming the image and pixel), a limit outside (0, 1].

    Notes
    -----
    Definedness: the ranking metrics are ``None`` unless the masks hold both normal and
    anomalous pixels; AU-PRO is ``None`` when there is no ground-truth region or no normal
    pixel. ``results.notes`` gives the reason.

    Ties: every distinct score is one threshold (predict defect where ``score >= t``); no
    binning. AU-PRO follows the MVTec AD protocol (see :func:`~pyimgano.metrics.pro_curve`).

    All four metrics come from one sort of the pooled pixels. Where every map value is exactly
    a float32 (float32 maps, and float64 maps that hold float32 values) each pixel is packed
    with its ground-truth region into one uint64 that is sorted in place (8 bytes per pixel);
    otherwise one argsort of the pooled values is used. The sorted pixels are swept in chunks.

    Examples
    --------
    >>> import numpy as np
    >>> maps = [np.array([[0.9, 0.1], [0.2, 0.3]]), np.array([[0.05, 0.6]])]
    >>> masks = [np.array([[1, 0], [0, 0]]), np.zeros((1, 2))]
    >>> r = pixel_metrics(maps, masks)
    >>> r["pixel_auroc"], r["pixel_f1_max"], r["aupro"]
    (1.0, 1.0, 1.0)
    """
    checked_maps, checked_masks = check_maps_masks(maps, masks)
    limit = check_limit(aupro_limit)
    return compute_pixel_metrics(checked_maps, checked_masks, limit)


def compute_pixel_metrics(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    limit: float,
    *,
    chunk_size: int = CHUNK_SIZE,
) -> MetricResults:
    """:func:`pixel_metrics` on validated input (``chunk_size``: pixels per sweep chunk)."""
    results = MetricResults()
    n_defect = count_defect_pixels(masks)
    n_normal = sum(amap.size for amap in maps) - n_defect
    if n_defect == 0:
        results.set_undefined(
            RANKING_METRICS, f"no anomalous pixels in masks ({n_normal} normal pixels)"
        )
    elif n_normal == 0:
        results.set_undefined(
            RANKING_METRICS, f"no normal pixels in masks ({n_defect} anomalous pixels)"
        )
    reason = aupro_undefined(n_normal, n_defect)
    if reason is not None:
        results.set("aupro", None, reason)
        return results

    pooled = pool_pixels(maps, masks)
    roc = RocArea(n_normal, n_defect)
    ap = AveragePrecision(n_defect)
    f1 = F1Max(n_defect)
    area = ProArea(n_normal, pooled.n_regions, limit)
    consumers: list[Consumer] = [roc, ap, f1, area]
    sweep(pooled.chunks(chunk_size), consumers, weights=pooled.weights)
    area.finish()
    results.set("pixel_auroc", roc.compute())
    results.set("pixel_ap", ap.compute())
    results.set("pixel_f1_max", f1.compute())
    results.set("aupro", area.compute())
    return results
