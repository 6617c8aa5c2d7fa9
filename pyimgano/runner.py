"""``run_case``: resolve one (model, dataset, category) configuration, then evaluate it.

The single path shared by ``pyimgano-benchmark`` and the pytest plugin. ``run_case`` resolves
configuration — model kwargs (docs/REFERENCE.md §7), the dataset and its pinned fingerprint
(docs/REFERENCE.md §4), the
model (checkpoint trust, device) — and hands the loaded model and dataset to
:func:`pyimgano.evaluation.evaluate`, which runs the model over the dataset.

Every input is checked first, by :func:`check_case`, without importing torch, anomalib or a
runtime: the category, the kwargs, the device string, and each checkpoint file (it exists, its
format is known, its pin matches). A bad input therefore costs well under a second, not the
seconds and the memory of the heavy imports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyimgano.errors import ConfigError, DatasetError
from pyimgano.evaluation import Evaluation, evaluate
from pyimgano.resources import PeakMemory

#: kwargs that only the command line (or the suite's ``sha256`` key) may set.
RESERVED_KWARGS = ("trust_checkpoint", "checkpoint_sha256")


@dataclass(frozen=True)
class Case:
    """Everything needed to evaluate one model on one category.

    Attributes
    ----------
    model : str
        Registry name.
    dataset_format, root, category
        Passed to :func:`pyimgano.datasets.load_dataset`.
    checkpoint : path or None
        Fills ``checkpoint_path`` unless ``model_kwargs`` holds it (a different one is an error).
    model_kwargs : mapping
        The user's constructor kwargs.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; injected only if the model accepts ``device``.
    checkpoint_sha256 : str or None
        Pin for the checkpoint's bytes (docs/REFERENCE.md §7).
    trust_checkpoint : bool
        Load an unpinned pickle checkpoint anyway (command line only).
    fingerprint : str or None
        Expected dataset fingerprint; a different one is a :class:`DatasetError`.
    dataset_options : mapping
        Extra loader options (``folder`` format directories).
    precision : str
        ``f32`` (default), ``bf16`` or ``f16``: the runtime's inference precision
        (docs/REFERENCE.md §3).
    aupro_limits : tuple of float
        Extra AU-PRO FPR limits reported as ``aupro_<limit>`` from the same sweep
        (docs/REFERENCE.md §5).
    auspro_limits : tuple of float
        FPR limits of AU-sPRO (``mvtec_loco`` only); empty means the default ``(0.05,)``.
    aupimo_fpr_bounds : (float, float)
        FPR integration bounds of AUPIMO on the normal images.
    fpr_limits : tuple of float
        Operating points reported as ``image_tpr_at_fpr_<limit>`` (docs/REFERENCE.md §5).
    reference : path or None
        Reference checkpoint for export parity (docs/REFERENCE.md §11), run on the same decoded
        images.
    reference_sha256 : str or None
        Pin for the reference checkpoint's bytes.
    parity : mapping or None
        Parity bounds ``{score, map, decisions}`` (max |Δ|, flips); None without a reference.
    cache_dir : path or None
        Where a runtime may write caches (OpenVINO); never the working directory by default.
    protocol : str or None
        ``"anomalib"``: also report ``metrics_anomalib``, anomalib's own ``Engine.test``
        numbers (:mod:`pyimgano.protocols.anomalib`); None: the protocol-exact metrics only.
    calibration : mapping or None
        ``mvtec_ad2``: the ``seg_f1`` threshold's rule (``{rule: quantile, q: 0.999}``; None:
        mean + 3 std of the ``validation/good`` map pixels; docs/REFERENCE.md §5).
    export_submission : path or None
        ``mvtec_ad2`` with ``pixel``: also infer ``test_private`` and ``test_private_mixed``
        and write the evaluation server's submission there (:mod:`pyimgano.protocols.submission`).
    memory_budget : int, str or None
        Bytes the pixel metrics may use (``"4GiB"``, ``"auto"``); over it they stream
        (docs/REFERENCE.md, "Memory"). None: no budget.
    baseline : path or None
        Release decision (docs/REFERENCE.md §12): the baseline checkpoint (any format), run on
        the same decoded images.
    baseline_model : str or None
        The baseline's registry model when it is another class (default: ``model``).
    baseline_sha256 : str or None
        Pin for the baseline checkpoint's bytes.
    compare : mapping or None
        ``{metric: Bound}`` (:func:`pyimgano.comparison.parse_compare`); needs ``baseline``.
    ci : float or None
        A level in (0, 1): the report's ``metrics_ci``.
    """

    model: str
    dataset_format: str
    root: Path
    category: str
    checkpoint: Path | None = None
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    device: str = "auto"
    pixel: bool = False
    batch_size: int = 16
    aupro_limit: float = 0.3
    checkpoint_sha256: str | None = None
    trust_checkpoint: bool = False
    fingerprint: str | None = None
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    precision: str = "f32"
    aupro_limits: tuple[float, ...] = ()
    auspro_limits: tuple[float, ...] = ()
    aupimo_fpr_bounds: tuple[float, float] = (1e-5, 1e-4)
    fpr_limits: tuple[float, ...] = ()
    reference: Path | None = None
    reference_sha256: str | None = None
    parity: Mapping[str, float] | None = None
    cache_dir: Path | None = None
    protocol: str | None = None
    calibration: Mapping[str, Any] | None = None
    export_submission: Path | None = None
    memory_budget: int | str | None = None
    baseline: Path | None = None
    baseline_model: str | None = None
    baseline_sha256: str | None = None
    compare: Mapping[str, Any] | None = None
    ci: float | None = None


def model_kwargs_for(
    case: Case, *, reference: bool = False, baseline: bool = False
) -> dict[str, Any]:
    """The constructor kwargs for ``case`` (docs/REFERENCE.md §7 precedence and validation).

    With ``reference``, those of the parity reference: the same model and user kwargs, with
    ``case.reference`` as the checkpoint and ``case.reference_sha256`` as its pin, at f32.
    With ``baseline``, those of the release baseline likewise (``case.baseline``,
    ``case.baseline_sha256``, f32); a ``baseline_model`` of another class gets no user kwargs.
    """
    from pyimgano.models import get_entry, resolve_model_kwargs
    from pyimgano.models.kwargs import constructor_parameters

    for key in RESERVED_KWARGS:
        if key in case.model_kwargs:
            flag = "--trust-checkpoint" if key == "trust_checkpoint" else "--checkpoint-sha256"
            raise ConfigError(
                f"model kwargs may not set {key!r}; use {flag} (CLI) or the suite's "
                "sha256 / --pyimgano-trust-checkpoints (pytest)"
            )
    if case.batch_size < 1:
        raise ConfigError(f"batch size must be a positive integer, got {case.batch_size}")
    check_device_form(case.device)
    from pyimgano.backends.exported import check_precision

    check_precision(case.precision)
    paired = reference or baseline
    other_class = baseline and case.baseline_model not in (None, case.model)
    entry = get_entry(case.baseline_model if other_class else case.model)
    pin = (case.reference_sha256 if reference else case.baseline_sha256 if baseline
           else case.checkpoint_sha256)
    precision = "f32" if paired else case.precision
    defaults: dict[str, Any] = {"device": case.device, "precision": precision}
    if case.cache_dir is not None:
        defaults["cache_dir"] = os.fspath(case.cache_dir)
    if pin is not None:
        defaults["checkpoint_sha256"] = pin.lower()
    if case.trust_checkpoint:
        defaults["trust_checkpoint"] = True
    user = {} if other_class else dict(case.model_kwargs)
    if paired:
        user.pop("checkpoint_path", None)
    kwargs = resolve_model_kwargs(
        entry,
        user,
        checkpoint_path=(case.reference if reference else case.baseline if baseline
                         else case.checkpoint),
        defaults=defaults,
    )
    accepted, _ = constructor_parameters(entry)
    if precision != "f32" and "precision" not in accepted and "precision" not in kwargs:
        raise ConfigError(
            f"precision {precision!r} asked for, but model {case.model!r} has no precision "
            "setting (it runs at its own precision); remove precision or use a model whose "
            "runtime takes one (torch, onnxruntime, openvino backends)"
        )
    return kwargs


def check_device_form(device: object) -> None:
    """A :class:`~pyimgano.errors.DeviceError` for a device string that no backend could accept.

    Checked before anything is loaded and whatever the model (a model that ignores ``device``
    must not make ``--device cdua`` pass); availability is the backend's check.
    """
    from pyimgano.backends.device import parse_device

    parse_device(device)


def load_case_dataset(case: Case):
    """Load the case's dataset and check its fingerprint pin."""
    from pyimgano.datasets import load_dataset

    dataset = load_dataset(
        case.dataset_format, case.root, case.category, **dict(case.dataset_options)
    )
    if case.fingerprint is not None and dataset.fingerprint != case.fingerprint.lower():
        raise DatasetError(
            f"dataset {case.dataset_format}:{case.category} at {case.root} has fingerprint "
            f"{dataset.fingerprint}, but the suite pins {case.fingerprint}: the data changed"
        )
    return dataset


def check_checkpoint_files(
    case: Case,
    kwargs: Mapping[str, Any],
    reference_kwargs: Mapping[str, Any] | None,
    baseline_kwargs: Mapping[str, Any] | None = None,
) -> None:
    """Check the checkpoint (reference, baseline) files of a registry checkpoint model before
    loading.

    For the models whose factory picks the backend by the file suffix
    (:data:`pyimgano.models.formats.open_checkpoint`: every anomalib entry): the files exist,
    their format is known and a given pin matches
    (:func:`pyimgano.models.formats.check_checkpoint_input`). Other models check their own
    files when they are created.
    """
    from pyimgano.models import get_entry
    from pyimgano.models.formats import check_checkpoint_input, open_checkpoint

    own = get_entry(case.model).resolve_factory() is open_checkpoint
    base = get_entry(case.baseline_model or case.model).resolve_factory() is open_checkpoint
    for role, values, checked in (("checkpoint", kwargs, own),
                                  ("reference", reference_kwargs, own),
                                  ("baseline", baseline_kwargs, base)):
        path = None if values is None or not checked else values.get("checkpoint_path")
        if path is not None:
            check_checkpoint_input(path, sha256=values.get("checkpoint_sha256"), role=role)


def check_case(
    case: Case,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Every input check of ``case`` that needs no heavy import (torch, anomalib, a runtime).

    The category exists; parity has a reference; kwargs, device string, precision and batch
    size are valid (:func:`model_kwargs_for`); the checkpoint and reference files exist and
    match their pins (:func:`check_checkpoint_files`).

    Returns
    -------
    (dict, dict or None, dict or None)
        The model's kwargs, the reference's and the baseline's (None without).

    Raises
    ------
    PyImganoError
        The first bad input, named in the message.
    """
    from pyimgano.datasets import check_category
    from pyimgano.protocols import check_protocol

    check_protocol(case.protocol)
    _check_protocol_options(case)
    check_category(case.dataset_format, case.root, case.category, **dict(case.dataset_options))
    if case.parity is not None and case.reference is None:
        raise ConfigError("parity bounds given without a reference checkpoint to compare with")
    _check_comparison(case)
    kwargs = model_kwargs_for(case)
    reference_kwargs = None if case.reference is None else model_kwargs_for(case, reference=True)
    baseline_kwargs = None if case.baseline is None else model_kwargs_for(case, baseline=True)
    check_checkpoint_files(case, kwargs, reference_kwargs, baseline_kwargs)
    return kwargs, reference_kwargs, baseline_kwargs


def _check_comparison(case: Case) -> None:
    """Compare bounds need a baseline, and pixel metrics need ``pixel`` (before loading)."""
    from pyimgano.comparison import needs_maps

    if case.baseline is None:
        for what, value in (("compare bounds", case.compare),
                            ("a baseline sha256 pin", case.baseline_sha256),
                            ("a baseline model", case.baseline_model)):
            if value:
                raise ConfigError(f"{what} given without a baseline checkpoint to compare with")
        return
    for name in case.compare or {}:
        if needs_maps(name) and not case.pixel:
            raise ConfigError(
                f"compare names {name!r}, a pixel metric this item does not compute; enable "
                "pixel metrics (pixel: true / --pixel) or compare image metrics only"
            )


def run_case(case: Case, *, progress: bool = False) -> Evaluation:
    """Evaluate ``case``; raises a :class:`~pyimgano.errors.PyImganoError` on bad input
    (found by :func:`check_case` before anything heavy is imported)."""
    from pyimgano.models import create_model

    kwargs, reference_kwargs, baseline_kwargs = check_case(case)
    dataset = load_case_dataset(case)
    if case.export_submission is not None:  # the server's private images, before inference
        from pyimgano.protocols.submission import private_images

        private_images(dataset.root, dataset.category)
    memory = PeakMemory.start()  # the item's peaks include loading the model
    started = time.perf_counter()
    model = create_model(case.model, **kwargs)
    if not getattr(model, "load_seconds", 0.0):
        model.load_seconds = time.perf_counter() - started
    reference = None if reference_kwargs is None else create_model(case.model, **reference_kwargs)
    baseline = None if baseline_kwargs is None else create_model(
        case.baseline_model or case.model, **baseline_kwargs
    )
    recorded = {k: v for k, v in kwargs.items() if k not in (*RESERVED_KWARGS, "cache_dir")}
    if "checkpoint_path" in recorded:
        recorded["checkpoint_path"] = os.fspath(recorded["checkpoint_path"])
    if case.protocol == "anomalib":
        from pyimgano.protocols.anomalib import anomalib_module

        anomalib_module(model)  # refused before any inference
    evaluation = evaluate(
        model,
        dataset,
        pixel=case.pixel,
        batch_size=case.batch_size,
        aupro_limit=case.aupro_limit,
        aupro_limits=case.aupro_limits,
        auspro_limits=case.auspro_limits,
        aupimo_fpr_bounds=case.aupimo_fpr_bounds,
        fpr_limits=case.fpr_limits,
        reference=reference,
        parity=case.parity,
        model_name=case.model,
        model_kwargs=recorded,
        progress=progress,
        memory=memory,
        calibration=case.calibration,
        memory_budget=case.memory_budget,
        baseline=baseline,
        compare=case.compare,
        ci=case.ci,
    )
    if case.protocol == "anomalib":
        _add_anomalib_metrics(evaluation, model, case.batch_size)
    if case.export_submission is not None:
        from pyimgano.protocols.submission import export_submission

        calibration = evaluation.report.calibration or {}
        evaluation.submission = export_submission(
            model, dataset.root, dataset.category, case.export_submission,
            calibration.get("threshold"), batch_size=case.batch_size, progress=progress,
        )
    return evaluation


def _add_anomalib_metrics(evaluation: Evaluation, model: Any, batch_size: int) -> None:
    """Put ``Engine.test``'s numbers and the note on how they differ into the report."""
    from pyimgano.protocols.anomalib import PROTOCOL_NOTE, anomalib_test_metrics

    report = evaluation.report
    report.metrics_anomalib = anomalib_test_metrics(
        model, list(evaluation.dataset.samples), batch_size=batch_size
    )
    report.settings["protocol"] = "anomalib"
    report.settings["protocol_note"] = PROTOCOL_NOTE


def _check_protocol_options(case: Case) -> None:
    """MVTec AD 2 options on another format, or a submission without the pixel metrics (whose
    calibration gives the masks' threshold), are :class:`ConfigError` before anything loads."""
    from pyimgano.protocols.mvtec_ad2 import parse_calibration

    if case.calibration is not None:
        if case.dataset_format != "mvtec_ad2":
            raise ConfigError(
                f"calibration applies to the mvtec_ad2 format only (its seg_f1 threshold), "
                f"not {case.dataset_format!r}; remove calibration (--calibration) or evaluate "
                "an mvtec_ad2 dataset"
            )
        parse_calibration(case.calibration)
    if case.export_submission is not None:
        if case.dataset_format != "mvtec_ad2":
            raise ConfigError(
                f"--export-submission is for --dataset mvtec_ad2 (the MVTec AD 2 evaluation "
                f"server), not {case.dataset_format!r}; remove --export-submission"
            )
        if not case.pixel:
            raise ConfigError(
                "--export-submission needs --pixel: the submission's masks use the seg_f1 "
                "threshold calibrated on validation/good with the pixel metrics"
            )
