"""Pool the pixels of every image and order them once, for all pixel metrics together.

Two exact paths, chosen by what the maps hold (never by rounding them):

*Packed* (every map value is exactly a float32 — float16/float32 maps, small integers, or
float64 maps whose values all survive a float32 round trip): each pixel becomes one uint64
``key << 32 | region_id``, where ``key`` is a monotone uint32 image of its float32 score
(``-0.0`` first canonicalised to ``+0.0`` so that both tie, as they compare equal) and
``region_id`` is the pixel's *label* (see below). One in-place ``np.sort`` of that array
orders the pixels by score and carries each pixel's label along; no index array is built.
Extra memory: 8 bytes per pixel plus one chunk of the sweep.

*Argsort* (anything else, e.g. float64 maps with values a float32 cannot hold): the pooled
values keep their common dtype (``np.result_type`` of the maps), region ids go into a parallel
array and one ``np.argsort`` orders them (about 20 bytes per pixel).

Both paths yield the chunks that :func:`pyimgano.metrics._sweep.sweep` consumes, highest score
first.

Labels (one uint32 per pixel; ``G`` good images, ``R`` ground-truth regions):

- ``0``: a normal pixel of an image that has a defect,
- ``1 .. G``: a pixel of good image ``g`` (the ``g``-th image whose mask is empty, 1-based) —
  normal for every metric, and the per-image false positives of AUPIMO,
- ``G + 1 .. G + R``: a pixel of ground-truth region ``r`` (8-connected, global index over all
  images); :attr:`PooledPixels.first_defect` is ``G + 1``.

So "anomalous" is ``label >= first_defect`` and the per-label tables of :class:`PooledPixels`
(region weight, image index) give everything a metric needs about a pixel.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics._regions import Regions, label_regions
from pyimgano.metrics._sweep import Chunk
from pyimgano.metrics._validation import defects_not_covering

__all__ = [
    "CHUNK_SIZE",
    "ID_WORD",
    "KEY_WORD",
    "Layout",
    "PooledPixels",
    "count_defect_pixels",
    "float32_keys",
    "packable",
    "packed_keys",
    "pool_pixels",
    "sweep_chunk_size",
    "threshold_keys",
]

#: Pixels per sweep chunk: large enough to amortise Python overhead, small enough that the
#: chunk's temporaries stay a few percent of the pooled array.
CHUNK_SIZE = 1 << 21
#: Largest chunk of the evaluation's sweep (:func:`sweep_chunk_size`).
SWEEP_CHUNK = 1 << 18

#: Positions of the key (high) and region id (low) words of a packed uint64 in its uint32 view.
KEY_WORD, ID_WORD = (1, 0) if sys.byteorder == "little" else (0, 1)
_FLOAT32_INT_LIMIT = 2**24  # integers up to this magnitude are exact in float32


def sweep_chunk_size(n_pixels: int) -> int:
    """Pixels per sweep chunk for ``n_pixels`` pooled pixels.

    ``2**18``, or a 32nd of the pixels when that is smaller (but at least ``2**16``): a
    chunk's temporaries take about 100 bytes per chunk pixel, so they stay within a few bytes
    per pooled pixel at any scale (and 26 MB at most, so that a streamed sweep within a memory
    budget can use the same chunks).
    """
    return int(min(SWEEP_CHUNK, max(1 << 16, int(n_pixels) >> 5)))


def count_defect_pixels(masks: Sequence[np.ndarray]) -> int:
    """Number of non-zero mask pixels over all images."""
    return sum(int(np.count_nonzero(mask)) for mask in masks)


def _is_float32_exact(amap: np.ndarray) -> bool:
    """True when converting ``amap`` to float32 changes no value (so no order or tie)."""
    kind, itemsize = amap.dtype.kind, amap.dtype.itemsize
    if kind == "b" or (kind in "iu" and itemsize <= 2) or (kind == "f" and itemsize <= 4):
        return True
    if amap.size == 0:
        return True
    if kind in "iu":
        return int(amap.min()) >= -_FLOAT32_INT_LIMIT and int(amap.max()) <= _FLOAT32_INT_LIMIT
    with np.errstate(over="ignore"):
        return bool(np.array_equal(amap.astype(np.float32), amap))


def float32_keys(amap: np.ndarray) -> np.ndarray:
    """Monotone uint32 keys of the float32 values of ``amap`` (flattened).

    Non-negative floats get their sign bit set; negative floats have all bits inverted; so
    unsigned key order is float order, and equal floats (after ``-0.0 -> +0.0``) get equal keys.
    """
    values = np.asarray(amap, dtype=np.float32).ravel()
    values = values + np.float32(0.0)  # a new array; -0.0 + 0.0 == +0.0
    bits = values.view(np.uint32)
    flip = bits >> np.uint32(31)  # 1 for negatives
    flip *= np.uint32(0x7FFFFFFF)
    flip |= np.uint32(0x80000000)
    bits ^= flip
    return bits


@dataclass(eq=False)
class PooledPixels:
    """All pixels of all images with their region ids, ready to be swept.

    Attributes
    ----------
    n_normal, n_defect : int
        Pixel counts over all images.
    weights : ndarray of float64, shape (n_labels,)
        Per label: ``1 / size of its region`` for a region label, 0 for the others.
    label_image : ndarray of int64, shape (n_labels,)
        Per label: the index of its image (-1 for label 0).
    first_defect : int
        The first region label (``n_good + 1``).
    image_sizes, defect_counts : ndarray of int64, shape (n_images,)
        Pixels and defect pixels of each image.
    values_dtype : numpy dtype
        The common dtype of the maps (the chunk scores are uint32 keys on the packed path).
    label_defects : list of ndarray, optional
        Only when pooled with ``defects``: per label from ``first_defect`` on, the global indices
        of the defects its pixels belong to (labels are then *cells*, see :func:`pool_pixels`).
    """

    n_normal: int
    n_defect: int
    weights: np.ndarray
    label_image: np.ndarray
    first_defect: int
    image_sizes: np.ndarray
    defect_counts: np.ndarray
    values_dtype: np.dtype
    region_count: int
    label_defects: list[np.ndarray] | None = None
    _keys: np.ndarray | None = None
    _values: np.ndarray | None = None
    _ids: np.ndarray | None = None
    _order: np.ndarray | None = None
    _spill: Any = None  # pyimgano.metrics._spill.SpilledKeys when streamed within a budget

    @property
    def n_regions(self) -> int:
        """Ground-truth regions (labels from ``first_defect`` on, unless they are cells)."""
        return self.region_count

    @property
    def n_good(self) -> int:
        return self.first_defect - 1

    @property
    def has_pixels(self) -> bool:
        """False for the label tables alone (the torch path keeps the pixels on its device)."""
        return self._keys is not None or self._values is not None or self._spill is not None

    @property
    def packed(self) -> bool:
        """True on the packed uint64 path (see the module docstring), in memory or spilled."""
        return self._keys is not None or self._spill is not None

    @property
    def spilled(self) -> bool:
        """True when the keys are sorted runs in a temporary directory (a memory budget)."""
        return self._spill is not None

    def close(self) -> None:
        """Remove the spilled runs' temporary directory, if any (idempotent)."""
        if self._spill is not None:
            self._spill.close()

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[Chunk]:
        """Yield ``(scores, ids, next_score)`` chunks, highest score first."""
        if self._spill is not None:
            yield from self._spill.chunks(chunk_size)
        elif self._keys is not None:
            yield from _packed_chunks(self._keys, chunk_size)
        else:
            assert self._values is not None and self._ids is not None
            assert self._order is not None
            yield from _argsort_chunks(self._values, self._ids, self._order, chunk_size)


def _packed_chunks(keys: np.ndarray, chunk_size: int) -> Iterator[Chunk]:
    words = keys.view(np.uint32)
    for stop in range(keys.size, 0, -chunk_size):
        start = max(0, stop - chunk_size)
        scores = words[2 * start + KEY_WORD : 2 * stop : 2][::-1]
        ids = words[2 * start + ID_WORD : 2 * stop : 2][::-1]
        next_score = words[2 * (start - 1) + KEY_WORD] if start else None
        yield scores, ids, next_score


def _argsort_chunks(
    values: np.ndarray, ids: np.ndarray, order: np.ndarray, chunk_size: int
) -> Iterator[Chunk]:
    for stop in range(order.size, 0, -chunk_size):
        start = max(0, stop - chunk_size)
        index = order[start:stop][::-1]
        next_score = values[order[start - 1]] if start else None
        yield values[index], ids[index], next_score


def packable(maps: Sequence[np.ndarray]) -> bool:
    """True when ``maps`` take the packed path (every value a float32, under 2**32 pixels)."""
    n_pixels = sum(amap.size for amap in maps)
    return n_pixels < 2**32 and all(_is_float32_exact(amap) for amap in maps)


def pool_pixels(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    regions: Sequence[Regions] | None = None,
    defects: Sequence[Sequence[np.ndarray]] | None = None,
) -> PooledPixels:
    """Pool and sort the pixels of validated ``maps``/``masks`` (see the module docstring).

    ``regions`` are the images' :func:`~pyimgano.metrics._regions.label_regions` results when
    the caller has them already (they are computed here otherwise). ``defects`` (per image,
    the boolean masks of its defects, whose union must be the mask) refine the region labels
    into *cells* — the pixels of one region that belong to the same defects — so that AU-sPRO
    (per defect) and AU-PRO (per region) read the same sort.
    """
    n_pixels = sum(amap.size for amap in maps)
    layout = Layout(masks, regions, defects)
    if packable(maps):
        return _pool_packed(maps, layout, n_pixels)
    return _pool_argsort(maps, layout, n_pixels)


class Layout:
    """Label assignment of every image (see the module docstring).

    Good images are known up front (their mask is empty); regions are labelled image by image
    while the pixels are pooled (unless given), so at most one label image is alive at a time.
    """

    def __init__(
        self,
        masks: Sequence[np.ndarray],
        regions: Sequence[Regions] | None,
        defects: Sequence[Sequence[np.ndarray]] | None = None,
    ) -> None:
        self._masks = masks
        self._regions = regions
        self._defects = defects
        self._cell_defects: list[np.ndarray] = []
        self._n_defects = 0
        self._n_regions = 0
        self.image_sizes = np.array([mask.size for mask in masks], dtype=np.int64)
        if regions is not None:
            normal = np.array([int(region[1][0]) for region in regions], dtype=np.int64)
            self.defect_counts = self.image_sizes - normal
        else:
            self.defect_counts = np.array(
                [np.count_nonzero(mask) for mask in masks], dtype=np.int64
            )
        good = self.defect_counts == 0
        self.n_good = int(np.count_nonzero(good))
        self.first_defect = self.n_good + 1
        self._good_label = np.zeros(len(masks), dtype=np.int64)
        self._good_label[good] = np.arange(1, self.n_good + 1)
        self._weights: list[np.ndarray] = [np.zeros(self.first_defect)]
        self._label_image: list[np.ndarray] = [np.full(1, -1, np.int64), np.flatnonzero(good)]
        self._next_label = self.first_defect

    def good_label(self, index: int) -> int:
        """The label of every pixel of image ``index`` when it is a good image, else 0."""
        return int(self._good_label[index])

    def fill(self, index: int, out: np.ndarray) -> None:
        """Write image ``index``'s pixel labels into ``out`` (a flat view of its pixels)."""
        if self._good_label[index]:
            out[...] = self._good_label[index]
            return
        if self._regions is not None:
            labels, counts = self._regions[index]
        else:
            labels, counts = label_regions(self._masks[index])
        if self._defects is not None:
            self._fill_cells(index, labels, counts, out)
            return
        out[...] = labels.ravel()
        del labels
        offset = self._next_label - 1
        np.add(out, out.dtype.type(offset), out=out, where=out != 0)
        self._weights.append(1.0 / counts[1:])
        self._label_image.append(np.full(counts.size - 1, index, dtype=np.int64))
        self._next_label += counts.size - 1
        self._n_regions += counts.size - 1

    def _fill_cells(
        self, index: int, labels: np.ndarray, counts: np.ndarray, out: np.ndarray
    ) -> None:
        """Labels that are *cells*: the pixels of one region that belong to the same defects."""
        assert self._defects is not None
        image_defects = self._defects[index]
        if len(image_defects) > 62:
            raise MetricInputError(f"image {index} has more than 62 defects; not supported")
        code = np.zeros(labels.shape, dtype=np.int64)
        for bit, mask in enumerate(image_defects):
            code[mask] |= np.int64(1) << bit
        defect = labels != 0
        if not np.array_equal(code != 0, defect):
            raise defects_not_covering(index)
        bits = len(image_defects)
        key = (labels[defect].astype(np.int64) << bits) | code[defect]
        cells, inverse = np.unique(key, return_inverse=True)
        flat = np.zeros(labels.size, dtype=np.int64)
        flat[defect.ravel()] = inverse.ravel() + self._next_label
        out[...] = flat
        self._weights.append(1.0 / counts[cells >> bits])
        self._label_image.append(np.full(cells.size, index, dtype=np.int64))
        low = (np.int64(1) << bits) - 1
        for cell in cells & low:
            members = [b for b in range(bits) if int(cell) >> b & 1]
            self._cell_defects.append(np.array(members, dtype=np.int64) + self._n_defects)
        self._n_defects += bits
        self._next_label += cells.size
        self._n_regions += counts.size - 1

    def pooled(
        self,
        dtype: np.dtype,
        *,
        keys: np.ndarray | None = None,
        values: np.ndarray | None = None,
        ids: np.ndarray | None = None,
        order: np.ndarray | None = None,
        spill: Any = None,
    ) -> PooledPixels:
        """The label tables with the pixels: sorted packed ``keys``, ``values``/``ids`` with
        their argsort ``order``, a ``spill`` (:class:`~pyimgano.metrics._spill.SpilledKeys`),
        or none (the tables alone, as the torch path keeps its pixels)."""
        n_defect = int(self.defect_counts.sum())
        return PooledPixels(
            n_normal=int(self.image_sizes.sum()) - n_defect,
            n_defect=n_defect,
            weights=np.concatenate(self._weights).astype(np.float64, copy=False),
            label_image=np.concatenate(self._label_image),
            first_defect=self.first_defect,
            image_sizes=self.image_sizes,
            defect_counts=self.defect_counts,
            values_dtype=dtype,
            region_count=self._n_regions,
            label_defects=self._cell_defects if self._defects is not None else None,
            _keys=keys,
            _values=values,
            _ids=ids,
            _order=order,
            _spill=spill,
        )


def packed_keys(maps: Sequence[np.ndarray], layout: Layout, n_pixels: int) -> np.ndarray:
    """The packed uint64 keys (float32 score key, label/region id) of every pixel, unsorted."""
    keys = np.empty(n_pixels, dtype=np.uint64)
    words = keys.view(np.uint32)
    largest = max((amap.size for amap in maps), default=0)
    buffers = np.empty(largest, dtype=np.uint32), np.empty(largest, dtype=np.uint32)
    start = 0
    for index, amap in enumerate(maps):
        stop = start + amap.size
        words[2 * start + KEY_WORD : 2 * stop : 2] = _float32_keys_into(amap, *buffers)
        layout.fill(index, words[2 * start + ID_WORD : 2 * stop : 2])
        start = stop
    return keys


def _float32_keys_into(amap: np.ndarray, bits: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """:func:`float32_keys` of ``amap`` in the reused uint32 buffers ``bits`` and ``flip``.

    The same keys in four in-place passes: ``x + 0.0`` (``-0.0 -> +0.0``), the arithmetic
    shift of the sign into ``0`` or ``0xFFFFFFFF``, ``| 0x80000000``, and the XOR.
    """
    size = amap.size
    out, sign = bits[:size], flip[:size]
    values = np.asarray(amap, dtype=np.float32).reshape(-1)
    np.add(values, np.float32(0.0), out=out.view(np.float32))
    np.right_shift(out.view(np.int32), np.int32(31), out=sign.view(np.int32))
    np.bitwise_or(sign, np.uint32(0x80000000), out=sign)
    np.bitwise_xor(out, sign, out=out)
    return out


def _pool_packed(maps: Sequence[np.ndarray], layout: Layout, n_pixels: int) -> PooledPixels:
    keys = packed_keys(maps, layout, n_pixels)
    keys.sort()
    return layout.pooled(np.result_type(*(amap.dtype for amap in maps)), keys=keys)


def _pool_argsort(maps: Sequence[np.ndarray], layout: Layout, n_pixels: int) -> PooledPixels:
    dtype = np.result_type(*(amap.dtype for amap in maps))
    values = np.empty(n_pixels, dtype=dtype)
    ids = np.empty(n_pixels, dtype=np.uint32 if n_pixels < 2**32 else np.int64)
    start = 0
    for index, amap in enumerate(maps):
        stop = start + amap.size
        values[start:stop] = amap.ravel()
        layout.fill(index, ids[start:stop])
        start = stop
    order = np.argsort(values)
    return layout.pooled(dtype, values=values, ids=ids, order=order)


def threshold_keys(pooled: PooledPixels, thresholds: np.ndarray) -> np.ndarray:
    """``thresholds`` as values comparable with the chunk scores of ``pooled``.

    For every pixel score ``s`` and threshold ``t``: ``s >= t`` exactly when
    ``key(s) >= threshold_keys(t)``. On the packed path a threshold becomes the key of the
    smallest float32 not below it (the scores are float32 values); otherwise it is returned as
    it is (NumPy compares mixed dtypes exactly in their common type).
    """
    if not pooled.packed:
        return thresholds
    if thresholds.dtype.itemsize <= 4:  # float16/float32 thresholds are float32 values
        return float32_keys(thresholds)
    t32 = thresholds.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        below = t32.astype(np.float64) < thresholds.astype(np.float64)
    t32[below] = np.nextafter(t32[below], np.float32(np.inf))
    return float32_keys(t32)
