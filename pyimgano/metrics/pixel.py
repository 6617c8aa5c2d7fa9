"""Pixel-level metrics of docs/REFERENCE.md §5, all from one ordering of the pooled pixels.

Two entry points: :func:`pixel_metrics`, the public one (validated maps and masks in, the
metrics as a dict out), and :func:`evaluate_pixels`, the evaluation's (package-internal): pixel
AUROC, AP, F1-max, AU-PRO at ``aupro_limit`` and at every extra limit (``aupro_<limit>``, see
:func:`~pyimgano.metrics.results.limit_key`), AUPIMO (``aupimo_mean``, ``aupimo_std``, the
per-image values) and optionally AU-sPRO and SegF1 — one sort of the pooled pixels and one
sweep over it feed every accumulator (:mod:`pyimgano.metrics._curves`,
:mod:`pyimgano.metrics.aupimo`), and the sweep's ROC and PRO curves can be kept for the plots.
``compute_pixel_metrics`` and ``compute_pixel_evaluation`` are deprecated aliases (they warn).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.memory import format_size, resolve_budget
from pyimgano.metrics._curves import (
    AveragePrecision,
    F1Max,
    ProArea,
    RocArea,
    ThinCurveCollector,
    ThresholdCounts,
)
from pyimgano.metrics._pixels import (
    CHUNK_SIZE,
    PooledPixels,
    count_defect_pixels,
    packable,
    pool_pixels,
    sweep_chunk_size,
    threshold_keys,
)
from pyimgano.metrics._regions import Regions
from pyimgano.metrics._spill import in_memory_need, pool_spilled
from pyimgano.metrics._sweep import Consumer, PixelConsumer, sweep
from pyimgano.metrics._validation import (
    check_limit,
    check_maps_masks,
    check_masks,
    defects_not_covering,
)
from pyimgano.metrics.aupimo import (
    DEFAULT_FPR_BOUNDS,
    AupimoAccumulator,
    AupimoResult,
    check_fpr_bounds,
)
from pyimgano.metrics.aupro import aupro_undefined
from pyimgano.metrics.results import MetricResults, limit_key
from pyimgano.metrics.spro import (
    DEFAULT_LIMITS,
    Defect,
    SproAccumulator,
    SproResults,
    check_defects,
    check_groups,
    compute_spro,
    defect_union,
)

__all__ = [
    "PixelEvaluation",
    "aupro_key",
    "evaluate_pixels",
    "pixel_metrics",
    "seg_f1",
    "seg_f1_counts",
]

RANKING_METRICS = ("pixel_auroc", "pixel_ap", "pixel_f1_max")
PIXEL_METRICS = (*RANKING_METRICS, "aupro")


def aupro_key(limit: float) -> str:
    """Metric name of AU-PRO at an extra limit: ``aupro_`` + :func:`limit_key` (``aupro_0.05``)."""
    return f"aupro_{limit_key(limit)}"


def check_limits(limits: Any, *, name: str = "aupro_limits") -> tuple[float, ...]:
    """Return the limits as floats in (0, 1], duplicates dropped, order kept."""
    if isinstance(limits, (str, bytes)) or not isinstance(limits, Sequence):
        raise MetricInputError(
            f"{name} is {limits!r}; expected a sequence of numbers in (0, 1]"
        )
    values: list[float] = []
    for index, limit in enumerate(limits):
        value = check_limit(limit, name=f"{name}[{index}]")
        if value not in values:
            values.append(value)
    return tuple(values)


@dataclass(frozen=True)
class PixelEvaluation:
    """Everything the evaluation needs from the pixels of one category.

    Attributes
    ----------
    metrics : MetricResults
        ``pixel_auroc``, ``pixel_ap``, ``pixel_f1_max``, ``aupro``, ``aupro_<limit>`` for each
        extra limit, ``aupimo_mean``, ``aupimo_std`` (``None`` with a note when undefined).
    aupimo_per_image : list of float or None
        Per image, in input order; ``None`` for normal images or where AUPIMO is undefined.
    aupimo_warnings : tuple of str
        What anomalib would have logged as warnings for AUPIMO (the value stands).
    roc : (fpr, tpr) or None
        The sweep's pixel ROC curve from (0, 0) to (1, 1), thinned to a few thousand points
        within ``1/1000`` of the exact curve (``keep_curves=True`` and both classes present).
    pro : (fpr, pro) or None
        The PRO curve as :func:`~pyimgano.metrics.pro_curve`, thinned the same way
        (``keep_curves=True`` and AU-PRO defined).
    metrics_device : str
        Where the sort and sweep ran: ``"cpu"`` (NumPy) or a torch device (``"cuda:0"``).
    spro : SproResults or None
        AU-sPRO overall and per group when ``defects`` were given (its overall
        ``auspro_<limit>`` keys are also in ``metrics``).
    """

    metrics: MetricResults
    aupimo_per_image: list[float | None]
    aupimo_warnings: tuple[str, ...] = ()
    roc: tuple[np.ndarray, np.ndarray] | None = None
    pro: tuple[np.ndarray, np.ndarray] | None = None
    metrics_device: str = "cpu"
    spro: SproResults | None = None


def pixel_metrics(
    maps: Sequence[Any],
    masks: Sequence[Any],
    aupro_limit: float = 0.3,
    *,
    aupro_limits: Sequence[float] = (),
    aupimo_fpr_bounds: tuple[float, float] = DEFAULT_FPR_BOUNDS,
    seg_f1_threshold: float | None = None,
) -> MetricResults:
    """Pixel AUROC, AP, F1-max, AU-PRO (at several limits) and AUPIMO over all images.

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
    aupro_limits : sequence of float, default ()
        Extra AU-PRO limits, each in (0, 1]; each gives ``aupro_<limit>`` (``aupro_0.05``:
        ``aupro_`` + the limit's shortest round-trip ``repr``), from the same sweep.
    aupimo_fpr_bounds : (float, float), default (1e-5, 1e-4)
        AUPIMO's shared-FPR integration range on the normal images.
    seg_f1_threshold : float, optional
        Also ``seg_f1``: the pooled pixel F1 of the maps binarised at this threshold (see
        :func:`seg_f1`), from the same sweep.

    Returns
    -------
    MetricResults
        ``pixel_auroc``, ``pixel_ap``, ``pixel_f1_max`` (as :func:`~pyimgano.metrics.auroc`,
        :func:`~pyimgano.metrics.average_precision`, :func:`~pyimgano.metrics.f1_max` over all
        pixels of all images), ``aupro`` (as :func:`~pyimgano.metrics.aupro`), ``aupro_<limit>``
        per extra limit, ``aupimo_mean`` and ``aupimo_std`` (as
        :func:`~pyimgano.metrics.aupimo`; per-image values: :func:`evaluate_pixels`), and
        ``seg_f1`` when ``seg_f1_threshold`` is given.

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
    pixel; AUPIMO without a normal or an anomalous image (and in the cases where anomalib
    raises, see :mod:`pyimgano.metrics.aupimo`). ``results.notes`` gives the reason.

    Ties: every distinct score is one threshold (predict defect where ``score >= t``); no
    binning. AU-PRO follows the MVTec AD protocol (see :func:`~pyimgano.metrics.pro_curve`).

    All metrics come from one sort of the pooled pixels. Where every map value is exactly
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
    return evaluate_pixels(
        maps,
        masks,
        aupro_limit=aupro_limit,
        aupro_limits=aupro_limits,
        aupimo_fpr_bounds=aupimo_fpr_bounds,
        seg_f1_threshold=seg_f1_threshold,
    ).metrics


def seg_f1(maps: Sequence[Any], masks: Sequence[Any], threshold: float) -> float | None:
    """SegF1: the pixel F1 of the maps binarised at ``threshold``, pooled over all images.

    The threshold-dependent segmentation metric of the MVTec AD 2 benchmark (Heckler-Kram et
    al., "The MVTec AD 2 Dataset: Advanced Scenarios for Unsupervised Anomaly Detection",
    arXiv:2503.21622, 2025): a method binarises its anomaly maps at a threshold it chose
    without test data, and the binary maps are scored by F1 against the ground truth.

    Parameters
    ----------
    maps : sequence of ndarray of shape (H_i, W_i)
        Anomaly maps, one per image (as :func:`pixel_metrics`).
    masks : sequence of ndarray of shape (H_i, W_i)
        Ground truth, one per image; non-zero pixels are defect.
    threshold : float
        Finite; a pixel is predicted anomalous where ``map >= threshold`` (compared exactly in
        the maps' own precision, float64 thresholds are not rounded).

    Returns
    -------
    float or None
        ``2 TP / (2 TP + FP + FN)`` with true/false positives and false negatives counted over
        every pixel of every image together (pooled, not averaged per image); ``None`` without
        an anomalous pixel or without a normal pixel (the reason in :func:`pixel_metrics`'s
        notes, as for the other pixel metrics).

    Raises
    ------
    MetricInputError
        The input errors of :func:`pixel_metrics`; a threshold that is not a finite number.

    Notes
    -----
    ``higher_is_better``: True. The value is read off the same sort and sweep that give the
    other pixel metrics (the counts at the last distinct score ``>= threshold``); in an
    evaluation it comes with them at no extra sort (``seg_f1_threshold`` of
    :func:`pixel_metrics` / :func:`evaluate_pixels`). The pooling over all pixels of the
    category is pyimgano's documented choice (docs/REFERENCE.md §5).

    Examples
    --------
    >>> import numpy as np
    >>> maps = [np.array([[0.9, 0.1], [0.6, 0.3]])]
    >>> masks = [np.array([[1, 1], [0, 0]])]
    >>> seg_f1(maps, masks, 0.5)  # TP 1, FP 1, FN 1
    0.5
    """
    result = evaluate_pixels(maps, masks, aupimo_fpr_bounds=None, seg_f1_threshold=threshold)
    return result.metrics["seg_f1"]


def seg_f1_counts(maps: Sequence[Any], masks: Sequence[Any], threshold: float) -> np.ndarray:
    """Per image, the ``(TP, FP, FN)`` pixel counts of SegF1 at ``threshold``.

    The per-image statistics from which :func:`seg_f1` of any multiset of the images follows
    (``2 ΣTP / (2 ΣTP + ΣFP + ΣFN)``): what a paired bootstrap over images resamples. One
    comparison per pixel, no sort; ``maps`` may be NumPy arrays or torch tensors (copied to
    the host one at a time), e.g. :attr:`pyimgano.evaluation.PixelData.maps`.

    Parameters
    ----------
    maps, masks : sequences of 2-D arrays of equal shapes
        As :func:`seg_f1`.
    threshold : float
        Finite; anomalous where ``map >= threshold`` (exact, as :func:`seg_f1`).

    Returns
    -------
    ndarray of int64, shape (n_images, 3)

    Raises
    ------
    MetricInputError
        A bad threshold, unequal counts of maps and masks, or a map whose shape is not its
        mask's.

    Examples
    --------
    >>> import numpy as np
    >>> seg_f1_counts([np.array([[0.9, 0.1], [0.6, 0.3]])], [np.array([[1, 1], [0, 0]])], 0.5)
    array([[1, 1, 1]])
    """
    from pyimgano.outputs import to_numpy

    limit = np.float64(_check_threshold(threshold))
    map_list, mask_list = _as_list(maps), _as_list(masks)
    if len(map_list) != len(mask_list):
        raise MetricInputError(
            f"{len(map_list)} maps but {len(mask_list)} masks; expected one mask per map"
        )
    counts = np.zeros((len(map_list), 3), dtype=np.int64)
    for index, (amap, mask) in enumerate(zip(map_list, mask_list, strict=True)):
        values, truth = to_numpy(amap), np.asarray(mask) != 0
        if values.shape != truth.shape:
            raise MetricInputError(
                f"map {index} has shape {values.shape} but its mask {truth.shape}"
            )
        predicted = values >= limit
        tp = int(np.count_nonzero(predicted & truth))
        counts[index] = (tp, int(np.count_nonzero(predicted)) - tp,
                         int(np.count_nonzero(truth)) - tp)
    return counts


def _check_threshold(threshold: Any) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
        raise MetricInputError(f"seg_f1 threshold is {threshold!r}; expected a finite number")
    value = float(threshold)
    if not np.isfinite(value):
        raise MetricInputError(f"seg_f1 threshold is {value!r}; expected a finite number")
    return value


def evaluate_pixels(
    maps: Sequence[Any],
    masks: Sequence[Any],
    *,
    aupro_limit: float = 0.3,
    aupro_limits: Sequence[float] = (),
    aupimo_fpr_bounds: tuple[float, float] = DEFAULT_FPR_BOUNDS,
    regions: Sequence[Regions] | None = None,
    keep_curves: bool = False,
    device: str | None = None,
    defects: Sequence[Sequence[Defect]] | None = None,
    auspro_limits: Sequence[float] = DEFAULT_LIMITS,
    defect_groups: Sequence[str | None] | None = None,
    seg_f1_threshold: float | None = None,
    memory_budget: int | str | None = None,
    chunk_size: int | None = None,
) -> PixelEvaluation:
    """Every pixel metric of one category from one sort (the evaluation's entry point).

    Package-internal: users call :func:`pixel_metrics` (its metrics, as a dict); the
    evaluation calls this for the rest (per-image AUPIMO, curves, AU-sPRO, device, budget).

    Parameters
    ----------
    maps, masks, aupro_limit, aupro_limits, aupimo_fpr_bounds
        As :func:`pixel_metrics`. ``maps`` may also be torch tensors (see ``device``).
    regions : sequence of (labels, counts), optional
        Each mask's 8-connected regions as
        :func:`~pyimgano.metrics._regions.label_regions` returns them, when the caller has
        computed them already (e.g. in a background thread); labelled here otherwise.
    keep_curves : bool, default False
        Also return the sweep's ROC and PRO curves (``PixelEvaluation.roc`` / ``.pro``),
        thinned while sweeping to the points a plot can show (see
        :class:`~pyimgano.metrics._curves.ThinCurveCollector`; the metrics are exact).
    device : str, optional
        A torch device (``"cuda"``, ``"cuda:1"``, ``"cpu"``) to run the sort and sweep on; the
        maps are moved there. ``None``: where the maps are — NumPy arrays on the host (NumPy
        path), torch tensors on their device (torch path, :mod:`pyimgano.metrics._torch`).
        Both paths give the same values (to ~1e-15; sums of region weights in another order).
    defects : sequence of sequences of (mask, saturation), optional
        MVTec LOCO: per image, its defects as :func:`~pyimgano.metrics.auspro` takes them; the
        union of an image's defect masks must be its mask. Adds AU-sPRO (``auspro_<limit>``
        in ``metrics``, per group in ``spro``; with groups the overall value is the mean of
        the groups') from the same sort (on the torch path the same code runs on the host,
        with its own sort).
    auspro_limits : sequence of float, default (0.05,)
        AU-sPRO's FPR limits (with ``defects``).
    defect_groups : sequence of str or None, optional
        Per image, its defects' group (``"logical_anomalies"`` ...), as ``auspro``'s ``groups``.
    seg_f1_threshold : float, optional
        Adds ``seg_f1`` (:func:`seg_f1`) at this threshold, from the same sweep. ``None``
        ``aupimo_fpr_bounds`` leaves AUPIMO out (its keys absent).
    memory_budget : int or str, optional
        Bytes the host sort and sweep may use beyond the maps (``"4GiB"``, ``"auto"``: half
        the memory available now, shared among pytest-xdist workers). When the in-memory sort
        would need more, the sorted keys are spilled in runs to a temporary directory and
        merged while sweeping (:mod:`pyimgano.metrics._spill`); the metrics are the same
        (to ~1e-15). ``None``: no budget. Ignored on the torch path.
    chunk_size : int, optional
        Pixels per sweep chunk (per score range on the torch path); ``None``: the default for
        the pixel count. The metrics do not depend on it beyond float rounding (~1e-15).

    Returns
    -------
    PixelEvaluation
        ``metrics_device`` is ``"cpu"`` for the NumPy path, ``"cuda:<i>"`` or ``"cpu (torch)"``
        for the torch path.

    Raises
    ------
    MetricInputError
        As :func:`pixel_metrics`; bad ``aupro_limits`` or ``aupimo_fpr_bounds``; ``regions``
        whose length or shapes do not match the masks; a ``memory_budget`` too small to stream
        (naming the budget and the least it needs).
    ConfigError
        A ``memory_budget`` that is not a size or ``auto``.
    """
    limit = check_limit(aupro_limit)
    extra = check_limits(aupro_limits)
    bounds = None if aupimo_fpr_bounds is None else check_fpr_bounds(aupimo_fpr_bounds)
    threshold = None if seg_f1_threshold is None else _check_threshold(seg_f1_threshold)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise MetricInputError(f"chunk_size is {chunk_size!r}; expected an integer >= 1")
    map_list = _as_list(maps)
    if device is None and not any(_is_tensor(amap) for amap in map_list):
        checked_maps, checked_masks = check_maps_masks(map_list, masks)
        torch_device = None
    else:
        checked_masks = check_masks(masks, len(map_list))
        from pyimgano.metrics._torch import check_tensor_maps, resolve_device

        torch_device = resolve_device(device, map_list)
        checked_maps = check_tensor_maps(map_list, checked_masks, torch_device)
    checked_regions = _check_regions(regions, checked_masks)
    spro_input = None
    if defects is not None:
        spro_limits = check_limits(auspro_limits, name="auspro_limits")
        if not spro_limits:
            raise MetricInputError("auspro_limits is empty; expected at least one FPR limit")
        defect_list = check_defects(checked_maps, defects)
        pairs = zip(defect_list, checked_masks, strict=True)
        for index, ((shape, image), mask) in enumerate(pairs):
            if not np.array_equal(defect_union(shape, image), mask != 0):
                raise defects_not_covering(index)
        spro_input = (defect_list, check_groups(defect_groups, defect_list), list(spro_limits))
    return _evaluate(
        checked_maps,
        checked_masks,
        limit,
        chunk_size=None if chunk_size is None else int(chunk_size),
        aupro_limits=extra,
        aupimo_fpr_bounds=bounds,
        regions=checked_regions,
        keep_curves=keep_curves,
        device=torch_device,
        spro=spro_input,
        seg_f1_threshold=threshold,
        memory_budget=resolve_budget(memory_budget),
    )


def _as_list(values: Any) -> list[Any]:
    try:
        return list(values)
    except TypeError:
        raise MetricInputError(
            "maps and masks must be sequences of 2-D arrays (one per image)"
        ) from None


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _check_regions(
    regions: Sequence[Regions] | None, masks: Sequence[np.ndarray]
) -> list[Regions] | None:
    if regions is None:
        return None
    regions = list(regions)
    if len(regions) != len(masks):
        raise MetricInputError(
            f"regions has {len(regions)} entries but masks has {len(masks)}; expected one per mask"
        )
    for index, (region, mask) in enumerate(zip(regions, masks, strict=True)):
        labels, counts = region
        if labels.shape != mask.shape or counts.ndim != 1 or counts.size < 1:
            raise MetricInputError(
                f"regions[{index}] has labels of shape {labels.shape} and counts of shape "
                f"{counts.shape}; expected labels of the mask's shape {mask.shape} and counts "
                "(n_regions + 1,) as label_regions returns them"
            )
        if int(counts.sum()) != mask.size or int(counts[0]) != mask.size - np.count_nonzero(mask):
            raise MetricInputError(
                f"regions[{index}] counts {int(counts[0])} normal of {int(counts.sum())} pixels "
                f"but masks[{index}] has {mask.size - np.count_nonzero(mask)} of {mask.size}"
            )
    return regions


def _evaluate(
    maps: Sequence[Any],
    masks: Sequence[np.ndarray],
    limit: float,
    *,
    chunk_size: int | None = None,
    aupro_limits: Sequence[float] = (),
    aupimo_fpr_bounds: tuple[float, float] | None = DEFAULT_FPR_BOUNDS,
    regions: Sequence[Regions] | None = None,
    keep_curves: bool = False,
    device: Any = None,
    spro: tuple[list, list[str | None] | None, list[float]] | None = None,
    seg_f1_threshold: float | None = None,
    memory_budget: int | None = None,
) -> PixelEvaluation:
    """:func:`evaluate_pixels` on its validated input.

    ``seg_f1_threshold`` (finite): adds ``seg_f1``, counted by a consumer of the same sweep.

    ``spro``: ``(defects, groups, limits)`` as checked by :mod:`pyimgano.metrics.spro`.
    ``aupimo_fpr_bounds=None`` leaves AUPIMO out (its keys absent): the benchmark's baseline.
    ``device`` None: NumPy maps, swept on the host; a ``torch.device``: the maps are validated
    tensors there (:mod:`pyimgano.metrics._torch`). ``chunk_size``: pixels per sweep chunk (per
    score range on the torch path); None for the default.
    """
    results = MetricResults()
    extra_keys = [aupro_key(extra) for extra in aupro_limits]
    n_images = len(maps)
    n_defect = count_defect_pixels(masks)
    n_normal = sum(mask.size for mask in masks) - n_defect
    metrics_device = "cpu" if device is None else _device_name(device)
    if n_defect == 0:
        results.set_undefined(
            RANKING_METRICS, f"no anomalous pixels in masks ({n_normal} normal pixels)"
        )
    elif n_normal == 0:
        results.set_undefined(
            RANKING_METRICS, f"no normal pixels in masks ({n_defect} anomalous pixels)"
        )
    reason = aupro_undefined(n_normal, n_defect)
    spro_accumulator: SproAccumulator | SproResults | None = None
    if spro is not None:
        spro_accumulator = SproAccumulator.prepare(*spro)
    if reason is not None:
        results.set("aupro", None, reason)
        results.set_undefined(extra_keys, reason)
        if seg_f1_threshold is not None:
            results.set("seg_f1", None, reason)
        aupimo = AupimoResult.undefined(
            n_images,
            "no anomalous images (no anomalous pixels in masks)"
            if n_defect == 0
            else "no normal images (every pixel is anomalous)",
        )
        if aupimo_fpr_bounds is not None:
            aupimo.store(results)
        spro_results = None
        if spro is not None:
            # no defect pixel or no normal pixel: AU-sPRO is undefined too
            assert isinstance(spro_accumulator, SproResults)
            spro_results = spro_accumulator
            for key, value in spro_results.metrics.items():
                results.set(key, value, spro_results.metrics.notes.get(key))
        return PixelEvaluation(
            results, aupimo.per_image, metrics_device=metrics_device, spro=spro_results
        )

    roc = RocArea(n_normal, n_defect)
    ap = AveragePrecision(n_defect)
    f1 = F1Max(n_defect)
    spro_results = spro_accumulator if isinstance(spro_accumulator, SproResults) else None
    at_threshold: ThresholdCounts | None = None
    threshold = None if seg_f1_threshold is None else np.array([seg_f1_threshold], np.float64)
    collector: ThinCurveCollector | None = None
    if device is None:
        defect_masks = None
        if isinstance(spro_accumulator, SproAccumulator):
            defect_masks = [[mask for mask, _ in image] for _, image in spro[0]]
        pooled, budget_chunk = _pool(maps, masks, regions, defect_masks, memory_budget)
        try:
            if keep_curves:
                collector = ThinCurveCollector(n_normal, n_defect, pooled.n_regions)
            areas = [ProArea(n_normal, pooled.n_regions, value) for value in (limit, *aupro_limits)]
            consumers: list[Consumer] = [roc, ap, f1, *areas]
            if collector is not None:
                consumers.append(collector)
            if threshold is not None:
                at_threshold = ThresholdCounts(threshold_keys(pooled, threshold))
                consumers.append(at_threshold)
            accumulator = (
                AupimoAccumulator.create(maps, pooled, aupimo_fpr_bounds)
                if aupimo_fpr_bounds is not None
                else AupimoResult.undefined(n_images, "not asked for")
            )
            pixel_consumers: list[PixelConsumer] = []
            if isinstance(accumulator, AupimoAccumulator):
                pixel_consumers.append(accumulator)
            if isinstance(spro_accumulator, SproAccumulator):
                spro_accumulator.bind(pooled, maps)
                pixel_consumers.append(spro_accumulator)
            sweep(
                pooled.chunks(chunk_size or budget_chunk),
                consumers,
                weights=pooled.weights,
                first_defect=pooled.first_defect,
                pixel_consumers=pixel_consumers,
                keep_scores=at_threshold is not None,
            )
            aupimo = accumulator if isinstance(accumulator, AupimoResult) else accumulator.result()
            if isinstance(spro_accumulator, SproAccumulator):
                spro_results = spro_accumulator.result()
        finally:
            pooled.close()  # a spilled sort's temporary files, whatever happened
    else:
        from pyimgano.metrics._torch import TorchPixels, default_chunk_size

        pixels = TorchPixels(list(maps), masks, regions, device)
        pooled = pixels.pooled
        if keep_curves:
            collector = ThinCurveCollector(n_normal, n_defect, pooled.n_regions)
        aupimo = (
            pixels.aupimo(aupimo_fpr_bounds)
            if aupimo_fpr_bounds is not None
            else AupimoResult.undefined(n_images, "not asked for")
        )
        areas = [ProArea(n_normal, pooled.n_regions, value) for value in (limit, *aupro_limits)]
        consumers = [roc, ap, f1, *areas]
        if collector is not None:
            consumers.append(collector)
        if threshold is not None:  # the scores are the maps' values: compared in float64
            at_threshold = ThresholdCounts(threshold)
            consumers.append(at_threshold)
        size = chunk_size or default_chunk_size(device, pixels.n_pixels, n_defect)
        pixels.sweep(consumers, chunk_size=size, keep_scores=at_threshold is not None)
        if isinstance(spro_accumulator, SproAccumulator):  # on the host, its own sort
            assert spro is not None
            host_maps = [amap.cpu().numpy() for amap in pixels.maps]
            spro_results = compute_spro(host_maps, *spro, CHUNK_SIZE)
    for area in areas:
        area.finish()
    results.set("pixel_auroc", roc.compute())
    results.set("pixel_ap", ap.compute())
    results.set("pixel_f1_max", f1.compute())
    results.set("aupro", areas[0].compute())
    for key, area in zip(extra_keys, areas[1:], strict=True):
        results.set(key, area.compute())
    if at_threshold is not None:
        results.set("seg_f1", at_threshold.f1(n_defect))
    if aupimo_fpr_bounds is not None:
        aupimo.store(results)
    if spro_results is not None:
        for key, value in spro_results.metrics.items():
            results.set(key, value, spro_results.metrics.notes.get(key))
    roc_curve = pro_curve = None
    if collector is not None:
        fp, tp, pro, _ = collector.arrays()
        assert pro is not None
        roc_curve = (
            np.concatenate(([0.0], fp / n_normal)),
            np.concatenate(([0.0], tp / n_defect)),
        )
        pro_curve = (
            np.concatenate(([0.0], fp / n_normal, [1.0])),
            np.concatenate(([0.0], np.minimum(pro / pooled.n_regions, 1.0), [1.0])),
        )
    return PixelEvaluation(
        metrics=results,
        aupimo_per_image=aupimo.per_image,
        aupimo_warnings=aupimo.warnings,
        roc=roc_curve,
        pro=pro_curve,
        metrics_device=metrics_device,
        spro=spro_results,
    )


def _pool(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    regions: Sequence[Regions] | None,
    defect_masks: Sequence[Sequence[np.ndarray]] | None,
    memory_budget: int | None,
) -> tuple[PooledPixels, int]:
    """The pooled pixels and the sweep's chunk size: in memory, or spilled within the budget.

    Raises
    ------
    MetricInputError
        Over the budget with maps that are not float32 values (only the packed keys can be
        spilled), or a budget too small to stream at all (naming the budget and the need).
    """
    sizes = [int(amap.size) for amap in maps]
    n_pixels = sum(sizes)
    if memory_budget is None or in_memory_need(sizes) <= memory_budget:
        return pool_pixels(maps, masks, regions, defect_masks), sweep_chunk_size(n_pixels)
    if not packable(maps):
        need = 20 * n_pixels
        raise MetricInputError(
            f"the memory budget {format_size(memory_budget)} ({memory_budget} bytes) is too "
            f"small for the pixel metrics of {n_pixels} pixels: maps whose values are not "
            f"float32 values are sorted in memory only and need about {format_size(need)} "
            f"({need} bytes); raise the memory budget (--memory-budget, suite "
            "memory_budget), leave it unset or give float32 maps"
        )
    pooled, layout = pool_spilled(maps, masks, regions, defect_masks, memory_budget)
    return pooled, layout.chunk


def _device_name(device: Any) -> str:
    """``"cuda:0"`` for a CUDA device (index filled in), ``"cpu (torch)"`` for torch on CPU."""
    if device.type == "cuda":
        import torch

        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index}"
    return f"{device.type} (torch)"


def _deprecated(name: str, replacement: str) -> None:
    warnings.warn(
        f"pyimgano.metrics.pixel.{name} is deprecated; use {replacement}",
        DeprecationWarning,
        stacklevel=3,
    )


def compute_pixel_metrics(
    maps: Sequence[Any],
    masks: Sequence[Any],
    limit: float,
    *,
    chunk_size: int = CHUNK_SIZE,
    aupro_limits: Sequence[float] = (),
    aupimo_fpr_bounds: tuple[float, float] = DEFAULT_FPR_BOUNDS,
) -> MetricResults:
    """Deprecated: ``evaluate_pixels(maps, masks, aupro_limit=limit, chunk_size=...).metrics``."""
    _deprecated(
        "compute_pixel_metrics",
        "evaluate_pixels(maps, masks, aupro_limit=limit, chunk_size=...).metrics "
        "(or pixel_metrics)",
    )
    return evaluate_pixels(
        maps,
        masks,
        aupro_limit=limit,
        aupro_limits=aupro_limits,
        aupimo_fpr_bounds=aupimo_fpr_bounds,
        chunk_size=chunk_size,
    ).metrics


def compute_pixel_evaluation(
    maps: Sequence[Any],
    masks: Sequence[Any],
    limit: float,
    *,
    spro: tuple[list, list[str | None] | None, list[float]] | None = None,
    **options: Any,
) -> PixelEvaluation:
    """Deprecated: :func:`evaluate_pixels` (``aupro_limit=limit``; ``spro`` as ``defects``,
    ``defect_groups`` and ``auspro_limits``; every other keyword as there)."""
    _deprecated("compute_pixel_evaluation", "evaluate_pixels(maps, masks, aupro_limit=limit, ...)")
    if spro is not None:
        checked, groups, limits = spro
        options.update(defects=[image for _, image in checked], defect_groups=groups,
                       auspro_limits=limits)
    return evaluate_pixels(maps, masks, aupro_limit=limit, **options)
