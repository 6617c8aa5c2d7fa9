"""anomalib checkpoints as pyimgano detectors (docs/REFERENCE.md §3).

:class:`VisionAnomalibCheckpoint` scores images with an anomalib image model loaded from

- an exported torch model, ``.pt``/``.pth`` — what ``Engine.export(model,
  ExportType.TORCH)`` writes: a pickled ``{"model": <AnomalibModule>}`` holding the whole
  Lightning module (pre-processor, torch model with its memory bank / Gaussian, post-processor
  with its normalisation statistics and thresholds). Loaded by
  :func:`pyimgano.backends.checkpoint.load_checkpoint` under the pin/trust rule;
- a Lightning checkpoint, ``.ckpt`` — rebuilt with the model class's own
  ``load_from_checkpoint`` (``weights_only=True`` first): the class is built from the
  checkpoint's ``hyper_parameters``; ``on_load_checkpoint`` restores the pre-processor's
  transform and the post-processor's switches from the plain-data
  ``anomalib_pre_processor_config`` / ``anomalib_post_processor_config`` entries; the
  ``state_dict`` restores weights, memory bank / Gaussian and the post-processor's
  normalisation/threshold buffers. The model class comes from ``anomalib_model``. The model
  is constructed with the checkpoint's own saved pre-processor (so a model trained at a
  non-default input size is rebuilt at that size; anomalib's plain ``load_from_checkpoint``
  rebuilds it at the default size) and offline: ``pre_trained=False`` where the constructor
  takes it, pretrained-weight downloads skipped and any other download refused
  (:mod:`pyimgano.backends.offline`; the state_dict restores every weight). A ``.ckpt`` in the
  anomalib >= 2.7 layout is refused under an older anomalib, which would ignore those config
  entries and rebuild a default pre-processor (silently different scores) — see
  :func:`pyimgano.backends.releases.check_release`. The rebuild is
  :mod:`pyimgano.backends.ckpt_rebuild`;
- or an injected ``inferencer`` (an object with ``.predict(image)`` like anomalib's
  ``TorchInferencer``), used by tests with fakes.

Scores, maps and labels are the module's own forward output, ``pre_processor -> model ->
post_processor`` — the call ``TorchInferencer.predict`` makes — on images decoded by anomalib's
``read_image``. Every per-image output goes through :func:`pyimgano.outputs.to_prediction`.

This module imports torch and anomalib inside methods only, so ``import
pyimgano.backends.anomalib`` works without them.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.backends.ckpt_files import LIGHTNING_SUFFIXES, TORCH_SUFFIXES
from pyimgano.backends.exported import check_precision
from pyimgano.backends.releases import check_release, quiet_imports
from pyimgano.decoding import DecodedBatch
from pyimgano.errors import CheckpointError, ConfigError, first_line
from pyimgano.models.base import Batch, Detector, ModelDescription
from pyimgano.models.kwargs import check_backend_options
from pyimgano.outputs import split_batch_output, to_numpy, to_prediction

#: The torch dtype autocast runs each lower precision in (docs/REFERENCE.md §3).
_AUTOCAST_DTYPES = {"bf16": "bfloat16", "f16": "float16"}


def outputs_normalized(module: Any) -> bool | None:
    """Whether an anomalib module's post-processor normalises image scores to [0, 1].

    anomalib 2.7's ``PostProcessor.forward`` normalises (and clamps to [0, 1]) the image score
    only when ``enable_normalization`` is true *and* its ``image_min``/``image_max`` buffers were
    filled (by a validation pass during training); otherwise the raw score passes through.

    Returns
    -------
    bool or None
        False without a post-processor or with normalisation off or without statistics; True
        with both; None for a post-processor of unknown kind.
    """
    post = getattr(module, "post_processor", None)
    if post is None:
        return False
    if not hasattr(post, "enable_normalization"):
        return None
    if not post.enable_normalization:
        return False
    low, high = getattr(post, "image_min", None), getattr(post, "image_max", None)
    if low is None or high is None:
        return None
    return bool(_finite(low) and _finite(high))


def _finite(value: Any) -> bool:
    array = to_numpy(value)
    return bool(array.size > 0 and np.isfinite(array).all())


class VisionAnomalibCheckpoint(Detector):
    """An anomalib image model from a checkpoint, or an injected inferencer.

    Parameters
    ----------
    checkpoint_path : path, optional
        ``.pt``/``.pth`` exported torch model, or Lightning ``.ckpt``. Required unless
        ``inferencer`` is given.
    anomalib_model : str, optional
        anomalib model name (``"patchcore"``, ``"padim"``, ...; the ``vision_<name>_anomalib``
        aliases set it). Required for a ``.ckpt``; for a ``.pt`` it is checked against the
        pickled model's class.
    device : str, default "auto"
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (see :mod:`pyimgano.backends.device`).
    checkpoint_sha256 : str, optional
        Pin: expected sha256 of the checkpoint file.
    trust_checkpoint : bool, default False
        Unpickle a ``.pt``/``.pth`` (or a ``.ckpt`` that needs full unpickling) without a pin.
    inferencer : object, optional
        Anything with ``.predict(image_path)`` returning dict-like or object-like
        predictions (``pred_score``, optional ``anomaly_map``/``pred_label``). It is called once
        per image with the image's path and runs wherever it runs (``device`` is not applied).
    decode_workers : int, default 2
        Threads decoding images ahead of inference; 0 decodes inline.
    precision : {"f32", "bf16", "f16"}, default "f32"
        f32 runs the module as saved (float32). bf16/f16 run the forward pass under
        ``torch.autocast(device_type, dtype)``: the weights stay float32 and autocast runs the
        operators on its lower-precision list (convolutions, matmuls) in bfloat16/float16;
        scores and maps are returned as float32. Refused (ConfigError) where the torch build
        has no autocast for that device and dtype.
    maps_on_device : bool, optional
        Keep each prediction's ``anomaly_map`` on the model's device as a 2-D float32 tensor
        (no host copy; see :mod:`pyimgano.models.base`). Default: True on a CUDA device, False
        on the CPU; True on the CPU gives CPU tensors (tests of the device path). Ignored with
        an injected inferencer (its outputs are read as they come).

    There is no ``cache_dir``: the torch runtime keeps no cache, so one given is refused by
    :data:`pyimgano.models.formats.open_checkpoint` (the plugin passes its cache directory
    only to a backend that takes it).

    The checkpoint is loaded in the constructor (``load_seconds`` is set); every error is a
    :class:`~pyimgano.errors.PyImganoError` naming the file or value.
    """

    def __init__(
        self,
        checkpoint_path: str | os.PathLike[str] | None = None,
        *,
        anomalib_model: str | None = None,
        device: str = "auto",
        checkpoint_sha256: str | None = None,
        trust_checkpoint: bool = False,
        inferencer: Any = None,
        decode_workers: int = 2,
        precision: str = "f32",
        maps_on_device: bool | None = None,
    ) -> None:
        self.precision = check_precision(precision)
        check_backend_options(decode_workers=decode_workers, maps_on_device=maps_on_device,
                              trust_checkpoint=trust_checkpoint)
        if inferencer is not None and checkpoint_path is not None:
            raise ConfigError(
                "give either checkpoint_path or an injected inferencer, not both "
                f"(checkpoint_path={os.fspath(checkpoint_path)!r})"
            )
        if inferencer is None and checkpoint_path is None:
            raise ConfigError(
                "an anomalib model needs a checkpoint: pass --checkpoint-path FILE "
                "(or checkpoint_path in the model kwargs)"
            )
        if inferencer is not None and not callable(getattr(inferencer, "predict", None)):
            raise ConfigError(
                f"inferencer of type {type(inferencer).__name__} has no predict(image) method"
            )
        self.checkpoint_path = None if checkpoint_path is None else Path(checkpoint_path)
        self.anomalib_model = anomalib_model
        self.device_spec = device
        self.checkpoint_sha256: str | None = None
        self.trust_checkpoint = trust_checkpoint
        self.decode_workers = decode_workers
        self.inferencer = inferencer
        self.module: Any = None
        self.device = device if inferencer is None else str(getattr(inferencer, "device", device))
        self.load_seconds = 0.0
        self._allowed_by: str | None = None
        self._written_by: str | None = None
        self._facts: dict[str, Any] = {"gpu": None, "cuda": None, "threads": None}
        if inferencer is None:
            self._load(checkpoint_sha256)
            self._check_autocast()
        self.maps_on_device = (
            maps_on_device
            if maps_on_device is not None and inferencer is None
            else inferencer is None and str(self.device).startswith("cuda")
        )

    @property
    def batch_independent(self) -> bool | None:
        """Whether this model's per-image outputs do not depend on the rest of the batch.

        From the zoo table (:mod:`pyimgano.models.anomalib_zoo`) by ``anomalib_model``: False
        for a model such as Cflow whose map is normalised by the batch maximum (evaluate it one
        image at a time), None where unknown (and for an injected inferencer, which is called
        one image at a time anyway).
        """
        from pyimgano.models.anomalib_zoo import model_facts

        if self.inferencer is not None:
            return None
        facts = model_facts(self.anomalib_model)
        return None if facts is None else facts.batch_independent

    # -- loading ---------------------------------------------------------------------------

    @staticmethod
    def check_file(
        path: str | os.PathLike[str], *, sha256: str | None = None, role: str = "checkpoint"
    ) -> None:
        """The input check of :func:`pyimgano.models.formats.check_checkpoint_input`
        (:func:`pyimgano.backends.ckpt_files.check_checkpoint`: file, suffix, pin)."""
        from pyimgano.backends.ckpt_files import check_checkpoint

        check_checkpoint(path, sha256=sha256, role=role)

    def _load(self, pin: str | None) -> None:
        from pyimgano.backends.checkpoint import load_checkpoint
        from pyimgano.backends.ckpt_files import read_checkpoint
        from pyimgano.backends.ckpt_rebuild import anomalib_class, lightning_loader
        from pyimgano.backends.device import device_facts, resolve_device
        from pyimgano.backends.trust import verify_pin

        started = time.perf_counter()
        assert self.checkpoint_path is not None
        path = self.checkpoint_path
        suffix = path.suffix.lower()
        if self.anomalib_model is None and suffix in LIGHTNING_SUFFIXES:
            raise ConfigError(
                f"{path}: a Lightning .ckpt holds no model class: use the "
                "vision_<name>_anomalib model (e.g. vision_patchcore_anomalib) or pass "
                'anomalib_model (e.g. --model-kwargs \'{"anomalib_model": "patchcore"}\')'
            )
        # the file and its pin first: a missing file or a pin mismatch costs no torch import
        ckpt = read_checkpoint(path)
        verify_pin(ckpt.name, ckpt.sha256, pin)
        model_class = None
        if self.anomalib_model is not None:
            model_class = anomalib_class(self.anomalib_model)
        device = resolve_device(self.device_spec)

        loader = None
        if suffix in LIGHTNING_SUFFIXES and model_class is not None:
            loader = lightning_loader(path, model_class, self.anomalib_model, device)

        with quiet_imports():
            loaded = load_checkpoint(
                ckpt,
                map_location=device,
                sha256=pin,
                trust=self.trust_checkpoint,
                lightning_loader=loader,
                check_contents=check_release,
            )
        module = loaded.payload
        if suffix in TORCH_SUFFIXES:
            if not isinstance(module, Mapping) or "model" not in module:
                kind = type(module).__name__
                raise CheckpointError(
                    f"{path}: not an anomalib exported torch model (expected a dict with key "
                    f"'model' as written by Engine.export(export_type=TORCH), got {kind})"
                )
            module = module["model"]
        import torch

        if not isinstance(module, torch.nn.Module):
            raise CheckpointError(
                f"{path}: holds a {type(module).__name__}, not a torch module; expected an "
                "anomalib model"
            )
        if model_class is not None and not isinstance(module, model_class):
            raise CheckpointError(
                f"{path}: holds an anomalib {type(module).__name__}, but the model asks for "
                f"{self.anomalib_model} ({model_class.__name__}); use the matching "
                "vision_<name>_anomalib model"
            )
        try:
            module = module.to(device).eval()
        except RuntimeError as exc:  # e.g. out of device memory
            raise CheckpointError(
                f"{path}: cannot move the model to {device}: {first_line(exc)}"
            ) from None
        self.module = module
        if self.anomalib_model is None:
            self.anomalib_model = _snake_name(type(module).__name__)
        self.device = device
        self.checkpoint_sha256 = loaded.sha256
        self._allowed_by = loaded.allowed_by
        self._written_by = loaded.written_by
        self._facts = device_facts(device)
        self.load_seconds = time.perf_counter() - started

    # -- prediction ------------------------------------------------------------------------

    def predict(self, image_paths: Sequence[Path], *, batch_size: int) -> Iterator[Batch]:
        """Yield batches of predictions covering every image once (see the class docstring).

        With a checkpoint, images are decoded ahead by ``decode_workers`` threads
        (:func:`pyimgano.decoding.decoded_batches`: anomalib's ``read_image`` decoding),
        grouped into batches of one image size (order kept within a size), and each batch goes
        through :meth:`infer`. With an injected inferencer, consecutive images form the batches
        and ``seconds`` is the sum of its ``predict`` calls.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r}: expected an integer >= 1")
        paths = list(image_paths)
        if self.inferencer is not None:
            return self._predict_injected(paths, batch_size)
        return super().predict(paths, batch_size=batch_size)

    def _predict_injected(self, paths: list[Any], batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(paths), batch_size):
            indices = tuple(range(start, min(start + batch_size, len(paths))))
            predictions = []
            seconds = 0.0
            for index in indices:
                with _inference_mode_if_loaded():
                    began = time.perf_counter()
                    output = self.inferencer.predict(paths[index])
                    seconds += time.perf_counter() - began
                    predictions.append(to_prediction(output, image=str(paths[index])))
            yield Batch(indices=indices, predictions=tuple(predictions), seconds=seconds)

    def infer(self, batch: DecodedBatch) -> Batch:
        """One forward pass over a decoded batch under ``torch.inference_mode()``.

        ``Batch.seconds`` covers host-to-device transfer, the forward pass and bringing the
        scores/labels (and, unless :attr:`maps_on_device`, the maps) back, CUDA synchronised.
        """
        import torch

        from pyimgano.backends.device import synchronize

        if self.module is None:
            raise ConfigError(
                "an injected inferencer predicts from image paths: use predict(), not infer()"
            )
        with torch.inference_mode():
            stacked = torch.from_numpy(batch.stacked())
            synchronize(self.device)
            began = time.perf_counter()
            with self._autocast():
                output = self.module(stacked.to(self.device))
            predictions = split_batch_output(
                output, batch.names, keep_device=self.maps_on_device
            )
            synchronize(self.device)
            seconds = time.perf_counter() - began
        return Batch(indices=batch.indices, predictions=tuple(predictions), seconds=seconds)

    def _device_type(self) -> str:
        return "cuda" if str(self.device).startswith("cuda") else "cpu"

    def _autocast(self) -> AbstractContextManager[Any]:
        if self.precision == "f32":
            return nullcontext()
        import torch

        dtype = getattr(torch, _AUTOCAST_DTYPES[self.precision])
        return torch.autocast(self._device_type(), dtype=dtype)

    def _check_autocast(self) -> None:
        """Refuse a precision torch cannot autocast to on this device, before any image."""
        if self.precision == "f32":
            return
        import torch

        dtype = getattr(torch, _AUTOCAST_DTYPES[self.precision])
        device_type = self._device_type()
        is_supported = getattr(torch.amp, "is_autocast_available", None)
        ok = True
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # autocast warns and disables itself
                with torch.autocast(device_type, dtype=dtype):
                    pass
        except (RuntimeError, UserWarning):
            ok = False
        if callable(is_supported) and not is_supported(device_type):
            ok = False
        if not ok:
            raise ConfigError(
                f"precision={self.precision!r}: torch {torch.__version__} cannot autocast to "
                f"{dtype} on {self.device}; use precision f32"
            )

    # -- description -----------------------------------------------------------------------

    def describe(self) -> ModelDescription:
        """Checkpoint, its sha256, whether scores are normalised, and the device facts."""
        target = self.module
        if target is None and self.inferencer is not None:
            target = getattr(self.inferencer, "model", None)
        normalized = outputs_normalized(target) if target is not None else None
        extra: dict[str, Any] = {
            "anomalib_model": self.anomalib_model,
            "anomalib_class": type(self.module).__name__ if self.module is not None else None,
            "checkpoint_format": _format_of(self.checkpoint_path),
            "loaded_with": self._allowed_by,
            "checkpoint_written_by": self._written_by,
        }
        post = getattr(target, "post_processor", None) if target is not None else None
        if post is not None and hasattr(post, "pixel_min"):
            extra["maps_normalized"] = bool(
                getattr(post, "enable_normalization", False)
                and _finite(post.pixel_min)
                and _finite(post.pixel_max)
            )
        runtime = runtime_version = None
        files: dict[str, str] = {}
        if self.module is not None:
            from pyimgano.environment import package_version

            runtime, runtime_version = "torch", package_version("torch")
        if self.checkpoint_path is not None and self.checkpoint_sha256 is not None:
            files = {self.checkpoint_path.name: self.checkpoint_sha256}
        return ModelDescription(
            checkpoint=None if self.checkpoint_path is None else os.fspath(self.checkpoint_path),
            checkpoint_sha256=self.checkpoint_sha256,
            outputs_normalized=normalized,
            device=self.device,
            gpu=self._facts["gpu"],
            cuda=self._facts["cuda"],
            threads=self._facts["threads"],
            runtime=runtime,
            runtime_version=runtime_version,
            execution_device=self.device if self.module is not None else None,
            precision=self.precision if self.module is not None else None,
            artifact_files=files,
            extra=extra,
        )


def _snake_name(class_name: str) -> str | None:
    """The registry's anomalib model name of an anomalib class name (``Padim`` -> ``padim``)."""
    from pyimgano.models.anomalib_zoo import anomalib_name

    return anomalib_name(class_name)


def _format_of(path: Path | None) -> str | None:
    if path is None:
        return None
    return "lightning" if path.suffix.lower() in LIGHTNING_SUFFIXES else "torch"


def _inference_mode_if_loaded() -> AbstractContextManager[Any]:
    """``torch.inference_mode()`` when torch is already imported, else nothing (fakes)."""
    torch = sys.modules.get("torch")
    return torch.inference_mode() if torch is not None else nullcontext()


__all__ = ["VisionAnomalibCheckpoint", "outputs_normalized", "split_batch_output"]
