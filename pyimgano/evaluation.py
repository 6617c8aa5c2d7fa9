"""``evaluate``: a loaded model run over a loaded dataset → :class:`Evaluation` (docs/REFERENCE.md
§2).

:func:`evaluate` knows nothing of configuration: it takes a :class:`Detector` and a
:class:`Dataset` and returns predictions, metrics and a :class:`Report`.
:func:`pyimgano.runner.run_case` resolves configuration (kwargs, dataset, checkpoint) and calls
it; the CLI and the pytest plugin both go through ``run_case``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pyimgano.datasets.base import GOOD, Dataset
from pyimgano.environment import environment_facts, worker_count
from pyimgano.errors import ConfigError, ModelOutputError
from pyimgano.inference import image_progress, run_inference
from pyimgano.memory import resolve_budget
from pyimgano.models.base import Detector, ModelDescription
from pyimgano.outputs import Prediction
from pyimgano.parity import BORDERLINE, ParityAccumulator
from pyimgano.pixel_inputs import PixelInputs
from pyimgano.report import Report
from pyimgano.resources import PeakMemory, measure


@dataclass
class Evaluation:
    """What :func:`evaluate` produced: the report plus the raw predictions (for plots/diffs).

    ``predictions[i]`` belongs to ``dataset[i]``; maps are at the model's resolution.
    ``pixel`` holds what the pixel metrics saw (aligned maps, masks, curves) when they ran;
    ``reference_predictions`` the reference model's predictions under export parity.
    """

    report: Report
    dataset: Dataset
    predictions: list[Prediction]
    aupro_limit: float = 0.3
    pixel: PixelData | None = None
    reference_predictions: list[Prediction] | None = None
    baseline_predictions: list[Prediction] | None = None
    submission: Any = None  # mvtec_ad2 --export-submission: a SubmissionResult


def _image_level(
    labels: np.ndarray,
    scores: np.ndarray,
    pred_labels: list[int | None],
    defects: Sequence[str],
    fpr_limits: tuple[float, ...] = (),
) -> tuple[dict[str, float | None], dict[str, str], dict[str, dict[str, float | None]]]:
    from pyimgano.metrics import decision_metrics, image_metrics

    metrics: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    for result in (
        image_metrics(labels, scores, fpr_limits=fpr_limits),
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
        by_defect[defect] = {name: sub[name] for name in ("image_auroc", "image_ap")}
        for name in by_defect[defect]:
            if name in sub.notes:  # the metric's own reason for a null
                notes[f"metrics_by_defect.{defect}.{name}"] = sub.notes[name]
    return metrics, notes, by_defect


@dataclass
class PixelData:
    """What the pixel metrics saw, kept for plots (no mask re-read, no re-alignment, no re-sort).

    Attributes
    ----------
    maps : list
        Image ``i``'s anomaly map aligned to its mask's size: a 2-D float NumPy array, or a
        torch tensor on the model's device when maps stayed there (use
        :func:`pyimgano.outputs.to_numpy` for a host copy).
    masks : list of numpy.ndarray
        Binarised ground-truth masks (bool), all-False for normal images.
    roc : (fpr, tpr) or None
        The pixel ROC curve of the exact sweep.
    pro : (fpr, pro) or None
        The PRO curve of the exact sweep (mean per-region overlap against FPR).
    defects, defect_groups : lists or None
        MVTec LOCO: per image its defects ``(mask, saturation)`` and its type (None for good
        images), as AU-sPRO saw them; None for other formats.
    """

    maps: list[Any]
    masks: list[np.ndarray]
    roc: tuple[np.ndarray, np.ndarray] | None = None
    pro: tuple[np.ndarray, np.ndarray] | None = None
    defects: list[list[tuple[Any, float]]] | None = None
    defect_groups: list[str | None] | None = None


@dataclass
class _PixelOutcome:
    metrics: dict[str, float | None]
    notes: dict[str, str]
    per_image: dict[int, dict[str, float | None]]
    by_group: dict[str, dict[str, float | None]]
    data: PixelData | None
    device: str | None


def _check_maps(predictions: Sequence[Prediction], paths: Sequence[Any]) -> None:
    """Raise :class:`ModelOutputError` naming the images without a map when others have one.

    A model that yields no map at all gets ``null`` pixel metrics (docs/REFERENCE.md §3); one
    that drops the map of some images would make every pixel metric ``null`` for a few images.
    """
    without = [str(paths[i]) for i, p in enumerate(predictions) if p.anomaly_map is None]
    if not without or len(without) == len(predictions):
        return
    shown = ", ".join(without[:5]) + (f", and {len(without) - 5} more" if len(without) > 5 else "")
    raise ModelOutputError(
        f"{len(without)} of {len(predictions)} images have no anomaly map while the others have "
        f"one; pixel metrics need a map for every image (or for none): {shown}"
    )


def _pixel_level(
    prepared: PixelInputs, options: PixelOptions, dataset: Dataset
) -> _PixelOutcome:
    from pyimgano.metrics.pixel import evaluate_pixels

    inputs = prepared.result()
    if inputs is None:
        reason = "the model yields no anomaly map"
        names = pixel_metric_names(options, dataset)
        return _PixelOutcome(dict.fromkeys(names), dict.fromkeys(names, reason), {}, {}, None, None)
    loco = inputs.defects is not None
    defects = (
        [[(d.mask, d.saturation_pixels) for d in defects] for defects in inputs.defects]
        if loco
        else None
    )
    groups = [None if s.defect_type == GOOD else s.defect_type for s in dataset] if loco else None
    result = evaluate_pixels(
        inputs.maps,
        inputs.masks,
        aupro_limit=options.aupro_limit,
        aupro_limits=options.aupro_limits,
        aupimo_fpr_bounds=options.aupimo_fpr_bounds,
        regions=inputs.regions,
        keep_curves=True,
        defects=defects,
        auspro_limits=options.auspro_limits or DEFAULT_AUSPRO_LIMITS,
        memory_budget=options.memory_budget,
        defect_groups=groups,
        seg_f1_threshold=options.seg_f1_threshold,
    )
    metrics = dict(result.metrics)
    notes = dict(result.metrics.notes)
    for warning in result.aupimo_warnings:
        notes.setdefault("aupimo_mean", warning)
    per_image: dict[int, dict[str, float | None]] = {
        i: {"aupimo": value} for i, value in enumerate(result.aupimo_per_image)
    }
    by_group: dict[str, dict[str, float | None]] = {}
    if result.spro is not None:
        for group, values in result.spro.by_group.items():
            by_group[group] = dict(values)
            for name, reason in values.notes.items():
                notes[f"metrics_by_defect_type.{group}.{name}"] = reason
    data = PixelData(maps=inputs.maps, masks=inputs.masks, roc=result.roc, pro=result.pro,
                     defects=defects, defect_groups=groups)
    return _PixelOutcome(metrics, notes, per_image, by_group, data, result.metrics_device)


@dataclass(frozen=True)
class PixelOptions:
    """Which pixel metrics to compute (docs/REFERENCE.md §5).

    ``aupro_limit`` is the plain ``aupro`` key's limit; ``aupro_limits`` add ``aupro_<limit>``
    keys from the same sweep; ``auspro_limits`` apply to ``mvtec_loco`` (default 0.05);
    ``aupimo_fpr_bounds`` bound AUPIMO's integration on the normal images; ``memory_budget``
    (bytes, ``None``: none) bounds the host sort and sweep (:mod:`pyimgano.metrics._spill`).
    """

    aupro_limit: float = 0.3
    aupro_limits: tuple[float, ...] = ()
    auspro_limits: tuple[float, ...] = ()
    aupimo_fpr_bounds: tuple[float, float] = (1e-5, 1e-4)
    seg_f1_threshold: float | None = None
    memory_budget: int | None = None


def pixel_metric_names(options: PixelOptions, dataset: Dataset) -> list[str]:
    """The pixel metric keys a report carries for ``options`` on ``dataset``."""
    from pyimgano.metrics.pixel import PIXEL_METRICS, aupro_key
    from pyimgano.metrics.spro import auspro_key

    names = [*PIXEL_METRICS, "aupimo_mean", "aupimo_std"]
    names += [aupro_key(limit) for limit in options.aupro_limits]
    if dataset.format == "mvtec_loco":
        names += [auspro_key(limit) for limit in options.auspro_limits or DEFAULT_AUSPRO_LIMITS]
    if dataset.format == "mvtec_ad2":
        names.append("seg_f1")
    return list(dict.fromkeys(names))


#: AU-sPRO's FPR limit when a suite asks for none (the MVTec LOCO AD evaluation's 0.05).
DEFAULT_AUSPRO_LIMITS = (0.05,)


def _single_threaded_torch() -> None:
    """Initializer of the background thread: torch operators there use one thread."""
    if "torch" in sys.modules:
        from pyimgano.threads import single_threaded_torch

        single_threaded_torch()


def _median_or_none(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _threshold(description: ModelDescription) -> float | None:
    """The checkpoint's decision threshold: 0.5 on anomalib-normalised scores, else unknown."""
    return 0.5 if description.outputs_normalized else None


def decision_section(
    scores: np.ndarray, threshold: float | None, pred_labels: Sequence[int | None]
) -> dict[str, Any]:
    """The report's ``decision`` object: where the decision threshold came from and the
    borderline images (score within :data:`~pyimgano.parity.BORDERLINE` of it).

    ``threshold_source`` is ``"checkpoint"`` when the threshold is known (0.5 on
    anomalib-normalised scores), ``"pred_label"`` when the model gives per-image decisions but
    not the threshold behind them, and ``None`` when it gives neither. ``borderline`` is a
    count, ``None`` (reason in ``notes``) without a known threshold.
    """
    labelled = bool(len(pred_labels)) and all(p is not None for p in pred_labels)
    if threshold is not None:
        borderline = int(np.count_nonzero(np.abs(scores - threshold) <= BORDERLINE))
        return {"borderline": borderline, "threshold": threshold,
                "threshold_source": "checkpoint", "notes": {}}
    reason = (
        "the model gives pred_label but not the threshold behind it (its scores are not "
        "anomalib-normalised)"
        if labelled
        else "the model gives no decision threshold (no pred_label, scores not normalised)"
    )
    return {"borderline": None, "threshold": None,
            "threshold_source": "pred_label" if labelled else None,
            "notes": {"borderline": reason}}


def evaluate(
    model: Detector,
    dataset: Dataset,
    *,
    pixel: bool = False,
    batch_size: int = 16,
    aupro_limit: float = 0.3,
    aupro_limits: Sequence[float] = (),
    auspro_limits: Sequence[float] = (),
    aupimo_fpr_bounds: tuple[float, float] = (1e-5, 1e-4),
    fpr_limits: Sequence[float] = (),
    reference: Detector | None = None,
    parity: Mapping[str, float] | None = None,
    model_name: str = "",
    model_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
    memory: PeakMemory | None = None,
    calibration: Any = None,
    memory_budget: int | str | None = None,
    baseline: Detector | None = None,
    compare: Mapping[str, Any] | None = None,
    ci: float | None = None,
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
        Images per forward pass (a batch-dependent model runs one image at a time; see
        :mod:`pyimgano.inference`).
    aupro_limit, aupro_limits, auspro_limits, aupimo_fpr_bounds
        Pixel metric options (:class:`PixelOptions`).
    fpr_limits : sequence of float
        Operating points: ``image_tpr_at_fpr_<limit>`` per limit (recorded in ``settings``).
    reference : Detector, optional
        Export parity: a reference model run on the same decoded images; the report gains
        ``parity`` (:mod:`pyimgano.parity`) and each record its ``reference_score``.
    parity : mapping, optional
        Parity bounds ``{score, map, decisions}``.
    baseline : Detector, optional
        Release decision (docs/REFERENCE.md §12): the baseline model, run on the same decoded
        images; each record gains its ``baseline_score``.
    compare : mapping, optional
        ``{metric: Bound}`` (:func:`pyimgano.comparison.parse_compare`); needs ``baseline``.
        The report gains ``comparison`` (:func:`pyimgano.comparison.compare_models`). A
        compared metric the item does not compute is a :class:`ConfigError`.
    ci : float, optional
        A level in (0, 1): the report gains ``metrics_ci`` (bootstrap over images).
    model_name, model_kwargs
        Recorded in the report's ``model`` section.
    progress : bool
        Show a tqdm bar on stderr.
    memory : PeakMemory, optional
        Peak memory counting started before the model was loaded (:func:`run_case` starts it
        there); default: started here, so the peaks cover inference and metrics only.
    calibration : mapping, optional
        ``mvtec_ad2`` with ``pixel``: the SegF1 threshold's rule
        (:func:`pyimgano.protocols.parse_calibration`; default mean + 3 std). The category's
        ``validation/good`` images are inferred first (same inference path, own progress bar),
        and the report gains ``calibration`` and ``seg_f1``; ``aupro_0.05`` is always added.
        ``realiad``: ``sample_*`` metrics and each record's ``sample`` (no option).
    memory_budget : int or str, optional
        Bytes the pixel metrics may use beyond the maps (``"4GiB"``; ``"auto"``: half the
        memory available at the start, shared among pytest-xdist workers); over it they
        stream (:func:`~pyimgano.metrics.evaluate_pixels`). ``None``: no budget.

    Notes
    -----
    While the model infers, one background thread collects the environment facts and, with
    ``pixel``, reads each batch's masks, labels their regions and aligns its maps as the batch
    arrives (its torch operators single-threaded); the results and errors are those of doing it
    afterwards. Maps kept on a CUDA device stay there for alignment and metrics
    (``environment.metrics_device``).

    Returns
    -------
    Evaluation
        ``report.thresholds`` is empty and ``report.item`` is ``None``; gates and the plugin
        fill them.
    """
    from pyimgano.protocols.mvtec_ad2 import protocol_aupro_limits

    options = PixelOptions(
        float(aupro_limit),
        protocol_aupro_limits(dataset.format, aupro_limits) if pixel else tuple(
            float(x) for x in aupro_limits
        ),
        tuple(float(x) for x in auspro_limits),
        (float(aupimo_fpr_bounds[0]), float(aupimo_fpr_bounds[1])),
        memory_budget=resolve_budget(memory_budget),
    )
    if pixel:
        from pyimgano.datasets import require_masks

        require_masks(dataset)
        if dataset.format == "mvtec_loco":
            from pyimgano.datasets.loco import defects_config

            defects_config(dataset)  # a missing defects_config.json fails before inference
    if compare:
        from pyimgano.comparison import as_bounds

        compare = as_bounds(compare)
        if baseline is None:
            raise ConfigError(
                "compare bounds given without a baseline checkpoint to compare with"
            )
    if ci is not None and (isinstance(ci, bool) or not isinstance(ci, (int, float))
                           or not 0 < ci < 1):
        raise ConfigError(f"ci is {ci!r}; expected a confidence level in (0, 1), e.g. 0.95")
    memory = memory if memory is not None else PeakMemory.start()
    calibrated = None
    if pixel and dataset.format == "mvtec_ad2":  # validation/good first: the SegF1 threshold
        from pyimgano.protocols.mvtec_ad2 import calibrate, parse_calibration

        calibrated = calibrate(model, dataset.root, dataset.category,
                               parse_calibration(calibration), batch_size=batch_size,
                               progress=progress)
        if calibrated is not None:
            options = replace(options, seg_f1_threshold=calibrated.threshold)
    baseline_threshold = None  # the baseline's own SegF1 threshold, for comparing seg_f1
    if calibrated is not None and baseline is not None and compare and "seg_f1" in compare:
        from pyimgano.protocols.mvtec_ad2 import calibrate, parse_calibration

        theirs = calibrate(baseline, dataset.root, dataset.category,
                           parse_calibration(calibration), batch_size=batch_size,
                           progress=progress)
        baseline_threshold = None if theirs is None else theirs.threshold
    started = time.perf_counter()
    # One background thread, busy while the model infers: the environment facts (package
    # versions: a few ms of metadata reads), and with pixel metrics the masks, their regions
    # and map alignment, batch by batch (PixelInputs). Its torch operators run single-threaded,
    # so that they do not compete with the forward pass for the cores.
    background = ThreadPoolExecutor(
        1, thread_name_prefix="pyimgano-eval", initializer=_single_threaded_torch
    )
    environment = background.submit(environment_facts)
    prepared = (
        PixelInputs(dataset, background, loco_defects=dataset.format == "mvtec_loco")
        if pixel
        else None
    )
    paths = [sample.image_path for sample in dataset]
    try:
        with image_progress(len(paths), progress, f"{dataset.category}") as bar:
            inference = run_inference(
                model,
                paths,
                batch_size=batch_size,
                reference=reference,
                baseline=baseline,
                on_batch=None if prepared is None else prepared.add,
                advance=bar.update,
            )
        predictions = inference.predictions
        inference_s = time.perf_counter() - started

        metrics_started = time.perf_counter()
        labels = np.asarray([s.label for s in dataset], dtype=np.int64)
        scores = np.asarray([p.score for p in predictions], dtype=np.float64)
        pred_labels = [p.pred_label for p in predictions]
        metrics, notes, by_defect = _image_level(
            labels, scores, pred_labels, [s.defect_type for s in dataset], tuple(fpr_limits)
        )
        sample_ids = _sample_ids(dataset)
        if sample_ids is not None:  # Real-IAD: a sample is the views of one object
            from pyimgano.metrics import sample_metrics

            by_sample = sample_metrics(labels, scores, sample_ids)
            metrics.update(by_sample)
            notes.update(by_sample.notes)
        description = model.describe()
        threshold = _threshold(description)
        decision = decision_section(scores, threshold, pred_labels)
        # A resolution is not a metric (docs/REFERENCE.md §5): it moves beside them.
        step = metrics.pop("image_auroc_step", None)
        notes.pop("image_auroc_step", None)
        resolution = {} if step is None else {"image_auroc": step}
        outcome = None
        by_type: dict[str, dict[str, float | None]] = {}
        if prepared is not None:
            _check_maps(predictions, paths)
            outcome = _pixel_level(prepared, options, dataset)
            metrics.update(outcome.metrics)
            notes.update(outcome.notes)
            by_type = {group: dict(values) for group, values in outcome.by_group.items()}
        parity_report = None
        if inference.reference is not None:
            accumulator = ParityAccumulator(
                len(paths), threshold=_threshold(reference.describe()) if reference else None
            )
            for index, (mine, theirs) in enumerate(
                zip(predictions, inference.reference, strict=True)
            ):
                accumulator.update(index, mine, theirs)
            parity_report = accumulator.result(parity or {}, [str(p) for p in paths])
        comparison, comparison_notes = _comparison(
            compare, inference.baseline, labels, scores, metrics, outcome, options,
            sample_ids=sample_ids, baseline_threshold=baseline_threshold,
        )
        notes.update(comparison_notes)
        intervals = None
        if ci is not None:
            from pyimgano.comparison import metrics_ci

            pixel_ci = None
            if outcome is not None and outcome.data is not None:
                from pyimgano.metrics.pixel import seg_f1_counts
                from pyimgano.metrics.stats import pixel_statistics
                from pyimgano.outputs import to_numpy

                maps_ci = [to_numpy(m, float32=True) for m in outcome.data.maps]
                pixel_ci = {
                    "stats": pixel_statistics(maps_ci, outcome.data.masks),
                    "aupro_limit": options.aupro_limit,
                }
                if options.seg_f1_threshold is not None and "seg_f1" in metrics:
                    pixel_ci["seg_f1"] = seg_f1_counts(
                        maps_ci, outcome.data.masks, options.seg_f1_threshold
                    )
                if outcome.data.defects is not None:
                    from pyimgano.metrics.spro_stats import spro_statistics

                    pixel_ci["spro"] = spro_statistics(
                        maps_ci, outcome.data.defects, groups=outcome.data.defect_groups
                    )
            intervals = metrics_ci(
                labels, scores, metrics, level=ci,
                aupimo=None if outcome is None or outcome.data is None else [
                    outcome.per_image.get(i, {}).get("aupimo") for i in range(len(paths))
                ],
                pixel=pixel_ci,
                sample_ids=sample_ids,
            )
        metrics_s = time.perf_counter() - metrics_started
        facts = environment.result()
    finally:
        if prepared is not None:
            prepared.close()
        background.shutdown(wait=True)

    resources = measure(
        memory,
        model,
        device=description.device,
        runtime=description.runtime,
        image_paths=paths[:1],
    )
    after_first = inference.batch_ms[1:]
    timing = {
        "load_s": float(model.load_seconds),
        "inference_s": inference_s,
        "metrics_s": metrics_s,
        "total_s": float(model.load_seconds) + inference_s + metrics_s,
        "ms_per_image": _median_or_none(after_first),
        "images_per_s": _median_or_none([1000.0 / ms for ms in after_first if ms > 0]),
    }
    saturated = float(np.mean((scores == 0.0) | (scores == 1.0))) if len(scores) else None
    records = []
    per_image = outcome.per_image if outcome is not None else {}
    for index, (sample, prediction) in enumerate(zip(dataset, predictions, strict=True)):
        record = {
            "path": str(sample.image_path),
            "label": sample.label,
            "defect": sample.defect_type,
            "score": prediction.score,
            "pred_label": prediction.pred_label,
        }
        if sample_ids is not None:
            record["sample"] = sample_ids[index]
        if pixel and outcome is not None and outcome.data is not None:
            record["aupimo"] = per_image.get(index, {}).get("aupimo")
        if inference.reference is not None:
            record["reference_score"] = inference.reference[index].score
            record["reference_pred_label"] = inference.reference[index].pred_label
        if inference.baseline is not None:
            record["baseline_score"] = inference.baseline[index].score
        records.append(record)
    settings: dict[str, Any] = {
        "pixel": bool(pixel),
        "aupro_limit": options.aupro_limit,
        "batch_size_requested": int(batch_size),
    }
    if options.aupro_limits:
        settings["aupro_limits"] = list(options.aupro_limits)
    if fpr_limits:
        settings["fpr_limits"] = [float(x) for x in fpr_limits]
    if pixel:
        settings["aupimo_fpr_bounds"] = list(options.aupimo_fpr_bounds)
        if dataset.format == "mvtec_loco":
            settings["auspro_limits"] = list(options.auspro_limits or DEFAULT_AUSPRO_LIMITS)
    if inference.batch_note:
        settings["batch_size_note"] = inference.batch_note
    if description.preprocessing:
        settings["preprocessing"] = description.preprocessing
    if getattr(dataset, "notes", ()):
        settings["dataset_notes"] = list(dataset.notes)
    model_section = {
        "name": model_name,
        "checkpoint": description.checkpoint,
        "checkpoint_sha256": description.checkpoint_sha256,
        "kwargs": _jsonable(model_kwargs or {}),
        "outputs_normalized": description.outputs_normalized,
        "saturated_fraction": saturated,
        **description.extra,
    }
    if description.artifact_files:
        model_section["artifact_files"] = dict(description.artifact_files)
    for role, companion in (("reference", reference), ("baseline", baseline)):
        if companion is not None:
            other = companion.describe()
            model_section[role] = {
                "checkpoint": other.checkpoint,
                "checkpoint_sha256": other.checkpoint_sha256,
                "runtime": other.runtime,
                "precision": other.precision,
            }
    if comparison is not None:
        settings["compare"] = {
            name: {"max_drop": b.max_drop, "mode": b.mode, "alpha": b.alpha}
            for name, b in compare.items()  # type: ignore[union-attr]
        }
    if ci is not None:
        settings["ci"] = float(ci)
    report = Report(
        metrics=metrics,
        metric_notes=notes,
        metrics_by_defect=by_defect,
        metrics_by_defect_type=by_type,
        resolution=resolution,
        decision=decision,
        resources=resources,
        model=model_section,
        dataset={
            "format": dataset.format,
            "root": str(dataset.root),
            "category": dataset.category,
            "n_test": len(dataset),
            "n_anomalous": dataset.n_anomalous,
            "fingerprint": dataset.fingerprint,
            **dict(getattr(dataset, "facts", {})),
        },
        timing=timing,
        environment={
            **facts,
            "device": description.device,
            "gpu": description.gpu,
            "cuda": description.cuda,
            "threads": description.threads,
            "batch_size": int(inference.batch_size),
            "workers": worker_count(),
            "runtime": description.runtime,
            "runtime_version": description.runtime_version,
            "execution_device": description.execution_device,
            "precision": description.precision,
            "metrics_device": None if outcome is None else outcome.device,
        },
        settings=settings,
        parity=parity_report,
        records=records,
        calibration=None if calibrated is None else calibrated.to_report(),
        comparison=comparison,
        metrics_ci=intervals,
    )
    return Evaluation(
        report=report,
        dataset=dataset,
        predictions=predictions,
        aupro_limit=options.aupro_limit,
        pixel=None if outcome is None else outcome.data,
        reference_predictions=inference.reference,
        baseline_predictions=inference.baseline,
    )


def _comparison(
    compare: Mapping[str, Any] | None,
    baseline: list[Prediction] | None,
    labels: np.ndarray,
    scores: np.ndarray,
    metrics: Mapping[str, Any],
    outcome: _PixelOutcome | None,
    options: PixelOptions,
    *,
    sample_ids: list[str] | None = None,
    baseline_threshold: float | None = None,
) -> tuple[dict[str, dict[str, Any]] | None, dict[str, str]]:
    """The report's ``comparison`` and its notes (docs/REFERENCE.md §12); None without bounds.

    Pixel metrics, ``seg_f1`` and AUPIMO run the baseline's aligned maps through the same pixel
    metrics (exact values, per-image AUPIMO), per-image statistics on a threshold grid and,
    for ``seg_f1``, per-image (TP, FP, FN) at each model's own calibrated threshold
    (``baseline_threshold``: the baseline's). ``sample_ids``: Real-IAD's, for ``sample_*``.
    """
    from pyimgano.comparison import (
        GRID_NOTE,
        check_computed,
        compare_models,
        needs_maps,
        on_grid,
    )

    if not compare:
        return None, {}
    if baseline is None:
        raise ConfigError("compare bounds given without a baseline checkpoint to compare with")
    check_computed(compare, metrics, "compare")
    base_scores = np.asarray([p.score for p in baseline], dtype=np.float64)
    pixel_names = [n for n in compare if needs_maps(n)]
    kwargs: dict[str, Any] = {"sample_ids": sample_ids}
    notes: dict[str, str] = {}
    if pixel_names:
        if outcome is None or outcome.data is None:
            raise ConfigError(
                f"compare: {pixel_names[0]} needs the model's anomaly maps; it yields none"
            )
        from pyimgano.alignment import align_maps
        from pyimgano.metrics.pixel import evaluate_pixels, seg_f1_counts
        from pyimgano.metrics.stats import pixel_statistics
        from pyimgano.outputs import to_numpy

        masks = outcome.data.masks
        if any(p.anomaly_map is None for p in baseline):
            raise ConfigError(f"compare: {pixel_names[0]} needs the baseline's anomaly maps; "
                              "it yields none")
        base_maps = align_maps(
            [to_numpy(p.anomaly_map, float32=True).squeeze() for p in baseline],
            [tuple(m.shape) for m in masks],
        )
        grid_names = [name for name in pixel_names if on_grid(name)]
        spro_names = [name for name in grid_names if name.startswith("auspro_")]
        defects = outcome.data.defects if spro_names else None
        theirs = evaluate_pixels(
            base_maps, masks, aupro_limit=options.aupro_limit,
            aupro_limits=options.aupro_limits if grid_names else (),
            aupimo_fpr_bounds=options.aupimo_fpr_bounds, memory_budget=options.memory_budget,
            defects=defects,
            defect_groups=outcome.data.defect_groups if defects is not None else None,
            auspro_limits=options.auspro_limits or DEFAULT_AUSPRO_LIMITS,
        )
        n = len(labels)
        kwargs["candidate_aupimo"] = [outcome.per_image.get(i, {}).get("aupimo")
                                      for i in range(n)]
        kwargs["baseline_aupimo"] = list(theirs.aupimo_per_image)
        mine = ([to_numpy(m, float32=True) for m in outcome.data.maps]
                if grid_names or "seg_f1" in compare else [])
        pixel: dict[str, Any] = {"aupro_limit": options.aupro_limit}
        if grid_names:
            pixel["exact"] = {name: (metrics[name], theirs.metrics.get(name))
                              for name in grid_names}
        if len(spro_names) < len(grid_names):
            from pyimgano.metrics._regions import label_regions

            regions = [label_regions(m) for m in masks]  # once for both models
            pixel.update(
                candidate=pixel_statistics(mine, masks, regions=regions),
                baseline=pixel_statistics(base_maps, masks, regions=regions),
            )
        if spro_names:
            from pyimgano.metrics.spro_stats import spro_statistics

            groups = outcome.data.defect_groups
            pixel["spro"] = {
                "candidate": spro_statistics(mine, defects, groups=groups),
                "baseline": spro_statistics(base_maps, defects, groups=groups),
            }
        for name in grid_names:
            notes[f"comparison.{name}"] = GRID_NOTE
        if "seg_f1" in compare:
            if options.seg_f1_threshold is None or baseline_threshold is None:
                raise ConfigError(
                    "compare: seg_f1 needs both models' calibrated SegF1 thresholds (their "
                    "anomaly maps of the validation/good images)"
                )
            pixel["seg_f1"] = (seg_f1_counts(mine, masks, options.seg_f1_threshold),
                               seg_f1_counts(base_maps, masks, baseline_threshold))
            notes["comparison.seg_f1"] = (
                "bootstrap of per-image TP/FP/FN (exact, no grid) at each model's own "
                f"calibrated threshold: candidate {options.seg_f1_threshold:.6g}, baseline "
                f"{baseline_threshold:.6g}"
            )
        kwargs["pixel"] = pixel
    return compare_models(labels, scores, base_scores, compare, **kwargs), notes


def _sample_ids(dataset: Dataset) -> list[str] | None:
    """Real-IAD: each image's sample id (docs/REFERENCE.md §5); None for other formats."""
    if dataset.format != "realiad":
        return None
    from pyimgano.datasets.realiad import sample_id

    return [sample_id(s.image_path) for s in dataset]


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
