"""Ground-truth regions of a mask: 8-connected components, as in the MVTec AD evaluation."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["Regions", "label_regions"]

#: ``(labels, counts)`` of one mask, as :func:`label_regions` returns them.
Regions = tuple[np.ndarray, np.ndarray]

# 8-connectivity: pixels touching at an edge or a corner belong to the same region.
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def label_regions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label the defect regions of one mask.

    Parameters
    ----------
    mask : ndarray of shape (H, W)
        Non-zero pixels are defect.

    Returns
    -------
    labels : ndarray of unsigned integers, shape (H, W)
        0 for normal pixels, ``1..n`` for the pixels of region ``1..n``, in the smallest of
        uint8/uint16/uint32 that holds ``n`` (one byte a pixel for most masks). For a mask
        without defects a read-only zero-strided view of one 0 (no memory per pixel).
    counts : ndarray of int64, shape (n + 1,)
        ``counts[0]`` normal pixels, ``counts[k]`` pixels of region ``k``.
    """
    defect = mask != 0
    if not defect.any():  # good images (about half of a test set) need no labelling
        labels = np.broadcast_to(np.zeros(1, dtype=np.uint8), mask.shape)
        return labels, np.array([mask.size], dtype=np.int64)
    labels, n_regions = ndimage.label(defect, structure=_EIGHT_CONNECTED)
    counts = np.bincount(labels.ravel(), minlength=n_regions + 1).astype(np.int64)
    return labels.astype(np.min_scalar_type(n_regions), copy=False), counts
