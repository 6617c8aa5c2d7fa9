"""A deterministic stand-in detector for tests that need a model but not anomalib."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from pyimgano.models.base import Batch, Detector, ModelDescription
from pyimgano.outputs import to_prediction


class FakeDetector(Detector):
    """Scores an image by how far its pixels stray from the image's median grey level.

    The map is ``|grey - median|`` (optionally block-averaged by ``downsample``), the score the
    map's 99th percentile, ``pred_label`` (with ``labels=True``) is ``score > threshold``. It
    decodes each image once and counts decodes in ``self.decoded``.
    """

    def __init__(
        self,
        checkpoint_path: str | None = None,
        device: str = "cpu",
        noise: float = 0.0,
        downsample: int = 1,
        labels: bool = False,
        threshold: float = 0.1,
        with_map: bool = True,
    ) -> None:
        self.checkpoint_path = checkpoint_path
        self.device = device
        self.noise = noise
        self.downsample = downsample
        self.labels = labels
        self.threshold = threshold
        self.with_map = with_map
        self.decoded: list[Path] = []
        self.load_seconds = 0.001

    def _output(self, path: Path) -> dict:
        grey = np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0
        self.decoded.append(Path(path))
        deviation = np.abs(grey - np.median(grey))
        if self.downsample > 1:
            k = self.downsample
            h, w = (deviation.shape[0] // k) * k, (deviation.shape[1] // k) * k
            deviation = deviation[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))
        if self.noise:
            seed = sum(map(ord, Path(path).name))
            deviation = deviation + self.noise * np.random.default_rng(seed).random(
                deviation.shape, dtype=np.float32
            )
        score = float(np.quantile(deviation, 0.99))
        output = {"pred_score": np.float32(score)}
        if self.with_map:
            output["anomaly_map"] = deviation[None]
        if self.labels:
            output["pred_label"] = score > self.threshold
        return output

    def predict(self, image_paths: Sequence[Path], *, batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(image_paths), batch_size):
            indices = tuple(range(start, min(start + batch_size, len(image_paths))))
            began = time.perf_counter()
            predictions = tuple(
                to_prediction(self._output(image_paths[i]), image=str(image_paths[i]))
                for i in indices
            )
            yield Batch(indices, predictions, time.perf_counter() - began)

    def describe(self) -> ModelDescription:
        return ModelDescription(
            checkpoint=self.checkpoint_path,
            outputs_normalized=False,
            device=self.device,
            threads=1,
        )


class CheckpointFakeDetector(FakeDetector):
    """:class:`FakeDetector` whose outputs depend on its checkpoint file, for export parity.

    The file holds a number, added to every score and map value (two checkpoints of one model
    entry that score apart by exactly the difference of their numbers), or ``constant``: every
    image scores 0.5 with an all-zero map (a degenerate artifact).
    """

    def __init__(self, checkpoint_path: str | None = None, device: str = "cpu",
                 labels: bool = False, threshold: float = 0.1) -> None:
        super().__init__(checkpoint_path, device=device, labels=labels, threshold=threshold)
        text = Path(checkpoint_path).read_text("utf-8").strip() if checkpoint_path else "0"
        self.constant = text == "constant"
        self.offset = 0.0 if self.constant else float(text)

    def _output(self, path: Path) -> dict:
        output = super()._output(path)
        if self.constant:
            output["pred_score"] = np.float32(0.5)
            output["anomaly_map"] = np.zeros_like(output["anomaly_map"])
        else:
            output["pred_score"] = output["pred_score"] + np.float32(self.offset)
            output["anomaly_map"] = output["anomaly_map"] + np.float32(self.offset)
        if self.labels:
            output["pred_label"] = float(output["pred_score"]) > self.threshold
        return output
