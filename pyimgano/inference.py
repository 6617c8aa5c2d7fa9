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
  The reference gets the same policy on its own ``batch_independent``: one image at a time
  when it is batch-dependent, the batch guard when that is unknown (a batch-dependent
  reference would otherwise move the parity numbers). A release decision's ``baseline`` (§12)
  is paired the same way (the same code: each paired detector is a ``_Companion``).
  Detectors that only implement ``predict`` (fakes, injected inferencers) are run one after the
  other instead, each decoding for itself.
- **Device failures** during a forward pass (CUDA out of memory, a CUDA error) become one
  :class:`~pyimgano.errors.DeviceError` line naming the device, the batch size and what to try
  (:func:`pyimgano.errors.device_errors`, the translation used wherever a device works).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.errors import BatchDependenceWarning, ModelOutputError, device_errors
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
    baseline : list of Prediction or None
        The release baseline's predictions (docs/REFERENCE.md §12), same order; None without.
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
    baseline: list[Prediction] | None = None


def infers_decoded(model: Detector) -> bool:
    """Whether ``model`` implements :meth:`Detector.infer` (not only ``predict``)."""
    return type(model).infer is not Detector.infer


def _model_name(model: Detector) -> str:
    described = getattr(model, "anomalib_model", None)
    return str(described) if described else type(model).__name__


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
    from pyimgano.decoding import DecodedBatch

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


@dataclass
class _Policy:
    """How one detector (the model or the parity reference) runs decoded batches.

    ``one_by_one``: every batch is inferred image by image (a batch-dependent model, or one the
    guard caught); ``guard``: the next batch of two or more images is also inferred image by
    image and compared (see the module docstring). ``note`` says why it ran one by one.
    """

    model: Detector
    role: str
    one_by_one: bool
    guard: bool
    note: str | None = None

    @classmethod
    def of(cls, model: Detector, role: str, batch_size: int, guarded: bool) -> _Policy:
        """The policy for ``model`` at ``batch_size``; ``guarded``: it infers decoded batches."""
        independent = getattr(model, "batch_independent", None)
        note = None
        if independent is False and batch_size > 1:
            note = (
                f"{role}{_model_name(model)} is batch-dependent (its outputs for an image depend "
                "on the other images of the batch): evaluated one image at a time"
            )
        guard = independent is None and batch_size > 1 and guarded
        return cls(model, role, independent is False, guard, note)

    def run(self, decoded: Any) -> Batch:
        """Infer one decoded batch as the policy says (the guard may switch it to one by one)."""
        if self.one_by_one and len(decoded) > 1:
            return _singles(self.model, decoded)
        batch = self.model.infer(decoded)
        if self.guard and len(decoded) > 1:
            self.guard = False
            singles = _singles(self.model, decoded)
            worst = _guard_differs(batch, singles)
            if worst > GUARD_TOLERANCE:
                self.one_by_one = True
                self.note = (
                    f"{self.role}{_model_name(self.model)}: scores at batch size {len(decoded)} "
                    f"differ from per-image inference by up to {worst:.3g} (> "
                    f"{GUARD_TOLERANCE:g}): the model is batch-dependent, evaluated one image "
                    "at a time"
                )
                warnings.warn(self.note, BatchDependenceWarning, stacklevel=4)
                return singles
        return batch


def image_progress(total: int, enabled: bool, desc: str) -> Any:
    """The progress bar of images inferred (tqdm on stderr, ``img`` units, not left behind);
    a no-op bar when ``enabled`` is false."""
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="img", leave=False)


def run_inference(
    model: Detector,
    paths: Sequence[Any],
    *,
    batch_size: int,
    reference: Detector | None = None,
    baseline: Detector | None = None,
    on_batch: OnBatch | None = None,
    advance: Callable[[int], None] | None = None,
) -> Inference:
    """Infer every image of ``paths`` once with ``model`` (and the paired ``reference`` and
    ``baseline``, if given).

    A paired detector (export parity's reference, a release comparison's baseline) infers the
    same decoded images and gets the model's batching policy on its own facts: one image at a
    time when it is batch-dependent, the batch guard when that is unknown (its note joins
    ``batch_note``, prefixed with its role). ``on_batch(indices, predictions)`` receives each of
    the model's checked batches as it arrives (mask reading and alignment overlap the next
    forward pass); ``advance(n)`` moves a progress bar. Raises :class:`ModelOutputError` when a
    prediction is missing or repeated.
    """
    names = [str(p) for p in paths]
    n = len(names)
    paired = [(role, detector) for role, detector in (("reference", reference),
                                                      ("baseline", baseline))
              if detector is not None]
    decoded_path = infers_decoded(model) and all(infers_decoded(d) for _, d in paired)
    policy = _Policy.of(model, "", batch_size, decoded_path)
    effective = 1 if policy.one_by_one else batch_size
    companions = [
        _Companion(role, _Policy.of(detector, f"{role} ", effective, decoded_path), [None] * n)
        for role, detector in paired
    ]
    device = str(getattr(model, "device", "cpu"))
    predictions: list[Prediction | None] = [None] * n
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

    if decoded_path:
        from pyimgano.decoding import decoded_batches

        workers = int(getattr(model, "decode_workers", 2))
        # A model's own preparation (a fixed-size graph's resize) runs on the decoding threads,
        # unless a paired detector must see the images as decoded (infer applies it again:
        # idempotent).
        prepare = model.prepare_image if not companions else None
        for decoded in decoded_batches(list(paths), effective, workers, prepare=prepare):
            with device_errors(device, "the forward pass", batch_size=len(decoded)):
                take(policy.run(decoded))
            for companion in companions:
                with device_errors(companion.device, f"the {companion.role}'s forward pass",
                                   batch_size=len(decoded)):
                    companion.take(companion.policy.run(decoded))
    else:
        with device_errors(device, "the forward pass", batch_size=effective):
            for batch in model.predict(list(paths), batch_size=effective):
                take(batch)
        for companion in companions:
            size = 1 if companion.policy.one_by_one else effective
            with device_errors(companion.device, f"the {companion.role}'s forward pass",
                               batch_size=size):
                for batch in companion.policy.model.predict(list(paths), batch_size=size):
                    companion.take(batch)

    missing = [names[i] for i, p in enumerate(predictions) if p is None]
    if missing:
        raise ModelOutputError(
            f"model returned no score for {len(missing)} image(s), first: {missing[0]}"
        )
    for companion in companions:
        missing = [names[i] for i, p in enumerate(companion.predictions) if p is None]
        if missing:
            raise ModelOutputError(
                f"{companion.role} model returned no score for {len(missing)} image(s), "
                f"first: {missing[0]}"
            )
    notes = [p.note for p in (policy, *(c.policy for c in companions)) if p.note]
    by_role = {c.role: c.predictions for c in companions}
    return Inference(
        predictions=predictions,  # type: ignore[arg-type]
        reference=by_role.get("reference"),  # type: ignore[arg-type]
        batch_ms=batch_ms,
        batch_size=1 if policy.one_by_one else effective,
        batch_note="; ".join(notes) or None,
        baseline=by_role.get("baseline"),  # type: ignore[arg-type]
    )


@dataclass
class _Companion:
    """A detector paired with the model (``role``: ``reference`` or ``baseline``)."""

    role: str
    policy: _Policy
    predictions: list[Prediction | None]

    @property
    def device(self) -> str:
        return str(getattr(self.policy.model, "device", "cpu"))

    def take(self, batch: Batch) -> None:
        for index, prediction in zip(batch.indices, batch.predictions, strict=True):
            if 0 <= index < len(self.predictions):
                self.predictions[index] = prediction
