"""Normalise one image's model output into a :class:`Prediction` (docs/REFERENCE.md §3).

This is the single map-normalisation path of pyimgano: every backend (the anomalib checkpoint
backend, injected inferencers, test fakes) hands its per-image output to :func:`to_prediction`.
Accepted outputs are dict-like (``output["pred_score"]``) or object-like (``output.pred_score``),
with values that are Python numbers, NumPy arrays or tensors (anything with ``.detach()`` /
``.cpu()`` / ``.numpy()`` or accepted by ``numpy.asarray``).

It also holds the one tensor -> NumPy helper (:func:`to_numpy`) and the one output-field lookup
(:func:`output_field`) that the backends use for whole-batch outputs.

Device-resident maps (docs/REFERENCE.md §5): with ``keep_device=True`` a torch tensor map stays a
tensor on its
device — squeezed to 2-D and cast to float32 there, checked for finiteness with one scalar
brought back — so a CUDA model's maps are never copied to the host here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.errors import ModelOutputError, first_line

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
    anomaly_map : numpy.ndarray of shape (H, W), float32, or torch.Tensor, or None
        Pixel anomaly scores at the model's resolution; ``None`` when the model gives none. A
        2-D float32 torch tensor on the model's device when the detector keeps maps there
        (:attr:`pyimgano.models.base.Detector.maps_on_device`), else a NumPy array.
    pred_label : int or None
        The checkpoint's own decision (1 anomalous, 0 normal) where it gives one.
    """

    score: float
    anomaly_map: Any
    pred_label: int | None


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor (checked without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def to_numpy(value: Any, *, float32: bool = False) -> np.ndarray:
    """Return ``value`` as a NumPy array without importing torch (tensors are duck-typed).

    A tensor is detached and copied to the host once. With ``float32``, a floating tensor is
    cast to float32 *before* the copy (on its device: half the transfer for float64); bfloat16
    tensors, which NumPy cannot hold, are always cast to float32 first.
    """
    if hasattr(value, "detach"):
        value = value.detach()
        floating = getattr(value, "is_floating_point", None)
        if callable(floating) and floating() and (
            float32 or str(getattr(value, "dtype", "")) == "torch.bfloat16"
        ):
            value = value.float()
    if hasattr(value, "cpu") and not isinstance(value, np.ndarray):
        value = value.cpu()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    return np.asarray(value)


def output_field(output: Any, keys: tuple[str, ...]) -> Any:
    """First present, non-None field of ``output`` among ``keys`` (dict-like or attribute).

    ``output`` is a mapping, anything with ``keys()`` and ``__getitem__`` (anomalib's batch
    items, OpenVINO's result dict) or an object with attributes (anomalib's ``InferenceBatch``).
    """
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
        detail = first_line(exc, empty="")
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


def _squeezed_2d(array: Any, image: str) -> Any:
    """``array`` (NumPy array or tensor) squeezed to 2-D, else :class:`ModelOutputError`."""
    squeezed = array.squeeze() if array.ndim > 2 else array
    if squeezed.ndim != 2 or 0 in tuple(squeezed.shape):
        raise ModelOutputError(
            f"{image}: anomaly map of shape {tuple(array.shape)} cannot be read as a 2-D map; "
            "expected (H, W), (1, H, W), (H, W, 1) or (1, 1, H, W)"
        )
    return squeezed


def _device_map(value: Any, image: str) -> Any:
    """A tensor map squeezed to a contiguous 2-D float32 tensor on its own device."""
    if value.is_complex():
        raise ModelOutputError(
            f"{image}: anomaly map has dtype {value.dtype}, expected real numbers "
            "(bool, integer or float)"
        )
    squeezed = _squeezed_2d(value.detach(), image)
    result = squeezed.float().contiguous()
    if not bool(result.isfinite().all()):
        bad = int(result.numel() - int(result.isfinite().sum()))
        if bool(squeezed.isfinite().all()):  # finite float64 values beyond float32's range
            largest = float(squeezed.abs().max())
            raise ModelOutputError(
                f"{image}: anomaly map holds {bad} value(s) beyond float32's range (largest "
                f"magnitude {largest:.3g}); maps are float32"
            )
        raise ModelOutputError(f"{image}: anomaly map holds {bad} NaN or infinite value(s)")
    return result


def normalize_map(value: Any, *, image: str, keep_device: bool = False) -> Any:
    """Squeeze an anomaly map to a 2-D float32 array.

    Accepts (H, W), (1, H, W), (H, W, 1), (1, 1, H, W) and any shape whose non-singleton
    dimensions are exactly two. Raises :class:`ModelOutputError` naming ``image`` and the shape
    otherwise, and when the map holds NaN or infinite values.

    With ``keep_device`` a torch tensor is returned as a contiguous 2-D float32 tensor on its
    own device (same checks, no host copy of the map); other values give NumPy arrays.
    """
    if keep_device and is_tensor(value):
        return _device_map(value, image)
    array = _real_array(value, "anomaly map", image)
    squeezed = _squeezed_2d(array, image)
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


def to_prediction(output: Any, *, image: str, keep_device: bool = False) -> Prediction:
    """Read one image's model output (dict-like or object-like) into a :class:`Prediction`.

    The score is ``pred_score`` (or ``score``/``anomaly_score``); the map is ``anomaly_map``
    (optional); the label is ``pred_label`` (optional). A missing score is an error naming
    ``image``. With ``keep_device``, a tensor map stays on its device (see
    :func:`normalize_map`); the score and label always become host Python values.
    """
    raw_score = output_field(output, SCORE_KEYS)
    if raw_score is None:
        raise ModelOutputError(
            f"{image}: model output of type {type(output).__name__} has no image score "
            f"(looked for {', '.join(SCORE_KEYS)})"
        )
    raw_map = output_field(output, MAP_KEYS)
    raw_label = output_field(output, LABEL_KEYS)
    return Prediction(
        score=normalize_score(raw_score, image=image),
        anomaly_map=None if raw_map is None
        else normalize_map(raw_map, image=image, keep_device=keep_device),
        pred_label=None if raw_label is None else normalize_label(raw_label, image=image),
    )


def _split(value: Any, *, field: str, names: Sequence[str]) -> list[Any]:
    """Per-image pieces of a batch field (array or tensor) whose first axis is the batch."""
    n = len(names)
    if value.ndim == 0 and n == 1:
        return [value]
    if value.ndim == 0 or value.shape[0] != n:
        raise ModelOutputError(
            f"{names[0]}: {field} of shape {tuple(value.shape)} for a batch of {n} image(s) "
            f"({', '.join(names[:3])}{', ...' if n > 3 else ''}); expected the batch on axis 0"
        )
    return [value[k] for k in range(n)]


def split_batch_output(
    output: Any, names: Sequence[str], *, keep_device: bool = False
) -> list[Prediction]:
    """Split one batch output (InferenceBatch/ImageBatch, dict- or object-like) per image.

    ``pred_score`` may be (B,) or (B, 1), ``anomaly_map`` (B, H, W) or (B, 1, H, W),
    ``pred_label`` (B,) or (B, 1); fields are looked up as :func:`pyimgano.outputs.to_prediction`
    does. Scores and labels come to the host (one copy per field); the map too — cast to
    float32 on its device first — unless ``keep_device``, where a tensor map stays on its device.
    Each image's pieces go through :func:`pyimgano.outputs.to_prediction` with its name.
    """
    pieces: dict[str, list[Any]] = {}
    for keys in (SCORE_KEYS, MAP_KEYS, LABEL_KEYS):
        raw = output_field(output, keys)
        if raw is None:
            continue
        if keys is MAP_KEYS:
            if not (keep_device and is_tensor(raw)):
                raw = to_numpy(raw, float32=True)
        else:
            raw = to_numpy(raw)
        pieces[keys[0]] = _split(raw, field=keys[0], names=names)
    predictions = []
    for k, name in enumerate(names):
        per_image = {key: values[k] for key, values in pieces.items()}
        predictions.append(to_prediction(per_image, image=name, keep_device=keep_device))
    return predictions
