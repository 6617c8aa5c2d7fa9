"""Exact image-, pixel- and decision-level metrics (docs/REFERENCE.md §5).

NumPy and SciPy; torch only where asked for (maps given as torch tensors or a ``device``: the
torch path of :mod:`._torch`) and, lazily, for AUPIMO's ``torch.linspace`` thresholds.

Public API
----------
- :func:`image_metrics` -> ``image_auroc``, ``image_ap``, ``image_f1_max``, ``image_auroc_step``
- :func:`pixel_metrics` -> ``pixel_auroc``, ``pixel_ap``, ``pixel_f1_max``, ``aupro``,
  ``aupro_<limit>`` (extra limits), ``aupimo_mean``, ``aupimo_std``
- :func:`aupimo` (AUPIMO as anomalib 2.7, per image), :func:`auspro` (MVTec LOCO AU-sPRO,
  overall and per group)
- :func:`decision_metrics` -> ``image_miss_rate``, ``image_false_reject_rate``
- operating points: :func:`tpr_at_fpr` (``image_tpr_at_fpr_<x>`` via ``image_metrics(...,
  fpr_limits=...)``)
- paired statistics (:mod:`.stats`): :func:`delong_test`, :func:`delong_ci`,
  :func:`wilcoxon_aupimo`, :func:`paired_bootstrap`, :func:`bootstrap_ci` ->
  :class:`PairedTest` / :class:`Interval`; bootstrap metrics :func:`image_bootstrap_metric`,
  :func:`pixel_auroc_metric`, :func:`aupro_metric` on :func:`pixel_statistics`; more in
  :mod:`.resampled`: :func:`pixel_ap_metric`, :func:`pixel_f1_max_metric` (grid),
  :func:`seg_f1_metric` (per-image counts), :func:`aupimo_std_metric`,
  :func:`sample_bootstrap_metric` on :func:`sample_data`; :func:`auspro_bootstrap_metric` on
  :func:`spro_statistics` (:mod:`.spro_stats`, MVTec LOCO)
- :func:`seg_f1` (MVTec AD 2's SegF1: pooled pixel F1 at a fixed threshold; also
  ``seg_f1_threshold`` of :func:`pixel_metrics` / :func:`evaluate_pixels`, from the same sweep);
  :func:`seg_f1_counts`: its per-image ``(TP, FP, FN)``, for resampling over images
- :func:`sample_metrics` -> ``sample_auroc``, ``sample_ap``, ``sample_f1_max`` (Real-IAD: a
  sample's score and label are the maxima over its views), :func:`group_samples`
- building blocks: :func:`auroc`, :func:`average_precision`, :func:`f1_max`,
  :func:`f1_max_threshold`,
  :func:`roc_curve`, :func:`pro_curve`, :func:`aupro`
- :class:`MetricResults` (a dict with ``notes``), :data:`METRIC_DIRECTIONS`,
  :func:`metric_direction` (also for the parametrised ``aupro_<limit>`` / ``auspro_<limit>``)

Package-internal (importable here, not in ``__all__``): :func:`evaluate_pixels` ->
:class:`PixelEvaluation`, every pixel metric from one sort (the evaluation's entry point:
per-image AUPIMO, the sweep's ROC/PRO curves, AU-sPRO with ``defects``, precomputed region
labels, a memory budget, NumPy or torch on the maps' device). ``pixel.compute_pixel_metrics``
and ``pixel.compute_pixel_evaluation`` are deprecated aliases of it.

Choices (where docs/REFERENCE.md §5 is silent):

- Definedness: AUROC, AP and F1-max are ``None`` unless both classes are present; AU-PRO is
  ``None`` without a ground-truth region or without a normal pixel. Each ``None`` comes with a
  reason in ``MetricResults.notes``; no metric is ever NaN.
- Exactness: every distinct score is a threshold; AUROC and AP agree with scikit-learn's
  ``roc_auc_score``/``average_precision_score`` (ties included) to rounding. Inputs are used at
  their own precision; a float32 sort key is used only when it is exact for every value.
- AU-PRO follows MVTec AD's ``compute_pro`` + ``trapezoid`` except that FPR is float64 (the
  official script rounds it to float32).
- One ordering of the pooled pixels serves all pixel metrics (see :mod:`._pixels`), extra
  AU-PRO limits, AUPIMO and AU-sPRO included; the curve to metric code (:mod:`._curves`) is
  shared with the image metrics and with the torch path, which reduces the sorted pixels on
  the device to one point per distinct score and feeds the same accumulators.
- Protocol metrics: ``aupro_<limit>`` / ``auspro_<limit>`` spell the limit with
  :func:`limit_key` (Python's shortest ``repr``: ``aupro_0.05``); AUPIMO follows anomalib 2.7
  (:mod:`.aupimo`: where anomalib raises, ``None`` with its reason); AU-sPRO follows the MVTec
  LOCO AD evaluation (:mod:`.spro`: FPR over the defect-free pixels of every evaluated image;
  overall the mean of the two types).

Importing this package never imports torch.
"""

from __future__ import annotations

from pyimgano.metrics.aupimo import AupimoResult, aupimo
from pyimgano.metrics.aupro import aupro, pro_curve
from pyimgano.metrics.decision import decision_metrics
from pyimgano.metrics.image import (
    auroc,
    average_precision,
    f1_max,
    f1_max_threshold,
    image_metrics,
    roc_curve,
    tpr_at_fpr,
    tpr_at_fpr_key,
)
from pyimgano.metrics.pixel import (
    PixelEvaluation,
    pixel_metrics,
    seg_f1,
    seg_f1_counts,
)
from pyimgano.metrics.pixel import (
    evaluate_pixels as evaluate_pixels,  # package-internal, not in __all__
)
from pyimgano.metrics.resampled import (
    aupimo_std_metric,
    pixel_ap_metric,
    pixel_f1_max_metric,
    sample_bootstrap_metric,
    sample_data,
    seg_f1_metric,
)
from pyimgano.metrics.results import (
    METRIC_DIRECTIONS,
    METRIC_PREFIX_DIRECTIONS,
    MetricResults,
    limit_key,
    metric_direction,
)
from pyimgano.metrics.samples import group_samples, sample_metrics
from pyimgano.metrics.spro import SproResults, auspro
from pyimgano.metrics.spro_stats import SproStatistics, auspro_bootstrap_metric, spro_statistics
from pyimgano.metrics.stats import (
    BootstrapMetric,
    Interval,
    PairedTest,
    PixelStatistics,
    aupro_metric,
    bootstrap_ci,
    delong_ci,
    delong_test,
    image_auroc_metric,
    image_bootstrap_metric,
    paired_bootstrap,
    pixel_auroc_metric,
    pixel_statistics,
    resampled_auroc,
    wilcoxon_aupimo,
)

__all__ = [
    "METRIC_DIRECTIONS",
    "METRIC_PREFIX_DIRECTIONS",
    "AupimoResult",
    "BootstrapMetric",
    "Interval",
    "MetricResults",
    "PairedTest",
    "PixelEvaluation",
    "PixelStatistics",
    "SproResults",
    "SproStatistics",
    "aupimo",
    "aupro",
    "aupimo_std_metric",
    "aupro_metric",
    "auspro",
    "auspro_bootstrap_metric",
    "auroc",
    "average_precision",
    "bootstrap_ci",
    "decision_metrics",
    "delong_ci",
    "delong_test",
    "f1_max",
    "f1_max_threshold",
    "image_auroc_metric",
    "image_bootstrap_metric",
    "group_samples",
    "image_metrics",
    "limit_key",
    "metric_direction",
    "paired_bootstrap",
    "pixel_ap_metric",
    "pixel_auroc_metric",
    "pixel_f1_max_metric",
    "pixel_metrics",
    "pixel_statistics",
    "pro_curve",
    "resampled_auroc",
    "roc_curve",
    "tpr_at_fpr",
    "tpr_at_fpr_key",
    "wilcoxon_aupimo",
    "sample_bootstrap_metric",
    "sample_data",
    "sample_metrics",
    "seg_f1",
    "seg_f1_counts",
    "seg_f1_metric",
    "spro_statistics",
]
