"""The pin/trust rule of every checkpoint format (docs/REFERENCE.md §7 "Checkpoint trust").

- A pin (``--checkpoint-sha256`` / the suite's ``sha256``) is 64 hex digits
  (:func:`normalize_pin`); when given it is checked first, for every format, against the sha256
  of the bytes about to be loaded (:func:`verify_pin`): a mismatch is refused whatever the format
  and whatever trust says.
- Unpickling (a ``.pt``/``.pth``, or a ``.ckpt`` that ``weights_only`` cannot load) is allowed
  only by a matching pin or explicit trust (:func:`check_trust`).

Imports nothing of pyimgano's backends: the torch loader (:mod:`pyimgano.backends.checkpoint`)
and the graph runtimes (:mod:`pyimgano.backends.exported`) both apply it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pyimgano.digests import SHA256_HEX
from pyimgano.errors import CheckpointError, ConfigError

if TYPE_CHECKING:
    from pyimgano.backends.ckpt_files import CheckpointBytes

TRUST_HINT = "--trust-checkpoint (CLI) / --pyimgano-trust-checkpoints (pytest)"


#: Which file a pin is for -> (command-line flag, suite model-entry key) that pins it.
PIN_OPTIONS = {
    "checkpoint": ("--checkpoint-sha256", "sha256"),
    "reference": ("--reference-sha256", "reference_sha256"),
    "baseline": ("--baseline-sha256", "baseline_sha256"),
}


def pin_hint(sha256: str, role: str = "checkpoint") -> str:
    """How to pin ``sha256``, for the CLI and for a suite; ``role`` is a :data:`PIN_OPTIONS`
    key (the evaluated checkpoint or the parity reference)."""
    flag, key = PIN_OPTIONS[role]
    return f"{flag} {sha256} (CLI) or {key}: {sha256} (suite model entry)"


def verify_pin(
    path: str | os.PathLike[str],
    actual: str,
    pin: str | None,
    *,
    digest: str = "the file's sha256",
    role: str = "checkpoint",
) -> bool:
    """Check a pin against the sha256 ``actual`` of the bytes about to be loaded.

    The one pin rule of every format (``.pt``, ``.ckpt``, ``.onnx``, ``.xml``/``.bin``).

    Parameters
    ----------
    path : path
        The file named in the message.
    actual : str
        Lower-case hex sha256 of what will be loaded (for a multi-file artifact, its combined
        digest, described by ``digest``).
    pin : str or None
        The pin as given (normalised by :func:`normalize_pin`); None: nothing to check.
    digest : str
        What ``actual`` is, in words, for the message.
    role : str
        ``"checkpoint"`` or ``"reference"``: which option the message says to re-pin with.

    Returns
    -------
    bool
        True when a pin was given and matches, False when none was given.

    Raises
    ------
    CheckpointError
        The pin does not match; the message names the file, the actual and the pinned sha256.
    ConfigError
        A malformed pin.
    """
    expected = normalize_pin(pin)
    if expected is None:
        return False
    if expected == actual:
        return True
    raise CheckpointError(
        f"{path}: sha256 mismatch, refusing to load it: {digest} is {actual} but the pin is "
        f"{expected}; if the file changed on purpose, pin it again with {pin_hint(actual, role)}"
    )


#: The pin form (64 lower-case hex digits); the suite parser checks pins with it.
_HEX64 = SHA256_HEX


def normalize_pin(pin: str | None) -> str | None:
    """Return a pin as 64 lower-case hex digits (a ``sha256:`` prefix is accepted).

    Raises :class:`ConfigError` for anything that is not a sha256 hex digest.
    """
    if pin is None:
        return None
    if not isinstance(pin, str):
        raise ConfigError(f"checkpoint sha256 pin {pin!r} is not a string of 64 hex digits")
    value = pin.strip().lower()
    value = value.removeprefix("sha256:")
    if not _HEX64.match(value):
        raise ConfigError(
            f"checkpoint sha256 pin {pin!r} is not a sha256 hex digest (64 hex digits expected)"
        )
    return value


def check_trust(ckpt: CheckpointBytes, *, sha256: str | None, trust: bool, why: str) -> str:
    """Apply the pin/trust rule before unpickling; return ``"pin"`` or ``"trust"``.

    ``why`` says why unpickling is needed (it goes into the refusal message).

    Raises :class:`CheckpointError` when the pin does not match (whatever ``trust`` says) or when
    there is neither a pin nor trust.
    """
    if verify_pin(ckpt.name, ckpt.sha256, sha256):
        return "pin"
    if trust:
        return "trust"
    raise CheckpointError(
        f"{ckpt.name}: refusing to unpickle an untrusted checkpoint ({why}; unpickling can run "
        f"arbitrary code); pin it with {pin_hint(ckpt.sha256)}, or pass {TRUST_HINT}"
    )


__all__ = ["PIN_OPTIONS", "TRUST_HINT", "check_trust", "normalize_pin", "pin_hint", "verify_pin"]
