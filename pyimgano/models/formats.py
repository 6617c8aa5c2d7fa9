"""Checkpoint formats: file suffix -> runtime backend (docs/REFERENCE.md §3 "the format is chosen
by the file
suffix").

:data:`FORMATS` is the one table. The registry's anomalib entries (``vision_anomalib_checkpoint``,
``vision_<name>_anomalib``) use :func:`open_checkpoint` as their factory, which picks the
backend class from the checkpoint's suffix; its signature is the union of the backend classes'
keyword arguments, so the kwargs rules of :mod:`pyimgano.models.kwargs` (unknown keys refused)
see every backend's parameters; defaults such as ``device``, ``precision``, ``cache_dir`` are
injected only where the backend of the checkpoint's format takes them
(:meth:`_OpenCheckpoint.keywords_for`), and a key that backend does not take is refused with the
format named. Adding a runtime is one new module with a
:class:`~pyimgano.models.base.Detector` class plus one row here.

Nothing heavy is imported: the backend modules import their runtime when a model is loaded.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyimgano.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from pyimgano.models.base import Detector


@dataclass(frozen=True)
class Format:
    """One checkpoint format.

    Attributes
    ----------
    name : str
        ``torch``, ``lightning``, ``onnx``, ``openvino`` (the report's ``checkpoint_format``).
    suffixes : tuple of str
        Lower-case file suffixes that select it.
    backend : str
        ``"module:Class"`` of the detector class (imported lazily).
    runtime : str
        The package that runs it.
    description : str
    noun : str
        What it is in a few words, as messages list it ("an ONNX export").
    """

    name: str
    suffixes: tuple[str, ...]
    backend: str
    runtime: str
    description: str
    noun: str

    def resolve(self) -> type[Detector]:
        module_name, _, attribute = self.backend.partition(":")
        return getattr(importlib.import_module(module_name), attribute)


_TORCH_BACKEND = "pyimgano.backends.anomalib:VisionAnomalibCheckpoint"

#: Every checkpoint format pyimgano reads, in the order they are listed to users.
FORMATS: tuple[Format, ...] = (
    Format("torch", (".pt", ".pth"), _TORCH_BACKEND, "torch",
           "anomalib's exported torch model (Engine.export(export_type=TORCH))",
           "anomalib's exported torch model"),
    Format("lightning", (".ckpt",), _TORCH_BACKEND, "torch", "a Lightning checkpoint",
           "a Lightning checkpoint"),
    Format("onnx", (".onnx",), "pyimgano.backends.onnx:OnnxCheckpoint", "onnxruntime",
           "an ONNX graph (Engine.export(export_type=ONNX), with its .onnx.data)",
           "an ONNX export"),
    Format("openvino", (".xml",), "pyimgano.backends.openvino:OpenVINOCheckpoint", "openvino",
           "OpenVINO IR (Engine.export(export_type=OPENVINO): .xml + .bin)",
           "an OpenVINO IR"),
)

#: All suffixes, in table order (the registry metadata ``formats``).
SUFFIXES: tuple[str, ...] = tuple(s for f in FORMATS for s in f.suffixes)


def format_of(path: str | os.PathLike[str]) -> Format:
    """The :class:`Format` of a checkpoint path, from its suffix.

    Raises :class:`CheckpointError` naming the file and the supported formats otherwise (the
    one "unsupported checkpoint type" message, listed from :data:`FORMATS`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    for fmt in FORMATS:
        if suffix in fmt.suffixes:
            return fmt
    listed = [f"{fmt.noun} ({'/'.join(fmt.suffixes)})" for fmt in FORMATS]
    raise CheckpointError(
        f"{path}: unsupported checkpoint type {path.suffix or '(no extension)'!r}; pyimgano "
        f"reads {', '.join(listed[:-1])} or {listed[-1]}"
    )


def check_checkpoint_input(
    path: str | os.PathLike[str], *, sha256: str | None = None, role: str = "checkpoint"
) -> None:
    """Input checks of a checkpoint of any format, before any runtime is imported.

    The format is chosen by the suffix (:func:`format_of`); its backend's ``check_file`` then
    checks that the file (and an artifact's companion files) exist and are not empty, and, with
    a pin, that their sha256 matches it (hashing streams the files; torch, anomalib and the
    runtimes are not imported). ``role`` (``"checkpoint"`` or ``"reference"``) picks the option
    a mismatch message says to re-pin with. The backends check the pin again on what they load.

    Raises
    ------
    CheckpointError
        Missing, empty or unsupported file, missing companion file, pin mismatch.
    ConfigError
        A malformed pin.
    """
    format_of(path).resolve().check_file(path, sha256=sha256, role=role)


@functools.lru_cache(maxsize=1)
def _union_signature() -> inspect.Signature:
    """Keyword parameters of every backend class (first occurrence wins), ``checkpoint_path``
    first."""
    parameters: dict[str, inspect.Parameter] = {}
    for fmt in FORMATS:
        for name, parameter in inspect.signature(fmt.resolve().__init__).parameters.items():
            if name == "self" or parameter.kind in (
                inspect.Parameter.VAR_POSITIONAL,
                inspect.Parameter.VAR_KEYWORD,
            ):
                continue
            kind = (
                inspect.Parameter.POSITIONAL_OR_KEYWORD
                if name == "checkpoint_path"
                else inspect.Parameter.KEYWORD_ONLY
            )
            parameters.setdefault(name, parameter.replace(kind=kind))
    ordered = sorted(parameters.values(), key=lambda p: p.kind)
    return inspect.Signature(ordered, return_annotation="Detector")


#: Why a backend that lacks a key another backend takes refuses it (added to the message).
_WHY_REFUSED = {
    "cache_dir": "cache_dir is OpenVINO's compiled-model cache; onnxruntime and torch keep no "
    "cache, so it would change nothing",
}


def _keywords(backend: type) -> list[str]:
    return [k for k in inspect.signature(backend.__init__).parameters if k != "self"]


class _OpenCheckpoint:
    """The factory of the registry's anomalib entries (see :data:`open_checkpoint`)."""

    __name__ = "open_checkpoint"
    __qualname__ = "open_checkpoint"

    def keywords_for(self, checkpoint_path: str | os.PathLike[str] | None) -> list[str]:
        """The keyword arguments the backend of ``checkpoint_path`` takes (the torch backend's
        without a checkpoint; every backend's for a suffix no format has, which the call then
        refuses). Default injection (:func:`pyimgano.models.kwargs.resolve_model_kwargs`) gives
        a default such as the plugin's ``cache_dir`` only to a backend that takes it."""
        try:
            fmt = FORMATS[0] if checkpoint_path is None else format_of(checkpoint_path)
        except CheckpointError:
            return list(_union_signature().parameters)
        return _keywords(fmt.resolve())

    def __call__(
        self, checkpoint_path: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> Detector:
        """Create the detector for ``checkpoint_path``, the backend chosen by its suffix.

        Without a checkpoint (an injected ``inferencer``) the torch backend is used. A keyword
        the chosen backend does not take is a :class:`ConfigError` naming it and the format.
        """
        fmt = FORMATS[0] if checkpoint_path is None else format_of(checkpoint_path)
        backend = fmt.resolve()
        accepted = _keywords(backend)
        refused = sorted(key for key in kwargs if key not in accepted)
        if refused:
            why = "".join(f"; {_WHY_REFUSED[key]}" for key in refused if key in _WHY_REFUSED)
            raise ConfigError(
                f"{checkpoint_path}: {', '.join(map(repr, refused))} not accepted for "
                f"{fmt.name} checkpoints ({'/'.join(fmt.suffixes)}){why}; accepted keys: "
                f"{', '.join(accepted)}"
            )
        return backend(checkpoint_path, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        """The union of the backends' keyword parameters (computed when first asked)."""
        return _union_signature()


#: ``open_checkpoint(checkpoint_path=None, **kwargs) -> Detector``: the backend chosen by the
#: suffix. ``inspect.signature(open_checkpoint)`` is the union of the backend classes' keyword
#: parameters, so that kwargs validation and default injection see every backend's keys.
open_checkpoint = _OpenCheckpoint()


__all__ = [
    "FORMATS",
    "SUFFIXES",
    "Format",
    "check_checkpoint_input",
    "format_of",
    "open_checkpoint",
]
