"""Checkpoint trust and loading (docs/REFERENCE.md §3, §7 "Checkpoint trust").

The rules, for the CLI and the plugin alike:

- A checkpoint file is read **once**; its sha256 is computed from those bytes, and those same
  bytes are what gets deserialised (``torch.load(io.BytesIO(data))``) — the file is never
  reopened, so what was hashed is what is loaded.
- A pin, when given, is checked first, for every format, before the contents are even looked
  at: a mismatch is refused whatever the format and whatever trust says. Loading safely
  (``weights_only``) never skips a given pin.
- A torch ``.pt``/``.pth`` (anomalib's ``Engine.export(export_type=TORCH)``: a pickled
  ``{"model": AnomalibModule}``) is unpickled only when its sha256 equals the given pin or the
  caller trusts it (``--trust-checkpoint`` / ``--pyimgano-trust-checkpoints``). A pin that does
  not match is refused — also together with trust, since a pin is an explicit statement about
  the file — before any unpickling happens.
- A Lightning ``.ckpt`` is loaded with ``weights_only=True`` (torch's restricted unpickler, which
  only rebuilds tensors, containers and allow-listed types) and needs neither pin nor trust. If it
  cannot be loaded that way (it pickles other objects), the pin/trust rule above applies before
  it is loaded with ``weights_only=False``.
- Tensors are mapped to the target device while loading (``map_location``), so a checkpoint
  saved on a GPU loads on a CPU-only machine.
- pyimgano never reads or sets anomalib's ``TRUST_REMOTE_CODE`` environment switch: it does not
  call anomalib's ``TorchInferencer`` loader but verifies and loads the bytes itself.

Before anything is unpickled, the bytes are checked for a torch container and the pickle is
parsed without running it (:mod:`pyimgano.backends.pickle_scan`), so a file with the wrong
extension gets a message with the fix instead of a trust prompt or a traceback. Load failures
are one line naming the format, the installed anomalib release and, where known, the writing
release (:mod:`pyimgano.backends.load_errors`, :mod:`pyimgano.backends.releases`).

Every failure is a :class:`~pyimgano.errors.CheckpointError` naming the file.

This module is the loading procedure (:func:`load_checkpoint`); the steps it runs live one job per
module, and their public names are re-exported here (the import path of earlier releases)::

    ckpt_files.py     suffixes, CheckpointBytes, check_checkpoint(_file), read_checkpoint
    trust.py          normalize_pin, verify_pin, pin_hint, PIN_OPTIONS, check_trust, TRUST_HINT
    pickle_scan.py    Contents, sniff_contents, the content kinds and .ckpt layouts
    plain_entries.py  read_plain_entries (restricted unpickler)
    releases.py       MANIFEST_NAME, written_by, installed_anomalib
    load_errors.py    describe_load_error
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyimgano.backends.ckpt_files import (
    LIGHTNING_SUFFIXES,
    SUPPORTED_SUFFIXES,
    TORCH_SUFFIXES,
    CheckpointBytes,
    check_checkpoint,
    check_checkpoint_file,
    read_checkpoint,
)
from pyimgano.backends.load_errors import describe_load_error, unsupported_global
from pyimgano.backends.pickle_scan import (
    COMPONENT_CONFIG_LAYOUT,
    EXPORTED_MODEL,
    LIGHTNING_CHECKPOINT,
    PICKLED_COMPONENTS_LAYOUT,
    UNKNOWN_CONTENTS,
    Contents,
    sniff_contents,
)
from pyimgano.backends.plain_entries import read_plain_entries
from pyimgano.backends.releases import MANIFEST_NAME, installed_anomalib, written_by
from pyimgano.backends.trust import (
    _HEX64,  # noqa: F401 - the suite parser imports it here
    PIN_OPTIONS,
    TRUST_HINT,
    check_trust,
    normalize_pin,
    pin_hint,
    verify_pin,
)
from pyimgano.errors import CheckpointError


@dataclass
class LoadedCheckpoint:
    """The result of :func:`load_checkpoint`.

    Attributes
    ----------
    path : Path
    sha256 : str
    payload : Any
        What the loader returned (for an exported model the ``{"model": ...}`` dict; for a
        Lightning checkpoint whatever the ``lightning_loader`` built).
    allowed_by : str
        ``"weights_only"`` (restricted unpickler, no trust needed), ``"pin"`` or ``"trust"``.
    contents : Contents
    written_by : str or None
        The anomalib release that wrote the file, where known (:func:`written_by`).
    """

    path: Path
    sha256: str
    payload: Any
    allowed_by: str
    contents: Contents
    written_by: str | None = None


def _torch_load(map_location: str) -> Callable[[io.BytesIO, bool], Any]:
    def load(stream: io.BytesIO, weights_only: bool) -> Any:
        import torch

        return torch.load(stream, map_location=map_location, weights_only=weights_only)

    return load


def load_checkpoint(
    path: str | os.PathLike[str] | CheckpointBytes,
    *,
    map_location: str = "cpu",
    sha256: str | None = None,
    trust: bool = False,
    lightning_loader: Callable[[io.BytesIO, bool], Any] | None = None,
    check_contents: Callable[[CheckpointBytes, Contents], None] | None = None,
) -> LoadedCheckpoint:
    """Read, verify and deserialise a checkpoint per the trust rules of this module.

    Parameters
    ----------
    path : path or CheckpointBytes
        ``.pt``/``.pth`` (exported torch model) or ``.ckpt`` (Lightning checkpoint), or its
        bytes already read by :func:`read_checkpoint` (the bytes that were hashed are loaded).
    map_location : str, default "cpu"
        Device the tensors are loaded onto.
    sha256 : str, optional
        Pin: the expected hex sha256 of the file. Checked first, for both formats, before the
        contents are looked at (a ``.ckpt`` that loads ``weights_only`` is still refused when it
        does not match).
    trust : bool, default False
        Allow unpickling without a pin.
    lightning_loader : callable, optional
        ``loader(stream, weights_only)`` used for ``.ckpt`` files (the anomalib backend passes
        the model class's ``load_from_checkpoint``); defaults to ``torch.load``.
    check_contents : callable, optional
        ``check(ckpt, contents)``, called after the file is read and its contents told, before
        anything is unpickled; it raises :class:`CheckpointError` to refuse the file (the anomalib
        backend refuses a checkpoint layout the installed release would misread).

    Returns
    -------
    LoadedCheckpoint

    Raises
    ------
    CheckpointError
        Missing/unreadable/corrupt file, wrong extension for its contents, untrusted or
        mismatching pin, or a load failure; the message names the file.
    ConfigError
        A malformed pin.
    """
    ckpt = path if isinstance(path, CheckpointBytes) else read_checkpoint(path)
    verify_pin(ckpt.name, ckpt.sha256, sha256)  # every format, before anything else
    contents = sniff_contents(ckpt)
    writer = written_by(ckpt)

    if ckpt.suffix in TORCH_SUFFIXES:
        if contents.kind == LIGHTNING_CHECKPOINT:
            raise CheckpointError(
                f"{ckpt.name}: this is a Lightning checkpoint (it holds state_dict and "
                "pytorch-lightning_version), not an exported torch model: rename it to .ckpt and "
                "give anomalib_model (or use a vision_<name>_anomalib model)"
            )
        if check_contents is not None:
            check_contents(ckpt, contents)
        allowed_by = check_trust(
            ckpt, sha256=sha256, trust=trust, why="a .pt/.pth is a pickled Python object"
        )
        try:
            payload = _torch_load(map_location)(io.BytesIO(ckpt.data), False)
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear line
            raise describe_load_error(ckpt, exc, contents) from None
        return LoadedCheckpoint(ckpt.path, ckpt.sha256, payload, allowed_by, contents, writer)

    # .ckpt
    if contents.kind == EXPORTED_MODEL:
        raise CheckpointError(
            f"{ckpt.name}: this is an exported torch model (Engine.export(export_type=TORCH) of "
            f"{contents.model_class}), not a Lightning checkpoint: rename it to .pt"
        )
    if check_contents is not None:
        check_contents(ckpt, contents)
    loader = lightning_loader or _torch_load(map_location)
    try:
        payload = loader(io.BytesIO(ckpt.data), True)
        return LoadedCheckpoint(ckpt.path, ckpt.sha256, payload, "weights_only", contents, writer)
    except CheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise describe_load_error(ckpt, exc, contents) from None
        why = f"it cannot be loaded with weights_only=True: {unsupported_global(exc)}"
        if contents.layout == PICKLED_COMPONENTS_LAYOUT:
            why += (
                "; it is a Lightning checkpoint in the anomalib < 2.7 layout, whose "
                "hyper_parameters pickle the pre-processor object"
            )
    except Exception as exc:  # noqa: BLE001
        raise describe_load_error(ckpt, exc, contents) from None
    allowed_by = check_trust(ckpt, sha256=sha256, trust=trust, why=why)
    try:
        payload = loader(io.BytesIO(ckpt.data), False)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise describe_load_error(ckpt, exc, contents) from None
    return LoadedCheckpoint(ckpt.path, ckpt.sha256, payload, allowed_by, contents, writer)


__all__ = [
    "COMPONENT_CONFIG_LAYOUT",
    "EXPORTED_MODEL",
    "LIGHTNING_CHECKPOINT",
    "LIGHTNING_SUFFIXES",
    "MANIFEST_NAME",
    "PICKLED_COMPONENTS_LAYOUT",
    "PIN_OPTIONS",
    "SUPPORTED_SUFFIXES",
    "TORCH_SUFFIXES",
    "TRUST_HINT",
    "UNKNOWN_CONTENTS",
    "CheckpointBytes",
    "Contents",
    "LoadedCheckpoint",
    "check_checkpoint",
    "check_checkpoint_file",
    "check_trust",
    "installed_anomalib",
    "load_checkpoint",
    "normalize_pin",
    "pin_hint",
    "read_checkpoint",
    "read_plain_entries",
    "sniff_contents",
    "verify_pin",
    "written_by",
]
