"""Rebuilding an anomalib model from a Lightning ``.ckpt`` as it was trained (docs/REFERENCE.md §3).

The model class comes from ``anomalib_model`` (:func:`anomalib_class`) and is rebuilt with its own
``load_from_checkpoint`` (:func:`lightning_loader`): from the checkpoint's ``hyper_parameters``,
with the checkpoint's own saved pre-processor (so a model trained at a non-default input size is
rebuilt at that size; anomalib's plain ``load_from_checkpoint`` rebuilds it at the default size),
offline (:mod:`pyimgano.backends.offline`: ``pre_trained=False`` where the constructor takes it,
pretrained-weight downloads skipped, any other download refused; the state_dict restores every
weight). A state_dict that does not fit gets a message saying what differs.

torch and anomalib are imported inside the functions only.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyimgano.backends.ckpt_files import CheckpointBytes
from pyimgano.backends.plain_entries import read_plain_entries
from pyimgano.backends.releases import quiet_imports
from pyimgano.errors import CheckpointError, ConfigError, first_line


def anomalib_class(anomalib_model: str) -> type:
    """The ``anomalib.models`` class of a snake-case model name (``"patchcore"`` -> Patchcore)."""
    from pyimgano.models.anomalib_zoo import ANOMALIB_IMAGE_MODELS

    class_name = ANOMALIB_IMAGE_MODELS.get(anomalib_model)
    if class_name is None:
        raise ConfigError(
            f"unknown anomalib_model {anomalib_model!r}; expected one of "
            f"{', '.join(sorted(ANOMALIB_IMAGE_MODELS))}"
        )
    with quiet_imports():
        import anomalib.models as models
    model_class = getattr(models, class_name, None)
    if model_class is None:
        import anomalib

        raise ConfigError(
            f"anomalib_model {anomalib_model!r}: anomalib {anomalib.__version__} has no model "
            f"class {class_name}"
        )
    return model_class


#: Constructor parameters naming a training-only augmentation source (DRAEM's and GLASS's DTD
#: textures): anomalib downloads the dataset when the saved path does not exist.
_AUGMENTATION_DIRS = ("dtd_dir", "anomaly_source_path")

#: Entries of a Lightning checkpoint read as plain data before the model is built.
_PLAIN_ENTRIES = ("anomalib_pre_processor_config", "hyper_parameters")


def saved_pre_processor(model_class: type, path: Path, config: Any) -> Any:
    """The model class's pre-processor with the checkpoint's saved transform, or None.

    anomalib's ``load_from_checkpoint`` builds the model with a *default* pre-processor and
    restores the saved transform only afterwards (``on_load_checkpoint``), but several models
    size their layers from the pre-processor's input size at construction (FastFlow, GANomaly,
    GeneralAD: "size mismatch"; ReverseDistillation, PatchFlow: silently other scores). Passing
    the saved one to the constructor rebuilds the model as trained.
    """
    if not isinstance(config, Mapping) or config.get("transform") is None:
        return None
    try:
        pre_processor = model_class.configure_pre_processor()
        if not callable(getattr(pre_processor, "load_checkpoint_config", None)):
            return None
        pre_processor.load_checkpoint_config(dict(config))
    except Exception as exc:  # noqa: BLE001 - a saved spec this anomalib cannot rebuild
        first = first_line(exc)
        raise CheckpointError(
            f"{path}: cannot rebuild the pre-processor saved in anomalib_pre_processor_config "
            f"with {model_class.__name__}.configure_pre_processor ({type(exc).__name__}: "
            f"{first[:200]})"
        ) from None
    return pre_processor


def _input_size(pre_processor: Any) -> str:
    """``"HxW"`` the pre-processor resizes to, or ``"the default size"``."""
    try:
        import torch

        size = tuple(pre_processor.transform(torch.zeros(1, 3, 1, 1)).shape[-2:])
    except Exception:  # noqa: BLE001 - only for a message
        return "the default size"
    return "the default size" if size == (1, 1) else f"{size[0]}x{size[1]}"


def lightning_loader(
    path: Path, model_class: type, anomalib_model: str | None, device: str
) -> Any:
    """``loader(stream, weights_only)`` rebuilding ``model_class`` from a ``.ckpt`` as trained.

    - The pre-processor saved in the checkpoint is passed to the constructor
      (:func:`saved_pre_processor`), so the model is sized for the input it was trained on.
    - The model is built offline (:func:`pyimgano.backends.offline.offline_construction`):
      ``pre_trained=False`` where the constructor takes it, pretrained-weight loads skipped
      (the strict state_dict load restores every weight), any other download refused with a
      CheckpointError naming the model, the file and the ``.pt`` alternative.
    - A training-only augmentation directory (``dtd_dir``) whose saved path does not exist
      is replaced by an empty temporary one (anomalib would download DTD into it).
    - A state_dict that does not fit gets a message saying what differs.
    """
    accepted = inspect.signature(model_class.__init__).parameters
    name = model_class.__name__

    def load(stream: Any, weights_only: bool) -> Any:
        import tempfile

        from pyimgano.backends.offline import NetworkRequested, offline_construction

        entries = read_plain_entries(
            CheckpointBytes(path=path, data=stream.getvalue(), sha256=""), _PLAIN_ENTRIES
        )
        overrides: dict[str, Any] = {}
        if "pre_trained" in accepted:
            overrides["pre_trained"] = False
        pre_processor = saved_pre_processor(
            model_class, path, entries.get("anomalib_pre_processor_config")
        )
        if pre_processor is not None:
            overrides["pre_processor"] = pre_processor
        saved = entries.get("hyper_parameters") or {}
        with tempfile.TemporaryDirectory(prefix="pyimgano-empty-") as empty:
            for key in _AUGMENTATION_DIRS:
                if key in accepted and not (isinstance(saved.get(key), str)
                                            and os.path.isdir(saved[key])):
                    overrides[key] = empty
            try:
                with offline_construction():
                    return model_class.load_from_checkpoint(
                        stream, map_location=device, weights_only=weights_only, **overrides
                    )
            except NetworkRequested as exc:
                raise CheckpointError(
                    f"{path}: anomalib {name} (anomalib_model={anomalib_model!r}) asks for a "
                    f"file from the network while it is rebuilt from this .ckpt "
                    f"({exc.what}); pyimgano loads checkpoints offline and this file is not "
                    "in the checkpoint: evaluate the exported model (.pt) of the same "
                    "training run instead, which holds the whole module"
                ) from None
            except RuntimeError as exc:
                if "state_dict" not in str(exc):
                    raise
                raise state_dict_error(path, name, anomalib_model, pre_processor, exc) from None

    return load


def state_dict_error(
    path: Path, name: str, anomalib_model: str | None, pre_processor: Any, exc: BaseException
) -> CheckpointError:
    """What does not fit when a ``.ckpt``'s state_dict cannot be loaded into the rebuilt model."""
    text = str(exc)
    detail = " ".join(line.strip() for line in text.splitlines()[1:2])[:300]
    if "size mismatch" in text and "Missing key" not in text and "Unexpected key" not in text:
        size = _input_size(pre_processor) if pre_processor is not None else "the default size"
        return CheckpointError(
            f"{path}: its weights have other shapes than anomalib {name} rebuilt from the "
            f"checkpoint's hyper_parameters at input size {size} "
            f"(anomalib_model={anomalib_model!r}): {detail}"
        )
    return CheckpointError(
        f"{path}: its weights do not fit anomalib {name} (anomalib_model={anomalib_model!r}): "
        f"the parameter names differ, is it a checkpoint of another model? {detail}"
    )


__all__ = ["anomalib_class", "lightning_loader", "saved_pre_processor", "state_dict_error"]
