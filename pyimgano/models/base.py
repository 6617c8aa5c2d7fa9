"""The detector interface every registered model implements (SPEC §2, §3)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyimgano.outputs import Prediction


@dataclass(frozen=True)
class Batch:
    """Predictions for one inference batch.

    Attributes
    ----------
    indices : tuple of int
        Positions of the batch's images in the sequence given to :meth:`Detector.predict`.
    predictions : tuple of Prediction
        One per index, same order.
    seconds : float
        Wall time of the batch's forward pass (device synchronised), decoding excluded.
    """

    indices: tuple[int, ...]
    predictions: tuple[Prediction, ...]
    seconds: float


@dataclass
class ModelDescription:
    """What a report says about the model (SPEC §6 ``model`` plus device facts)."""

    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    outputs_normalized: bool | None = None
    device: str = "cpu"
    gpu: str | None = None
    cuda: str | None = None
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Detector(ABC):
    """A model that scores images.

    Implementations decode each image once and infer it once; :meth:`predict` yields batches in
    any order (each batch holds images of one size) and must cover every index exactly once.
    """

    load_seconds: float = 0.0

    @abstractmethod
    def predict(self, image_paths: Sequence[Path], *, batch_size: int) -> Iterator[Batch]:
        """Yield :class:`Batch` objects covering every image of ``image_paths`` once."""

    def describe(self) -> ModelDescription:
        """Facts about the loaded model for the report; override to add checkpoint details."""
        return ModelDescription()
