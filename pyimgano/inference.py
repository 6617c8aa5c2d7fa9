"""Running detectors over a dataset's images: batching policy, the batch guard, parity pairing.

:func:`run_inference` is the inference half of :func:`pyimgano.evaluation.evaluate`:

- **Batch independence is never assumed** (docs/REFERENCE.md §3). A detector whose
  ``batch_independent`` is ``False`` (e.g. cflow: its map subtracts the batch maximum) runs one
  image at a time, and the report says so. One whose ``batch_independent`` is ``None``
  (unknown) gets the *batch guard*: its first batch of two or more images is also inferred one
  image at a time; if any score differs by more than :data:`GUARD_TOLERANCE`, a
  :class:`~pyimgano.errors.BatchDependenceWarning` is issued, the per-image results are kept and
  the rest runs one image at a time. The guard costs one extra forward pass per image of the
  first batch. It needs a detector that infers decoded batches (:meth:`Detector.infer`).
- **Export parity** (§11): with a ``reference`` detector, both infer the same decoded images
  (each image decoded once) and the reference's predictions are returned beside the model's.
  Detectors that only implement ``predict`` (fakes, injected inferencers) are run one after the
  other instead, each decoding for itself.
- **Device failures** during a forward pass (CUDA out of memory, a CUDA error) become one
  :class:`~pyimgano.errors.DeviceError` line naming the device, the batch size and what to try.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.errors import BatchDependenceWarning, DeviceError, ModelOutputError
from pyimgano.models.base import Batch, Detector
from pyimgano.outputs import Prediction

#: Largest score difference between batched and per-image inference taken as float noise.
GUARD_TOLERANCE = 1e-5

OnBatch = Callable[[Sequence[int], Sequence[Prediction]], None]


@dataclass
class Inference:
    """What :func:`run_inference` produced.

    Attributes
    ----------
    predictions : list of Prediction
        ``predictions[i]`` belongs to image ``i``.
    reference : list of Prediction or None
        The reference detector's predictions, same order; None without a reference.
    batch_ms : list of float
        The model's forward time per image of each batch, in the order run (ms).
    batch_size : int
        The batch size the model actually ran at after the first batch.
    batch_note : str or None
        Why it differs from the requested one.
    """

    predictions: list[Prediction]
    reference: list[Prediction] | None
    batch_ms: list[float]
    batch_size: int
    batch_note: str | None


def infers_decoded(model: Detector) -> bool:
    """Whether ``model`` implements :meth:`Detector.infer` (not only ``predict``)."""
    return type(model).infer is not Detector.infer


def _model_name(model: Detector) -> str:
    described = getattr(model, "anomalib_model", None)
    return str(described) if described else type(model).__name__


@contextmanager
def _device_errors(device: str, batch_size: int) -> Iterator[None]:
    """Turn a device failure in a forward pass into one DeviceError line (see module doc)."""
    try:
        yield
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = type(exc).__name__
        if kind == "OutOfMemoryError" or "out of memory" in text.lower():
            smaller = max(batch_size // 2, 1)
            raise DeviceError(
                f"{device}: out of memory in the forward pass at batch size {batch_size} "
                f"({text[:200]}); try a smaller batch (--batch-size {smaller} / "
                f"--pyimgano-batch-size {smaller}), or another device"
            ) from None
        if kind == "AcceleratorError" or text.startswith("CUDA error"):
            raise DeviceError(
                f"{device}: the device failed during the forward pass at batch size "
                f"{batch_size} ({text[:200]}); check the GPU (nvidia-smi) or run on cpu"
            ) from None
        raise


def _check_batch(batch: Batch, n_images: int, seen: list[bool], names: Sequence[str]) -> None:
    if len(batch.indices) != len(batch.predictions):
        raise ModelOutputError(
            f"model returned {len(batch.predictions)} predictions for a batch of "
            f"{len(batch.indices)} images"
        )
    for index in batch.indices:
        if not 0 <= index < n_images:
            raise ModelOutputError(f"model returned a prediction for unknown image #{index}")
        if seen[index]:
            raise ModelOutputError(f"{names[index]}: model predicted this image twice")
        seen[index] = True


def _singles(model: Detector, decoded: Any) -> Batch:
    """``decoded`` inferred one image at a time, as one :class:`Batch`."""
    from pyimgano.backends.images import DecodedBatch

    predictions: list[Prediction] = []
    seconds = 0.0
    for index, image, name in zip(decoded.indices, decoded.images, decoded.names, strict=True):
        single = model.infer(DecodedBatch(indices=(index,), images=(image,), names=(name,)))
        predictions.extend(single.predictions)
        seconds += single.seconds
    return Batch(indices=tuple(decoded.indices), predictions=tuple(predictions), seconds=seconds)


def _guard_differs(batched: Batch, singles: Batch) -> float:
    a = np.array([p.score for p in batched.predictions], dtype=np.float64)
    b = np.array([p.score for p in singles.predictions], dtype=np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def run_inference(
    model: Detector,
    paths: Sequence[Any],
    *,
    batch_size: int,
    reference: Detector | None = None,
    on_batch: OnBatch | None = None,
    advance: Callable[[int], None] | None = None,
) -> Inference:
    """Infer every image of ``paths`` once with ``model`` (and ``reference``, if given).

    ``on_batch(indices, predictions)`` receives each of the model's checked batches as it
    arrives (mask reading and alignment overlap the next forward pass); ``advance(n)`` moves a
    progress bar. Raises :class:`ModelOutputError` when a prediction is missing or repeated.
    """
    names = [str(p) for p in paths]
    n = len(names)
    independent = getattr(model, "batch_independent", None)
    note: str | None = None
    effective = batch_size
    if independent is False and batch_size > 1:
        effective = 1
        note = (
            f"{_model_name(model)} is batch-dependent (its outputs for an image depend on the "
            "other images of the batch): evaluated one image at a time"
        )
    decoded_path = infers_decoded(model) and (reference is None or infers_decoded(reference))
    guard = independent is None and effective > 1 and decoded_path
    device = str(getattr(model, "device", "cpu"))
    predictions: list[Prediction | None] = [None] * n
    ref_predictions: list[Prediction | None] | None = None if reference is None else [None] * n
    seen = [False] * n
    batch_ms: list[float] = []

    def take(batch: Batch) -> None:
        _check_batch(batch, n, seen, names)
        for index, prediction in zip(batch.indices, batch.predictions, strict=True):
            predictions[index] = prediction
        if on_batch is not None:
            on_batch(batch.indices, batch.predictions)
        if batch.indices:
            batch_ms.append(1000.0 * batch.seconds / len(batch.indices))
        if advance is not None:
            advance(len(batch.indices))

    def take_reference(batch: Batch) -> None:
        assert ref_predictions is not None
        for index, prediction in zip(batch.indices, batch.predictions, strict=True):
            if 0 <= index < n:
                ref_predictions[index] = prediction

    if decoded_path:
        from pyimgano.backends.images import decoded_batches

        workers = int(getattr(model, "decode_workers", 2))
        one_by_one = effective == 1
        # A model's own preparation (a fixed-size graph's resize) runs on the decoding threads,
        # unless a reference must see the images as decoded (infer applies it again: idempotent).
        prepare = model.prepare_image if reference is None else None
        for decoded in decoded_batches(list(paths), effective, workers, prepare=prepare):
            with _device_errors(device, len(decoded)):
                if one_by_one and len(decoded) > 1:
                    batch = _singles(model, decoded)
                else:
                    batch = model.infer(decoded)
                if guard and len(decoded) > 1:
                    guard = False
                    singles = _singles(model, decoded)
                    worst = _guard_differs(batch, singles)
                    if worst > GUARD_TOLERANCE:
                        one_by_one = True
                        effective = 1
                        note = (
                            f"{_model_name(model)}: scores at batch size {len(decoded)} differ "
                            f"from per-image inference by up to {worst:.3g} (> "
                            f"{GUARD_TOLERANCE:g}): the model is batch-dependent, evaluated "
                            "one image at a time"
                        )
                        warnings.warn(note, BatchDependenceWarning, stacklevel=2)
                        batch = singles
                take(batch)
                if reference is not None:
                    if getattr(reference, "batch_independent", True) is False:
                        take_reference(_singles(reference, decoded))
                    else:
                        take_reference(reference.infer(decoded))
    else:
        with _device_errors(device, effective):
            for batch in model.predict(list(paths), batch_size=effective):
                take(batch)
        if reference is not None:
            ref_size = 1 if getattr(reference, "batch_independent", True) is False else effective
            with _device_errors(str(getattr(reference, "device", "cpu")), ref_size):
                for batch in reference.predict(list(paths), batch_size=ref_size):
                    take_reference(batch)

    missing = [names[i] for i, p in enumerate(predictions) if p is None]
    if missing:
        raise ModelOutputError(
            f"model returned no score for {len(missing)} image(s), first: {missing[0]}"
        )
    if ref_predictions is not None:
        missing = [names[i] for i, p in enumerate(ref_predictions) if p is None]
        if missing:
            raise ModelOutputError(
                f"reference model returned no score for {len(missing)} image(s), "
                f"first: {missing[0]}"
            )
    return Inference(
        predictions=predictions,  # type: ignore[arg-type]
        reference=ref_predictions,  # type: ignore[arg-type]
        batch_ms=batch_ms,
        batch_size=effective,
        batch_note=note,
    )
