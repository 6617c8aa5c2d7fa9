"""Paired statistics: a candidate against a baseline on the same images (docs/REFERENCE.md §5).

Pure functions, NumPy and SciPy only. Every test is paired (both models scored the same
images) and one-sided against a margin ``max_drop`` (δ) on ``Δ = candidate − baseline``:

- ``mode="regression"`` (default): H0 ``Δ >= −δ``; ``p_value`` is the evidence of a drop larger
  than δ, and the comparison fails (``passed=False``) when ``p_value < alpha``.
- ``mode="non_inferior"``: H0 ``Δ <= −δ``; ``p_value`` is the evidence that the drop is smaller
  than δ, and the comparison passes only when ``p_value < alpha``.

``ci_low``/``ci_high`` are the two-sided ``1 − 2·alpha`` interval of Δ. For DeLong the
one-sided test at ``alpha`` rejects exactly when the interval's matching end lies beyond
``−δ``, for the bootstrap up to interpolation between two resamples; Wilcoxon's interval is of
the mean difference while its test is on signed ranks, so the two may disagree.

Methods:

- :func:`delong_test` / :func:`delong_ci` — image AUROC: DeLong et al. (1988) with the fast
  algorithm of Sun & Xu (2014), mid-ranks for ties.
- :func:`wilcoxon_aupimo` — per-image AUPIMO: Wilcoxon signed-rank as in the AUPIMO authors'
  code (differences within ``atol=1e-3`` count as ties at zero; scipy's ``zero_method="wilcox"``).
- :func:`paired_bootstrap` / :func:`bootstrap_ci` — every other metric: a bootstrap over images
  stratified by label, the same resampled images for both models, 2000 resamples, seed 0,
  percentile interval. Point estimates are the exact metric values; a metric computed on
  per-image statistics (:func:`pixel_statistics`, a fine threshold grid) only supplies the
  spread of the resampled differences, shifted onto the exact estimate.

Resamples are drawn as multiplicity counts (how often each image is drawn, per stratum), so a
metric may compute all resamples at once from per-image statistics (:class:`BootstrapMetric`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
from scipy import stats as _scipy_stats

from pyimgano.errors import MetricInputError
from pyimgano.metrics._validation import check_labels, check_scores

__all__ = [
    "BootstrapMetric",
    "Interval",
    "PairedTest",
    "PixelStatistics",
    "aupro_metric",
    "bootstrap_ci",
    "delong_ci",
    "delong_test",
    "image_auroc_metric",
    "image_bootstrap_metric",
    "paired_bootstrap",
    "pixel_auroc_metric",
    "pixel_statistics",
    "resampled_auroc",
    "wilcoxon_aupimo",
]

Mode = Literal["regression", "non_inferior"]
MODES = ("regression", "non_inferior")

#: Defaults of the release comparisons (docs/REFERENCE.md §5, Statistics).
N_RESAMPLES = 2000
SEED = 0
#: The AUPIMO authors' tolerance: per-image differences within it are ties (zero).
AUPIMO_ATOL = 1e-3
#: Resamples evaluated together (bounds memory at ``_CHUNK * n_images`` counts).
_CHUNK = 250


@dataclass(frozen=True)
class PairedTest:
    """One comparison of a candidate against a baseline (a report's comparison entry).

    Attributes
    ----------
    candidate, baseline : float
        The exact metric values of the two models.
    delta : float
        ``candidate - baseline``.
    ci_low, ci_high : float
        Two-sided ``1 - 2 * alpha`` interval of ``delta``.
    p_value : float
        One-sided p-value of the mode's null hypothesis (see the module docstring).
    method : str
        ``"delong"``, ``"wilcoxon"`` or ``"bootstrap"``.
    passed : bool
        ``regression``: not (``p_value < alpha``); ``non_inferior``: ``p_value < alpha``.
    mode : str
        ``"regression"`` or ``"non_inferior"``.
    max_drop, alpha : float
        The margin δ and the level used.
    """

    candidate: float
    baseline: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str
    passed: bool
    mode: str
    max_drop: float
    alpha: float

    def as_dict(self) -> dict[str, Any]:
        """The report entry: ``candidate, baseline, delta, ci_low, ci_high, p_value, method,
        passed``."""
        return {
            "candidate": self.candidate,
            "baseline": self.baseline,
            "delta": self.delta,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "method": self.method,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval ``[low, high]`` of one metric at ``level``."""

    estimate: float
    low: float
    high: float
    level: float
    method: str


# ----------------------------------------------------------------------------- validation


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 0.5:
        raise MetricInputError(f"alpha is {alpha!r}; expected a number in (0, 0.5)")
    return float(alpha)


def _check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise MetricInputError(f"level is {level!r}; expected a number in (0, 1)")
    return float(level)


def _check_margin(max_drop: Any) -> float:
    if (
        isinstance(max_drop, bool)
        or not isinstance(max_drop, (int, float))
        or not math.isfinite(max_drop)
        or max_drop < 0
    ):
        raise MetricInputError(f"max_drop is {max_drop!r}; expected a finite number >= 0")
    return float(max_drop)


def _check_mode(mode: Any) -> str:
    if mode not in MODES:
        raise MetricInputError(f"mode is {mode!r}; expected one of {', '.join(MODES)}")
    return str(mode)


def _check_resamples(n_resamples: Any, seed: Any) -> tuple[int, int]:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 100:
        raise MetricInputError(f"n_resamples is {n_resamples!r}; expected an integer >= 100")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise MetricInputError(f"seed is {seed!r}; expected an integer >= 0")
    return n_resamples, seed


def _decide(
    *,
    baseline: float,
    candidate: float,
    p_regression: float,
    p_non_inferior: float,
    ci: tuple[float, float],
    method: str,
    mode: str,
    max_drop: float,
    alpha: float,
) -> PairedTest:
    """Pick the mode's p-value and decision (both one-sided p-values are given)."""
    if mode == "regression":
        p_value, passed = p_regression, not p_regression < alpha
    else:
        p_value, passed = p_non_inferior, p_non_inferior < alpha
    return PairedTest(
        candidate=float(candidate),
        baseline=float(baseline),
        delta=float(candidate) - float(baseline),
        ci_low=float(ci[0]),
        ci_high=float(ci[1]),
        p_value=float(min(max(p_value, 0.0), 1.0)),
        method=method,
        passed=bool(passed),
        mode=mode,
        max_drop=max_drop,
        alpha=alpha,
    )


# ----------------------------------------------------------------------------- DeLong


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based mid-ranks along the last axis (tied values share the mean of their ranks)."""
    return _scipy_stats.rankdata(x, method="average", axis=-1)


def _delong_components(
    y: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUROCs and structural components of Sun & Xu (2014), one row per model.

    ``scores`` has shape (k, n). Returns ``auc`` (k,), ``v10`` (k, m) over the m anomalous
    images and ``v01`` (k, n_neg) over the normal ones: ``v10[r, i]`` is the fraction of normal
    images that model r scores below anomalous image i (ties count 1/2), ``v01[r, j]`` the
    fraction of anomalous images it scores above normal image j.
    """
    pos, neg = scores[:, y], scores[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    tz = _midranks(np.concatenate([pos, neg], axis=1))
    tx, ty = _midranks(pos), _midranks(neg)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    auc = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)
    return auc, v10, v01


def _delong_covariance(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(auc, S)``: the AUROCs and their DeLong covariance ``S10 / m + S01 / n``."""
    auc, v10, v01 = _delong_components(y, scores)
    s10 = np.atleast_2d(np.cov(v10, ddof=1))
    s01 = np.atleast_2d(np.cov(v01, ddof=1))
    return auc, s10 / v10.shape[1] + s01 / v01.shape[1]


def _check_two_class(y: np.ndarray, what: str) -> None:
    n_pos = int(np.count_nonzero(y))
    n_neg = y.size - n_pos
    if n_pos < 2 or n_neg < 2:
        raise MetricInputError(
            f"{what} needs at least 2 normal and 2 anomalous images "
            f"(got {n_neg} normal, {n_pos} anomalous)"
        )


def _one_sided(estimate: float, se: float, boundary: float) -> tuple[float, float]:
    """Normal-approximation p-values of ``estimate`` against ``boundary``:
    ``(P(less), P(greater))``; with ``se == 0`` the evidence is certain or absent."""
    if se > 0:
        z = (estimate - boundary) / se
        return float(_scipy_stats.norm.cdf(z)), float(_scipy_stats.norm.sf(z))
    return (0.0 if estimate < boundary else 1.0), (0.0 if estimate > boundary else 1.0)


def delong_test(
    labels: Any,
    baseline: Any,
    candidate: Any,
    *,
    max_drop: float = 0.0,
    alpha: float = 0.05,
    mode: Mode = "regression",
) -> PairedTest:
    """DeLong's paired test of the image AUROC of a candidate against a baseline.

    Parameters
    ----------
    labels : array-like of shape (n_images,)
        1 (or True) for anomalous, 0 (or False) for normal.
    baseline, candidate : array-like of shape (n_images,)
        The two models' image scores on the same images, higher means more anomalous; finite.
    max_drop : float, default 0.0
        The margin δ >= 0 on ``Δ = AUROC(candidate) - AUROC(baseline)``.
    alpha : float, default 0.05
        One-sided level, in (0, 0.5).
    mode : {"regression", "non_inferior"}, default "regression"
        ``regression``: fails when H0 ``Δ >= −δ`` is rejected; ``non_inferior``: passes only
        when H0 ``Δ <= −δ`` is rejected.

    Returns
    -------
    PairedTest
        ``method="delong"``; ``ci_low/ci_high`` is ``Δ ± z_{1-alpha} · se`` clipped to
        [−1, 1]; the p-value is ``Φ((Δ + δ) / se)`` (regression) or its complement.

    Raises
    ------
    MetricInputError
        Lengths that differ, labels other than 0/1, NaN or Inf scores, fewer than 2 images of
        a class, a bad ``max_drop``/``alpha``/``mode``.

    Notes
    -----
    The AUROC is the Mann-Whitney statistic (ties count 1/2), equal to :func:`auroc`. Its
    variance follows DeLong et al. with the structural components computed from mid-ranks as
    in Sun & Xu: ``V10_i = (Tz_i − Tx_i) / n``, ``V01_j = 1 − (Tz_j − Ty_j) / m``, ``S =
    S10 / m + S01 / n``, ``Var(Δ) = S_aa + S_bb − 2 S_ab``, O((m + n) log(m + n)). With a zero
    variance (e.g. both models separate the classes perfectly) a p-value is 0 or 1 according
    to which side of ``−δ`` Δ lies.

    References
    ----------
    .. [1] E. R. DeLong, D. M. DeLong, D. L. Clarke-Pearson, "Comparing the areas under two or
       more correlated receiver operating characteristic curves: a nonparametric approach",
       Biometrics 44(3), 837-845, 1988.
    .. [2] X. Sun, W. Xu, "Fast implementation of DeLong's algorithm for comparing the areas
       under correlated receiver operating characteristic curves", IEEE Signal Processing
       Letters 21(11), 1389-1393, 2014.

    Examples
    --------
    >>> t = delong_test([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], [0.1, 0.3, 0.4, 0.9])
    >>> t.baseline, t.candidate, t.delta
    (0.75, 1.0, 0.25)
    """
    margin, level = _check_margin(max_drop), _check_alpha(alpha)
    mode = _check_mode(mode)  # type: ignore[assignment]
    y = check_labels(labels)
    a = check_scores(baseline, y.size, name="baseline").astype(np.float64)
    b = check_scores(candidate, y.size, name="candidate").astype(np.float64)
    _check_two_class(y, "delong_test")
    auc, cov = _delong_covariance(y, np.stack([a, b]))
    delta = float(auc[1] - auc[0])
    se = math.sqrt(max(float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]), 0.0))
    z = float(_scipy_stats.norm.isf(level))
    ci = (max(delta - z * se, -1.0), min(delta + z * se, 1.0))
    p_less, p_greater = _one_sided(delta, se, -margin)
    return _decide(
        baseline=float(auc[0]),
        candidate=float(auc[1]),
        p_regression=p_less,
        p_non_inferior=p_greater,
        ci=ci,
        method="delong",
        mode=mode,
        max_drop=margin,
        alpha=level,
    )


def delong_ci(labels: Any, scores: Any, *, level: float = 0.95) -> Interval:
    """DeLong confidence interval of one model's image AUROC.

    Parameters
    ----------
    labels : array-like of shape (n_images,)
        1 (or True) for anomalous, 0 (or False) for normal.
    scores : array-like of shape (n_images,)
        Image scores, higher means more anomalous; finite.
    level : float, default 0.95
        Two-sided confidence level, in (0, 1).

    Returns
    -------
    Interval
        ``AUROC ± z_{(1+level)/2} · se`` clipped to [0, 1], ``method="delong"``.

    Raises
    ------
    MetricInputError
        For the input errors of :func:`delong_test`.

    Notes
    -----
    The variance is ``S10 / m + S01 / n`` of :func:`delong_test` for a single model (the
    Wald interval of DeLong et al. 1988, computed as Sun & Xu 2014).

    Examples
    --------
    >>> delong_ci([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]).estimate
    1.0
    """
    confidence = _check_level(level)
    y = check_labels(labels)
    s = check_scores(scores, y.size).astype(np.float64)
    _check_two_class(y, "delong_ci")
    auc, cov = _delong_covariance(y, s[None, :])
    se = math.sqrt(max(float(cov[0, 0]), 0.0))
    z = float(_scipy_stats.norm.isf((1.0 - confidence) / 2.0))
    estimate = float(auc[0])
    return Interval(
        estimate, max(estimate - z * se, 0.0), min(estimate + z * se, 1.0), confidence, "delong"
    )


# ----------------------------------------------------------------------------- Wilcoxon


def wilcoxon_aupimo(
    baseline: Any,
    candidate: Any,
    *,
    max_drop: float = 0.0,
    alpha: float = 0.05,
    mode: Mode = "regression",
    atol: float = AUPIMO_ATOL,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
) -> PairedTest:
    """Wilcoxon signed-rank test on per-image AUPIMO (``aupimo_mean``), paired by image.

    Parameters
    ----------
    baseline, candidate : array-like of shape (n_images,)
        Per-image AUPIMO of the two models on the same images; NaN (undefined: a normal image)
        must sit at the same positions in both and is dropped.
    max_drop : float, default 0.0
        The margin δ >= 0: the test is applied to the shifted differences ``d_i + δ``.
    alpha : float, default 0.05
        One-sided level, in (0, 0.5).
    mode : {"regression", "non_inferior"}, default "regression"
        As :func:`delong_test`.
    atol : float, default 1e-3
        Shifted differences with ``|d_i + δ| <= atol`` become 0 and are dropped
        (``zero_method="wilcox"``), as in the AUPIMO authors' pairwise comparison. When all
        are 0 the p-value is 1.
    n_resamples, seed : int, default 2000, 0
        For the interval only (see Returns).

    Returns
    -------
    PairedTest
        ``method="wilcoxon"``; ``baseline``/``candidate`` are the mean AUPIMO of each model
        (``aupimo_mean``). ``ci_low/ci_high`` is the percentile interval of the mean
        difference from a bootstrap over the images (the Wilcoxon test is about the location of
        the differences, its own interval would not be one of the mean).

    Raises
    ------
    MetricInputError
        Lengths that differ, NaN at different positions, Inf values, no defined pair.

    Notes
    -----
    scipy's ``wilcoxon`` (exact distribution for small samples without ties, else the normal
    approximation with tie correction) with ``alternative="less"`` (regression) or
    ``"greater"`` (non-inferiority) on ``d_i + δ``, ``d_i = candidate_i − baseline_i``.

    References
    ----------
    .. [1] J. P. C. Bertoldo, D. Ameln, A. Vaidya, S. Akçay, "AUPIMO: Redefining Visual Anomaly
       Detection Benchmarks with High Speed and Low Tolerance", arXiv:2401.01984, 2024; its
       code's ``compare_models_pairwise_wilcoxon`` (``atol=1e-3``).
    .. [2] F. Wilcoxon, "Individual comparisons by ranking methods", Biometrics Bulletin 1(6),
       80-83, 1945.

    Examples
    --------
    >>> t = wilcoxon_aupimo([0.9, 0.8, float("nan"), 0.7], [0.9, 0.8, float("nan"), 0.7])
    >>> t.delta, t.p_value, t.passed
    (0.0, 1.0, True)
    """
    margin, level = _check_margin(max_drop), _check_alpha(alpha)
    mode = _check_mode(mode)  # type: ignore[assignment]
    n_resamples, seed = _check_resamples(n_resamples, seed)
    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(candidate, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise MetricInputError(
            f"baseline and candidate must be 1-D of the same length (got shapes {a.shape} and "
            f"{b.shape})"
        )
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        raise MetricInputError(
            "baseline and candidate have NaN (undefined AUPIMO) at different images"
        )
    if np.isinf(a).any() or np.isinf(b).any():
        raise MetricInputError("per-image AUPIMO must be finite or NaN")
    keep = ~np.isnan(a)
    a, b = a[keep], b[keep]
    if a.size == 0:
        raise MetricInputError("no image with a defined AUPIMO in both models")
    shifted = (b - a) + margin
    shifted[np.abs(shifted) <= atol] = 0.0
    if not shifted.any():
        p_less = p_greater = 1.0
    else:
        p_less = float(_scipy_stats.wilcoxon(shifted, alternative="less").pvalue)
        p_greater = float(_scipy_stats.wilcoxon(shifted, alternative="greater").pvalue)
    one_stratum = np.zeros(a.size, dtype=bool)
    diffs = np.concatenate(
        [(b[idx] - a[idx]).mean(axis=1) for idx in _index_chunks(one_stratum, n_resamples, seed)]
    )
    ci = _percentile_interval(diffs, 0.0, 0.0, level)
    return _decide(
        baseline=float(a.mean()),
        candidate=float(b.mean()),
        p_regression=p_less,
        p_non_inferior=p_greater,
        ci=ci,
        method="wilcoxon",
        mode=mode,
        max_drop=margin,
        alpha=level,
    )


# ----------------------------------------------------------------------------- bootstrap


def _index_chunks(y: np.ndarray, n_resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Stratified resamples as index arrays of shape (chunk, n_images), chunk by chunk.

    Within each class the images are drawn with replacement, as many as the class holds, so
    every resample keeps the class counts. The same ``(y, n_resamples, seed)`` always gives
    the same resamples.
    """
    rng = np.random.default_rng(seed)
    strata = [np.flatnonzero(~y), np.flatnonzero(y)]
    strata = [s for s in strata if s.size]
    done = 0
    while done < n_resamples:
        size = min(_CHUNK, n_resamples - done)
        parts = [s[rng.integers(0, s.size, size=(size, s.size))] for s in strata]
        yield np.concatenate(parts, axis=1)
        done += size


def _counts(indices: np.ndarray, n_images: int) -> np.ndarray:
    """Multiplicity of each image in each resample: shape (chunk, n_images)."""
    rows = indices.shape[0]
    flat = indices + (np.arange(rows) * n_images)[:, None]
    counts = np.bincount(flat.ravel(), minlength=rows * n_images)
    return counts.reshape(rows, n_images).astype(np.float64)


def _grouped_auroc(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUROC per row from weights of anomalous/normal samples in groups of increasing score.

    ``pos``/``neg`` have shape (rows, n_groups); samples in one group are tied (count 1/2).
    """
    below = np.cumsum(neg, axis=1) - neg
    wins = np.einsum("rg,rg->r", pos, below + 0.5 * neg)
    return wins / (pos.sum(axis=1) * neg.sum(axis=1))


def resampled_auroc(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Image AUROC of every resample at once, exactly as :func:`~pyimgano.metrics.auroc` of the
    resampled images.

    Parameters
    ----------
    labels : ndarray of bool, shape (n_images,)
    scores : ndarray, shape (n_images,)
    counts : ndarray of int or float, shape (n_resamples, n_images)
        How often each image is drawn in each resample.

    Returns
    -------
    ndarray of float64, shape (n_resamples,)
        ``Σ_i Σ_j c_i c_j H(s_i − s_j) / (Σ_i c_i · Σ_j c_j)`` over anomalous i and normal j,
        ``H`` = 1 above, 1/2 tied; O(n_resamples · n_images) after one sort.
    """
    return _grouped_auroc(*_grouped_weights(labels, scores, counts))


def _grouped_weights(
    labels: np.ndarray, scores: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per resample, the anomalous and normal weight of each distinct score, ascending."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    weights = np.asarray(counts, dtype=np.float64)[:, order]
    pos = weights * labels[order]
    if starts.size < scores.size:  # ties: one group per distinct score
        weights = np.add.reduceat(weights, starts, axis=1)
        pos = np.add.reduceat(pos, starts, axis=1)
    return pos, weights - pos


def _descending_rates(
    labels: np.ndarray, scores: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(tp, fp, n_pos, n_neg)``: cumulative weights at each distinct threshold, highest
    first (the ROC points without the (0, 0) start), and the class totals per resample."""
    pos, neg = _grouped_weights(labels, scores, counts)
    tp = np.cumsum(pos[:, ::-1], axis=1)
    fp = np.cumsum(neg[:, ::-1], axis=1)
    return tp, fp, tp[:, -1], fp[:, -1]


def _resampled_ap(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``image_ap`` of every resample: ``Σ (R_n − R_{n−1}) P_n`` (as scikit-learn)."""
    tp, fp, n_pos, _ = _descending_rates(labels, scores, counts)
    rises = np.diff(tp, axis=1, prepend=0.0)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=rises > 0)
    return np.einsum("rg,rg->r", rises, precision) / n_pos


def _resampled_f1_max(labels: np.ndarray, scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``image_f1_max`` of every resample: ``max 2 TP / (TP + FP + n_pos)``."""
    tp, fp, n_pos, _ = _descending_rates(labels, scores, counts)
    return 2.0 * np.max(tp / (tp + fp + n_pos[:, None]), axis=1)


def _resampled_tpr_at_fpr(
    labels: np.ndarray, scores: np.ndarray, counts: np.ndarray, limit: float
) -> np.ndarray:
    """``image_tpr_at_fpr_<limit>`` of every resample (the (0, 0) start always qualifies)."""
    tp, fp, n_pos, n_neg = _descending_rates(labels, scores, counts)
    inside = fp / n_neg[:, None] <= limit
    return np.max(np.where(inside, tp, 0.0), axis=1) / n_pos


@dataclass(frozen=True)
class BootstrapMetric:
    """A metric for :func:`paired_bootstrap`: its value and, optionally, all resamples at once.

    Attributes
    ----------
    name : str
        The metric's report name.
    value : callable ``(labels, data) -> float | None``
        The metric on (resampled) images; ``data`` has the images on its first axis.
    resampled : callable ``(labels, data, counts) -> ndarray``, optional
        The metric of every resample from the image multiplicities ``counts`` (shape
        (n_resamples, n_images)); used instead of calling ``value`` once per resample.
    """

    name: str
    value: Callable[[np.ndarray, Any], float | None]
    resampled: Callable[[np.ndarray, Any, np.ndarray], np.ndarray] | None = None


def image_auroc_metric() -> BootstrapMetric:
    """``image_auroc`` for :func:`paired_bootstrap` (all resamples at once)."""
    from pyimgano.metrics.image import auroc

    return BootstrapMetric("image_auroc", auroc, resampled_auroc)


def image_bootstrap_metric(name: str) -> BootstrapMetric:
    """The :class:`BootstrapMetric` of an image metric by report name, all resamples at once:
    ``image_auroc``, ``image_ap``, ``image_f1_max`` or ``image_tpr_at_fpr_<x>``.

    Each resample's value equals the metric function on the resampled images (to rounding).

    Raises
    ------
    MetricInputError
        For any other name.
    """
    from pyimgano.metrics.image import average_precision, f1_max, tpr_at_fpr
    from pyimgano.metrics.results import metric_direction

    if name == "image_auroc":
        return image_auroc_metric()
    if name == "image_ap":
        return BootstrapMetric(name, average_precision, _resampled_ap)
    if name == "image_f1_max":
        return BootstrapMetric(name, f1_max, _resampled_f1_max)
    prefix = "image_tpr_at_fpr_"
    if name.startswith(prefix) and metric_direction(name) is not None:
        limit = float(name[len(prefix) :])
        return BootstrapMetric(
            name,
            lambda labels, scores: tpr_at_fpr(labels, scores, fpr_limit=limit),
            lambda labels, scores, counts: _resampled_tpr_at_fpr(labels, scores, counts, limit),
        )
    raise MetricInputError(
        f"no image bootstrap metric {name!r}; expected image_auroc, image_ap, image_f1_max or "
        "image_tpr_at_fpr_<x>"
    )


def _as_metric(metric: Any) -> BootstrapMetric:
    if isinstance(metric, BootstrapMetric):
        return metric
    if callable(metric):
        return BootstrapMetric(getattr(metric, "__name__", "metric"), metric)
    raise MetricInputError(f"metric is {metric!r}; expected a callable or a BootstrapMetric")


def _as_data(data: Any, n_images: int, name: str) -> Any:
    if isinstance(data, PixelStatistics) or hasattr(data, "n_images"):  # per-image statistics
        if data.n_images != n_images:
            raise MetricInputError(
                f"{name} holds statistics of {data.n_images} images; labels have {n_images}"
            )
        return data
    try:
        array = np.asarray(data)
    except ValueError:  # ragged
        array = np.empty(())
    if array.ndim == 0 or array.shape[0] != n_images:
        raise MetricInputError(
            f"{name} has shape {array.shape}; expected one entry per image ({n_images}) on its "
            "first axis"
        )
    return array


def _resampled_values(
    metric: BootstrapMetric, y: np.ndarray, datas: list[Any], indices: np.ndarray
) -> list[np.ndarray]:
    """The metric of each resample in ``indices``, for each data set (the same resamples)."""
    if metric.resampled is not None:
        counts = _counts(indices, y.size)
        return [np.asarray(metric.resampled(y, d, counts), dtype=np.float64) for d in datas]
    outs = []
    for data in datas:
        out = np.empty(indices.shape[0])
        for row, idx in enumerate(indices):
            value = metric.value(y[idx], data[idx])
            out[row] = np.nan if value is None else value
        outs.append(out)
    return outs


def _point(metric: BootstrapMetric, y: np.ndarray, data: Any, name: str) -> float:
    value = metric.value(y, data)
    if value is None:
        raise MetricInputError(f"{metric.name} of the {name} is undefined on these images")
    return float(value)


def _percentile_interval(
    resampled: np.ndarray, estimate: float, approximate: float, level: float
) -> tuple[float, float]:
    """Percentile interval with tail ``level`` on each side, shifted by ``estimate − approximate``
    (0 unless the resamples come from an approximation of the exact estimate)."""
    finite = resampled[np.isfinite(resampled)]
    if finite.size == 0:
        raise MetricInputError("the metric is undefined on every resample")
    low, high = np.quantile(finite, [level, 1.0 - level])
    shift = estimate - approximate
    return float(low + shift), float(high + shift)


def paired_bootstrap(
    labels: Any,
    metric: BootstrapMetric | Callable[[np.ndarray, Any], float | None],
    baseline: Any,
    candidate: Any,
    *,
    max_drop: float = 0.0,
    alpha: float = 0.05,
    mode: Mode = "regression",
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    exact: tuple[float, float] | None = None,
    higher_is_better: bool = True,
) -> PairedTest:
    """Paired bootstrap test of any metric, over images stratified by label.

    Parameters
    ----------
    labels : array-like of shape (n_images,)
        1 (or True) for anomalous, 0 (or False) for normal.
    metric : BootstrapMetric or callable ``(labels, data) -> float | None``
        The metric; a :class:`BootstrapMetric` with ``resampled`` computes all resamples at
        once (e.g. :func:`image_auroc_metric`, :func:`pixel_auroc_metric`).
    baseline, candidate : array-like with n_images entries on the first axis, or PixelStatistics
        Each model's per-image data: image scores, or per-image statistics.
    max_drop, alpha, mode
        As :func:`delong_test`.
    n_resamples : int, default 2000
        Number of resamples (>= 100).
    seed : int, default 0
        Seed of NumPy's ``default_rng``: the same inputs give the same interval on every run.
    exact : (float, float), optional
        Exact ``(baseline, candidate)`` values when ``metric`` approximates them (the binned
        pixel metrics): the point estimates are these, and the resampled differences are
        shifted by ``exact Δ − approximate Δ``.
    higher_is_better : bool, default True
        False for a metric where lower is better (``aupimo_std``): a worsening is then a rise,
        the hypotheses are mirrored (regression: H0 ``Δ <= +δ``; non-inferiority: H0
        ``Δ >= +δ``); ``delta`` and the interval stay those of ``candidate − baseline``.

    Returns
    -------
    PairedTest
        ``method="bootstrap"``. ``ci_low/ci_high`` is the percentile interval (quantiles
        ``alpha`` and ``1 − alpha`` of the resampled Δ*, linear interpolation). The p-values
        are the fractions of resamples with ``Δ* >= −δ`` (regression) or ``Δ* <= −δ``
        (non-inferiority), the tests the percentile interval inverts (``Δ* <= +δ`` and
        ``Δ* >= +δ`` where lower is better).

    Raises
    ------
    MetricInputError
        Data without one entry per image, a metric undefined on all images, bad options.

    Notes
    -----
    Both models are evaluated on the same resampled images (paired); each class is resampled
    within itself (stratified), so every resample keeps the class counts and a ranking
    metric stays defined. Resamples where the metric is undefined are dropped.

    References
    ----------
    .. [1] B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall, 1993,
       ch. 13 (percentile interval) and 16 (bootstrap tests).

    Examples
    --------
    >>> from pyimgano.metrics import auroc
    >>> t = paired_bootstrap([0, 0, 1, 1], auroc, [0.1, 0.6, 0.4, 0.9], [0.1, 0.3, 0.4, 0.9])
    >>> t.delta, t.method
    (0.25, 'bootstrap')
    """
    margin, level = _check_margin(max_drop), _check_alpha(alpha)
    mode = _check_mode(mode)  # type: ignore[assignment]
    n_resamples, seed = _check_resamples(n_resamples, seed)
    fn = _as_metric(metric)
    y = check_labels(labels)
    a = _as_data(baseline, y.size, "baseline")
    b = _as_data(candidate, y.size, "candidate")
    approx_a, approx_b = _point(fn, y, a, "baseline"), _point(fn, y, b, "candidate")
    value_a, value_b = exact if exact is not None else (approx_a, approx_b)
    deltas = np.concatenate(
        [
            np.subtract(*_resampled_values(fn, y, [b, a], idx))
            for idx in _index_chunks(y, n_resamples, seed)
        ]
    )
    shift = (value_b - value_a) - (approx_b - approx_a)
    deltas = deltas[np.isfinite(deltas)] + shift
    ci = _percentile_interval(deltas, 0.0, 0.0, level)
    worsening = deltas if higher_is_better else -deltas  # a drop is a worsening
    return _decide(
        baseline=value_a,
        candidate=value_b,
        p_regression=float(np.mean(worsening >= -margin)),
        p_non_inferior=float(np.mean(worsening <= -margin)),
        ci=ci,
        method="bootstrap",
        mode=mode,
        max_drop=margin,
        alpha=level,
    )


def bootstrap_ci(
    labels: Any,
    metric: BootstrapMetric | Callable[[np.ndarray, Any], float | None],
    data: Any,
    *,
    level: float = 0.95,
    n_resamples: int = N_RESAMPLES,
    seed: int = SEED,
    exact: float | None = None,
) -> Interval:
    """Percentile bootstrap interval of one model's metric (``--ci``), stratified by label.

    Parameters
    ----------
    labels : array-like of shape (n_images,)
        1 (or True) for anomalous, 0 (or False) for normal.
    metric : BootstrapMetric or callable ``(labels, data) -> float | None``
        As :func:`paired_bootstrap`.
    data : array-like with n_images entries on the first axis, or PixelStatistics
        The model's per-image data.
    level : float, default 0.95
        Two-sided confidence level, in (0, 1).
    n_resamples, seed, exact
        As :func:`paired_bootstrap` (``exact``: the exact value when ``metric`` approximates).

    Returns
    -------
    Interval
        Quantiles ``(1 − level) / 2`` and ``(1 + level) / 2`` of the resampled metric,
        ``method="bootstrap"``; the same resamples as :func:`paired_bootstrap` with the same
        seed.

    Raises
    ------
    MetricInputError
        As :func:`paired_bootstrap`.

    Examples
    --------
    >>> from pyimgano.metrics import auroc
    >>> bootstrap_ci([0, 0, 1, 1], auroc, [0.1, 0.2, 0.3, 0.4]).low
    1.0
    """
    confidence = _check_level(level)
    n_resamples, seed = _check_resamples(n_resamples, seed)
    fn = _as_metric(metric)
    y = check_labels(labels)
    d = _as_data(data, y.size, "data")
    approximate = _point(fn, y, d, "data")
    estimate = approximate if exact is None else float(exact)
    values = np.concatenate(
        [_resampled_values(fn, y, [d], idx)[0] for idx in _index_chunks(y, n_resamples, seed)]
    )
    low, high = _percentile_interval(values, estimate, approximate, (1.0 - confidence) / 2.0)
    return Interval(estimate, low, high, confidence, "bootstrap")


# ----------------------------------------------------------------------------- pixel statistics


@dataclass(frozen=True)
class PixelStatistics:
    """Per-image pixel statistics on one fine threshold grid, for pixel-metric resampling.

    Attributes
    ----------
    edges : ndarray, shape (n_bins - 1,)
        Inner bin edges, increasing (float64, or the maps' float dtype); bin k holds scores
        in ``[edges[k-1], edges[k])``.
    normal : ndarray of int64, shape (n_images, n_bins)
        Normal pixels per image and bin.
    defect : ndarray of int64, shape (n_images, n_bins)
        Defect pixels per image and bin.
    overlap : ndarray of float64, shape (n_images, n_bins)
        Per image and bin, the sum over its ground-truth regions of the region's pixels in
        the bin divided by the region's size (the PRO numerator's per-bin share).
    n_regions : ndarray of int64, shape (n_images,)
        Ground-truth regions (8-connected) per image.
    """

    edges: np.ndarray
    normal: np.ndarray
    defect: np.ndarray
    overlap: np.ndarray
    n_regions: np.ndarray

    @property
    def n_images(self) -> int:
        return int(self.normal.shape[0])

    @cached_property
    def winning_pairs(self) -> np.ndarray:
        """(n_images, n_images): defect pixels of image i above normal pixels of image j
        (ties 1/2, same bin = tied), the matrix of the pixel AUROC's quadratic form."""
        normal = self.normal.astype(np.float64)
        below = np.cumsum(normal, axis=1) - 0.5 * normal
        return self.defect.astype(np.float64) @ below.T

    @cached_property
    def descending(self) -> tuple[np.ndarray, np.ndarray]:
        """Per image, normal pixels and region overlap at or above each bin, highest bin
        first (the PRO curve's cumulative counts)."""
        normal = np.cumsum(self.normal[:, ::-1], axis=1).astype(np.float64)
        return normal, np.cumsum(self.overlap[:, ::-1], axis=1)

    @cached_property
    def positives_descending(self) -> np.ndarray:
        """(n_images, 2 · n_bins): per image, defect then normal pixels at or above each bin,
        highest bin first (float64; the pixel precision-recall curve's cumulative true and
        false positives side by side, so that one product gives both)."""
        normal, _ = self.descending
        return np.hstack([np.cumsum(self.defect[:, ::-1], axis=1).astype(np.float64), normal])

    def __getitem__(self, index: Any) -> PixelStatistics:
        return PixelStatistics(
            self.edges,
            self.normal[index],
            self.defect[index],
            self.overlap[index],
            self.n_regions[index],
        )


#: Uniform cells of the fast grid (a 4 MiB lookup table from cell to bin).
_CELLS = 1 << 20


def threshold_grid(
    maps: list[np.ndarray],
    n_bins: int,
    sample: int,
    seed: int,
    masks: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """``(edges, to_bins)``: the grid's inner edges and a function from scores to bin indices,
    non-decreasing in the score (so every bin is a valid threshold interval).

    Few distinct scores (in the pixels, or in a seeded sample when there are more than
    ``sample``): each is its own bin (``searchsorted`` into them: exact). Otherwise the range
    is cut into 2**20 uniform cells and consecutive cells are merged into about ``n_bins``
    bins of equal sampled mass; a score's bin is then one multiply and one table look-up (no
    per-pixel binary search). With ``masks`` the mass is half all pixels, half defect pixels
    (equal shares of each), so the few high-scoring bins where the defect pixels lie — where
    the precision-recall and PRO curves rise — are as fine as the bulk of normal pixels.
    """
    total = sum(m.size for m in maps)
    truth: np.ndarray | None = None
    if total <= sample:
        pooled = np.concatenate([m.ravel() for m in maps])
        if masks is not None:
            truth = np.concatenate([np.asarray(k).ravel() != 0 for k in masks])
    else:
        rng = np.random.default_rng(seed)
        picks = [rng.integers(0, m.size, size=max(1, sample * m.size // total)) for m in maps]
        pooled = np.concatenate([m.ravel()[p] for m, p in zip(maps, picks, strict=True)])
        if masks is not None:
            truth = np.concatenate(
                [np.asarray(k).ravel()[p] != 0 for k, p in zip(masks, picks, strict=True)]
            )
    distinct = np.unique(pooled)
    if distinct.size <= n_bins:
        edges = distinct[1:]
        return edges, lambda scores: np.searchsorted(edges, scores, side="right")
    low = min(m.min() for m in maps)
    high = max(m.max() for m in maps)
    dtype = np.result_type(*(m.dtype for m in maps), np.float32)
    if high <= low:
        return np.empty(0), lambda scores: np.zeros(scores.size, dtype=np.intp)
    origin = dtype.type(low)
    scale = dtype.type((_CELLS - 1) / (float(high) - float(low)))

    def to_cells(scores: np.ndarray) -> np.ndarray:
        cells = np.subtract(scores, origin, dtype=dtype)  # monotone; >= 0
        cells *= scale
        return cells.astype(np.int32)  # <= _CELLS - 1 up to rounding: the table has one more

    cells = np.minimum(to_cells(pooled), _CELLS - 1)
    per_cell = np.bincount(cells, minlength=_CELLS)
    share = (np.cumsum(per_cell) - per_cell) / pooled.size
    n_defect = 0 if truth is None else int(np.count_nonzero(truth))
    if n_defect:
        per_defect = np.bincount(cells[truth], minlength=_CELLS)
        share = 0.5 * share + 0.5 * (np.cumsum(per_defect) - per_defect) / n_defect
    target = np.floor(share * n_bins).astype(np.int64)  # non-decreasing in the cell
    starts = np.flatnonzero(np.diff(target)) + 1  # where a new bin begins
    # cell -> bin, one spare cell for rounding; the smallest type that holds twice the bins
    # (pixel_statistics' keys): a 2 MiB int16 table stays in cache, np.take is its fastest read
    kind = np.int16 if 2 * (starts.size + 1) <= np.iinfo(np.int16).max else np.int32
    table = np.zeros(_CELLS + 1, dtype=kind)
    table[starts] = 1
    np.cumsum(table, out=table)
    table[_CELLS] = table[_CELLS - 1]
    edges = float(low) + starts / float(scale)
    return edges, lambda scores: np.take(table, to_cells(scores))


def pixel_statistics(
    maps: Any,
    masks: Any,
    *,
    n_bins: int = 2048,
    sample: int = 1_000_000,
    seed: int = SEED,
    regions: Any = None,
) -> PixelStatistics:
    """Histogram every image's pixels on one threshold grid (for :func:`paired_bootstrap`).

    Parameters
    ----------
    maps : sequence of 2-D arrays
        Anomaly maps, one per image; finite.
    masks : sequence of 2-D arrays
        Ground truth, non-zero = defect, same shapes as ``maps``.
    n_bins : int, default 2048
        Number of bins (about). With no more distinct scores than that (in the pixels, or in
        a seeded sample of at most ``sample`` of them) each distinct score is its own bin, so
        the statistics are exact; otherwise bins of about equal (sampled) pixel counts, their
        edges on a uniform grid of 2**20 cells over the score range.
    sample, seed : int
        Size and seed of the sample the edges come from.
    regions : sequence of (labels, counts), optional
        The masks' regions as :func:`~pyimgano.metrics._regions.label_regions` gives them
        (e.g. shared by two models' statistics on the same masks); computed when omitted.

    Returns
    -------
    PixelStatistics

    Raises
    ------
    MetricInputError
        For the input errors of :func:`~pyimgano.metrics.pixel_metrics`.

    Notes
    -----
    A resample's pixel curves are the sums of its images' histograms, so a bootstrap never
    re-sorts the pixels: one pass over the pixels (a multiply and a table look-up per pixel,
    see ``threshold_grid``), then O(n_resamples · n_images · n_bins) for all resamples.
    Within one bin the pixels count as tied; the resampled values approximate the exact ones
    to the grid's resolution, which is why :func:`paired_bootstrap` takes the exact estimates
    through ``exact``.
    """
    from pyimgano.metrics._regions import label_regions
    from pyimgano.metrics._validation import check_maps_masks

    maps_, masks_ = check_maps_masks(maps, masks)
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 2:
        raise MetricInputError(f"n_bins is {n_bins!r}; expected an integer >= 2")
    edges, to_bins = threshold_grid(maps_, n_bins, sample, seed, masks_)
    width = edges.size + 1
    normal = np.zeros((len(maps_), width), dtype=np.int64)
    defect = np.zeros((len(maps_), width), dtype=np.int64)
    overlap = np.zeros((len(maps_), width), dtype=np.float64)
    n_regions = np.zeros(len(maps_), dtype=np.int64)
    if regions is not None and len(regions) != len(maps_):
        raise MetricInputError(
            f"regions has {len(regions)} entries but there are {len(maps_)} maps"
        )
    for i, (amap, mask) in enumerate(zip(maps_, masks_, strict=True)):
        bins = to_bins(amap.ravel())
        labels, counts = label_regions(mask) if regions is None else regions[i]
        n_regions[i] = counts.size - 1
        if counts.size == 1:  # a good image: every pixel normal
            normal[i] = np.bincount(bins, minlength=width)
            continue
        region = np.asarray(labels).ravel()
        inside = region != 0
        keys = bins * 2
        keys += inside
        both = np.bincount(keys, minlength=2 * width)
        normal[i], defect[i] = both[0::2], both[1::2]
        share = 1.0 / counts[region[inside]]
        overlap[i] = np.bincount(bins[inside], weights=share, minlength=width)
    return PixelStatistics(edges, normal, defect, overlap, n_regions)


def _binned_pixel_auroc_rows(stats: PixelStatistics, counts: np.ndarray) -> np.ndarray:
    """Binned pixel AUROC per resample, as a quadratic form in the image multiplicities.

    With ``D`` (defect) and ``N`` (normal) histograms per image and ``C = cumsum(N) − N / 2``
    (normal pixels below each bin, ties 1/2), a resample ``w`` wins ``(wD)·(wC) = w (D Cᵀ) wᵀ``
    pairs: one (n_images, n_images) matrix serves every resample.
    """
    weights = np.asarray(counts, dtype=np.float64)
    wins = np.einsum("ri,ij,rj->r", weights, stats.winning_pairs, weights)
    return wins / ((weights @ stats.defect.sum(axis=1)) * (weights @ stats.normal.sum(axis=1)))


def _binned_pixel_auroc(labels: np.ndarray, stats: PixelStatistics) -> float | None:
    value = _binned_pixel_auroc_rows(stats, np.ones((1, stats.n_images)))[0]
    return float(value) if np.isfinite(value) else None


def pixel_auroc_metric() -> BootstrapMetric:
    """``pixel_auroc`` on :class:`PixelStatistics` for :func:`paired_bootstrap` (binned; pass
    the exact values through ``exact``)."""
    return BootstrapMetric(
        "pixel_auroc",
        _binned_pixel_auroc,
        lambda labels, stats, counts: _binned_pixel_auroc_rows(stats, counts),
    )


def _binned_aupro_rows(stats: PixelStatistics, counts: np.ndarray, limit: float) -> np.ndarray:
    """Binned AU-PRO per resample. Only the bins up to a little past ``limit`` are summed
    (where the pooled FPR reaches ``min(1, 1.5·limit + 0.02)``); a resample whose curve has
    not passed ``limit`` there is recomputed over all bins, so the cut never changes a value."""
    weights = np.asarray(counts, dtype=np.float64)
    # highest bin first: thresholds decrease, rates grow
    normal_cum, overlap_cum = stats.descending
    pooled = normal_cum.sum(axis=0)
    cut = int(np.searchsorted(pooled, min(1.0, 1.5 * limit + 0.02) * pooled[-1])) + 1
    fp = weights @ normal_cum[:, :cut]
    pro = weights @ overlap_cum[:, :cut]
    n_neg, n_regions = weights @ normal_cum[:, -1], weights @ stats.n_regions
    short = fp[:, -1] <= limit * n_neg  # not past the limit within the cut
    if cut < pooled.size and short.any():
        out = pro_areas(fp, pro, n_neg, n_regions, limit)
        out[short] = pro_areas(
            weights[short] @ normal_cum,
            weights[short] @ overlap_cum,
            n_neg[short],
            n_regions[short],
            limit,
        )
        return out
    return pro_areas(fp, pro, n_neg, n_regions, limit)


def pro_areas(
    fp: np.ndarray, pro: np.ndarray, n_neg: np.ndarray, n_regions: np.ndarray, limit: float
) -> np.ndarray:
    """Normalised PRO area to ``limit`` per row (NaN without normal pixels or regions), from
    the cumulative curve points in decreasing-threshold order."""
    rows = fp.shape[0]
    valid = (n_neg > 0) & (n_regions > 0)
    safe_neg, safe_regions = np.where(valid, n_neg, 1.0), np.where(valid, n_regions, 1.0)
    x = np.concatenate([np.zeros((rows, 1)), fp / safe_neg[:, None], np.ones((rows, 1))], axis=1)
    y = np.concatenate(
        [
            np.zeros((rows, 1)),
            np.minimum(pro / safe_regions[:, None], 1.0),
            np.ones((rows, 1)),
        ],
        axis=1,
    )
    # MVTec's trapezoid: segments ending at x <= limit in full, the crossing one up to limit
    segments = 0.5 * (y[:, 1:] + y[:, :-1]) * np.diff(x, axis=1)
    area = np.sum(np.where(x[:, 1:] <= limit, segments, 0.0), axis=1)
    last = np.count_nonzero(x <= limit, axis=1) - 1  # x is non-decreasing
    crossing = last + 1 < x.shape[1]
    nxt = np.minimum(last + 1, x.shape[1] - 1)
    picked = np.arange(rows)
    x0, y0, x1, y1 = x[picked, last], y[picked, last], x[picked, nxt], y[picked, nxt]
    partial = crossing & (x0 < limit)
    width = np.where(partial, x1 - x0, 1.0)
    y_limit = y0 + (y1 - y0) * (limit - x0) / width
    area += np.where(partial, 0.5 * (y_limit + y0) * (limit - x0), 0.0)
    return np.where(valid, area / limit, np.nan)


def aupro_metric(limit: float = 0.3) -> BootstrapMetric:
    """``aupro`` (up to ``limit``) on :class:`PixelStatistics` for :func:`paired_bootstrap`
    (binned; pass the exact values through ``exact``)."""
    from pyimgano.metrics._validation import check_limit

    bound = check_limit(limit)

    def value(labels: np.ndarray, stats: PixelStatistics) -> float | None:
        result = _binned_aupro_rows(stats, np.ones((1, stats.n_images)), bound)[0]
        return float(result) if np.isfinite(result) else None

    return BootstrapMetric(
        "aupro", value, lambda labels, stats, counts: _binned_aupro_rows(stats, counts, bound)
    )
