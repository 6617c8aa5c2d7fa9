"""Normalise one image's model output into a :class:`Prediction` (SPEC §3).

This is the single map-normalisation path of pyimgano: every backend (the anomalib checkpoint
backend, injected inferencers, test fakes) hands its per-image output to :func:`to_prediction`.
Accepted outputs are dict-like (``output["pred_score"]``) or object-like (``output.pred_score``),
with values that are Python numbers, NumPy arrays or tensors (anything with ``.detach()`` /
``.cpu()`` / ``.numpy()`` or accepted by ``numpy.asarray``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.errors import ModelOutputError

SCORE_KEYS = ("pred_score", "score", "anomaly_score")
MAP_KEYS = ("anomaly_map", "map")
LABEL_KEYS = ("pred_label", "label")


@dataclass(frozen=True, eq=False)
class Prediction:
    """One image's output.

    Attributes
    ----------
    score : float
        Image anomaly score (higher means more anomalous), finite.
    anomaly_map : numpy.ndarray of shape (H, W), float32, or None
        Pixel anomaly scores at the model's resolution; ``None`` when the model gives none.
    pred_label : int or None
        The checkpoint's own decision (1 anomalous, 0 normal) where it gives one.
    """

    score: float
    anomaly_map: np.ndarray | None
    pred_label: int | None


def to_numpy(value: Any) -> np.ndarray:
    """Return ``value`` as a NumPy array without importing torch (tensors are duck-typed)."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu") and not isinstance(value, np.ndarray):
        value = value.cpu()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def _field(output: Any, keys: tuple[str, ...]) -> Any:
    """First present, non-None field of ``output`` among ``keys`` (dict-like or attribute)."""
    mapping_like = isinstance(output, Mapping) or (
        callable(getattr(output, "keys", None)) and hasattr(output, "__getitem__")
    )
    present = set(output.keys()) if mapping_like else set()
    for key in keys:
        value = output[key] if key in present else getattr(output, key, None)
        if value is not None:
            return value
    return None


#: dtype kinds read as real numbers: bool, signed and unsigned integers, floats.
_REAL_KINDS = "biuf"


def _real_array(value: Any, what: str, image: str) -> np.ndarray:
    """``value`` as a NumPy array of real numbers, else :class:`ModelOutputError`.

    Ragged nesting, objects NumPy cannot convert, complex numbers (the imaginary part would be
    dropped), strings, dates and object arrays are refused, naming ``image``.
    """
    try:
        array = to_numpy(value)
    except Exception as exc:  # noqa: BLE001 - ragged lists, odd tensors: one clear line
        detail = (str(exc).strip().splitlines() or [""])[0]
        raise ModelOutputError(
            f"{image}: {what} of type {type(value).__name__} cannot be read as a numeric "
            f"array ({type(exc).__name__}: {detail})"
        ) from None
    if array.dtype.kind not in _REAL_KINDS:
        raise ModelOutputError(
            f"{image}: {what} has dtype {array.dtype}, expected real numbers "
            "(bool, integer or float)"
        )
    return array


def normalize_map(value: Any, *, image: str) -> np.ndarray:
    """Squeeze an anomaly map to a 2-D float32 array.

    Accepts (H, W), (1, H, W), (H, W, 1), (1, 1, H, W) and any shape whose non-singleton
    dimensions are exactly two. Raises :class:`ModelOutputError` naming ``image`` and the shape
    otherwise, and when the map holds NaN or infinite values.
    """
    array = _real_array(value, "anomaly map", image)
    squeezed = array.squeeze() if array.ndim > 2 else array
    if squeezed.ndim != 2 or 0 in squeezed.shape:
        raise ModelOutputError(
            f"{image}: anomaly map of shape {tuple(array.shape)} cannot be read as a 2-D map; "
            "expected (H, W), (1, H, W), (H, W, 1) or (1, 1, H, W)"
        )
    with np.errstate(over="ignore"):  # overflow is reported below
        result = np.ascontiguousarray(squeezed, dtype=np.float32)
    if not np.isfinite(result).all():
        bad = int(np.size(result) - np.count_nonzero(np.isfinite(result)))
        if np.isfinite(squeezed).all():  # finite float64 values beyond float32's range
            raise ModelOutputError(
                f"{image}: anomaly map holds {bad} value(s) beyond float32's range (largest "
                f"magnitude {float(np.abs(squeezed).max()):.3g}); maps are float32"
            )
        raise ModelOutputError(f"{image}: anomaly map holds {bad} NaN or infinite value(s)")
    return result


def normalize_score(value: Any, *, image: str) -> float:
    """Return a finite Python float from a scalar or one-element array/tensor."""
    array = _real_array(value, "image score", image)
    if array.size != 1:
        raise ModelOutputError(
            f"{image}: image score has shape {tuple(array.shape)}, expected a single value"
        )
    try:
        score = float(array.reshape(()))
    except (TypeError, ValueError) as exc:
        raise ModelOutputError(f"{image}: image score {array!r} is not a number") from exc
    if not np.isfinite(score):
        raise ModelOutputError(f"{image}: image score is {score}, expected a finite number")
    return score


def normalize_label(value: Any, *, image: str) -> int:
    """Return 0 or 1 from a bool/int scalar or one-element array/tensor."""
    array = _real_array(value, "pred_label", image)
    if array.size != 1:
        raise ModelOutputError(
            f"{image}: pred_label has shape {tuple(array.shape)}, expected a single value"
        )
    label = array.reshape(()).item()
    if label not in (0, 1, True, False):
        raise ModelOutputError(f"{image}: pred_label is {label!r}, expected 0/1 or a bool")
    return int(label)


def to_prediction(output: Any, *, image: str) -> Prediction:
    """Read one image's model output (dict-like or object-like) into a :class:`Prediction`.

    The score is ``pred_score`` (or ``score``/``anomaly_score``); the map is ``anomaly_map``
    (optional); the label is ``pred_label`` (optional). A missing score is an error naming
    ``image``.
    """
    raw_score = _field(output, SCORE_KEYS)
    if raw_score is None:
        raise ModelOutputError(
            f"{image}: model output of type {type(output).__name__} has no image score "
            f"(looked for {', '.join(SCORE_KEYS)})"
        )
    raw_map = _field(output, MAP_KEYS)
    raw_label = _field(output, LABEL_KEYS)
    return Prediction(
        score=normalize_score(raw_score, image=image),
        anomaly_map=None if raw_map is None else normalize_map(raw_map, image=image),
        pred_label=None if raw_label is None else normalize_label(raw_label, image=image),
    )
