"""Evaluation protocols reported beside the protocol-exact metrics (docs/REFERENCE.md §14,
"anomalib's own numbers").

Importing this package imports neither torch nor anomalib; :mod:`pyimgano.protocols.anomalib`
imports them inside its functions.
"""

from __future__ import annotations

from pyimgano.errors import ConfigError

#: Protocols a suite's ``protocol`` key / the CLI's ``--protocol`` accept.
PROTOCOLS = ("anomalib",)


def check_protocol(value: object, where: str = "protocol") -> str | None:
    """``value`` as a protocol name (None: only the protocol-exact metrics).

    Raises
    ------
    ConfigError
        Not None and not one of :data:`PROTOCOLS`; the message names ``where`` and the value.
    """
    if value is None:
        return None
    if not isinstance(value, str) or value not in PROTOCOLS:
        raise ConfigError(
            f"{where}: {value!r} is not a protocol; expected one of: {', '.join(PROTOCOLS)}"
        )
    return value
