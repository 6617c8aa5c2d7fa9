"""Ground-truth masks as boolean arrays (docs/REFERENCE.md §4).

Rules: every mask file of a sample is read and OR-ed; a pixel is defect when its value is
``> 0``. Modes: ``1``, ``L``, ``I;16``, ``I``, ``F`` compare the stored value; ``P`` applies its
palette first; multi-channel images (``RGB``, ``RGBA``, ``LA``, ...) are defect where any colour
channel is ``> 0`` (alpha is ignored). Each mask must have its image's size; sizes are read from
file headers without decoding pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pyimgano.datasets.base import NORMAL, Sample
from pyimgano.errors import DatasetError

_READ_ERRORS = (
    OSError,
    UnidentifiedImageError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
)


def image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header (pixels are not decoded).

    Raises :class:`DatasetError` naming the file when it is missing or not a readable image.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size
    except _READ_ERRORS as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from exc
    return int(height), int(width)


def read_mask(path: Path) -> np.ndarray:
    """One mask file as a bool array (H, W): ``value > 0`` (rules: module docstring)."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode == "P":
                image = image.convert("RGB")
            array = np.asarray(image)
    except _READ_ERRORS as exc:
        raise DatasetError(f"cannot read mask {path}: {exc}") from exc
    if array.ndim == 3:
        colour = array[..., :3] if array.shape[-1] >= 3 else array[..., :1]
        return (colour > 0).any(axis=-1)
    if array.ndim != 2:
        raise DatasetError(f"mask {path} has unsupported shape {array.shape}")
    return array > 0


def load_mask(sample: Sample, image_size: Sequence[int] | None = None) -> np.ndarray:
    """The boolean ground-truth mask (H, W) of ``sample``.

    Parameters
    ----------
    sample : Sample
    image_size : (height, width), optional
        The image's size if the caller already knows it; else it is read from the image header.

    Returns
    -------
    numpy.ndarray of bool, shape (H, W)
        OR of every mask file of the sample, binarised ``> 0``; all False for a normal sample
        without mask files.

    Raises
    ------
    DatasetError
        An anomalous sample without a mask (never an all-zero mask); a mask whose size differs
        from its image (naming both files and sizes); an unreadable or truncated file.
    """
    size = _size(sample, image_size)
    if not sample.mask_paths:
        if sample.label == NORMAL:
            return np.zeros(size, dtype=bool)
        raise DatasetError(
            f"anomalous image {sample.image_path} ({sample.defect_type}) has no ground-truth "
            "mask; pixel metrics need one"
        )
    combined = np.zeros(size, dtype=bool)
    for path in sample.mask_paths:
        mask = read_mask(path)
        if mask.shape != size:
            raise DatasetError(
                f"mask {path} is {mask.shape[1]}x{mask.shape[0]} (WxH) but its image "
                f"{sample.image_path} is {size[1]}x{size[0]}; a mask must have its image's "
                "size (masks are never resized)"
            )
        combined |= mask
    return combined


def _size(sample: Sample, given: Sequence[int] | None) -> tuple[int, int]:
    if given is None:
        return image_size(sample.image_path)
    if len(given) != 2:
        raise ValueError(f"image_size must be (height, width), got {given!r}")
    return int(given[0]), int(given[1])
