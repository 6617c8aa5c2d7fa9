"""Paired statistics (pyimgano.metrics.stats) against references written here from the definitions,
against an independent package, and on simulated binormal data with a known truth.

References: DeLong's variance from the O(n_pos * n_neg) kernel of DeLong et al. (1988); the
binormal truth AUROC = Φ(mu / √2) for anomalous ~ N(mu, 1), normal ~ N(0, 1).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from pyimgano.errors import MetricInputError
from pyimgano.metrics import (
    aupro,
    aupro_metric,
    auroc,
    bootstrap_ci,
    delong_ci,
    delong_test,
    image_auroc_metric,
    paired_bootstrap,
    pixel_auroc_metric,
    pixel_metrics,
    pixel_statistics,
    wilcoxon_aupimo,
)

TOL = 1e-12
N_SIM = 1000


# --- the O(n_pos * n_neg) reference, from DeLong et al.'s definition ------------------------


def _psi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kernel psi(x_i, y_j): 1 if the anomalous score is above the normal one, 1/2 if tied."""
    return (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])


def ref_delong(labels, a, b):
    """(auc_a, auc_b, var_a, var_b, cov_ab) by the double loop definition."""
    y = np.asarray(labels).astype(bool)
    comps = []
    for s in (np.asarray(a, float), np.asarray(b, float)):
        kernel = _psi(s[y], s[~y])
        comps.append((kernel.mean(), kernel.mean(axis=1), kernel.mean(axis=0)))
    m, n = int(y.sum()), int((~y).sum())

    def cov(u, v):
        return float(np.sum((u - u.mean()) * (v - v.mean())) / (u.size - 1))

    (auc_a, v10a, v01a), (auc_b, v10b, v01b) = comps
    var_a = cov(v10a, v10a) / m + cov(v01a, v01a) / n
    var_b = cov(v10b, v10b) / m + cov(v01b, v01b) / n
    cov_ab = cov(v10a, v10b) / m + cov(v01a, v01b) / n
    return auc_a, auc_b, var_a, var_b, cov_ab


def _tied_case(seed: int, n: int = 40, levels: int = 6):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    labels[:2], labels[2:4] = 0, 1
    a = rng.integers(0, levels, size=n) + labels * rng.integers(0, 3, size=n)
    b = np.where(rng.random(n) < 0.5, a, rng.integers(0, levels, size=n) + labels)
    return labels, a.astype(float), b.astype(float)


@pytest.mark.parametrize("seed", range(30))
def test_delong_matches_the_definition_with_ties(seed: int) -> None:
    labels, a, b = _tied_case(seed)
    auc_a, auc_b, var_a, var_b, cov_ab = ref_delong(labels, a, b)
    margin, alpha = 0.01, 0.05
    result = delong_test(labels, a, b, max_drop=margin, alpha=alpha)
    se = math.sqrt(var_a + var_b - 2 * cov_ab)
    z = st.norm.isf(alpha)
    assert abs(result.baseline - auc_a) <= TOL and abs(result.candidate - auc_b) <= TOL
    assert abs(result.delta - (auc_b - auc_a)) <= TOL
    assert abs(result.p_value - st.norm.cdf((auc_b - auc_a + margin) / se)) <= TOL
    assert abs(result.ci_low - max(auc_b - auc_a - z * se, -1)) <= TOL
    assert abs(result.ci_high - min(auc_b - auc_a + z * se, 1)) <= TOL
    non_inferior = delong_test(labels, a, b, max_drop=margin, alpha=alpha, mode="non_inferior")
    assert abs(non_inferior.p_value - st.norm.sf((auc_b - auc_a + margin) / se)) <= TOL
    single = delong_ci(labels, a, level=0.9)
    z90 = st.norm.isf(0.05)
    assert abs(single.estimate - auc_a) <= TOL
    assert abs(single.low - max(auc_a - z90 * math.sqrt(var_a), 0)) <= TOL
    assert abs(single.high - min(auc_a + z90 * math.sqrt(var_a), 1)) <= TOL
    assert abs(auroc(labels, a) - auc_a) <= TOL


def test_delong_against_mlstatkit() -> None:
    """An independent implementation (MLstatkit's two-sided DeLong test, the test extra)."""
    mlstatkit = pytest.importorskip("MLstatkit.delong")
    for seed in range(10):
        labels, a, b = _tied_case(seed, n=60)
        if auroc(labels, a) == auroc(labels, b):
            continue
        _, p_two, _, _, auc_a, auc_b, info = mlstatkit.Delong_test(labels, a, b)
        assert info["method"] == "delong"
        ours = delong_test(labels, a, b)
        assert abs(ours.baseline - auc_a) <= 1e-12 and abs(ours.candidate - auc_b) <= 1e-12
        two_sided = 2 * min(ours.p_value, 1 - ours.p_value)
        assert abs(two_sided - p_two) <= 1e-9


def test_delong_zero_variance_and_errors() -> None:
    labels = [0, 0, 1, 1]
    perfect = [0.1, 0.2, 0.8, 0.9]
    result = delong_test(labels, perfect, perfect)
    assert (result.delta, result.ci_low, result.ci_high, result.p_value) == (0, 0, 0, 1.0)
    assert result.passed
    ni = delong_test(labels, perfect, perfect, max_drop=0.01, mode="non_inferior")
    assert ni.p_value == 0.0 and ni.passed
    with pytest.raises(MetricInputError, match="at least 2 normal and 2 anomalous"):
        delong_test([0, 1, 1], [0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    with pytest.raises(MetricInputError, match="alpha"):
        delong_test(labels, perfect, perfect, alpha=0.7)
    with pytest.raises(MetricInputError, match="mode"):
        delong_test(labels, perfect, perfect, mode="strict")  # type: ignore[arg-type]
    with pytest.raises(MetricInputError, match="max_drop"):
        delong_test(labels, perfect, perfect, max_drop=-0.1)
    with pytest.raises(MetricInputError, match="candidate"):
        delong_test(labels, perfect, perfect[:3])


# --- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_fast_auroc_equals_the_metric_on_every_resample() -> None:
    """resampled_auroc (all resamples at once) equals auroc() of each resampled image set."""
    labels, a, b = _tied_case(3, n=50)
    slow = paired_bootstrap(labels, auroc, a, b, n_resamples=300)
    fast = paired_bootstrap(labels, image_auroc_metric(), a, b, n_resamples=300)
    for field in ("candidate", "baseline", "delta", "ci_low", "ci_high", "p_value"):
        assert abs(getattr(slow, field) - getattr(fast, field)) <= TOL, field
    assert slow.method == fast.method == "bootstrap"
    one = bootstrap_ci(labels, auroc, a, n_resamples=300)
    other = bootstrap_ci(labels, image_auroc_metric(), a, n_resamples=300)
    assert abs(one.low - other.low) <= TOL and abs(one.high - other.high) <= TOL


def test_bootstrap_is_paired_stratified_and_seeded() -> None:
    labels = np.array([0] * 7 + [1] * 5)
    seen: dict[int, list[tuple[tuple[int, ...], tuple[int, ...]]]] = {0: [], 100: []}

    def spy(y: np.ndarray, data: np.ndarray) -> float:
        model = int(data[0, 0]) // 100 * 100  # column 0: image id, + 100 for the candidate
        seen[model].append((tuple(y.tolist()), tuple((data[:, 0] - model).tolist())))
        return float(data[:, 1].mean())

    base = np.stack([np.arange(12), np.linspace(0, 1, 12)], axis=1)
    cand = np.stack([np.arange(12) + 100, np.linspace(0, 1, 12) ** 2], axis=1)
    paired_bootstrap(labels, spy, base, cand, n_resamples=100)
    assert len(seen[0]) == len(seen[100]) == 1 + 100
    for (y_a, ids_a), (y_b, ids_b) in zip(seen[0][1:], seen[100][1:], strict=True):
        assert ids_a == ids_b and y_a == y_b  # the same images for both models
        assert sorted(y_a) == sorted(labels.tolist())  # class counts kept
        assert all(labels[int(i)] == lab for i, lab in zip(ids_a, y_a, strict=True))
    assert len({ids for _, ids in seen[0][1:]}) > 50  # actually resampled
    first = paired_bootstrap(labels, spy, base, cand, n_resamples=100)
    again = paired_bootstrap(labels, spy, base, cand, n_resamples=100)
    other = paired_bootstrap(labels, spy, base, cand, n_resamples=100, seed=1)
    assert first == again and first != other


def test_bootstrap_decisions_follow_the_interval() -> None:
    labels = np.array([0] * 30 + [1] * 30)
    rng = np.random.default_rng(0)
    base = rng.standard_normal(60) + 2 * labels
    worse = base + rng.standard_normal(60) * 3
    result = paired_bootstrap(labels, image_auroc_metric(), base, worse)
    assert result.delta < 0 and result.ci_high < 0
    assert result.p_value < 0.05 and not result.passed
    tolerant = paired_bootstrap(labels, image_auroc_metric(), base, worse, max_drop=0.5)
    assert tolerant.passed and tolerant.p_value > 0.05
    same = paired_bootstrap(labels, image_auroc_metric(), base, base, mode="non_inferior")
    assert same.p_value == 1.0 and not same.passed  # Δ* = 0 never rules out a drop of 0
    ni = paired_bootstrap(
        labels, image_auroc_metric(), base, base, mode="non_inferior", max_drop=0.01
    )
    assert ni.p_value == 0.0 and ni.passed
    shifted = paired_bootstrap(labels, image_auroc_metric(), base, worse, exact=(0.5, 0.6))
    assert (shifted.baseline, shifted.candidate) == (0.5, 0.6)
    assert shifted.ci_low == pytest.approx(result.ci_low + 0.1 - result.delta, abs=TOL)


def test_bootstrap_errors() -> None:
    with pytest.raises(MetricInputError, match="n_resamples"):
        paired_bootstrap([0, 1], auroc, [0, 1], [0, 1], n_resamples=10)
    with pytest.raises(MetricInputError, match="baseline has shape"):
        paired_bootstrap([0, 1, 1], auroc, [0, 1], [0, 1, 1])
    with pytest.raises(MetricInputError, match="undefined"):
        paired_bootstrap([1, 1], auroc, [0, 1], [0, 1])
    with pytest.raises(MetricInputError, match="level"):
        bootstrap_ci([0, 1], auroc, [0, 1], level=1.5)


# --- Wilcoxon on per-image AUPIMO -------------------------------------------------------------


def test_wilcoxon_aupimo_tolerance_and_margin() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.3, 0.9, size=25)
    nan = np.r_[base, np.nan]
    # below the authors' 1e-3 tolerance every pair is a tie: no evidence at all
    close = wilcoxon_aupimo(nan, np.r_[base - 0.0009, np.nan])
    assert close.p_value == 1.0 and close.passed and close.method == "wilcoxon"
    assert close.delta == pytest.approx(-0.0009, abs=1e-12)
    # a consistent drop of 0.01 is a regression (the signed-rank test, one-sided)
    worse = base - 0.01 + rng.uniform(-0.004, 0.004, size=25)
    drop = wilcoxon_aupimo(base, worse)
    expected = st.wilcoxon(worse - base, alternative="less").pvalue
    assert drop.p_value == pytest.approx(expected, abs=1e-15) and not drop.passed
    # ... but not beyond a margin of 0.02: the shifted differences are positive
    assert wilcoxon_aupimo(base, worse, max_drop=0.02).passed
    ni = wilcoxon_aupimo(base, worse, max_drop=0.02, mode="non_inferior")
    assert ni.passed and ni.p_value < 0.05
    assert drop.ci_low < drop.delta < drop.ci_high < 0
    with pytest.raises(MetricInputError, match="different images"):
        wilcoxon_aupimo([0.1, np.nan], [0.1, 0.2])
    with pytest.raises(MetricInputError, match="same length"):
        wilcoxon_aupimo([0.1, 0.2], [0.1])


# --- pixel statistics -------------------------------------------------------------------------


def _pixel_case(seed: int, levels: int | None):
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for i in range(8):
        mask = np.zeros((24, 24), dtype=np.uint8)
        if i % 2:
            r, c = rng.integers(0, 16, size=2)
            mask[r : r + 6, c : c + 5] = 1
            mask[0:2, 0:3] = 1  # a second region
        noise = rng.standard_normal((24, 24)) + 1.5 * mask
        amap = np.round(noise * levels / 4) if levels else noise
        maps.append(amap.astype(np.float32))
        masks.append(mask)
    return maps, masks


def test_pixel_statistics_reproduce_the_exact_metrics_on_a_grid_that_resolves_every_score() -> None:
    maps, masks = _pixel_case(0, levels=12)  # few distinct scores: each gets its own bin
    stats = pixel_statistics(maps, masks)
    exact = pixel_metrics(maps, masks, aupro_limit=0.3)
    labels = np.array([i % 2 for i in range(8)])
    binned_auroc = pixel_auroc_metric().value(labels, stats)
    assert binned_auroc == pytest.approx(exact["pixel_auroc"], abs=TOL)
    binned_aupro = aupro_metric(0.3).value(labels, stats)
    assert binned_aupro == pytest.approx(aupro(maps, masks, limit=0.3), abs=TOL)
    # a resample is the sum of its images' histograms: check one against the metric itself
    pick = [0, 1, 1, 3, 4, 5, 5, 7]
    counts = np.bincount(pick, minlength=8)[None, :]
    sub_maps, sub_masks = [maps[i] for i in pick], [masks[i] for i in pick]
    sub = pixel_metrics(sub_maps, sub_masks)
    assert pixel_auroc_metric().resampled(labels, stats, counts)[0] == pytest.approx(
        sub["pixel_auroc"], abs=TOL
    )
    assert aupro_metric(0.3).resampled(labels, stats, counts)[0] == pytest.approx(
        sub["aupro"], abs=TOL
    )


def test_pixel_bootstrap_on_continuous_maps() -> None:
    maps, masks = _pixel_case(1, levels=None)
    maps_b = [
        m + np.random.default_rng(i).standard_normal(m.shape) * 0.8 for i, m in enumerate(maps)
    ]
    labels = np.array([i % 2 for i in range(8)])
    exact_a = pixel_metrics(maps, masks)["pixel_auroc"]
    exact_b = pixel_metrics(maps_b, masks)["pixel_auroc"]
    stats_a, stats_b = pixel_statistics(maps, masks), pixel_statistics(maps_b, masks)
    assert pixel_auroc_metric().value(labels, stats_a) == pytest.approx(exact_a, abs=1e-3)
    result = paired_bootstrap(
        labels, pixel_auroc_metric(), stats_a, stats_b, exact=(exact_a, exact_b)
    )
    assert (result.baseline, result.candidate) == (exact_a, exact_b)
    assert result.ci_low < result.delta < result.ci_high < 0 and not result.passed


# --- simulations: binormal data with a known truth -------------------------------------------


def _binormal(rng, n_pos: int, n_neg: int, mu_a: float, mu_b: float, rho: float):
    labels = np.r_[np.zeros(n_neg, int), np.ones(n_pos, int)]
    e1, e2 = rng.standard_normal((2, labels.size))
    a = mu_a * labels + e1
    b = mu_b * labels + rho * e1 + math.sqrt(1 - rho**2) * e2
    return labels, a, b


def _truth(mu: float) -> float:
    return float(st.norm.cdf(mu / math.sqrt(2)))


@pytest.mark.slow
def test_delong_coverage_type_one_error_and_power_on_binormal_simulations() -> None:
    rng = np.random.default_rng(20)
    n_pos = n_neg = 80
    mu_a, mu_b_equal, mu_b_worse, rho = 1.4, 1.4, 1.0, 0.5
    cover_single = cover_delta = false_alarms = caught = 0
    worse_deltas = []
    for _ in range(N_SIM):
        labels, a, b = _binormal(rng, n_pos, n_neg, mu_a, mu_b_equal, rho)
        ci = delong_ci(labels, a, level=0.95)
        cover_single += ci.low <= _truth(mu_a) <= ci.high
        equal = delong_test(labels, a, b, alpha=0.025)  # two-sided 95% interval of Δ
        cover_delta += equal.ci_low <= 0.0 <= equal.ci_high
        false_alarms += not delong_test(labels, a, b, alpha=0.05).passed
        labels, a, w = _binormal(rng, n_pos, n_neg, mu_a, mu_b_worse, rho)
        worse = delong_test(labels, a, w, alpha=0.05)
        caught += not worse.passed
        worse_deltas.append(worse.delta)
    true_delta = _truth(mu_b_worse) - _truth(mu_a)
    predicted = st.norm.cdf(-true_delta / np.std(worse_deltas, ddof=1) - st.norm.isf(0.05))
    print(
        f"\nDeLong ({N_SIM} sims, {n_pos}+{n_neg}): AUROC CI coverage {cover_single / N_SIM:.3f},"
        f" Δ CI coverage {cover_delta / N_SIM:.3f}, type-I {false_alarms / N_SIM:.3f},"
        f" power {caught / N_SIM:.3f} (predicted {predicted:.3f}, true Δ {true_delta:.4f})"
    )
    assert 0.93 <= cover_single / N_SIM <= 0.97
    assert 0.93 <= cover_delta / N_SIM <= 0.97
    assert false_alarms / N_SIM <= 0.05 + 0.01
    assert abs(caught / N_SIM - predicted) <= 0.05


@pytest.mark.slow
def test_non_inferiority_type_one_error_at_the_margin() -> None:
    """H0 'Δ <= −δ' true at its boundary: a pass is a false pass, at most alpha + 0.01."""
    rng = np.random.default_rng(21)
    mu_a, max_drop, rho = 1.4, 0.03, 0.5
    # the candidate's mu with Φ(mu_b / √2) = Φ(mu_a / √2) − δ: Δ = −δ exactly
    mu_b = math.sqrt(2) * st.norm.ppf(_truth(mu_a) - max_drop)
    false_passes = 0
    for _ in range(N_SIM):
        labels, a, b = _binormal(rng, 80, 80, mu_a, mu_b, rho)
        false_passes += delong_test(labels, a, b, max_drop=max_drop, mode="non_inferior").passed
    print(f"\nDeLong non-inferiority at the margin: false passes {false_passes / N_SIM:.3f}")
    assert false_passes / N_SIM <= 0.05 + 0.01


@pytest.mark.slow
def test_bootstrap_coverage_and_type_one_error_on_binormal_simulations() -> None:
    rng = np.random.default_rng(22)
    n_pos = n_neg = 60
    mu, rho = 1.4, 0.5
    cover_single = cover_delta = false_alarms = 0
    metric = image_auroc_metric()
    for sim in range(N_SIM):
        labels, a, b = _binormal(rng, n_pos, n_neg, mu, mu, rho)
        ci = bootstrap_ci(labels, metric, a, seed=sim)
        cover_single += ci.low <= _truth(mu) <= ci.high
        result = paired_bootstrap(labels, metric, a, b, alpha=0.025, seed=sim)
        cover_delta += result.ci_low <= 0.0 <= result.ci_high
        false_alarms += result.p_value < 0.05  # the one-sided test at alpha=0.05
    print(
        f"\nbootstrap ({N_SIM} sims, {n_pos}+{n_neg}, 2000 resamples): AUROC CI coverage"
        f" {cover_single / N_SIM:.3f}, Δ CI coverage {cover_delta / N_SIM:.3f},"
        f" type-I {false_alarms / N_SIM:.3f}"
    )
    assert 0.93 <= cover_single / N_SIM <= 0.97
    assert 0.93 <= cover_delta / N_SIM <= 0.97
    assert false_alarms / N_SIM <= 0.05 + 0.01


@pytest.mark.slow
def test_wilcoxon_type_one_error_and_interval_coverage_on_simulations() -> None:
    """Per-image AUPIMO differences symmetric about −δ: the regression test at the margin
    rejects at most alpha + 0.01; the mean difference's 95% interval covers −δ."""
    rng = np.random.default_rng(23)
    max_drop, n_images = 0.02, 40
    false_alarms = covered = 0
    for sim in range(N_SIM):
        base = rng.uniform(0.2, 0.9, size=n_images)
        cand = base - max_drop + rng.normal(0.0, 0.03, size=n_images)
        # alpha 0.025: the 95% interval; the p-value does not depend on alpha
        result = wilcoxon_aupimo(base, cand, max_drop=max_drop, alpha=0.025, seed=sim)
        false_alarms += result.p_value < 0.05  # the regression test at alpha 0.05
        covered += result.ci_low <= -max_drop <= result.ci_high
    print(
        f"\nWilcoxon ({N_SIM} sims, {n_images} images): type-I {false_alarms / N_SIM:.3f},"
        f" mean-difference CI coverage {covered / N_SIM:.3f}"
    )
    assert false_alarms / N_SIM <= 0.05 + 0.01
    assert 0.93 <= covered / N_SIM <= 0.97


@pytest.mark.parametrize(
    "name",
    ["image_auroc", "image_ap", "image_f1_max", "image_tpr_at_fpr_0.1", "image_tpr_at_fpr_0.5"],
)
def test_every_image_metric_resamples_exactly_as_the_metric_itself(name: str) -> None:
    """The all-at-once form equals the metric function called on each resampled image set."""
    from pyimgano.metrics import average_precision, f1_max, image_bootstrap_metric, tpr_at_fpr

    plain = {
        "image_auroc": auroc,
        "image_ap": average_precision,
        "image_f1_max": f1_max,
        "image_tpr_at_fpr_0.1": lambda y, s: tpr_at_fpr(y, s, fpr_limit=0.1),
        "image_tpr_at_fpr_0.5": lambda y, s: tpr_at_fpr(y, s, fpr_limit=0.5),
    }[name]
    for seed in range(3):
        labels, a, b = _tied_case(seed, n=45)
        slow = paired_bootstrap(labels, plain, a, b, n_resamples=200, seed=seed)
        fast = paired_bootstrap(
            labels, image_bootstrap_metric(name), a, b, n_resamples=200, seed=seed
        )
        for field in ("candidate", "baseline", "delta", "ci_low", "ci_high", "p_value"):
            assert abs(getattr(slow, field) - getattr(fast, field)) <= 1e-12, (field, seed)
    with pytest.raises(MetricInputError, match="no image bootstrap metric 'pixel_ap'"):
        image_bootstrap_metric("pixel_ap")


@pytest.mark.parametrize("limit", [0.05, 0.3, 1.0])
def test_binned_pixel_metrics_of_skewed_resamples_equal_the_metrics_of_those_images(
    limit: float,
) -> None:
    """Resamples dominated by one image whose scores are all low (its curve passes the limit
    only far down the grid) and by others: each equals pixel_metrics of its own images."""
    maps, masks = _pixel_case(2, levels=12)
    maps[0] = maps[0] - 40  # a good image scored far below every other one
    labels = np.array([i % 2 for i in range(8)])
    stats = pixel_statistics(maps, masks)
    rng = np.random.default_rng(3)
    rows = [np.array([7, 1, 0, 0, 0, 0, 0, 0]), np.array([6, 0, 0, 2, 0, 0, 0, 0])]
    rows += [rng.multinomial(8, rng.dirichlet(np.ones(8) * 0.5)) for _ in range(8)]
    rows = [r for r in rows if r[1::2].sum() and r[0::2].sum()]  # both classes present
    counts = np.array(rows)
    got_pro = aupro_metric(limit).resampled(labels, stats, counts)
    got_roc = pixel_auroc_metric().resampled(labels, stats, counts)
    for row, pro_value, roc_value in zip(counts, got_pro, got_roc, strict=True):
        pick = np.repeat(np.arange(8), row)
        sub_maps, sub_masks = [maps[i] for i in pick], [masks[i] for i in pick]
        assert pro_value == pytest.approx(aupro(sub_maps, sub_masks, limit=limit), abs=TOL)
        expected = pixel_metrics(sub_maps, sub_masks)["pixel_auroc"]
        assert roc_value == pytest.approx(expected, abs=TOL)
