"""A fake detector that misbehaves on purpose, for the bad-input catalogue.

``FaultyDetector(fault=..., at=k)`` scores images like a plain detector (mean deviation from the
image's median grey level, with that deviation as the map) except for image number ``at`` (0-based,
in the order the runner hands them over), where it does what ``fault`` says:

========================  =====================================================================
``none``                  nothing (a well-behaved detector)
``nan_score``             the image score is NaN
``inf_map``               one pixel of the map is +inf
``map_3d``                the map has shape (2, H, W)
``skip``                  the image is left out of its batch (no score at all)
``no_score``              the output dict has a map but no score field
``constant``              every image gets score 0.5 and a constant map (``at`` unused)
``interrupt``             ``KeyboardInterrupt`` when image ``at`` is reached
``crash``                 ``RuntimeError`` when image ``at`` is reached
``no_map``                image ``at`` gets a score but no anomaly map
``oom``                   torch's out-of-memory error when image ``at`` is reached
========================  =====================================================================

It is registered as ``bad_fake`` (see :func:`register`), in this process by the catalogue's
fixtures and in child pytest sessions by their conftest.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from pyimgano.models.base import Batch, Detector, ModelDescription
from pyimgano.outputs import to_prediction

NAME = "bad_fake"
FAULTS = (
    "none", "nan_score", "inf_map", "map_3d", "skip", "no_score", "constant", "interrupt", "crash",
    "no_map", "oom",
)


#: The export-parity fake (outputs set by its checkpoint file: ``tests.fakes``).
PARITY_NAME = "bad_parity_fake"


def register() -> str:
    from pyimgano.models import register_model

    register_model(
        NAME,
        "tests.bad_inputs.fakes:FaultyDetector",
        metadata={"backend": "test", "requires_checkpoint": False},
        overwrite=True,
    )
    register_model(
        PARITY_NAME,
        "tests.fakes:CheckpointFakeDetector",
        metadata={"backend": "test", "requires_checkpoint": True},
        overwrite=True,
    )
    return NAME


class FaultyDetector(Detector):
    def __init__(self, fault: str = "none", at: int = 1, device: str = "cpu") -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        self.fault = fault
        self.at = at
        self.device = device
        self.load_seconds = 0.001

    def _output(self, index: int, path: Path) -> dict:
        hit = index == self.at
        if hit and self.fault == "interrupt":
            raise KeyboardInterrupt
        if hit and self.fault == "crash":
            raise RuntimeError(f"simulated crash of the model on {path}")
        if hit and self.fault == "oom":
            import torch

            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")
        grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0
        deviation = np.abs(grey - np.median(grey))
        score = float(deviation.mean())
        if self.fault == "constant":
            return {"pred_score": 0.5, "anomaly_map": np.full_like(deviation, 0.5)}
        anomaly_map = deviation
        if hit and self.fault == "nan_score":
            score = float("nan")
        elif hit and self.fault == "inf_map":
            anomaly_map = deviation.copy()
            anomaly_map[0, 0] = np.inf
        elif hit and self.fault == "map_3d":
            anomaly_map = np.stack([deviation, deviation])
        elif hit and self.fault == "no_score":
            return {"anomaly_map": anomaly_map}
        elif hit and self.fault == "no_map":
            return {"pred_score": score}
        return {"pred_score": score, "anomaly_map": anomaly_map}

    def predict(self, image_paths: Sequence[Path], *, batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(image_paths), batch_size):
            indices = range(start, min(start + batch_size, len(image_paths)))
            if self.fault == "skip":
                indices = [i for i in indices if i != self.at]
            began = time.perf_counter()
            predictions = tuple(
                to_prediction(self._output(i, image_paths[i]), image=str(image_paths[i]))
                for i in indices
            )
            yield Batch(tuple(indices), predictions, time.perf_counter() - began)

    def describe(self) -> ModelDescription:
        return ModelDescription(outputs_normalized=False, device=self.device, threads=1)
