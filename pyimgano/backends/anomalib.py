"""anomalib checkpoints as pyimgano detectors (SPEC §3).

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
  normalisation/threshold buffers. The model class comes from ``anomalib_model``. Models
  whose constructor takes ``pre_trained`` are rebuilt with ``pre_trained=False`` (anomalib
  itself would rebuild a ``pre_trained=True`` checkpoint by downloading ImageNet weights from
  the hub, only to overwrite them with the state_dict). A ``.ckpt`` in the anomalib >= 2.7
  layout is refused under an older anomalib, which would ignore those config entries and
  rebuild a default pre-processor (silently different scores) — see :func:`_check_release`;
- or an injected ``inferencer`` (an object with ``.predict(image)`` like anomalib's
  ``TorchInferencer``), used by tests with fakes.

Scores, maps and labels are the module's own forward output, ``pre_processor -> model ->
post_processor`` — the call ``TorchInferencer.predict`` makes — on images decoded by anomalib's
``read_image``. Every per-image output goes through :func:`pyimgano.outputs.to_prediction`.

This module imports torch and anomalib inside methods only, so ``import
pyimgano.backends.anomalib`` works without them.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
import warnings
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.backends.checkpoint import LIGHTNING_SUFFIXES, TORCH_SUFFIXES
from pyimgano.errors import CheckpointError, ConfigError, DatasetError, ModelOutputError
from pyimgano.models.base import Batch, Detector, ModelDescription
from pyimgano.outputs import Prediction, to_prediction

#: Output fields read from a batch prediction, in the order of :data:`pyimgano.outputs` keys.
_SCORE_FIELD = "pred_score"
_MAP_FIELD = "anomaly_map"
_LABEL_FIELD = "pred_label"


def _anomalib_class(anomalib_model: str) -> type:
    """The ``anomalib.models`` class of a snake-case model name (``"patchcore"`` -> Patchcore)."""
    from pyimgano.models.anomalib_entries import ANOMALIB_IMAGE_MODELS

    class_name = ANOMALIB_IMAGE_MODELS.get(anomalib_model)
    if class_name is None:
        raise ConfigError(
            f"unknown anomalib_model {anomalib_model!r}; expected one of "
            f"{', '.join(sorted(ANOMALIB_IMAGE_MODELS))}"
        )
    with _quiet_imports():
        import anomalib.models as models
    model_class = getattr(models, class_name, None)
    if model_class is None:
        import anomalib

        raise ConfigError(
            f"anomalib_model {anomalib_model!r}: anomalib {anomalib.__version__} has no model "
            f"class {class_name}"
        )
    return model_class


@contextmanager
def _quiet_imports() -> Iterator[None]:
    """Hide the Future/Deprecation warnings anomalib's imports print (timm, dinov2 shims)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


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
    array = _host(value)
    return bool(array.size > 0 and np.isfinite(array).all())


def _host(value: Any, dtype: Any = None) -> np.ndarray:
    """One tensor or array on the host as NumPy (one device-to-host copy at most)."""
    if hasattr(value, "detach"):
        value = value.detach()
        if dtype is not None and value.is_floating_point():
            import torch

            value = value.to("cpu", torch.float32)
        else:
            value = value.cpu()
        return value.numpy()
    return np.asarray(value)


def _get(output: Any, key: str) -> Any:
    """A field of a dict-like or object-like batch output, or None."""
    if isinstance(output, Mapping):
        return output.get(key)
    return getattr(output, key, None)


def _split(value: np.ndarray, *, field: str, names: Sequence[str]) -> list[np.ndarray]:
    """Per-image pieces of a batch field whose first axis is the batch."""
    n = len(names)
    if value.ndim == 0 and n == 1:
        return [value]
    if value.ndim == 0 or value.shape[0] != n:
        raise ModelOutputError(
            f"{names[0]}: {field} of shape {tuple(value.shape)} for a batch of {n} image(s) "
            f"({', '.join(names[:3])}{', ...' if n > 3 else ''}); expected the batch on axis 0"
        )
    return [value[k] for k in range(n)]


def split_batch_output(output: Any, names: Sequence[str]) -> list[Prediction]:
    """Split one batch output (InferenceBatch/ImageBatch, dict- or object-like) per image.

    ``pred_score`` may be (B,) or (B, 1), ``anomaly_map`` (B, H, W) or (B, 1, H, W),
    ``pred_label`` (B,) or (B, 1). Each image's pieces go through
    :func:`pyimgano.outputs.to_prediction` with its name.
    """
    pieces: dict[str, list[np.ndarray]] = {}
    for key, dtype in ((_SCORE_FIELD, None), (_MAP_FIELD, np.float32), (_LABEL_FIELD, None)):
        raw = _get(output, key)
        if raw is not None:
            pieces[key] = _split(_host(raw, dtype), field=key, names=names)
    predictions = []
    for k, name in enumerate(names):
        per_image = {key: values[k] for key, values in pieces.items()}
        predictions.append(to_prediction(per_image, image=name))
    return predictions


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
    ) -> None:
        if isinstance(decode_workers, bool) or not isinstance(decode_workers, int):
            raise ConfigError(f"decode_workers={decode_workers!r}: expected an integer >= 0")
        if decode_workers < 0:
            raise ConfigError(f"decode_workers={decode_workers!r}: expected an integer >= 0")
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
        self.trust_checkpoint = bool(trust_checkpoint)
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

    # -- loading ---------------------------------------------------------------------------

    def _load(self, pin: str | None) -> None:
        from pyimgano.backends.checkpoint import load_checkpoint
        from pyimgano.backends.device import device_facts, resolve_device

        started = time.perf_counter()
        assert self.checkpoint_path is not None
        path = self.checkpoint_path
        suffix = path.suffix.lower()
        model_class = None
        if self.anomalib_model is not None:
            model_class = _anomalib_class(self.anomalib_model)
        elif suffix in LIGHTNING_SUFFIXES:
            raise ConfigError(
                f"{path}: a Lightning .ckpt holds no model class: use the "
                "vision_<name>_anomalib model (e.g. vision_patchcore_anomalib) or pass "
                'anomalib_model (e.g. --model-kwargs \'{"anomalib_model": "patchcore"}\')'
            )
        device = resolve_device(self.device_spec)

        loader = None
        if suffix in LIGHTNING_SUFFIXES and model_class is not None:
            # The class is rebuilt from hyper_parameters before the state_dict overwrites every
            # weight (strict loading); pre_trained=True there would make timm download ImageNet
            # weights first (a network call, and a failure offline). Lightning lets keyword
            # arguments override saved hyper-parameters.
            overrides = {}
            if "pre_trained" in inspect.signature(model_class.__init__).parameters:
                overrides["pre_trained"] = False

            def loader(stream: Any, weights_only: bool) -> Any:
                try:
                    return model_class.load_from_checkpoint(
                        stream, map_location=device, weights_only=weights_only, **overrides
                    )
                except RuntimeError as exc:
                    if "state_dict" not in str(exc):
                        raise
                    detail = " ".join(line.strip() for line in str(exc).splitlines()[1:2])
                    raise CheckpointError(
                        f"{path}: its weights do not fit anomalib {model_class.__name__} "
                        f"(anomalib_model={self.anomalib_model!r}); is it a checkpoint of another "
                        f"model? {detail[:300]}"
                    ) from None

        with _quiet_imports():
            loaded = load_checkpoint(
                path,
                map_location=device,
                sha256=pin,
                trust=self.trust_checkpoint,
                lightning_loader=loader,
                check_contents=_check_release,
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
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(f"{path}: cannot move the model to {device}: {first}") from None
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

        With a checkpoint, images are decoded ahead by ``decode_workers`` threads with
        anomalib's ``read_image``, grouped into batches of one image size (order kept within a
        size), and each batch is inferred once under ``torch.inference_mode()`` on the device.
        ``Batch.seconds`` covers host-to-device transfer, the forward pass and bringing the
        outputs back (CUDA synchronised). With an injected inferencer, consecutive images form
        the batches and ``seconds`` is the sum of its ``predict`` calls.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r}: expected an integer >= 1")
        paths = list(image_paths)
        if self.inferencer is not None:
            return self._predict_injected(paths, batch_size)
        return self._predict_checkpoint(paths, batch_size)

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

    def _decoded(self, paths: list[Any], window: int) -> Iterator[tuple[int, Any]]:
        """``(index, CHW float tensor)`` in input order, decoded up to ``window`` images ahead."""
        import anomalib.data.utils as data_utils

        read_image = data_utils.read_image

        def decode(path: Any) -> Any:
            try:
                return read_image(path, as_tensor=True)
            except Exception as exc:  # noqa: BLE001 - PIL/OS errors become one line
                raise DatasetError(f"{path}: cannot decode image ({exc})") from None

        if self.decode_workers == 0:
            for index, path in enumerate(paths):
                yield index, decode(path)
            return
        pool = ThreadPoolExecutor(
            self.decode_workers,
            thread_name_prefix="pyimgano-decode",
            initializer=single_threaded_torch,
        )
        pending: deque[tuple[int, Future[Any]]] = deque()
        todo = iter(enumerate(paths))
        try:
            for index, path in todo:
                pending.append((index, pool.submit(decode, path)))
                if len(pending) >= window:
                    break
            while pending:
                index, future = pending.popleft()
                for next_index, path in todo:
                    pending.append((next_index, pool.submit(decode, path)))
                    break
                yield index, future.result()
        finally:
            for _, future in pending:
                future.cancel()
            pool.shutdown(wait=True)

    def _predict_checkpoint(self, paths: list[Any], batch_size: int) -> Iterator[Batch]:
        window = batch_size + 2 * max(self.decode_workers, 1)
        groups: dict[tuple[int, ...], list[tuple[int, Any]]] = {}
        for index, image in self._decoded(paths, window):
            group = groups.setdefault(tuple(image.shape), [])
            group.append((index, image))
            if len(group) == batch_size:
                yield self._infer(groups.pop(tuple(image.shape)), paths)
        for group in groups.values():
            yield self._infer(group, paths)

    def _infer(self, items: list[tuple[int, Any]], paths: list[Any]) -> Batch:
        import torch

        from pyimgano.backends.device import synchronize

        indices = tuple(index for index, _ in items)
        names = [str(paths[index]) for index in indices]
        with torch.inference_mode():
            stacked = torch.stack([image for _, image in items])
            items.clear()
            synchronize(self.device)
            began = time.perf_counter()
            output = self.module(stacked.to(self.device))
            fields = {}
            for key in (_SCORE_FIELD, _MAP_FIELD, _LABEL_FIELD):
                raw = _get(output, key)
                if raw is not None:
                    fields[key] = _host(raw, np.float32 if key == _MAP_FIELD else None)
            synchronize(self.device)
            seconds = time.perf_counter() - began
        return Batch(
            indices=indices,
            predictions=tuple(split_batch_output(fields, names)),
            seconds=seconds,
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
        return ModelDescription(
            checkpoint=None if self.checkpoint_path is None else os.fspath(self.checkpoint_path),
            checkpoint_sha256=self.checkpoint_sha256,
            outputs_normalized=normalized,
            device=self.device,
            gpu=self._facts["gpu"],
            cuda=self._facts["cuda"],
            threads=self._facts["threads"],
            extra=extra,
        )


def _restores_component_config() -> bool:
    """Whether the installed anomalib reads the plain-data component config of a >= 2.7 .ckpt."""
    with _quiet_imports():
        from anomalib.pre_processing import PreProcessor
    return callable(getattr(PreProcessor, "load_checkpoint_config", None))


def _check_release(ckpt: Any, contents: Any) -> None:
    """Refuse a Lightning checkpoint whose layout the installed anomalib would misread.

    anomalib 2.7 saves the pre-/post-processor as plain data (``anomalib_pre_processor_config``
    …) instead of pickling them into ``hyper_parameters``. An older anomalib loads such a file
    without complaint but ignores those entries: it rebuilds a *default* pre-processor (resize
    and normalisation) and default post-processor switches. PaDiM then fails in its first forward
    pass (a shape mismatch) and PatchCore scores images at the wrong size — both far from the
    load. Called by :func:`~pyimgano.backends.checkpoint.load_checkpoint` before unpickling.
    """
    from pyimgano.backends.checkpoint import (
        COMPONENT_CONFIG_LAYOUT,
        installed_anomalib,
        written_by,
    )

    if contents.layout != COMPONENT_CONFIG_LAYOUT or _restores_component_config():
        return
    writer = written_by(ckpt) or "anomalib >= 2.7"
    installed = installed_anomalib()
    raise CheckpointError(
        f"{ckpt.name}: this {contents.describe(ckpt.suffix)} was written by {writer}, and "
        f"the installed {installed} cannot read that layout (it would ignore the saved "
        "anomalib_pre_processor_config / anomalib_post_processor_config and rebuild default ones, "
        "so the scores would not be the trained model's): evaluate the exported model (.pt) of "
        f"the same training run under {installed}, or this .ckpt under anomalib >= 2.7"
    )


def _openmp_runtimes() -> list[Any]:
    """The OpenMP runtimes already loaded in this process (torch's first), as ctypes libraries.

    Only libraries already in memory are opened (``RTLD_NOLOAD``): loading a second OpenMP
    runtime could clash with the one in use. Platforms without ``RTLD_NOLOAD`` get none.
    """
    import ctypes
    import glob

    no_load = getattr(os, "RTLD_NOLOAD", None)
    if no_load is None:
        return []
    torch = sys.modules.get("torch")
    candidates: list[str] = []
    if torch is not None and getattr(torch, "__file__", None):
        lib = os.path.join(os.path.dirname(torch.__file__), "lib")
        for pattern in ("libgomp*", "libiomp*", "libomp*"):
            candidates += sorted(glob.glob(os.path.join(lib, pattern)))
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                name = os.path.basename(path)
                if name.startswith(("libgomp", "libiomp", "libomp")) and path not in candidates:
                    candidates.append(path)
    except OSError:  # not Linux
        pass
    runtimes = []
    for path in candidates:
        try:
            runtime = ctypes.CDLL(path, mode=no_load | os.RTLD_LAZY)
            runtime.omp_set_num_threads  # noqa: B018 - the symbol must exist
        except (OSError, AttributeError):
            continue
        runtimes.append(runtime)
    return runtimes


def single_threaded_torch() -> None:
    """Make torch's CPU operators run on the calling thread only (a worker-thread initializer).

    The decode threads call anomalib's ``read_image``, whose uint8 -> float32 conversion is a
    torch operator. With torch's default intra-op parallelism each such thread would start its
    own OpenMP team, whose spinning workers compete with the forward pass's team for the cores
    (measured on a 2-core CPU, demo categories: decode + forward took 1.095x the serial floor
    without this, 1.02-1.08x with it; see BENCHMARKS.md). OpenMP's
    ``omp_set_num_threads`` sets a per-thread setting, so calling it here changes only this
    thread: the forward pass and every other thread keep torch's thread count. Results are
    unchanged (element-wise operators). Does nothing when torch is not imported or no OpenMP
    runtime is found.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    # torch sets each thread's OpenMP thread count lazily on its first parallel operator, to
    # the process default; trigger that first so that the setting below is not overwritten.
    if torch.get_num_threads() <= 1:
        return
    global _OPENMP_RUNTIMES
    if _OPENMP_RUNTIMES is None:
        _OPENMP_RUNTIMES = _openmp_runtimes()
    for runtime in _OPENMP_RUNTIMES:
        runtime.omp_set_num_threads(1)


_OPENMP_RUNTIMES: list[Any] | None = None


def _snake_name(class_name: str) -> str | None:
    """The registry's anomalib model name of an anomalib class name (``Padim`` -> ``padim``)."""
    from pyimgano.models.anomalib_entries import ANOMALIB_IMAGE_MODELS

    return next((k for k, v in ANOMALIB_IMAGE_MODELS.items() if v == class_name), None)


def _format_of(path: Path | None) -> str | None:
    if path is None:
        return None
    return "lightning" if path.suffix.lower() in LIGHTNING_SUFFIXES else "torch"


def _inference_mode_if_loaded() -> AbstractContextManager[Any]:
    """``torch.inference_mode()`` when torch is already imported, else nothing (fakes)."""
    torch = sys.modules.get("torch")
    return torch.inference_mode() if torch is not None else nullcontext()


__all__ = ["VisionAnomalibCheckpoint", "outputs_normalized", "split_batch_output"]
