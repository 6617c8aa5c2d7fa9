"""Ground truth and aligned maps, prepared on a background thread while the model infers.

:class:`PixelInputs` receives each batch of predictions as it arrives (:meth:`PixelInputs.add`)
and, on the evaluation's one background thread: reads the batch's masks (each mask file once),
labels their 8-connected ground-truth regions on the host (AU-PRO), reads MVTec LOCO defects
where the sPRO needs them, and aligns the batch's maps to mask size with
:func:`pyimgano.alignment.align_maps` — on the maps' own device when they are torch tensors
(docs/REFERENCE.md §5), so device-resident maps never come to the host.

The outcome is exactly that of reading every mask first and aligning afterwards: errors are
raised by :meth:`PixelInputs.result` in that order (the first sample, in dataset order, whose
mask fails; then the first map that cannot be aligned), and when any prediction has no map, no
mask error is raised at all (pixel metrics are then ``null``).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.alignment import align_map, align_maps
from pyimgano.datasets.base import Dataset
from pyimgano.outputs import Prediction


@dataclass
class AlignedPixels:
    """Everything the pixel metrics need, in dataset order: the ground truth and the model's
    maps aligned to it.

    ``maps[i]`` is image ``i``'s map at its mask's size (a NumPy array or a device tensor);
    ``masks[i]`` the binarised mask; ``regions[i]`` its ``(labels, counts)`` 8-connected regions;
    ``defects[i]`` the LOCO defects of image ``i`` (None unless asked for).
    """

    maps: list[Any]
    masks: list[np.ndarray]
    regions: list[tuple[np.ndarray, np.ndarray]]
    defects: list[list[Any]] | None


#: The old name of :class:`AlignedPixels` (it holds the model's maps too, not only ground truth).
GroundTruth = AlignedPixels


class PixelInputs:
    """See the module docstring. ``loco_defects`` also reads each sample's LOCO defects."""

    def __init__(
        self, dataset: Dataset, pool: ThreadPoolExecutor, *, loco_defects: bool = False
    ) -> None:
        self._dataset = dataset
        self._samples = list(dataset)
        n = len(self._samples)
        self.masks: list[np.ndarray | None] = [None] * n
        self.regions: list[tuple[np.ndarray, np.ndarray] | None] = [None] * n
        self.defects: list[list[Any] | None] | None = [None] * n if loco_defects else None
        self.maps: list[Any] = [None] * n
        self.missing_map = False
        self._config: Any = None
        self._mask_errors: dict[int, BaseException] = {}
        self._align_errors: dict[int, BaseException] = {}
        self._pool = pool
        self._jobs: list[Future[None]] = []

    def add(self, indices: Sequence[int], predictions: Sequence[Prediction]) -> None:
        """Queue one batch (called as batches arrive)."""
        if any(p.anomaly_map is None for p in predictions):
            self.missing_map = True
        if not self.missing_map:
            self._jobs.append(self._pool.submit(self._prepare, tuple(indices), tuple(predictions)))

    def _read(self, index: int) -> np.ndarray:
        from pyimgano.datasets.masks import load_mask
        from pyimgano.metrics._regions import label_regions

        sample = self._samples[index]
        mask = load_mask(sample)
        self.regions[index] = label_regions(mask)
        if self.defects is not None:
            from pyimgano.datasets.loco import defects_config, load_defects

            if self._config is None:
                self._config = defects_config(self._dataset)
            self.defects[index] = load_defects(
                self._dataset, sample, config=self._config, image_size=mask.shape
            )
        return mask

    def _prepare(self, indices: tuple[int, ...], predictions: tuple[Prediction, ...]) -> None:
        if self.missing_map:  # pixel metrics will be null: no need for masks
            return
        ready: list[tuple[int, Any, tuple[int, int]]] = []
        for index, prediction in zip(indices, predictions, strict=True):
            try:
                mask = self._read(index)
            except Exception as exc:  # noqa: BLE001 - raised in order by result()
                self._mask_errors[index] = exc
                continue
            self.masks[index] = mask
            ready.append((index, prediction.anomaly_map, mask.shape))
        names = [str(self._samples[index].image_path) for index, _, _ in ready]
        try:
            aligned = align_maps(
                [amap for _, amap, _ in ready], [shape for _, _, shape in ready], images=names
            )
        except Exception:  # noqa: BLE001 - redone map by map below to find each failing one
            for (index, amap, shape), name in zip(ready, names, strict=True):
                try:
                    self.maps[index] = align_map(amap, shape, image=name)
                except Exception as exc:  # noqa: BLE001 - raised in order by result()
                    self._align_errors[index] = exc
            return
        for (index, _, _), amap in zip(ready, aligned, strict=True):
            self.maps[index] = amap

    def close(self) -> None:
        """Drop the batches not yet started (after an error)."""
        for job in self._jobs:
            job.cancel()

    def result(self) -> AlignedPixels | None:
        """The prepared inputs once every batch is in; None when a prediction has no map."""
        for job in self._jobs:
            job.result()
        if self.missing_map:
            return None
        for errors in (self._mask_errors, self._align_errors):
            if errors:
                raise errors[min(errors)]
        return AlignedPixels(
            maps=self.maps,
            masks=self.masks,  # type: ignore[arg-type]
            regions=self.regions,  # type: ignore[arg-type]
            defects=self.defects,  # type: ignore[arg-type]
        )
