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

Memory and chunking: no label is kept for every pixel. Resident for the call, per anomalous
image only: the flat positions (int32) of its defect pixels and their region labels (int32),
8 bytes per *defect* pixel; good images and normal pixels need none. The pixels are swept in
*score ranges* of at most ``chunk_size`` pixels (ranges are intervals of score values, cut at
sampled quantiles, so a run of tied scores is never split and the result is exactly that of
one global sort; a single score held by more pixels than ``chunk_size`` forms a range of its
own). A range is gathered at its final size (its values, 4 bytes for float32 maps, and a
defect flag, 1 byte, per range pixel; the region labels of its defect pixels) and sorted — in
place on the CPU, with int64 indices (8) and the sort's own buffer (8 on the CPU): about 21
bytes per *range* pixel. The reductions run on slices of at most ``2**21`` pixels (and a 32nd
of the pixels), each defect pixel's label found by its range position (``searchsorted``).
By default a range holds at most a quarter of the pixels (an eighth when a quarter or more
are defect pixels, a sixteenth from three quarters on), so the peak beyond the maps stays
within 16 bytes per pixel: measured on CPU tensors by the peak resident size over the call,
17.8 M pixels (17 maps of 1024x1024, half good, 4.6 % defect pixels): 9.4 B/px by default
(24.0 before this layout), 25.4 B/px with the whole category as one range (32.6 before); with
the left half of every image defect (no good image), 12.7 B/px (17.9 with quarter ranges).
On CUDA a range is also at most what a quarter of the free device memory holds at
``_BYTES_PER_RANGE_PIXEL`` bytes a range pixel (the device sort is not in place and keeps
radix-sort double buffers: an estimate, not measured on a GPU); ``2**24`` pixels on the CPU.

``torch`` is imported only here, and this module only when torch tensors (or a device) are
given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from pyimgano.errors import MetricInputError, device_errors
from pyimgano.metrics._curves import Block
from pyimgano.metrics._pixels import Layout, PooledPixels
from pyimgano.metrics._regions import Regions
from pyimgano.metrics._sweep import Consumer
from pyimgano.metrics.aupimo import AupimoAccumulator, AupimoResult, undefined_reason

__all__ = ["TorchPixels", "check_tensor_maps", "default_chunk_size", "resolve_device"]

# per range pixel on CUDA: the 21 bytes measured on the CPU, plus the unsorted values (4) and
# the radix sort's key and index double buffers (12) of an out-of-place device sort (estimated)
_BYTES_PER_RANGE_PIXEL = 40
_CPU_CHUNK = 1 << 24
_RANGE_SHARE = 4  # a range holds at most 1/_RANGE_SHARE of the pixels
_REDUCE_CHUNK = 1 << 21  # pixels per reduction slice of a sorted range (as CHUNK_SIZE)
#: What a device failure here names (:func:`pyimgano.errors.device_errors`).
_STAGE = "the pixel metrics on the maps' device (sort and sweep)"


def default_chunk_size(device: torch.device, n_pixels: int, n_defect: int = 0) -> int:
    """Pixels per score range: at most a quarter of them (an eighth where a quarter or more of
    them are defect pixels, a sixteenth from three quarters on: their positions and labels stay
    resident), and what a quarter of the free device memory holds (``2**24`` on the CPU)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        fit = max(1 << 16, free // 4 // _BYTES_PER_RANGE_PIXEL)
    else:
        fit = _CPU_CHUNK
    share = _RANGE_SHARE * (1 if 4 * n_defect < n_pixels else 2 if 4 * n_defect < 3 * n_pixels
                            else 4)
    # above 2**16 pixels, so that a range's sort stays a few bytes per pixel
    return max(1, min(n_pixels, fit, max(1 << 16, -(-n_pixels // share))))


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


class _Range(NamedTuple):
    """One score range being swept: ``values`` sorted (highest first), ``order`` their
    positions in the range, ``flags`` per range position whether it is a defect pixel,
    ``positions`` the defect positions (ascending) and ``labels`` their region labels."""

    values: torch.Tensor
    order: torch.Tensor
    flags: torch.Tensor
    positions: torch.Tensor
    labels: torch.Tensor


def _sort_descending(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``values`` sorted highest first and their int64 sort order.

    On the CPU the sort writes into ``values`` itself (no second values array); elsewhere it
    makes a new one (a device sort may not read and write the same memory), and the caller
    drops the unsorted one.
    """
    if values.device.type != "cpu":
        return torch.sort(values, descending=True)
    order = torch.empty(values.numel(), dtype=torch.int64, device=values.device)
    torch.sort(values, descending=True, out=(values, order))
    return values, order


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
        # per anomalous image: the flat positions of its defect pixels (ascending, int32 below
        # 2**31 pixels) and their region labels (int32); good images and normal pixels need none
        self.defects: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        for index, amap in enumerate(self.maps):
            if layout.defect_counts[index] == 0:
                self.defects.append(None)
                continue
            host = np.empty(amap.numel(), dtype=np.int32)
            layout.fill(index, host)
            where = np.flatnonzero(host)
            if where.size and int(where[-1]) < 2**31:  # int32 positions: 4 bytes, not 8
                where = where.astype(np.int32)
            labels = host[where]
            del host
            self.defects.append(
                (torch.from_numpy(where).to(device), torch.from_numpy(labels).to(device))
            )
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
        # the reductions run on slices, so their temporaries stay within a byte per pixel
        step = min(chunk_size, _REDUCE_CHUNK, max(1 << 16, self.n_pixels >> 5))
        for lower in self._splits(chunk_size):
            values, flags, labels = self._gather(lower, upper)
            upper = lower
            if values.numel() == 0:
                continue
            values, order = _sort_descending(values)
            # the range's defect pixels in its own (unsorted) order, as ``labels``
            positions = torch.nonzero(flags).flatten()
            ranged = _Range(values, order, flags, positions, labels)
            del values, order, flags, positions, labels
            for start in range(0, ranged.values.numel(), step):
                stop = min(ranged.values.numel(), start + step)
                self._reduce(ranged, start, stop, weights, consumers, keep_scores)
            del ranged

    def _reduce(
        self,
        ranged: _Range,
        start: int,
        stop: int,
        weights: torch.Tensor,
        consumers: Sequence[Consumer],
        keep_scores: bool,
    ) -> None:
        """One block from the sorted pixels ``start:stop`` of a range (its end closes a run)."""
        values = ranged.values
        chunk = values[start:stop]
        is_end = torch.empty(chunk.numel(), dtype=torch.bool, device=self.device)
        torch.ne(chunk[:-1], chunk[1:], out=is_end[:-1])
        if stop == values.numel():
            is_end[-1] = True
        else:
            is_end[-1] = values[stop - 1] != values[stop]
        ends = torch.nonzero(is_end).flatten()
        del is_end
        index = ranged.order[start:stop]
        defect = ranged.flags[index]
        running_tp = torch.cumsum(defect, dim=0, dtype=torch.int64)
        chunk_tp = int(running_tp[-1])
        tp_local = running_tp[ends]
        del running_tp
        # region weights of the defect pixels (0 elsewhere), found by their range position
        running_pro = torch.zeros(chunk.numel(), dtype=weights.dtype, device=self.device)
        hits = torch.nonzero(defect).flatten()
        del defect
        if hits.numel():
            rank = torch.searchsorted(ranged.positions, index[hits])
            running_pro[hits] = weights[ranged.labels[rank].long()]
            del rank
        del hits
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

    def _keep(self, flat: torch.Tensor, lower: float | None, upper: float | None) -> Any:
        """Which of ``flat`` have ``lower <= score < upper`` (bool), or None for all of them.

        The bounds are map values: compared in the maps' dtype when it is floating (exact),
        else in float64 (as an integer compared with a float would be in float32).
        """
        if lower is None and upper is None:
            return None
        exact = flat if flat.dtype.is_floating_point else flat.to(torch.float64)
        keep = None
        if lower is not None:
            keep = exact >= lower
        if upper is not None:
            keep = exact < upper if keep is None else keep.logical_and_(exact < upper)
        return keep

    def _gather(
        self, lower: float | None, upper: float | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every pixel with ``lower <= score < upper``: its value (a new tensor), whether it is a
        defect pixel (bool), and the region labels of the defect pixels among them, in order.

        The range's tensors are made at their final size (counted first: the per-image masks
        of the range, a byte per pixel, live until they are filled), so no pieces are
        concatenated: the range costs its own bytes only.
        """
        keeps = [self._keep(amap.flatten(), lower, upper) for amap in self.maps]
        counts, n_defect = [], 0
        for amap, defect, keep in zip(self.maps, self.defects, keeps, strict=True):
            counts.append(amap.numel() if keep is None else int(torch.count_nonzero(keep)))
            if defect is not None:
                n_defect += defect[0].numel() if keep is None else int(
                    torch.count_nonzero(keep[defect[0]]))
        device = self.device
        values = torch.empty(sum(counts), dtype=self.dtype, device=device)
        flags = torch.zeros(values.numel(), dtype=torch.bool, device=device)
        labels = torch.empty(n_defect, dtype=torch.int32, device=device)
        start = defect_start = 0
        for index, (amap, defect, count) in enumerate(
            zip(self.maps, self.defects, counts, strict=True)
        ):
            flat = amap.flatten()
            keep, keeps[index] = keeps[index], None
            stop = start + count
            if keep is None:
                values[start:stop].copy_(flat)
            else:
                torch.masked_select(flat, keep, out=values[start:stop])
            if defect is not None:
                where, label = defect
                flag = torch.zeros(flat.numel(), dtype=torch.bool, device=device)
                flag[where] = True
                if keep is None:
                    flags[start:stop].copy_(flag)
                    kept_labels = label
                else:
                    torch.masked_select(flag, keep, out=flags[start:stop])
                    kept_labels = label[keep[where]]
                del flag
                defect_stop = defect_start + kept_labels.numel()
                labels[defect_start:defect_stop].copy_(kept_labels)
                defect_start = defect_stop
            start = stop
        return values, flags, labels

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
        # per anomalous image (the TPR rows, in image order): its defect pixels' buckets, int32
        defect_buckets: list[torch.Tensor] = []
        good_label = {int(image): label for label, image in
                      enumerate(pooled.label_image[: pooled.first_defect]) if label}
        for index, (amap, defect) in enumerate(zip(self.maps, self.defects, strict=True)):
            if defect is None:
                buckets = torch.searchsorted(thresholds, amap.flatten().to(thresholds.dtype),
                                             right=True)
                group = int(label_group[good_label[index]])
                good_hist += torch.bincount(buckets + group * (k + 1), minlength=good_hist.numel())
            else:
                scores = amap.flatten()[defect[0]]
                defect_buckets.append(torch.searchsorted(
                    thresholds, scores.to(thresholds.dtype), right=True, out_int32=True))
        rows = [index for index, defect in enumerate(self.defects) if defect is not None]
        assert rows == accumulator.anomalous_images.tolist()

        def tp_histogram(start: int, width: int) -> np.ndarray:
            hist = torch.empty((len(defect_buckets), width + 1), dtype=torch.int64,
                               device=self.device)
            for row, buckets in enumerate(defect_buckets):
                within = torch.clamp(buckets - start, 0, width)
                hist[row] = torch.bincount(within, minlength=width + 1)
            return hist.cpu().numpy()

        accumulator.load_counts(good_hist.view(group_sizes.size, k + 1).cpu().numpy(), tp_histogram)
        return accumulator.result()
