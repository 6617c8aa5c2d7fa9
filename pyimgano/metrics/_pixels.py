"""Pool the pixels of every image and order them once, for all pixel metrics together.

Two exact paths, chosen by what the maps hold (never by rounding them):

*Packed* (every map value is exactly a float32 — float16/float32 maps, small integers, or
float64 maps whose values all survive a float32 round trip): each pixel becomes one uint64
``key << 32 | region_id``, where ``key`` is a monotone uint32 image of its float32 score
(``-0.0`` first canonicalised to ``+0.0`` so that both tie, as they compare equal) and
``region_id`` is 0 for a normal pixel or the 1-based global index of its 8-connected
ground-truth region. One in-place ``np.sort`` of that array orders the pixels by score and
carries each pixel's region along; no index array is built. Extra memory: 8 bytes per pixel
plus one chunk of the sweep.

*Argsort* (anything else, e.g. float64 maps with values a float32 cannot hold): the pooled
values keep their common dtype (``np.result_type`` of the maps), region ids go into a parallel
array and one ``np.argsort`` orders them (about 20 bytes per pixel).

Both paths yield the chunks that :func:`pyimgano.metrics._sweep.sweep` consumes, highest score
first.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from pyimgano.metrics._regions import label_regions
from pyimgano.metrics._sweep import Chunk

__all__ = ["CHUNK_SIZE", "PooledPixels", "count_defect_pixels", "pool_pixels"]

#: Pixels per sweep chunk: large enough to amortise Python overhead, small enough that the
#: chunk's temporaries stay a few percent of the pooled array.
CHUNK_SIZE = 1 << 21

# Position of the key (high) and region id (low) words of a uint64 in its uint32 view.
_KEY_WORD, _ID_WORD = (1, 0) if sys.byteorder == "little" else (0, 1)
_FLOAT32_INT_LIMIT = 2**24  # integers up to this magnitude are exact in float32


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


def _float32_keys(amap: np.ndarray) -> np.ndarray:
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
    weights : ndarray of float64, shape (n_regions + 1,)
        ``weights[0] == 0``; ``weights[k] == 1 / size of region k``.
    """

    n_normal: int
    n_defect: int
    weights: np.ndarray
    _keys: np.ndarray | None = None
    _values: np.ndarray | None = None
    _ids: np.ndarray | None = None
    _order: np.ndarray | None = None

    @property
    def n_regions(self) -> int:
        return self.weights.size - 1

    @property
    def packed(self) -> bool:
        """True on the packed uint64 path (see the module docstring)."""
        return self._keys is not None

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[Chunk]:
        """Yield ``(scores, ids, next_score)`` chunks, highest score first."""
        if self._keys is not None:
            yield from _packed_chunks(self._keys, chunk_size)
        else:
            assert self._values is not None and self._ids is not None
            assert self._order is not None
            yield from _argsort_chunks(self._values, self._ids, self._order, chunk_size)


def _packed_chunks(keys: np.ndarray, chunk_size: int) -> Iterator[Chunk]:
    words = keys.view(np.uint32)
    for stop in range(keys.size, 0, -chunk_size):
        start = max(0, stop - chunk_size)
        scores = words[2 * start + _KEY_WORD : 2 * stop : 2][::-1]
        ids = words[2 * start + _ID_WORD : 2 * stop : 2][::-1]
        next_score = words[2 * (start - 1) + _KEY_WORD] if start else None
        yield scores, ids, next_score


def _argsort_chunks(
    values: np.ndarray, ids: np.ndarray, order: np.ndarray, chunk_size: int
) -> Iterator[Chunk]:
    for stop in range(order.size, 0, -chunk_size):
        start = max(0, stop - chunk_size)
        index = order[start:stop][::-1]
        next_score = values[order[start - 1]] if start else None
        yield values[index], ids[index], next_score


def pool_pixels(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> PooledPixels:
    """Pool and sort the pixels of validated ``maps``/``masks`` (see the module docstring)."""
    n_pixels = sum(amap.size for amap in maps)
    if n_pixels < 2**32 and all(_is_float32_exact(amap) for amap in maps):
        return _pool_packed(maps, masks, n_pixels)
    return _pool_argsort(maps, masks, n_pixels)


def _weights(region_sizes: list[np.ndarray]) -> np.ndarray:
    sizes = np.concatenate([np.ones(1, np.int64), *region_sizes])
    weights = 1.0 / sizes
    weights[0] = 0.0
    return weights


def _pool_packed(
    maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], n_pixels: int
) -> PooledPixels:
    keys = np.empty(n_pixels, dtype=np.uint64)
    words = keys.view(np.uint32)
    region_sizes: list[np.ndarray] = []
    n_normal = 0
    n_regions = 0
    start = 0
    for amap, mask in zip(maps, masks, strict=True):
        stop = start + amap.size
        words[2 * start + _KEY_WORD : 2 * stop : 2] = _float32_keys(amap)
        labels, counts = label_regions(mask)
        ids = words[2 * start + _ID_WORD : 2 * stop : 2]
        ids[...] = labels.ravel()
        del labels
        if counts.size > 1:
            np.add(ids, np.uint32(n_regions), out=ids, where=ids != 0)
        region_sizes.append(counts[1:])
        n_normal += int(counts[0])
        n_regions += counts.size - 1
        start = stop
    keys.sort()
    return PooledPixels(
        n_normal=n_normal,
        n_defect=n_pixels - n_normal,
        weights=_weights(region_sizes),
        _keys=keys,
    )


def _pool_argsort(
    maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], n_pixels: int
) -> PooledPixels:
    dtype = np.result_type(*(amap.dtype for amap in maps))
    values = np.empty(n_pixels, dtype=dtype)
    ids = np.empty(n_pixels, dtype=np.uint32 if n_pixels < 2**32 else np.int64)
    region_sizes: list[np.ndarray] = []
    n_normal = 0
    n_regions = 0
    start = 0
    for amap, mask in zip(maps, masks, strict=True):
        stop = start + amap.size
        values[start:stop] = amap.ravel()
        labels, counts = label_regions(mask)
        image_ids = ids[start:stop]
        image_ids[...] = labels.ravel()
        del labels
        if counts.size > 1:
            np.add(image_ids, n_regions, out=image_ids, where=image_ids != 0)
        region_sizes.append(counts[1:])
        n_normal += int(counts[0])
        n_regions += counts.size - 1
        start = stop
    order = np.argsort(values)
    return PooledPixels(
        n_normal=n_normal,
        n_defect=n_pixels - n_normal,
        weights=_weights(region_sizes),
        _values=values,
        _ids=ids,
        _order=order,
    )
