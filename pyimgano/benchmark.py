"""The evaluation runner: samples → batched inference → metrics → :class:`Report` (SPEC §2).

:func:`evaluate` is the one function that turns a loaded model and a dataset into a report;
the CLI and the pytest plugin reach it through :func:`pyimgano.runner.run_case`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyimgano.alignment import align_map
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
    model: Detector, dataset: Dataset, batch_size: int, progress: bool
) -> tuple[list[Prediction], list[float]]:
    """Run ``model`` over the dataset; predictions in dataset order, and ms/image per batch."""
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


def _pixel_level(
    dataset: Dataset, predictions: Sequence[Prediction], aupro_limit: float
) -> tuple[dict[str, float | None], dict[str, str]]:
    from pyimgano.datasets.masks import load_mask
    from pyimgano.metrics import pixel_metrics

    if any(p.anomaly_map is None for p in predictions):
        reason = "the model yields no anomaly map"
        return dict.fromkeys(PIXEL_METRICS), dict.fromkeys(PIXEL_METRICS, reason)
    masks = [load_mask(sample) for sample in dataset]
    maps = [
        align_map(p.anomaly_map, mask.shape, image=str(s.image_path))  # type: ignore[arg-type]
        for p, mask, s in zip(predictions, masks, dataset, strict=False)
    ]
    result = pixel_metrics(maps, masks, aupro_limit=aupro_limit)
    return dict(result), dict(result.notes)


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
    predictions, batch_ms = _collect(model, dataset, batch_size, progress)
    inference_s = time.perf_counter() - started

    metrics_started = time.perf_counter()
    labels = np.asarray([s.label for s in dataset], dtype=np.int64)
    scores = np.asarray([p.score for p in predictions], dtype=np.float64)
    pred_labels = [p.pred_label for p in predictions]
    metrics, notes, by_defect = _image_level(
        labels, scores, pred_labels, [s.defect_type for s in dataset]
    )
    if pixel:
        pixel_values, pixel_notes = _pixel_level(dataset, predictions, aupro_limit)
        metrics.update(pixel_values)
        notes.update(pixel_notes)
    metrics_s = time.perf_counter() - metrics_started

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
            **environment_facts(),
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
