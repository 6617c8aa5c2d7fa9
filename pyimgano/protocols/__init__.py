"""Evaluation protocols beyond the plain metrics (docs/REFERENCE.md §5, §14).

- :func:`check_protocol`: the ``protocol`` a suite / ``--protocol`` names;
  :mod:`pyimgano.protocols.anomalib` reports anomalib's own ``Engine.test`` numbers
  beside the protocol-exact metrics (§14; it imports torch and anomalib inside its
  functions).
- :mod:`pyimgano.protocols.mvtec_ad2`: MVTec AD 2's ``aupro_0.05``, the ``validation/good``
  calibration of the SegF1 threshold (:class:`CalibrationRule`, :func:`calibration_threshold`),
  the inference of extra image sets through the evaluation's inference path.
- :mod:`pyimgano.protocols.submission`: MVTec AD 2's evaluation-server submission (float16
  TIFF maps, {0, 255} PNG masks, the checker's file counts, the archive).

Real-IAD's sample metrics are :func:`pyimgano.metrics.sample_metrics` with the sample ids of
:func:`pyimgano.datasets.realiad.sample_id`.
"""

from __future__ import annotations

from pyimgano.errors import ConfigError
from pyimgano.protocols.mvtec_ad2 import (
    Calibration,
    CalibrationRule,
    calibrate,
    calibration_threshold,
    parse_calibration,
)

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


__all__ = [
    "PROTOCOLS",
    "Calibration",
    "CalibrationRule",
    "calibrate",
    "calibration_threshold",
    "check_protocol",
    "parse_calibration",
]
