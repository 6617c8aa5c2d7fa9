"""Align anomaly maps to ground-truth mask size (docs/REFERENCE.md §5).

Same-size maps are returned untouched (no copy, no dtype change). Other maps are resized with
``torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False)`` — the
routine docs/REFERENCE.md §5 names — computed in float32. A NumPy map is resized on the CPU; a
torch tensor
(a map kept on the model's device, docs/REFERENCE.md §5) is resized on its own device and stays
there. torch is imported only when a resize is actually needed, so same-size evaluation works
without torch installed.

:func:`align_maps` aligns many maps at once: maps that share their size and their target size
are stacked and resized by one ``interpolate`` call, which gives bit-for-bit the values of
:func:`align_map` on each (bilinear interpolation computes every output pixel of every plane
from the same index and weight tables; the batch is only an outer loop).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pyimgano.errors import ModelOutputError, device_errors


def align_map(anomaly_map: np.ndarray, shape: tuple[int, int], *, image: str = "") -> np.ndarray:
    """Return ``anomaly_map`` resized to ``shape`` (H, W) by bilinear interpolation.

    Parameters
    ----------
    anomaly_map : ndarray or torch.Tensor of shape (h, w)
        A 2-D map as produced by :func:`pyimgano.outputs.to_prediction`.
    shape : (int, int)
        Target (height, width), the ground-truth mask's shape.
    image : str
        Image name for error messages.

    Returns
    -------
    ndarray or torch.Tensor of shape ``shape``
        The input object itself when it already has that shape, else a new float32 array
        (a tensor on the input's device for a tensor input).
    """
    return align_maps([anomaly_map], [shape], images=[image])[0]


def align_maps(
    maps: Sequence[np.ndarray],
    shapes: Sequence[tuple[int, int]],
    *,
    images: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """:func:`align_map` of every ``maps[k]`` to ``shapes[k]``, with the same results.

    Same-size maps are returned untouched; the others are resized in groups of equal source
    and target size, one ``interpolate`` call per group (see the module docstring). Errors are
    those of :func:`align_map`, for the first offending map in input order.

    Parameters
    ----------
    maps : sequence of ndarray of shape (h, w)
    shapes : sequence of (int, int)
        Target (height, width) of each map.
    images : sequence of str, optional
        Image names for error messages.

    Returns
    -------
    list of ndarray
        ``result[k]`` has shape ``shapes[k]``.
    """
    if len(maps) != len(shapes):
        raise ValueError(f"{len(maps)} maps but {len(shapes)} target shapes")
    names = list(images) if images is not None else [""] * len(maps)
    aligned: list[np.ndarray | None] = [None] * len(maps)
    groups: dict[tuple[tuple[int, ...], tuple[int, int], str], list[int]] = {}
    for k, (anomaly_map, shape) in enumerate(zip(maps, shapes, strict=True)):
        _check_2d(anomaly_map, names[k])
        target = (int(shape[0]), int(shape[1]))
        if tuple(anomaly_map.shape) == target:
            aligned[k] = anomaly_map
        else:
            where = str(anomaly_map.device) if _is_tensor(anomaly_map) else "numpy"
            groups.setdefault((tuple(anomaly_map.shape), target, where), []).append(k)
    for (source_shape, target, where), members in groups.items():
        device = "cpu" if where == "numpy" else where
        with device_errors(device, "aligning anomaly maps to mask size",
                           batch_size=len(members)):
            if _is_tensor(maps[members[0]]):
                resized = _resize_tensors([maps[k] for k in members], target)
            else:
                stacked = np.empty((len(members), *source_shape), dtype=np.float32)
                for row, k in enumerate(members):
                    stacked[row] = maps[k]
                resized = _resize(
                    stacked, target, image=names[members[0]], source_shape=source_shape
                )
        for row, k in enumerate(members):
            aligned[k] = resized[row]
    return aligned  # type: ignore[return-value]


def _is_tensor(value: object) -> bool:
    return hasattr(value, "detach") and not isinstance(value, np.ndarray)


def _check_2d(anomaly_map: np.ndarray, image: str) -> None:
    if anomaly_map.ndim != 2:
        raise ModelOutputError(f"{image}: anomaly map of shape {anomaly_map.shape} is not 2-D")


def _resize(
    stacked: np.ndarray, shape: tuple[int, int], *, image: str, source_shape: Sequence[int]
) -> np.ndarray:
    """Bilinear resize of float32 planes ``(n, h, w)`` to ``(n, *shape)`` (one call)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as exc:  # pragma: no cover - exercised only without torch
        raise ModelOutputError(
            f"{image}: anomaly map {tuple(source_shape)} must be resized to the mask's "
            f"{tuple(shape)}, which needs torch (pip install 'pyimgano[anomalib]')"
        ) from exc
    with torch.inference_mode():
        resized = F.interpolate(
            torch.from_numpy(stacked)[:, None],
            size=shape,
            mode="bilinear",
            align_corners=False,
            antialias=False,
        )
    return resized[:, 0].numpy()


def _resize_tensors(maps: Sequence[object], shape: tuple[int, int]) -> object:
    """The same resize as :func:`_resize` on torch tensors, on their device (one call)."""
    import torch
    import torch.nn.functional as F

    with torch.inference_mode():
        stacked = torch.stack([m.to(torch.float32) for m in maps])  # type: ignore[attr-defined]
        resized = F.interpolate(
            stacked[:, None], size=shape, mode="bilinear", align_corners=False, antialias=False
        )
    return resized[:, 0]
