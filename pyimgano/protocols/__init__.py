"""Benchmark protocols beyond the plain metrics (docs/REFERENCE.md §5).

- :mod:`pyimgano.protocols.mvtec_ad2`: MVTec AD 2's ``aupro_0.05``, the ``validation/good``
  calibration of the SegF1 threshold (:class:`CalibrationRule`, :func:`calibration_threshold`),
  the inference of extra image sets through the evaluation's inference path.
- :mod:`pyimgano.protocols.submission`: MVTec AD 2's evaluation-server submission (float16
  TIFF maps, {0, 255} PNG masks, the checker's file counts, the archive).

Real-IAD's sample metrics are :func:`pyimgano.metrics.sample_metrics` with the sample ids of
:func:`pyimgano.datasets.realiad.sample_id`.
"""

from __future__ import annotations

from pyimgano.protocols.mvtec_ad2 import (
    Calibration,
    CalibrationRule,
    calibrate,
    calibration_threshold,
    parse_calibration,
)

__all__ = [
    "Calibration",
    "CalibrationRule",
    "calibrate",
    "calibration_threshold",
    "parse_calibration",
]
