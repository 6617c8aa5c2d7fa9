"""Exact image-, pixel- and decision-level metrics (SPEC §5); NumPy and SciPy only.

Public API
----------
- :func:`image_metrics` -> ``image_auroc``, ``image_ap``, ``image_f1_max``, ``image_auroc_step``
- :func:`pixel_metrics` -> ``pixel_auroc``, ``pixel_ap``, ``pixel_f1_max``, ``aupro``
- :func:`decision_metrics` -> ``image_miss_rate``, ``image_false_reject_rate``
- building blocks: :func:`auroc`, :func:`average_precision`, :func:`f1_max`,
  :func:`roc_curve`, :func:`pro_curve`, :func:`aupro`
- :class:`MetricResults` (a dict with ``notes``), :data:`METRIC_DIRECTIONS`

Choices (where SPEC §5 is silent):

- Definedness: AUROC, AP and F1-max are ``None`` unless both classes are present; AU-PRO is
  ``None`` without a ground-truth region or without a normal pixel. Each ``None`` comes with a
  reason in ``MetricResults.notes``; no metric is ever NaN.
- Exactness: every distinct score is a threshold; AUROC and AP agree with scikit-learn's
  ``roc_auc_score``/``average_precision_score`` (ties included) to rounding. Inputs are used at
  their own precision; a float32 sort key is used only when it is exact for every value.
- AU-PRO follows MVTec AD's ``compute_pro`` + ``trapezoid`` except that FPR is float64 (the
  official script rounds it to float32).
- One ordering of the pooled pixels serves all pixel metrics (see :mod:`._pixels`); the curve
  to metric code (:mod:`._curves`) is shared with the image metrics.

Importing this package never imports torch.
"""

from __future__ import annotations

from pyimgano.metrics.aupro import aupro, pro_curve
from pyimgano.metrics.decision import decision_metrics
from pyimgano.metrics.image import auroc, average_precision, f1_max, image_metrics, roc_curve
from pyimgano.metrics.pixel import pixel_metrics
from pyimgano.metrics.results import METRIC_DIRECTIONS, MetricResults

__all__ = [
    "METRIC_DIRECTIONS",
    "MetricResults",
    "aupro",
    "auroc",
    "average_precision",
    "decision_metrics",
    "f1_max",
    "image_metrics",
    "pixel_metrics",
    "pro_curve",
    "roc_curve",
]
