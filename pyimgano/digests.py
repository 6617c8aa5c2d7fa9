"""sha256 digests: the one place pyimgano hashes bytes and files.

Checkpoint pins (:mod:`pyimgano.backends.checkpoint`), exported artifacts
(:mod:`pyimgano.backends.exported`), dataset fingerprints (:mod:`pyimgano.datasets.base`) and
the trainer's manifest all hash through these functions, so a digest is always lower-case hex
of the file's bytes, read in 1 MiB chunks.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping

#: A sha256 hex digest as pyimgano writes and compares it (64 lower-case hex digits).
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


def bytes_sha256(data: bytes) -> str:
    """Lower-case hex sha256 of ``data``.

    >>> bytes_sha256(b"")[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | os.PathLike[str], chunk_size: int = _CHUNK) -> str:
    """Lower-case hex sha256 of a file's bytes, read in ``chunk_size`` chunks (1 MiB).

    Raises :class:`OSError` when the file cannot be read (callers name it in their own error).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def combined_sha256(files: Mapping[str, str]) -> str:
    """The digest of a multi-file artifact: sha256 of ``"<sha256>  <name>\\n"`` lines sorted by
    name (what ``sha256sum`` prints for the sorted names, hashed again).

    >>> combined_sha256({"b": "2" * 64, "a": "1" * 64}) == combined_sha256(
    ...     {"a": "1" * 64, "b": "2" * 64})
    True
    """
    text = "".join(f"{files[name]}  {name}\n" for name in sorted(files))
    return bytes_sha256(text.encode("utf-8"))


__all__ = ["SHA256_HEX", "bytes_sha256", "combined_sha256", "file_sha256"]
