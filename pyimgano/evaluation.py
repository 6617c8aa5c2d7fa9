"""``evaluate``: a loaded model run over a loaded dataset → :class:`Evaluation` (SPEC §2).

:func:`evaluate` knows nothing of configuration: it takes a :class:`Detector` and a
:class:`Dataset` and returns predictions, metrics and a :class:`Report`.
:func:`pyimgano.runner.run_case` resolves configuration (kwargs, dataset, checkpoint) and calls
it; the CLI and the pytest plugin both go through ``run_case``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.alignment import align_map, align_maps
from pyimgano.datasets.base import GOOD, Dataset
from pyimgano.environment import environment_facts, worker_count
from pyimgano.errors import ModelOutputError
from pyimgano.models.base import Detector
from pyimgano.outputs import Prediction
from pyimgano.report import Report

PIXEL_METRICS = ("pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro")


@dataclass
class Evaluation:
    """What :func:`evaluate` produced: the report plus the raw predictions (for plots/diffs).

    ``predictions[i]`` belongs to ``dataset[i]``; maps are at the model's resolution.
    """

    report: Report
    dataset: Dataset
    predictions: list[Prediction]
    aupro_limit: float = 0.3


def _progress(total: int, enabled: bool, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="img", leave=False)


def _collect(
    model: Detector,
    dataset: Dataset,
    batch_size: int,
    progress: bool,
    on_batch: Callable[[Sequence[int], Sequence[Prediction]], None] | None = None,
) -> tuple[list[Prediction], list[float]]:
    """Run ``model`` over the dataset; predictions in dataset order, and ms/image per batch.

    ``on_batch(indices, predictions)`` is called with each checked batch as it arrives.
    """
    paths = [sample.image_path for sample in dataset]
    predictions: list[Prediction | None] = [None] * len(paths)
    batch_ms: list[float] = []
    with _progress(len(paths), progress, f"{dataset.category}") as bar:
        for batch in model.predict(paths, batch_size=batch_size):
            if len(batch.indices) != len(batch.predictions):
                raise ModelOutputError(
                    f"model returned {len(batch.predictions)} predictions for a batch of "
                    f"{len(batch.indices)} images"
                )
            for index, prediction in zip(batch.indices, batch.predictions, strict=False):
                if predictions[index] is not None:
                    raise ModelOutputError(f"{paths[index]}: model predicted this image twice")
                predictions[index] = prediction
            if on_batch is not None:
                on_batch(batch.indices, batch.predictions)
            if batch.indices:
                batch_ms.append(1000.0 * batch.seconds / len(batch.indices))
            bar.update(len(batch.indices))
    missing = [str(paths[i]) for i, p in enumerate(predictions) if p is None]
    if missing:
        raise ModelOutputError(
            f"model returned no score for {len(missing)} image(s), first: {missing[0]}"
        )
    return predictions, batch_ms  # type: ignore[return-value]


def _image_level(
    labels: np.ndarray,
    scores: np.ndarray,
    pred_labels: list[int | None],
    defects: Sequence[str],
) -> tuple[dict[str, float | None], dict[str, str], dict[str, dict[str, float | None]]]:
    from pyimgano.metrics import decision_metrics, image_metrics

    metrics: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for result in (
        image_metrics(labels, scores),
        decision_metrics(labels, None if any(p is None for p in pred_labels) else pred_labels),
    ):
        metrics.update(result)
        notes.update(result.notes)
    by_defect: dict[str, dict[str, float | None]] = {}
    defect_array = np.asarray(defects, dtype=object)
    good = defect_array == GOOD
    for defect in sorted(set(defects) - {GOOD}):
        keep = good | (defect_array == defect)
        sub = image_metrics(labels[keep], scores[keep])
        by_defect[defect] = {"image_auroc": sub["image_auroc"], "image_ap": sub["image_ap"]}
    return metrics, notes, by_defect


class _PixelInputs:
    """Ground-truth masks and aligned maps, prepared on one background thread while the model
    is still inferring (SPEC §10: the harness adds little to the forward pass).

    Each batch of predictions is handed over as it arrives (:meth:`add`): its samples' masks are
    read (each mask file once) and its maps aligned to mask size with
    :func:`pyimgano.alignment.align_maps` (one ``interpolate`` per group of equal sizes, the same
    values as per map). The outcome is exactly that of reading every mask first and aligning
    afterwards: errors are raised by :meth:`result` in that order (the first sample, in dataset
    order, whose mask fails; then the first map that cannot be aligned), and when any prediction
    has no map, no mask error is raised at all (pixel metrics are then ``null``).
    """

    def __init__(self, dataset: Dataset, pool: ThreadPoolExecutor) -> None:
        self._samples = list(dataset)
        n = len(self._samples)
        self.masks: list[np.ndarray | None] = [None] * n
        self.maps: list[np.ndarray | None] = [None] * n
        self.missing_map = False
        self._mask_errors: dict[int, BaseException] = {}
        self._align_errors: dict[int, BaseException] = {}
        self._pool = pool
        self._jobs: list[Future[None]] = []

    def add(self, indices: Sequence[int], predictions: Sequence[Prediction]) -> None:
        """Queue one batch (called by :func:`_collect` as batches arrive)."""
        if any(p.anomaly_map is None for p in predictions):
            self.missing_map = True
        if not self.missing_map:
            self._jobs.append(self._pool.submit(self._prepare, tuple(indices), tuple(predictions)))

    def _prepare(self, indices: tuple[int, ...], predictions: tuple[Prediction, ...]) -> None:
        from pyimgano.datasets.masks import load_mask

        if self.missing_map:  # pixel metrics will be null: no need for masks
            return
        ready: list[tuple[int, np.ndarray, tuple[int, int]]] = []
        for index, prediction in zip(indices, predictions, strict=True):
            try:
                mask = load_mask(self._samples[index])
            except Exception as exc:  # noqa: BLE001 - raised in order by result()
                self._mask_errors[index] = exc
                continue
            self.masks[index] = mask
            ready.append((index, prediction.anomaly_map, mask.shape))  # type: ignore[arg-type]
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

    def result(self) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
        """``(maps, masks)`` once every batch is in; None when a prediction has no map."""
        for job in self._jobs:
            job.result()
        if self.missing_map:
            return None
        for errors in (self._mask_errors, self._align_errors):
            if errors:
                raise errors[min(errors)]
        return self.maps, self.masks  # type: ignore[return-value]


def _pixel_level(
    prepared: _PixelInputs, aupro_limit: float
) -> tuple[dict[str, float | None], dict[str, str]]:
    from pyimgano.metrics import pixel_metrics

    inputs = prepared.result()
    if inputs is None:
        reason = "the model yields no anomaly map"
        return dict.fromkeys(PIXEL_METRICS), dict.fromkeys(PIXEL_METRICS, reason)
    maps, masks = inputs
    result = pixel_metrics(maps, masks, aupro_limit=aupro_limit)
    return dict(result), dict(result.notes)


def _single_threaded_torch() -> None:
    """Initializer of the background thread: torch operators there use one thread."""
    if "torch" in sys.modules:
        from pyimgano.backends.anomalib import single_threaded_torch

        single_threaded_torch()


def _median_or_none(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def evaluate(
    model: Detector,
    dataset: Dataset,
    *,
    pixel: bool = False,
    batch_size: int = 16,
    aupro_limit: float = 0.3,
    model_name: str = "",
    model_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> Evaluation:
    """Evaluate ``model`` on every test sample of ``dataset``.

    Parameters
    ----------
    model : Detector
        A loaded model (``model.load_seconds`` is reported as ``timing.load_s``).
    dataset : Dataset
        Test samples of one category.
    pixel : bool
        Also compute pixel metrics. Every anomalous image then needs its mask
        (:class:`~pyimgano.errors.DatasetError` otherwise); maps are aligned to mask size.
    batch_size : int
        Images per forward pass.
    aupro_limit : float
        FPR integration limit of AU-PRO.
    model_name, model_kwargs
        Recorded in the report's ``model`` section.
    progress : bool
        Show a tqdm bar on stderr.

    Notes
    -----
    While the model infers, one background thread collects the environment facts and, with
    ``pixel``, reads each batch's masks and aligns its maps as the batch arrives (its torch
    operators single-threaded); the results and errors are those of doing it afterwards.

    Returns
    -------
    Evaluation
        ``report.thresholds`` is empty and ``report.item`` is ``None``; gates and the plugin
        fill them.
    """
    if pixel:
        from pyimgano.datasets import require_masks

        require_masks(dataset)
    started = time.perf_counter()
    # One background thread, busy while the model infers: the environment facts (package
    # versions: a few ms of metadata reads), and with pixel metrics the masks and map alignment,
    # batch by batch (_PixelInputs). Its torch operators run single-threaded, so that they do
    # not compete with the forward pass for the cores (see single_threaded_torch).
    background = ThreadPoolExecutor(
        1, thread_name_prefix="pyimgano-eval", initializer=_single_threaded_torch
    )
    environment = background.submit(environment_facts)
    prepared = _PixelInputs(dataset, background) if pixel else None
    try:
        predictions, batch_ms = _collect(
            model, dataset, batch_size, progress, None if prepared is None else prepared.add
        )
        inference_s = time.perf_counter() - started

        metrics_started = time.perf_counter()
        labels = np.asarray([s.label for s in dataset], dtype=np.int64)
        scores = np.asarray([p.score for p in predictions], dtype=np.float64)
        pred_labels = [p.pred_label for p in predictions]
        metrics, notes, by_defect = _image_level(
            labels, scores, pred_labels, [s.defect_type for s in dataset]
        )
        if prepared is not None:
            pixel_values, pixel_notes = _pixel_level(prepared, aupro_limit)
            metrics.update(pixel_values)
            notes.update(pixel_notes)
        metrics_s = time.perf_counter() - metrics_started
        facts = environment.result()
    finally:
        if prepared is not None:
            prepared.close()
        background.shutdown(wait=True)

    description = model.describe()
    after_first = batch_ms[1:]
    ms_per_image = _median_or_none(after_first)
    timing = {
        "load_s": float(model.load_seconds),
        "inference_s": inference_s,
        "metrics_s": metrics_s,
        "total_s": float(model.load_seconds) + inference_s + metrics_s,
        "ms_per_image": ms_per_image,
        "images_per_s": _median_or_none([1000.0 / ms for ms in after_first if ms > 0]),
    }
    saturated = (
        float(np.mean((scores == 0.0) | (scores == 1.0))) if len(scores) else None
    )
    report = Report(
        metrics=metrics,
        metric_notes=notes,
        metrics_by_defect=by_defect,
        model={
            "name": model_name,
            "checkpoint": description.checkpoint,
            "checkpoint_sha256": description.checkpoint_sha256,
            "kwargs": _jsonable(model_kwargs or {}),
            "outputs_normalized": description.outputs_normalized,
            "saturated_fraction": saturated,
            **description.extra,
        },
        dataset={
            "format": dataset.format,
            "root": str(dataset.root),
            "category": dataset.category,
            "n_test": len(dataset),
            "n_anomalous": dataset.n_anomalous,
            "fingerprint": dataset.fingerprint,
        },
        timing=timing,
        environment={
            **facts,
            "device": description.device,
            "gpu": description.gpu,
            "cuda": description.cuda,
            "threads": description.threads,
            "batch_size": int(batch_size),
            "workers": worker_count(),
        },
        settings={"pixel": bool(pixel), "aupro_limit": float(aupro_limit)},
        records=[
            {
                "path": str(sample.image_path),
                "label": sample.label,
                "defect": sample.defect_type,
                "score": prediction.score,
                "pred_label": prediction.pred_label,
            }
            for sample, prediction in zip(dataset, predictions, strict=False)
        ],
    )
    return Evaluation(
        report=report, dataset=dataset, predictions=predictions, aupro_limit=aupro_limit
    )


def _jsonable(value: Any) -> Any:
    """Model kwargs as JSON values (paths become strings; other objects their repr)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    import os

    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)
