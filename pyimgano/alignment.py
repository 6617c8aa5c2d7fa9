"""Align anomaly maps to ground-truth mask size (SPEC §5).

Same-size maps are returned untouched (no copy, no dtype change). Other maps are resized with
``torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False)`` — the
routine SPEC §5 names — computed in float32 on the CPU. torch is imported only when a resize is
actually needed, so same-size evaluation works without torch installed.
"""

from __future__ import annotations

import numpy as np

from pyimgano.errors import ModelOutputError


def align_map(anomaly_map: np.ndarray, shape: tuple[int, int], *, image: str = "") -> np.ndarray:
    """Return ``anomaly_map`` resized to ``shape`` (H, W) by bilinear interpolation.

    Parameters
    ----------
    anomaly_map : ndarray of shape (h, w)
        A 2-D map as produced by :func:`pyimgano.outputs.to_prediction`.
    shape : (int, int)
        Target (height, width), the ground-truth mask's shape.
    image : str
        Image name for error messages.

    Returns
    -------
    ndarray of shape ``shape``
        The input object itself when it already has that shape, else a new float32 array.
    """
    if anomaly_map.ndim != 2:
        raise ModelOutputError(f"{image}: anomaly map of shape {anomaly_map.shape} is not 2-D")
    if tuple(anomaly_map.shape) == tuple(shape):
        return anomaly_map
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ModelOutputError(
            f"{image}: anomaly map {anomaly_map.shape} must be resized to the mask's {tuple(shape)}"
            ", which needs torch (pip install 'pyimgano[anomalib]')"
        ) from exc
    source = torch.from_numpy(np.ascontiguousarray(anomaly_map, dtype=np.float32))
    with torch.inference_mode():
        resized = F.interpolate(
            source[None, None],
            size=(int(shape[0]), int(shape[1])),
            mode="bilinear",
            align_corners=False,
            antialias=False,
        )
    return resized[0, 0].numpy()
