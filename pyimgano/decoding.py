"""Image decoding and size-grouped batching shared by every runtime (docs/REFERENCE.md §3).

One decoding path for the torch, ONNX and OpenVINO backends (and for export parity, which runs
an artifact and its reference model on the same decoded images):

- :func:`decode_image` gives exactly what anomalib's ``read_image(path, as_tensor=True)`` gives —
  RGB float32 in [0, 1], channels first ``(3, H, W)`` — as a NumPy array, without importing
  anomalib or torch. anomalib decodes with ``PIL.Image.open(path).convert("RGB")`` and scales with
  torchvision's ``to_dtype(scale=True)``, i.e. ``uint8.to(float32).mul_(1.0 / 255)``: a float32
  multiplication by float32(1/255), which is what is done here (the tests compare both
  bit for bit on PNG, JPEG, BMP, grayscale, RGBA and 16-bit files).
- :func:`decoded_batches` decodes ahead on worker threads and groups images of one size into
  batches (input order kept within a size): what a detector's ``infer`` consumes.
- :func:`resize_image` resizes an image for a graph exported with a fixed input size.

It sits below both the detector interface (:mod:`pyimgano.models.base`, whose default
``predict`` decodes with it) and the backends that implement that interface, so neither package
imports the other to decode (``pyimgano.backends.images`` re-exports it). Only NumPy is imported
at module level; Pillow when an image is decoded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.errors import ConfigError, DatasetError

#: float32(1/255): the factor torchvision's ``to_dtype(uint8 -> float32, scale=True)`` applies.
_SCALE = np.float32(1.0 / 255.0)


@dataclass(frozen=True, eq=False)
class DecodedBatch:
    """Decoded images of one size, ready for one forward pass.

    Attributes
    ----------
    indices : tuple of int
        Positions of the images in the sequence given to :func:`decoded_batches` (or to
        :meth:`pyimgano.models.base.Detector.predict`).
    images : tuple of numpy.ndarray
        One ``(3, H, W)`` float32 array in [0, 1] per index, all of one shape.
    names : tuple of str
        The images' paths as strings (used in error messages), one per index.
    """

    indices: tuple[int, ...]
    images: tuple[np.ndarray, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not len(self.indices) == len(self.images) == len(self.names):
            raise ValueError(
                f"DecodedBatch: {len(self.indices)} indices, {len(self.images)} images and "
                f"{len(self.names)} names; expected one of each per image"
            )

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def shape(self) -> tuple[int, ...]:
        """The ``(3, H, W)`` shape shared by the batch's images (``()`` for an empty batch)."""
        return tuple(self.images[0].shape) if self.images else ()

    def stacked(self) -> np.ndarray:
        """The images as one C-contiguous ``(B, 3, H, W)`` float32 array (a copy)."""
        return np.stack(self.images)


def decode_image(path: str | Path) -> np.ndarray:
    """Decode one image file as anomalib's ``read_image(path, as_tensor=True)`` does.

    Parameters
    ----------
    path : str or Path
        Any format Pillow reads. Grayscale, palette, RGBA, CMYK and 16-bit images are converted
        with Pillow's ``convert("RGB")``, as anomalib does (alpha dropped, not blended).

    Returns
    -------
    numpy.ndarray of shape (3, H, W), float32
        RGB in [0, 1]; equal bit for bit to anomalib's tensor.

    Raises
    ------
    DatasetError
        The file is missing, truncated or not an image; the message names it.
    """
    from PIL import Image

    try:
        with Image.open(path) as opened:
            rgb = np.asarray(opened.convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - PIL/OS errors become one line naming the file
        raise DatasetError(f"{path}: cannot decode image ({exc})") from None
    chw = np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32)
    chw *= _SCALE
    return chw


def _bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of ``interpolate(bilinear, align_corners=False)`` on one axis.

    As torch's kernel computes them in float32: ``src = scale * (dst + 0.5) - 0.5`` clamped at
    0, with ``scale = n_in / n_out``; the two taps ``floor(src)`` and the next (clamped).
    """
    scale = np.float32(n_in / n_out)
    src = scale * (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5)
    src = np.maximum(src, np.float32(0.0))
    low = np.minimum(src.astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    w_high = np.clip(src - low.astype(np.float32), np.float32(0.0), np.float32(1.0))
    return low, high, np.float32(1.0) - w_high, w_high


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a ``(3, H, W)`` float32 image to ``size = (height, width)`` for a fixed-size graph.

    Bilinear, ``align_corners=False``, no antialiasing: the resize anomalib's exported graph
    runs on its input (its pre-processor's ``export_transform``: ``Resize(image_size,
    antialias=False)``, which is also what the torch module's ``forward`` — hence
    ``TorchInferencer`` — applies). A graph exported with ``input_size`` equal to the model's
    image size skips that resize, so feeding it this resized image gives the dynamic graph's
    result. Computed in float32 with torch's formulas (``torch.nn.functional.interpolate``
    agrees to a few float32 ulps, <= 1e-6). An image already at ``size`` is returned unchanged.
    """
    height, width = int(size[0]), int(size[1])
    if tuple(image.shape[1:]) == (height, width):
        return image
    rows_low, rows_high, row_w0, row_w1 = _bilinear_taps(image.shape[1], height)
    cols_low, cols_high, col_w0, col_w1 = _bilinear_taps(image.shape[2], width)
    top, bottom = image[:, rows_low, :], image[:, rows_high, :]
    top = col_w0 * top[:, :, cols_low] + col_w1 * top[:, :, cols_high]
    bottom = col_w0 * bottom[:, :, cols_low] + col_w1 * bottom[:, :, cols_high]
    out = row_w0[:, None] * top + row_w1[:, None] * bottom
    return np.ascontiguousarray(out, dtype=np.float32)


def _check_count(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{what}={value!r}: expected an integer >= {minimum}")
    return value


def decoded_images(
    paths: Sequence[str | Path],
    *,
    workers: int = 2,
    window: int = 8,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, image)`` in input order, decoded up to ``window`` images ahead.

    ``workers`` threads decode (0: inline, on the calling thread); ``prepare`` (e.g. a resize
    for a fixed-size graph) runs on the same thread right after each decode. The first image
    that fails, in input order, raises its :class:`DatasetError`; images not yet decoded are
    cancelled.
    """
    _check_count(workers, "decode_workers", 0)

    def load(path: str | Path) -> np.ndarray:
        image = decode_image(path)  # looked up at call time (tests count decodes)
        return image if prepare is None else prepare(image)

    if workers == 0:
        for index, path in enumerate(paths):
            yield index, load(path)
        return
    pool = ThreadPoolExecutor(workers, thread_name_prefix="pyimgano-decode")
    pending: deque[tuple[int, Future[np.ndarray]]] = deque()
    todo = iter(enumerate(paths))
    try:
        for index, path in todo:
            pending.append((index, pool.submit(load, path)))
            if len(pending) >= max(window, 1):
                break
        while pending:
            index, future = pending.popleft()
            for next_index, path in todo:
                pending.append((next_index, pool.submit(load, path)))
                break
            yield index, future.result()
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown(wait=True)


def decoded_batches(
    paths: Sequence[str | Path],
    batch_size: int,
    workers: int = 2,
    *,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[DecodedBatch]:
    """Decode every image once and yield batches of at most ``batch_size`` images of one size.

    Parameters
    ----------
    paths : sequence of path
        The images, in order; ``DecodedBatch.indices`` are positions in it.
    batch_size : int
        At least 1.
    workers : int, default 2
        Decoding threads working ahead of the consumer (0 decodes inline). Decoding overlaps
        whatever the consumer does with a batch (the forward pass, mask reading).
    prepare : callable, optional
        Applied to each decoded image on its decoding thread (a fixed-size graph's resize).

    Yields
    ------
    DecodedBatch
        A batch is yielded as soon as ``batch_size`` images of one size are decoded; the
        incomplete groups follow at the end, in the order their sizes first appeared. Every
        index is covered exactly once.

    Raises
    ------
    ConfigError
        ``batch_size`` < 1 or ``workers`` < 0 (or not integers).
    DatasetError
        An image cannot be decoded (the first in input order).
    """
    _check_count(batch_size, "batch_size", 1)
    _check_count(workers, "decode_workers", 0)
    paths = list(paths)
    window = batch_size + 2 * max(workers, 1)
    groups: dict[tuple[int, ...], list[tuple[int, np.ndarray]]] = {}

    def emit(items: list[tuple[int, np.ndarray]]) -> DecodedBatch:
        indices = tuple(index for index, _ in items)
        return DecodedBatch(
            indices=indices,
            images=tuple(image for _, image in items),
            names=tuple(str(paths[index]) for index in indices),
        )

    for index, image in decoded_images(paths, workers=workers, window=window, prepare=prepare):
        shape = tuple(image.shape)
        group = groups.setdefault(shape, [])
        group.append((index, image))
        if len(group) == batch_size:
            yield emit(groups.pop(shape))
    for group in groups.values():
        yield emit(group)


__all__ = ["DecodedBatch", "decode_image", "decoded_batches", "decoded_images", "resize_image"]
