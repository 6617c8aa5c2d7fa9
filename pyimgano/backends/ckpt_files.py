"""Torch checkpoint files: the suffixes, the checks that need no reading, and the one read.

A checkpoint file is read **once** (:func:`read_checkpoint`); its sha256 is computed from those
bytes, and those same bytes are what gets deserialised — the file is never reopened, so what was
hashed is what is loaded (docs/REFERENCE.md §7). Every failure is a
:class:`~pyimgano.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pyimgano.backends.trust import normalize_pin, verify_pin
from pyimgano.digests import bytes_sha256, file_sha256
from pyimgano.errors import CheckpointError

TORCH_SUFFIXES = (".pt", ".pth")
LIGHTNING_SUFFIXES = (".ckpt",)
SUPPORTED_SUFFIXES = TORCH_SUFFIXES + LIGHTNING_SUFFIXES


@dataclass(frozen=True)
class CheckpointBytes:
    """A checkpoint file's bytes, read once, with their sha256.

    Attributes
    ----------
    path : Path
    data : bytes
    sha256 : str
        Lower-case hex digest of ``data``.
    """

    path: Path = field()
    data: bytes = field(repr=False)
    sha256: str = field()

    @property
    def name(self) -> str:
        return os.fspath(self.path)

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


def check_checkpoint_file(path: str | os.PathLike[str]) -> Path:
    """The checks of a torch checkpoint path that need no reading: a file, of a torch format.

    Raises :class:`CheckpointError` for a missing file, a directory, an empty file, a suffix
    no format has (the one message of :func:`pyimgano.models.formats.format_of`) and a
    suffix of a format that torch does not load (``.onnx``, ``.xml``).
    """
    from pyimgano.models.formats import format_of

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path}: is a directory; give the checkpoint file itself (model.pt or model.ckpt)"
        )
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint file not found")
    fmt = format_of(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise CheckpointError(
            f"{path}: {fmt.noun} ({path.suffix}) is run with {fmt.runtime}, not loaded as a "
            "torch checkpoint (.pt/.pth/.ckpt)"
        )
    try:
        empty = path.stat().st_size == 0
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from None
    if empty:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    return path


def check_checkpoint(
    path: str | os.PathLike[str], *, sha256: str | None = None, role: str = "checkpoint"
) -> None:
    """Input checks of a torch checkpoint before anything heavy is imported.

    :func:`check_checkpoint_file`, and with a pin the file's sha256 (streamed, nothing kept)
    against it (:func:`verify_pin`). :func:`pyimgano.backends.checkpoint.load_checkpoint`
    checks the pin again on the bytes it loads.
    """
    path = check_checkpoint_file(path)
    pin = normalize_pin(sha256)
    if pin is None:
        return
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from None
    verify_pin(path, actual, pin, role=role)


def read_checkpoint(path: str | os.PathLike[str]) -> CheckpointBytes:
    """Read a checkpoint file's bytes once and hash them.

    Raises :class:`CheckpointError` as :func:`check_checkpoint_file` does, and for an
    unreadable or empty file.
    """
    path = check_checkpoint_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from None
    if not data:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    return CheckpointBytes(path=path, data=data, sha256=bytes_sha256(data))


__all__ = [
    "LIGHTNING_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "TORCH_SUFFIXES",
    "CheckpointBytes",
    "check_checkpoint",
    "check_checkpoint_file",
    "read_checkpoint",
]
