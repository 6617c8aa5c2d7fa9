"""Input checks shared by the public metric functions.

Every check raises :class:`~pyimgano.errors.MetricInputError` with a message that names the
argument, the offending image (index) and what was expected. The private ``_compute_*``
functions downstream assume clean input. Nothing here converts a dtype: scores and maps keep
the precision they were given (docs/REFERENCE.md §5, "never narrow").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError

_NUMERIC_KINDS = "biuf"


def _as_numeric(value: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(f"{name} cannot be read as a numeric array: {exc}") from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise MetricInputError(
            f"{name} has dtype {array.dtype}; expected bool, integer or real floating values"
        )
    return array


def _first_bad(flags: np.ndarray) -> tuple[int, ...]:
    """Index (tuple) of the first True element of a boolean array."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(flags)), flags.shape))


def _check_finite(array: np.ndarray, what: str) -> None:
    if array.dtype.kind != "f":
        return
    finite = np.isfinite(array)
    if not finite.all():
        where = _first_bad(~finite)
        position = where[0] if len(where) == 1 else where
        raise MetricInputError(
            f"{what} holds a non-finite value ({array[where]!r}) at {position}; "
            "expected finite scores (no NaN or Inf)"
        )


def check_labels(labels: Any, *, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 1-D boolean array (True = anomalous); values must be 0 or 1."""
    array = _as_numeric(labels, name)
    if array.ndim != 1:
        raise MetricInputError(
            f"{name} has shape {array.shape}; expected a 1-D sequence with one label per image"
        )
    if array.size == 0:
        raise MetricInputError(f"{name} is empty; expected at least one image")
    if array.dtype.kind == "b":
        return array
    bad = (array != 0) & (array != 1)
    if bad.any():
        index = int(np.argmax(bad))
        raise MetricInputError(
            f"{name}[{index}] is {array[index]!r}; expected 0 (normal) or 1 (anomalous)"
        )
    return array != 0


def check_scores(scores: Any, n_images: int, *, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a finite 1-D numeric array of length ``n_images`` (dtype kept)."""
    array = _as_numeric(scores, name)
    if array.ndim != 1:
        raise MetricInputError(
            f"{name} has shape {array.shape}; expected a 1-D sequence with one score per image"
        )
    if array.size != n_images:
        raise MetricInputError(
            f"{name} has {array.size} values but labels has {n_images}; expected one per image"
        )
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            index = int(np.argmax(~finite))
            raise MetricInputError(
                f"{name}[{index}] is {array[index]!r}; expected a finite score (no NaN or Inf)"
            )
    return array


def check_maps_masks(
    maps: Sequence[Any], masks: Sequence[Any]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return ``maps`` and ``masks`` as lists of 2-D arrays, one pair per image.

    Maps keep their dtype and must be finite; masks are any numeric arrays (non-zero is defect)
    of the same shape as their map.
    """
    try:
        map_list = list(maps)
        mask_list = list(masks)
    except TypeError:
        raise MetricInputError(
            "maps and masks must be sequences of 2-D arrays (one per image)"
        ) from None
    if len(map_list) != len(mask_list):
        raise MetricInputError(
            f"maps has {len(map_list)} images but masks has {len(mask_list)}; "
            "expected one mask per map"
        )
    if not map_list:
        raise MetricInputError("maps and masks are empty; expected at least one image")
    out_maps: list[np.ndarray] = []
    out_masks: list[np.ndarray] = []
    n_pixels = 0
    for index, (raw_map, raw_mask) in enumerate(zip(map_list, mask_list, strict=True)):
        amap = _as_numeric(raw_map, f"maps[{index}]")
        mask = _as_numeric(raw_mask, f"masks[{index}]")
        for what, array in ((f"maps[{index}]", amap), (f"masks[{index}]", mask)):
            if array.ndim != 2:
                raise MetricInputError(
                    f"{what} has shape {array.shape}; expected a 2-D array (H, W)"
                )
        if amap.shape != mask.shape:
            raise MetricInputError(
                f"maps[{index}] has shape {amap.shape} but masks[{index}] has shape "
                f"{mask.shape}; expected the map at its mask's resolution"
            )
        _check_finite(amap, f"maps[{index}]")
        _check_finite(mask, f"masks[{index}]")
        n_pixels += amap.size
        out_maps.append(amap)
        out_masks.append(mask)
    if n_pixels == 0:
        raise MetricInputError("maps hold no pixels; expected at least one pixel")
    return out_maps, out_masks


def check_masks(masks: Sequence[Any], n_images: int) -> list[np.ndarray]:
    """Return ``masks`` as a list of finite 2-D numeric arrays, one per image (the torch path's
    check; maps are checked where they are)."""
    try:
        mask_list = list(masks)
    except TypeError:
        raise MetricInputError("masks must be a sequence of 2-D arrays (one per image)") from None
    if len(mask_list) != n_images:
        raise MetricInputError(
            f"maps has {n_images} images but masks has {len(mask_list)}; "
            "expected one mask per map"
        )
    if not mask_list:
        raise MetricInputError("maps and masks are empty; expected at least one image")
    out = []
    for index, raw in enumerate(mask_list):
        mask = _as_numeric(raw, f"masks[{index}]")
        if mask.ndim != 2:
            raise MetricInputError(
                f"masks[{index}] has shape {mask.shape}; expected a 2-D array (H, W)"
            )
        _check_finite(mask, f"masks[{index}]")
        out.append(mask)
    if sum(mask.size for mask in out) == 0:
        raise MetricInputError("maps hold no pixels; expected at least one pixel")
    return out


def check_limit(limit: Any, *, name: str = "aupro_limit") -> float:
    """Return the AU-PRO integration limit as a float in (0, 1]."""
    try:
        if isinstance(limit, bool):
            raise TypeError
        value = float(limit)
    except (TypeError, ValueError):
        raise MetricInputError(f"{name} is {limit!r}; expected a number in (0, 1]") from None
    if not 0.0 < value <= 1.0:
        raise MetricInputError(f"{name} is {limit!r}; expected a number in (0, 1]")
    return value


def defects_not_covering(index: int) -> MetricInputError:
    """The error for an image whose defect masks' union is not its ground-truth mask."""
    return MetricInputError(
        f"the defects of image {index} do not cover exactly the defect pixels of "
        f"masks[{index}]; expected the mask to be the union of the image's defects"
    )
