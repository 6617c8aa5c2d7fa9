"""Bootstrap metrics of :mod:`pyimgano.metrics.resampled` and their comparisons
(:func:`pyimgano.comparison.compare_models`, :func:`~pyimgano.comparison.metrics_ci`).

Every resampled statistic is checked against a plain implementation written here: scikit-learn
(``tests.metrics._reference``) on the pooled pixels of the resampled images, SegF1 counted
from the binarised maps, ``np.std`` of the repeated values, samples grouped by a dict of
maxima; simulations with a known truth check the intervals' coverage.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as st

from pyimgano.comparison import Bound, compare_models, metrics_ci, parse_compare
from pyimgano.errors import ConfigError, MetricInputError
from pyimgano.metrics import (
    aupimo_std_metric,
    aupro,
    bootstrap_ci,
    paired_bootstrap,
    pixel_ap_metric,
    pixel_f1_max_metric,
    pixel_metrics,
    pixel_statistics,
    sample_bootstrap_metric,
    seg_f1_counts,
    seg_f1_metric,
)
from tests.metrics._reference import pooled, ref_ap, ref_auroc, ref_f1_max

TOL = 1e-12


def _pixel_case(seed: int, levels: int | None, n: int = 8, size: int = 24):
    """``n`` maps, the odd ones anomalous (two regions); ``levels``: few distinct scores."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for i in range(n):
        mask = np.zeros((size, size), dtype=np.uint8)
        if i % 2:
            r, c = rng.integers(0, size - 8, size=2)
            mask[r : r + 6, c : c + 5] = 1
            mask[0:2, 0:3] = 1
        noise = rng.standard_normal((size, size)) + 1.5 * mask
        amap = np.round(noise * levels / 4) if levels else noise
        maps.append(amap.astype(np.float32))
        masks.append(mask)
    return maps, masks, np.array([i % 2 for i in range(n)])


def _ref_seg_f1(maps, masks, threshold: float) -> float:
    """SegF1 from its definition: pixels >= threshold predicted, pooled over the images."""
    truth, scores = pooled(maps, masks)
    predicted = scores >= threshold
    tp = np.sum(predicted & (truth == 1))
    fp = np.sum(predicted & (truth == 0))
    fn = np.sum(~predicted & (truth == 1))
    return float(2 * tp / (2 * tp + fp + fn))


# --- each statistic at "all counts 1" and on resamples, against a plain implementation ------


@pytest.mark.parametrize(("name", "reference"), [("pixel_ap", ref_ap),
                                                 ("pixel_f1_max", ref_f1_max)])
def test_binned_pixel_ap_and_f1_equal_scikit_learn_where_the_grid_resolves_every_score(
    name, reference
):
    maps, masks, labels = _pixel_case(0, levels=12)
    stats = pixel_statistics(maps, masks)
    metric = pixel_ap_metric() if name == "pixel_ap" else pixel_f1_max_metric()
    assert metric.value(labels, stats) == pytest.approx(reference(*pooled(maps, masks)), abs=TOL)
    rng = np.random.default_rng(1)
    counts = np.array([np.bincount(np.r_[rng.choice(np.arange(0, 8, 2), 4),
                                         rng.choice(np.arange(1, 8, 2), 4)], minlength=8)
                       for _ in range(6)])
    got = metric.resampled(labels, stats, counts)
    for row, value in zip(counts, got, strict=True):
        pick = np.repeat(np.arange(8), row)
        expected = reference(*pooled([maps[i] for i in pick], [masks[i] for i in pick]))
        assert value == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize(("name", "reference"), [("pixel_ap", ref_ap),
                                                 ("pixel_f1_max", ref_f1_max)])
def test_binned_pixel_ap_and_f1_on_continuous_maps_are_within_the_grid_error(name, reference):
    """1.3 M distinct float scores share the default 2048 bins (cut at equal shares of a
    mixture of all and of defect pixels): the binned value is within 1e-3 of scikit-learn's
    exact one."""
    from tests.benchmarks.test_bench_metrics import make_maps_and_masks

    maps, masks = make_maps_and_masks(20, 256, seed=0)
    labels = np.array([int(m.any()) for m in masks])
    stats = pixel_statistics(maps, masks)
    metric = pixel_ap_metric() if name == "pixel_ap" else pixel_f1_max_metric()
    exact = reference(*pooled(maps, masks))
    binned = metric.value(labels, stats)
    print(f"\n{name}: binned {binned:.6f}, exact {exact:.6f}, error {binned - exact:+.2e}")
    assert binned == pytest.approx(exact, abs=1e-3)
    assert pixel_metrics(maps, masks)[name] == pytest.approx(exact, abs=1e-9)


def test_seg_f1_resamples_are_the_summed_counts_exactly():
    maps, masks, labels = _pixel_case(3, levels=None)
    threshold = 1.0
    counts_per_image = seg_f1_counts(maps, masks, threshold)
    metric = seg_f1_metric()
    assert metric.value(labels, counts_per_image) == pytest.approx(
        _ref_seg_f1(maps, masks, threshold), abs=TOL)
    rng = np.random.default_rng(4)
    counts = rng.multinomial(8, np.ones(8) / 8, size=10)
    for row, value in zip(counts, metric.resampled(labels, counts_per_image, counts),
                          strict=True):
        pick = np.repeat(np.arange(8), row)
        expected = _ref_seg_f1([maps[i] for i in pick], [masks[i] for i in pick], threshold)
        assert value == pytest.approx(expected, abs=TOL)
    with pytest.raises(MetricInputError, match=r"seg_f1 data has shape \(8,\)"):
        metric.value(labels, np.ones(8))


def test_aupimo_std_resamples_equal_numpy_std_of_the_repeated_values():
    values = np.array([np.nan, 0.4, np.nan, 0.9, np.nan, 0.55, np.nan, 0.7])
    labels = np.array([0, 1] * 4)
    metric = aupimo_std_metric()
    assert metric.value(labels, values) == pytest.approx(np.std(values[1::2]), abs=TOL)
    rng = np.random.default_rng(5)
    counts = rng.multinomial(8, np.ones(8) / 8, size=12)
    for row, value in zip(counts, metric.resampled(labels, values, counts), strict=True):
        picked = np.repeat(values, row)
        picked = picked[np.isfinite(picked)]
        expected = np.std(picked) if picked.size else np.nan
        assert value == pytest.approx(expected, abs=TOL, nan_ok=True)


def _group_by_hand(labels, scores, ids):
    """Samples sorted by id: label = max over views, score = max over views."""
    label_of, score_of = defaultdict(int), defaultdict(lambda: -math.inf)
    for label, score, sample in zip(labels, scores, ids, strict=True):
        label_of[sample] = max(label_of[sample], int(label))
        score_of[sample] = max(score_of[sample], float(score))
    keys = sorted(label_of)
    return np.array([label_of[k] for k in keys]), np.array([score_of[k] for k in keys])


def _views(rng, n_samples: int, mu: float, k: int = 3, shift=None):
    """Per view labels, two models' scores and sample ids: each anomalous sample (every other
    one) shows its defect in one view ~ N(mu, 1); all other views ~ N(0, 1)."""
    labels, ids = [], []
    for s in range(n_samples):
        bad = s % 2 == 1
        view = rng.integers(0, k)
        for v in range(k):
            labels.append(int(bad and v == view))
            ids.append(f"obj_{s:04d}")
    labels = np.array(labels)
    e1, e2 = rng.standard_normal((2, labels.size))
    a = mu * labels + e1
    b = (mu if shift is None else shift) * labels + 0.5 * e1 + math.sqrt(0.75) * e2
    return labels, a, b, ids


@pytest.mark.parametrize("name", ["sample_auroc", "sample_ap", "sample_f1_max"])
def test_sample_bootstrap_is_the_image_bootstrap_of_hand_grouped_samples(name):
    """Through compare_models and metrics_ci: the resampled unit is the sample (max over its
    views), stratified by sample label — the same numbers as a plain per-resample metric on
    samples grouped here."""
    rng = np.random.default_rng(6)
    labels, a, b, ids = _views(rng, 24, 1.5)
    sample_labels, base = _group_by_hand(labels, a, ids)
    _, cand = _group_by_hand(labels, b, ids)
    plain = {"sample_auroc": ref_auroc, "sample_ap": ref_ap, "sample_f1_max": ref_f1_max}[name]
    assert sample_bootstrap_metric(name).value(sample_labels, base) == pytest.approx(
        plain(sample_labels, base), abs=TOL)
    slow = paired_bootstrap(sample_labels, lambda y, s: plain(y, s), base, cand,
                            max_drop=0.01, n_resamples=300)
    got = compare_models(labels, b, a, {name: Bound(0.01)}, sample_ids=ids)[name]
    fast = paired_bootstrap(sample_labels, sample_bootstrap_metric(name), base, cand,
                            max_drop=0.01)
    assert got == pytest.approx(fast.as_dict(), abs=TOL)
    fast300 = paired_bootstrap(sample_labels, sample_bootstrap_metric(name), base, cand,
                               max_drop=0.01, n_resamples=300)
    for field in ("candidate", "baseline", "delta", "ci_low", "ci_high", "p_value"):
        assert getattr(fast300, field) == pytest.approx(getattr(slow, field), abs=1e-12)
    ci = metrics_ci(labels, a, {name: plain(sample_labels, base)}, level=0.9, sample_ids=ids)
    interval = bootstrap_ci(sample_labels, lambda y, s: plain(y, s), base, level=0.9)
    assert ci[name] == pytest.approx([interval.low, interval.high], abs=1e-12)


# --- compare_models: a truly worse candidate fails, an equal one passes ---------------------


def _pixel_pair(worse: bool):
    maps, masks, labels = _pixel_case(7, levels=None, n=16, size=32)
    rng = np.random.default_rng(8)
    if worse:  # a candidate that barely sees the defects
        cand = [m * 0.2 + rng.standard_normal(m.shape).astype(np.float32) for m in maps]
    else:  # the same ranking, shifted: every metric equal
        cand = [m + np.float32(0.25) for m in maps]
    return labels, maps, cand, masks


@pytest.mark.parametrize("worse", [True, False])
def test_compare_models_grid_metrics_fail_a_worse_candidate_and_pass_an_equal_one(worse):
    labels, base_maps, cand_maps, masks = _pixel_pair(worse)
    names = ("pixel_ap", "pixel_f1_max", "aupro_0.05")
    exact_base = pixel_metrics(base_maps, masks, aupro_limit=0.05)
    exact_cand = pixel_metrics(cand_maps, masks, aupro_limit=0.05)
    exact = {n: (exact_cand[n if n != "aupro_0.05" else "aupro"],
                 exact_base[n if n != "aupro_0.05" else "aupro"]) for n in names}
    pixel = {"candidate": pixel_statistics(cand_maps, masks),
             "baseline": pixel_statistics(base_maps, masks), "exact": exact}
    scores_b = np.array([m.max() for m in base_maps], np.float64)
    scores_c = np.array([m.max() for m in cand_maps], np.float64)
    bounds = {n: Bound(0.01) for n in names}
    result = compare_models(labels, scores_c, scores_b, bounds, pixel=pixel)
    for name in names:
        entry = result[name]
        assert entry["method"] == "bootstrap"
        assert (entry["candidate"], entry["baseline"]) == exact[name]  # exact point estimates
        assert entry["ci_low"] <= entry["delta"] <= entry["ci_high"]
        assert entry["passed"] is (not worse), (name, entry)
        if not worse:
            assert entry["delta"] == pytest.approx(0.0, abs=1e-6)
    assert exact["aupro_0.05"][1] == pytest.approx(aupro(base_maps, masks, limit=0.05), abs=TOL)


@pytest.mark.parametrize("worse", [True, False])
def test_compare_models_seg_f1_fails_a_worse_candidate_and_passes_an_equal_one(worse):
    labels, base_maps, cand_maps, masks = _pixel_pair(worse)
    base_counts = seg_f1_counts(base_maps, masks, 1.5)
    cand_counts = seg_f1_counts(cand_maps, masks, 1.5 if worse else 1.75)  # its own threshold
    scores = np.array([m.max() for m in base_maps], np.float64)
    entry = compare_models(labels, scores, scores, {"seg_f1": Bound(0.01)},
                           pixel={"seg_f1": (cand_counts, base_counts)})["seg_f1"]
    assert entry["baseline"] == pytest.approx(_ref_seg_f1(base_maps, masks, 1.5), abs=TOL)
    assert entry["passed"] is (not worse), entry
    if not worse:
        assert entry["delta"] == 0.0 and entry["ci_low"] == entry["ci_high"] == 0.0


@pytest.mark.parametrize("worse", [True, False])
def test_compare_models_aupimo_std_fails_a_rise_and_passes_an_equal_spread(worse):
    """Lower is better: a candidate whose per-image AUPIMO spreads more is a regression."""
    rng = np.random.default_rng(9)
    labels = np.array([0, 1] * 30)
    base = np.where(labels == 1, rng.uniform(0.5, 0.7, labels.size), np.nan)
    cand = np.where(labels == 1, 0.6 + (base - 0.6) * (4.0 if worse else 1.0), np.nan)
    scores = rng.uniform(size=labels.size)
    entry = compare_models(labels, scores, scores, {"aupimo_std": Bound(0.01)},
                           candidate_aupimo=[None if np.isnan(v) else v for v in cand],
                           baseline_aupimo=list(base))["aupimo_std"]
    assert entry["baseline"] == pytest.approx(np.nanstd(base), abs=TOL)
    assert entry["candidate"] == pytest.approx(np.nanstd(cand), abs=TOL)
    assert entry["passed"] is (not worse), entry
    if worse:
        assert entry["delta"] > 0 and entry["p_value"] < 0.05


@pytest.mark.parametrize("worse", [True, False])
def test_compare_models_sample_metrics_fail_a_worse_candidate_and_pass_an_equal_one(worse):
    rng = np.random.default_rng(10)
    labels, a, b, ids = _views(rng, 80, 2.0, shift=0.3 if worse else None)
    if not worse:
        b = a + 0.1
    bounds = {n: Bound(0.01) for n in ("sample_auroc", "sample_ap", "sample_f1_max")}
    result = compare_models(labels, b, a, bounds, sample_ids=ids)
    for name, entry in result.items():
        assert entry["passed"] is (not worse), (name, entry)


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("sample_auroc", {}, "sample_auroc: the bootstrap of sample_auroc needs each image's "
                             "sample id"),
        ("seg_f1", {}, r"seg_f1: .* needs per-image \(TP, FP, FN\) counts"),
        ("pixel_ap", {}, "pixel_ap: .* needs per-image pixel statistics"),
        ("aupro_0.05", {"pixel": {"seg_f1": (np.ones((4, 3)), np.ones((4, 3)))}},
         "aupro_0.05: .* needs per-image pixel statistics"),
        ("aupimo_std", {}, "aupimo_std: .* needs per-image AUPIMO"),
    ],
)
def test_compare_models_names_the_metric_whose_data_is_missing(name, kwargs, message):
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ConfigError, match=message):
        compare_models(labels, scores, scores, {name: Bound(0.01)}, **kwargs)


def test_parse_compare_new_names_and_refusals():
    bounds = parse_compare({n: {"max_drop": 0.01} for n in (
        "pixel_ap", "pixel_f1_max", "aupro_0.05", "aupimo_std", "seg_f1", "sample_auroc",
        "sample_ap", "sample_f1_max", "auspro_0.05")})
    assert len(bounds) == 9
    with pytest.raises(ConfigError, match="compare.auspro_5: unknown metric 'auspro_5'"):
        parse_compare({"auspro_5": {"max_drop": 0.01}})
    with pytest.raises(ConfigError, match="compare.aupro_0.050: unknown metric 'aupro_0.050'"):
        parse_compare({"aupro_0.050": {"max_drop": 0.01}})


def test_check_computed_names_a_limit_the_item_does_not_compute():
    from pyimgano.comparison import check_computed

    with pytest.raises(ConfigError, match="compares 'aupro_0.05', which this item does not "
                                          "compute .*pixel"):
        check_computed(parse_compare({"aupro_0.05": {"max_drop": 0.01}}),
                       {"aupro": 0.5, "pixel_auroc": 0.9}, "compare")
    with pytest.raises(ConfigError, match="'sample_auroc', .* realiad"):
        check_computed(parse_compare({"sample_auroc": {"max_drop": 0.01}}),
                       {"image_auroc": 0.9}, "compare")


# --- simulations with a known truth ----------------------------------------------------------

N_SIM_SEG = 1000
N_SIM_SAMPLE = 500


def _band(n_sim: int, p: float = 0.95) -> tuple[float, float]:
    """``p ± 3`` binomial standard errors of a coverage over ``n_sim`` simulations."""
    se = math.sqrt(p * (1 - p) / n_sim)
    return p - 3 * se, p + 3 * se


def _seg_counts(rng, sizes, n_neg: int, p: float) -> np.ndarray:
    tp = rng.binomial(sizes, p)
    fp_pos = rng.poisson(80.0, sizes.size)
    fp_neg = rng.poisson(40.0, n_neg)
    pos = np.stack([tp, fp_pos, sizes - tp], axis=1)
    neg = np.stack([np.zeros(n_neg, int), fp_neg, np.zeros(n_neg, int)], axis=1)
    return np.concatenate([neg, pos])


def _seg_truth(p: float, mean_size: float, n_pos: int, n_neg: int) -> float:
    """Pooled SegF1 of the population: 2 E[ΣTP] / (2 E[ΣTP] + E[ΣFP] + E[ΣFN])."""
    tp, fn = n_pos * p * mean_size, n_pos * (1 - p) * mean_size
    fp = n_pos * 80.0 + n_neg * 40.0
    return 2 * tp / (2 * tp + fp + fn)


@pytest.mark.slow
def test_seg_f1_interval_coverage_on_simulated_counts():
    """Per-image defect areas S ~ 100 + Poisson(300) shared by both models, TP ~ Bin(S, p_model),
    FP ~ Poisson(80) on anomalous and Poisson(40) on good images: the 95% interval of SegF1
    covers the population value, the paired 95% interval of Δ the true Δ."""
    rng = np.random.default_rng(31)
    n_pos, n_neg, p_a, p_b = 30, 30, 0.6, 0.55
    labels = np.r_[np.zeros(n_neg, int), np.ones(n_pos, int)]
    truth_a = _seg_truth(p_a, 400.0, n_pos, n_neg)
    truth_delta = _seg_truth(p_b, 400.0, n_pos, n_neg) - truth_a
    single = paired = 0
    for sim in range(N_SIM_SEG):
        sizes = 100 + rng.poisson(300, n_pos)
        a, b = _seg_counts(rng, sizes, n_neg, p_a), _seg_counts(rng, sizes, n_neg, p_b)
        ci = bootstrap_ci(labels, seg_f1_metric(), a, seed=sim)
        single += ci.low <= truth_a <= ci.high
        test = compare_models(labels, np.zeros(labels.size), np.zeros(labels.size),
                              {"seg_f1": Bound(0.0, alpha=0.025)},
                              pixel={"seg_f1": (b, a)})["seg_f1"]
        paired += test["ci_low"] <= truth_delta <= test["ci_high"]
    low, high = _band(N_SIM_SEG)
    print(f"\nseg_f1 ({N_SIM_SEG} sims, {n_pos}+{n_neg} images): CI coverage "
          f"{single / N_SIM_SEG:.3f}, Δ CI coverage {paired / N_SIM_SEG:.3f} "
          f"(band {low:.3f}-{high:.3f})")
    assert low <= single / N_SIM_SEG <= high
    assert low <= paired / N_SIM_SEG <= high


def _sample_auroc_truth(mu: float, k: int = 3) -> float:
    """P(max of an anomalous sample's views > max of a normal one's): the anomalous sample has
    one view ~ N(mu, 1) and k − 1 ~ N(0, 1), the normal one k views ~ N(0, 1)."""

    def density(t: float) -> float:  # of the anomalous sample's maximum
        phi, cdf = st.norm.pdf, st.norm.cdf
        return (phi(t - mu) * cdf(t) ** (k - 1)
                + (k - 1) * phi(t) * cdf(t) ** (k - 2) * cdf(t - mu))

    value, _ = integrate.quad(lambda t: density(t) * st.norm.cdf(t) ** k, -12, 12 + mu)
    return float(value)


@pytest.mark.slow
def test_sample_auroc_interval_coverage_on_simulated_views():
    """Three views per object, the defect in one view of each anomalous object: the 95%
    intervals of S-AUROC (metrics_ci) and of Δ between two equally good correlated models
    (compare_models) cover the truth."""
    rng = np.random.default_rng(32)
    mu, n_samples = 2.0, 80
    truth = _sample_auroc_truth(mu)
    assert 0.5 < truth < st.norm.cdf(mu / math.sqrt(2))  # the max over views dilutes
    single = paired = 0
    for _ in range(N_SIM_SAMPLE):
        labels, a, b, ids = _views(rng, n_samples, mu)
        sample_labels, grouped = _group_by_hand(labels, a, ids)
        ci = metrics_ci(labels, a, {"sample_auroc": ref_auroc(sample_labels, grouped)},
                        level=0.95, sample_ids=ids)["sample_auroc"]
        single += ci[0] <= truth <= ci[1]
        test = compare_models(labels, b, a, {"sample_auroc": Bound(0.0, alpha=0.025)},
                              sample_ids=ids)["sample_auroc"]
        paired += test["ci_low"] <= 0.0 <= test["ci_high"]
    low, high = _band(N_SIM_SAMPLE)
    print(f"\nsample_auroc ({N_SIM_SAMPLE} sims, {n_samples} objects x 3 views, truth "
          f"{truth:.4f}): CI coverage {single / N_SIM_SAMPLE:.3f}, Δ CI coverage "
          f"{paired / N_SIM_SAMPLE:.3f} (band {low:.3f}-{high:.3f})")
    assert low <= single / N_SIM_SAMPLE <= high
    assert low <= paired / N_SIM_SAMPLE <= high


@pytest.mark.parametrize("mode", ["regression", "non_inferior"])
def test_lower_is_better_mirrors_the_hypotheses(mode):
    """``higher_is_better=False`` on a metric = the usual test on its negation: the same
    p-value and verdict, Δ and interval negated."""
    rng = np.random.default_rng(11)
    labels = np.array([0, 1] * 25)
    base = np.where(labels == 1, rng.uniform(0.4, 0.8, labels.size), np.nan)
    cand = np.where(labels == 1, base + rng.normal(0.0, 0.05, labels.size), np.nan)
    metric = aupimo_std_metric()

    def negated(y, values):
        value = metric.value(y, values)
        return None if value is None else -value

    lower = paired_bootstrap(labels, metric, base, cand, max_drop=0.01, mode=mode,
                             higher_is_better=False, n_resamples=400)
    plain = paired_bootstrap(labels, negated, base, cand, max_drop=0.01, mode=mode,
                             n_resamples=400)
    assert lower.p_value == pytest.approx(plain.p_value, abs=1e-12)
    assert lower.passed is plain.passed
    assert lower.delta == pytest.approx(-plain.delta, abs=1e-12)
    assert (lower.ci_low, lower.ci_high) == pytest.approx((-plain.ci_high, -plain.ci_low),
                                                          abs=1e-12)
