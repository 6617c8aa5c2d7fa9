"""One-line diagnostics of a torch checkpoint that failed to deserialise.

:func:`describe_load_error` turns whatever ``torch.load`` / ``load_from_checkpoint`` raised into
one :class:`~pyimgano.errors.CheckpointError` naming the file, its format, the installed anomalib
and, where known, the release that wrote it (:mod:`pyimgano.backends.releases`), with the fix.
"""

from __future__ import annotations

import re

from pyimgano.backends.ckpt_files import TORCH_SUFFIXES, CheckpointBytes
from pyimgano.backends.pickle_scan import UNKNOWN_CONTENTS, Contents
from pyimgano.backends.releases import installed_anomalib, written_by
from pyimgano.errors import CheckpointError, first_line

#: An AttributeError raised while rebuilding a pickled object's state (not a missing class).
_OBJECT_ATTRIBUTE = re.compile(r"^'(\w+)' object has no attribute '(\w+)'")


def describe_load_error(
    ckpt: CheckpointBytes, exc: BaseException, contents: Contents | None = None
) -> CheckpointError:
    """A one-line CheckpointError for an exception raised while deserialising ``ckpt``."""
    first = first_line(exc)
    if isinstance(exc, ModuleNotFoundError | AttributeError | ImportError):
        installed = installed_anomalib()
        writer = written_by(ckpt)
        fix = (
            "re-export it (Engine.export(export_type=TORCH)) under the installed release"
            if ckpt.suffix in TORCH_SUFFIXES
            else "retrain or re-save it under the installed release"
        )
        kind = (contents or Contents(UNKNOWN_CONTENTS)).describe(ckpt.suffix)
        cause = (
            f"cannot load this {kind} with the installed {installed}: the checkpoint refers to "
            f"code that cannot be imported ({type(exc).__name__}: {first})"
        )
        missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
        if missing and missing.split(".")[0] not in ("anomalib", "torch", "lightning", "pyimgano"):
            return CheckpointError(
                f"{ckpt.name}: loading this {kind} needs the Python package "
                f"{missing.split('.')[0]!r}, which is not installed ({type(exc).__name__}: "
                f"{first}): install it beside {installed}"
            )
        state = _OBJECT_ATTRIBUTE.match(first) if isinstance(exc, AttributeError) else None
        if state is not None:
            other = (
                "the Lightning .ckpt of the same training run"
                if ckpt.suffix in TORCH_SUFFIXES
                else "the exported model (.pt) of the same training run"
            )
            origin = (
                f"; {writer} wrote it (manifest.json)"
                if writer and writer != installed
                else " (the installed release wrote it, manifest.json)"
                if writer
                else ""
            )
            return CheckpointError(
                f"{ckpt.name}: cannot unpickle this {kind} with the installed {installed}: "
                f"rebuilding a pickled {state.group(1)} object failed ({type(exc).__name__}: "
                f"{first}): the file refers to an attribute {state.group(2)!r} that the "
                f"installed class does not have{origin}; evaluate {other} instead"
            )
        if writer == installed:
            other = (
                "the Lightning .ckpt of the same training run"
                if ckpt.suffix in TORCH_SUFFIXES
                else "the exported model (.pt) of the same training run"
            )
            return CheckpointError(
                f"{ckpt.name}: {cause}, although the installed release wrote it "
                "(manifest.json): not a version mismatch, this anomalib cannot read back what it "
                f"saved for this model (an anomalib bug); evaluate {other} instead"
            )
        if writer:
            return CheckpointError(
                f"{ckpt.name}: {cause}; it was saved with another anomalib version (it was "
                f"written by {writer} (manifest.json)): evaluate it under {writer}, or {fix}"
            )
        return CheckpointError(
            f"{ckpt.name}: {cause}; the file does not record which release wrote it: if another "
            f"anomalib version saved it, evaluate it under that release, or {fix}"
        )
    if isinstance(exc, EOFError) or "zip archive" in first or "PytorchStreamReader" in first:
        return CheckpointError(
            f"{ckpt.name}: truncated or corrupt checkpoint ({type(exc).__name__}: {first}); "
            "re-copy or re-export the file"
        )
    return CheckpointError(f"{ckpt.name}: cannot load checkpoint ({type(exc).__name__}: {first})")


def unsupported_global(exc: BaseException) -> str:
    """The 'Unsupported global: GLOBAL x.y' phrase of a weights_only failure, if any."""
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
    return f"it pickles {match.group(1)}" if match else "it pickles objects other than tensors"


__all__ = ["describe_load_error", "unsupported_global"]
