"""What the report's plots draw: labels, scores and the evaluation's pixel data (aligned maps,
masks, pixel ROC and PRO curves), computed here only where the evaluation lacks them.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from pyimgano.evaluation import Evaluation


class PlotInputs:
    """Labels, scores and the pixel data of an evaluation; computed only where it lacks them."""

    def __init__(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation
        #: the evaluation's PixelData (maps, masks, roc, pro), or None
        self.pixel = getattr(evaluation, "pixel", None)
        self.labels = np.asarray([s.label for s in evaluation.dataset], dtype=np.int64)
        self.scores = np.asarray([p.score for p in evaluation.predictions], dtype=np.float64)

    def given(self, name: str) -> Any:
        """``evaluation.pixel.<name>`` (maps, masks, roc, pro), or None where it is missing."""
        return None if self.pixel is None else getattr(self.pixel, name, None)

    @cached_property
    def aligned(self) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
        """Maps at mask size and boolean masks (all-False where an image has none).

        From ``evaluation.pixel`` when it has them; else (fallback) every mask is read and every
        map aligned. ``None`` when a prediction has no map.
        """
        maps, masks = self.given("maps"), self.given("masks")
        if maps is None or masks is None:
            predictions = self.evaluation.predictions
            if any(p.anomaly_map is None for p in predictions):
                return None
            from pyimgano.alignment import align_map
            from pyimgano.datasets.masks import load_mask

            masks = [load_mask(sample) for sample in self.evaluation.dataset]
            maps = [
                align_map(p.anomaly_map, m.shape, image=str(s.image_path))  # type: ignore[arg-type]
                for p, m, s in zip(predictions, masks, self.evaluation.dataset, strict=True)
            ]
        from pyimgano.outputs import to_numpy

        host = [to_numpy(amap) for amap in maps]  # maps may be tensors on the model's device
        full = [
            np.zeros(amap.shape, dtype=bool) if mask is None else to_numpy(mask).astype(bool)
            for amap, mask in zip(host, masks, strict=True)
        ]
        return host, full

    def pixel_curve(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The pixel ``"roc"`` (fpr, tpr) or ``"pro"`` (fpr, overlap) curve, or ``None``.

        ``None`` when the report's metric (``pixel_auroc`` / ``aupro``) is undefined or absent.
        Taken from ``evaluation.pixel`` when it holds it; else computed from :attr:`aligned`.
        """
        metric = {"roc": "pixel_auroc", "pro": "aupro"}[name]
        if self.evaluation.report.metrics.get(metric) is None:
            return None
        curve = self.given(name)
        if curve is None:
            aligned = self.aligned
            if aligned is None:
                return None
            maps, masks = aligned
            if name == "pro":
                from pyimgano.metrics import pro_curve

                curve = pro_curve(maps, masks)
            else:
                from pyimgano.metrics import roc_curve

                flat_masks = np.concatenate([m.ravel() for m in masks])
                flat_maps = np.concatenate([np.asarray(m).ravel() for m in maps])
                curve = roc_curve(flat_masks, flat_maps)[:2]
        from pyimgano.outputs import to_numpy

        x, y = (to_numpy(values).astype(np.float64, copy=False) for values in curve)
        return x, y

