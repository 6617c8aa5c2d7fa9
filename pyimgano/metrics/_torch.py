"""The torch path of the pixel metrics: sort and sweep where the maps are (docs/REFERENCE.md §5).

Design (one implementation of every metric): the per-pixel work runs on the maps' device —
pooling, the sort, collapsing ties, the cumulative counts and region weights, AUPIMO's threshold
buckets — and reduces it to one value per *distinct score* (``fp``, ``tp``, ``pro`` and, for
curves, the score). Those arrays come to the host as :class:`~pyimgano.metrics._curves.Block`
objects and are fed to the same accumulators as the NumPy path (:mod:`pyimgano.metrics._curves`);
AUPIMO gets device-made histograms (normal-image pixels per threshold bucket, defect pixels per
(image, bucket) over the integration range only) and finishes in the shared
:class:`~pyimgano.metrics.aupimo.AupimoAccumulator`. Nothing per pixel is copied to the host;
the ground-truth region labels go the other way, once per anomalous image (labelled on the host,
possibly precomputed in a background thread). Counts are int64 and weights float64 on the device.

Memory and chunking: the pixels are swept in *score ranges* of at most ``chunk_size`` pixels
(ranges are intervals of score values, cut at sampled quantiles, so a run of tied scores is
never split and the result is exactly that of one global sort; a single score held by more
pixels than ``chunk_size`` forms a range of its own). Within a range: one ``torch.sort`` of its
values (float32 maps: 4 bytes) with its int64 indices (8), the gathered int32 labels (4), then
reductions in slices of ``2**21`` pixels. Resident for the call: the int32 pixel labels
(4 bytes per pixel; dropped when the whole category is one range). Peak beyond the maps, float32
maps, one range: about 20 bytes per pixel (measured on CPU tensors by peak RSS: 25 B/px at 8.6 M
pixels, 21 B/px at 17 M, the fixed slice temporaries weighing less as the pixel count grows).
The default range size is a quarter of the free device memory divided by 32 bytes (on CUDA;
``2**24`` pixels on CPU), so an MVTec category on a GPU is one range; a category that does not
fit is cut into several ranges with the same exact result.

``torch`` is imported only here, and this module only when torch tensors (or a device) are
given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from pyimgano.errors import MetricInputError, device_errors
from pyimgano.metrics._curves import Block
from pyimgano.metrics._pixels import Layout, PooledPixels
from pyimgano.metrics._regions import Regions
from pyimgano.metrics._sweep import Consumer
from pyimgano.metrics.aupimo import AupimoAccumulator, AupimoResult, undefined_reason

__all__ = ["TorchPixels", "check_tensor_maps", "default_chunk_size", "resolve_device"]

_BYTES_PER_RANGE_PIXEL = 32
_CPU_CHUNK = 1 << 24
_REDUCE_CHUNK = 1 << 21  # pixels per reduction slice of a sorted range (as CHUNK_SIZE)
#: What a device failure here names (:func:`pyimgano.errors.device_errors`).
_STAGE = "the pixel metrics on the maps' device (sort and sweep)"


def default_chunk_size(device: torch.device, n_pixels: int) -> int:
    """Pixels per score range: all of them where a quarter of the free memory holds them."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return max(1 << 16, min(n_pixels, free // 4 // _BYTES_PER_RANGE_PIXEL))
    return max(1, min(n_pixels, _CPU_CHUNK))


def resolve_device(device: Any, maps: Sequence[Any]) -> torch.device:
    """The device to run on: ``device`` if given, else the first tensor map's device."""
    if device is None:
        for amap in maps:
            if isinstance(amap, torch.Tensor):
                return amap.device
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise MetricInputError(
            f"device is {device!r}; expected a torch device such as 'cpu', 'cuda' or 'cuda:1'"
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise MetricInputError(f"device is {device!r} but CUDA is not available here")
    return resolved


def check_tensor_maps(
    maps: Sequence[Any], masks: Sequence[np.ndarray], device: torch.device
) -> list[torch.Tensor]:
    """Maps as 2-D finite tensors on ``device``, each of its mask's shape (errors as NumPy's)."""
    out = []
    for index, (amap, mask) in enumerate(zip(maps, masks, strict=True)):
        try:
            tensor = amap if isinstance(amap, torch.Tensor) else torch.from_numpy(np.asarray(amap))
        except (TypeError, ValueError):
            tensor = None
        if tensor is None or tensor.dtype not in _DTYPES:
            dtype = np.asarray(amap).dtype if tensor is None else tensor.dtype
            raise MetricInputError(
                f"maps[{index}] has dtype {dtype}; expected bool, integer or real floating values"
            )
        if tensor.ndim != 2:
            raise MetricInputError(
                f"maps[{index}] has shape {tuple(tensor.shape)}; expected a 2-D array (H, W)"
            )
        if tuple(tensor.shape) != mask.shape:
            raise MetricInputError(
                f"maps[{index}] has shape {tuple(tensor.shape)} but masks[{index}] has shape "
                f"{mask.shape}; expected the map at its mask's resolution"
            )
        tensor = tensor.detach().to(device)
        if tensor.dtype.is_floating_point:
            finite = torch.isfinite(tensor)
            if not bool(finite.all()):
                flat = int(torch.argmin(finite.flatten().to(torch.uint8)))
                where = divmod(flat, tensor.shape[1])
                value = float(tensor[where])
                raise MetricInputError(
                    f"maps[{index}] holds a non-finite value ({value!r}) at {where}; "
                    "expected finite scores (no NaN or Inf)"
                )
        out.append(tensor)
    return out


_DTYPES = {
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
}


class TorchPixels:
    """The pooled pixels of one category on a torch device (see the module docstring)."""

    def __init__(
        self,
        maps: list[torch.Tensor],
        masks: Sequence[np.ndarray],
        regions: Sequence[Regions] | None,
        device: torch.device,
    ) -> None:
        with device_errors(str(device), _STAGE):
            self._load(maps, masks, regions, device)

    def _load(
        self,
        maps: list[torch.Tensor],
        masks: Sequence[np.ndarray],
        regions: Sequence[Regions] | None,
        device: torch.device,
    ) -> None:
        self.device = device
        dtype = maps[0].dtype
        for amap in maps[1:]:
            dtype = torch.promote_types(dtype, amap.dtype)
        if dtype == torch.bfloat16:  # bfloat16 values are float32 values; NumPy has no bfloat16
            dtype = torch.float32
        self.dtype = dtype
        self.maps = [amap.to(dtype) for amap in maps]
        layout = Layout(masks, regions)
        self.labels: list[torch.Tensor] = []
        for index, amap in enumerate(self.maps):
            if layout.defect_counts[index] == 0:
                label = int(layout.good_label(index))
                self.labels.append(torch.full(amap.shape, label, dtype=torch.int32, device=device))
                continue
            host = np.empty(amap.numel(), dtype=np.int32)
            layout.fill(index, host)
            self.labels.append(torch.from_numpy(host).view(amap.shape).to(device))
        self.pooled: PooledPixels = layout.pooled(np.dtype(str(dtype).removeprefix("torch.")))
        self.n_pixels = sum(amap.numel() for amap in self.maps)

    # --- the sweep ------------------------------------------------------------------------

    def _splits(self, chunk_size: int) -> list[float | None]:
        """Lower bounds of the score ranges, highest range first (None: no lower bound)."""
        if self.n_pixels <= chunk_size:
            return [None]
        n_ranges = -(-self.n_pixels // chunk_size)
        step = max(1, self.n_pixels // (64 * n_ranges * 64))
        sample = torch.cat([amap.flatten()[::step] for amap in self.maps])
        sample = torch.sort(sample.to(torch.float64), descending=True).values
        picks = [int(sample.numel() * k / n_ranges) for k in range(1, n_ranges)]
        bounds = torch.unique(sample[torch.tensor(picks, device=self.device)]).tolist()
        return [*sorted(bounds, reverse=True), None]

    def sweep(self, consumers: Sequence[Consumer], *, chunk_size: int, keep_scores: bool) -> None:
        """Feed ``consumers`` the curve points of all pixels, highest score first."""
        with device_errors(str(self.device), _STAGE):
            self._sweep(consumers, chunk_size=chunk_size, keep_scores=keep_scores)

    def _sweep(self, consumers: Sequence[Consumer], *, chunk_size: int, keep_scores: bool) -> None:
        weights = torch.from_numpy(self.pooled.weights).to(self.device)
        self._seen = self._tp_seen = 0
        self._pro_seen = 0.0
        self._last = (0, 0)
        upper: float | None = None
        for lower in self._splits(chunk_size):
            values, labels = self._gather(lower, upper)
            upper = lower
            if values.numel() == 0:
                continue
            values, order = torch.sort(values, descending=True)
            labels = labels[order]
            del order
            # the reductions run on slices, so their temporaries stay small
            step = min(chunk_size, _REDUCE_CHUNK)
            for start in range(0, values.numel(), step):
                stop = min(values.numel(), start + step)
                ends_with_range = stop == values.numel()
                self._reduce(values, labels, start, stop, ends_with_range, weights, consumers,
                             keep_scores)

    def _reduce(
        self,
        values: torch.Tensor,
        labels: torch.Tensor,
        start: int,
        stop: int,
        ends_with_range: bool,
        weights: torch.Tensor,
        consumers: Sequence[Consumer],
        keep_scores: bool,
    ) -> None:
        """One block from the sorted pixels ``start:stop`` (a range's end closes a run)."""
        chunk = values[start:stop]
        is_end = torch.empty(chunk.numel(), dtype=torch.bool, device=self.device)
        torch.ne(chunk[:-1], chunk[1:], out=is_end[:-1])
        if ends_with_range:
            is_end[-1] = True
        else:
            is_end[-1] = values[stop - 1] != values[stop]
        ends = torch.nonzero(is_end).flatten()
        del is_end
        chunk_labels = labels[start:stop]
        running_tp = torch.cumsum(chunk_labels >= self.pooled.first_defect, dim=0,
                                  dtype=torch.int64)
        chunk_tp = int(running_tp[-1])
        tp_local = running_tp[ends]
        del running_tp
        running_pro = weights[chunk_labels.long()]
        running_pro.cumsum_(0)
        chunk_pro = float(running_pro[-1])
        pro_local = running_pro[ends]
        del running_pro
        if ends.numel():
            tp = (tp_local + self._tp_seen).cpu().numpy()
            fp = (ends + (self._seen + 1)).cpu().numpy() - tp
            pro = (pro_local + self._pro_seen).cpu().numpy()
            scores = chunk[ends].cpu().numpy() if keep_scores else None
            last_fp, last_tp = self._last
            block = Block(fp=fp, tp=tp, pro=pro, prev_fp=last_fp, prev_tp=last_tp, scores=scores)
            for consumer in consumers:
                consumer.update(block)
            self._last = (int(fp[-1]), int(tp[-1]))
        self._seen += chunk.numel()
        self._tp_seen += chunk_tp
        self._pro_seen += chunk_pro

    def _gather(
        self, lower: float | None, upper: float | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The values and labels of every pixel with ``lower <= score < upper``."""
        if lower is None and upper is None:  # one range: the labels are needed once more
            values = torch.cat([amap.flatten() for amap in self.maps])
            labels = torch.cat([label.flatten() for label in self.labels])
            self.labels = []
            return values, labels
        values, labels = [], []
        for amap, label in zip(self.maps, self.labels, strict=True):
            flat = amap.flatten()
            keep = torch.ones_like(flat, dtype=torch.bool)
            if lower is not None:
                keep &= flat.to(torch.float64) >= lower
            if upper is not None:
                keep &= flat.to(torch.float64) < upper
            values.append(flat[keep])
            labels.append(label.flatten()[keep])
        return torch.cat(values), torch.cat(labels)

    # --- AUPIMO -----------------------------------------------------------------------------

    def aupimo(self, fpr_bounds: tuple[float, float]) -> AupimoResult:
        """AUPIMO from device-made histograms (see the module docstring)."""
        with device_errors(str(self.device), _STAGE):
            return self._aupimo(fpr_bounds)

    def _aupimo(self, fpr_bounds: tuple[float, float]) -> AupimoResult:
        pooled = self.pooled
        reason = undefined_reason(pooled)
        if reason is not None:
            return AupimoResult.undefined(pooled.image_sizes.size, reason)
        good = [amap for amap, n in zip(self.maps, pooled.defect_counts, strict=True) if n == 0]
        low = min(float(amap.min()) for amap in good)
        high = max(float(amap.max()) for amap in good)
        dtype = pooled.values_dtype
        threshold_dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
        made = AupimoAccumulator.from_range(pooled, fpr_bounds, low, high, threshold_dtype)
        if isinstance(made, AupimoResult):
            return made
        accumulator = made
        thresholds = torch.from_numpy(accumulator.thresholds).to(self.device)
        k = thresholds.numel()
        group_sizes, label_group = accumulator.good_groups
        good_hist = torch.zeros(group_sizes.size * (k + 1), dtype=torch.int64, device=self.device)
        defect_buckets: list[torch.Tensor] = []
        defect_rows: list[torch.Tensor] = []
        row_of = {int(image): row for row, image in enumerate(accumulator.anomalous_images)}
        good_label = {int(image): label for label, image in
                      enumerate(pooled.label_image[: pooled.first_defect]) if label}
        for index, (amap, label) in enumerate(zip(self.maps, self.labels, strict=True)):
            if pooled.defect_counts[index] == 0:
                buckets = torch.searchsorted(thresholds, amap.flatten().to(thresholds.dtype),
                                             right=True)
                group = int(label_group[good_label[index]])
                good_hist += torch.bincount(buckets + group * (k + 1), minlength=good_hist.numel())
            else:
                defect = amap.flatten()[label.flatten() >= pooled.first_defect]
                buckets = torch.searchsorted(thresholds, defect.to(thresholds.dtype), right=True)
                defect_buckets.append(buckets)
                defect_rows.append(torch.full_like(buckets, row_of[index]))
        all_buckets = torch.cat(defect_buckets)
        all_rows = torch.cat(defect_rows)
        n_anomalous = len(row_of)

        def tp_histogram(start: int, width: int) -> np.ndarray:
            within = torch.clamp(all_buckets - start, 0, width)
            flat = torch.bincount(all_rows * (width + 1) + within,
                                  minlength=n_anomalous * (width + 1))
            return flat.view(n_anomalous, width + 1).cpu().numpy()

        accumulator.load_counts(good_hist.view(group_sizes.size, k + 1).cpu().numpy(), tp_histogram)
        return accumulator.result()
