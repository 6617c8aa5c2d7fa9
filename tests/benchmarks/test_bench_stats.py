"""Cost of every comparison of one item against its metrics step (docs/REFERENCE.md §5, §12).

Heavy: skipped in a plain ``pytest tests/`` run; run with ``PYIMGANO_BENCH=1`` (or
``--benchmark-only``). Scale as :mod:`tests.benchmarks.test_bench_metrics` (default 80 maps of
900x900; ``PYIMGANO_BENCH_IMAGES`` / ``PYIMGANO_BENCH_SIZE`` reduce it).

``test_comparison_cost``: in one run, the metrics step (``pixel_metrics`` of one model) and all
comparisons of the item (a candidate against a baseline): DeLong on ``image_auroc``, the paired
bootstrap (2000 resamples) of ``image_ap``, ``image_f1_max``, ``pixel_auroc``, ``pixel_ap``,
``pixel_f1_max``, ``aupro`` and ``aupimo_std`` — the pixel metrics from per-image statistics on
a fine grid (``pixel_statistics`` of both models, counted in the cost, the masks' regions
labelled once for both) — and Wilcoxon on
per-image AUPIMO (``aupimo_mean``; stand-in values, as the metrics step yields them at no extra
cost). The baseline's own exact metrics (a second model's metrics step, which the item runs
whenever it compares pixel metrics) are timed beside it, not counted as comparison cost.
``extra_info``: the times, the ratio (target <= 1.0, asserted at full scale) and each grid
metric's binned-minus-exact difference at all counts 1.
"""

from __future__ import annotations

import time

import numpy as np

from pyimgano.metrics import (
    aupimo_std_metric,
    aupro_metric,
    delong_test,
    image_bootstrap_metric,
    paired_bootstrap,
    pixel_ap_metric,
    pixel_auroc_metric,
    pixel_f1_max_metric,
    pixel_metrics,
    pixel_statistics,
    wilcoxon_aupimo,
)
from pyimgano.metrics._regions import label_regions

from .test_bench_metrics import FULL_SCALE, N_IMAGES, SIZE, make_maps_and_masks

RATIO_TARGET = 1.0
GRID_METRICS = {
    "pixel_auroc": pixel_auroc_metric,
    "pixel_ap": pixel_ap_metric,
    "pixel_f1_max": pixel_f1_max_metric,
    "aupro": aupro_metric,
}


def test_comparison_cost(benchmark) -> None:
    maps_a, masks = make_maps_and_masks(N_IMAGES, SIZE, seed=0)
    rng = np.random.default_rng(1)
    maps_b = [m + rng.standard_normal(m.shape, dtype=np.float32) * 0.05 for m in maps_a]
    labels = np.array([int(m.any()) for m in masks])
    scores_a = np.array([m.max() for m in maps_a], dtype=np.float64)
    scores_b = np.array([m.max() for m in maps_b], dtype=np.float64)
    aupimo_a = np.where(labels == 1, rng.uniform(0.2, 0.9, size=labels.size), np.nan)
    aupimo_b = aupimo_a + np.where(labels == 1, rng.normal(0.0, 0.02, labels.size), np.nan)

    pixel_metrics(maps_a[:2], masks[:2])  # warm-up: imports and first-call costs not timed
    started = time.perf_counter()
    exact_a = pixel_metrics(maps_a, masks)
    step_s = time.perf_counter() - started
    started = time.perf_counter()
    exact_b = pixel_metrics(maps_b, masks)
    baseline_step_s = time.perf_counter() - started
    stats_box: dict[str, object] = {}

    def compare() -> dict[str, object]:
        out: dict[str, object] = {"image_auroc": delong_test(labels, scores_a, scores_b)}
        for name in ("image_ap", "image_f1_max"):
            metric = image_bootstrap_metric(name)
            out[name] = paired_bootstrap(labels, metric, scores_a, scores_b)
        begun = time.perf_counter()
        regions = [label_regions(m) for m in masks]  # once for both models' statistics
        stats_a = pixel_statistics(maps_a, masks, regions=regions)
        stats_b = pixel_statistics(maps_b, masks, regions=regions)
        stats_box.update(a=stats_a, seconds=time.perf_counter() - begun)
        for name, make in GRID_METRICS.items():
            exact = (exact_a[name], exact_b[name])
            out[name] = paired_bootstrap(labels, make(), stats_a, stats_b, exact=exact)
        out["aupimo_mean"] = wilcoxon_aupimo(aupimo_a, aupimo_b)
        out["aupimo_std"] = paired_bootstrap(labels, aupimo_std_metric(), aupimo_a, aupimo_b,
                                             higher_is_better=False)
        return out

    started = time.perf_counter()
    results = benchmark.pedantic(compare, rounds=1, iterations=1)
    compare_s = time.perf_counter() - started
    ratio = compare_s / step_s
    ratio_fastest = compare_s / min(step_s, baseline_step_s)
    stats_s = float(stats_box["seconds"])
    grid_error = {
        name: float(make().value(labels, stats_box["a"]) - exact_a[name])
        for name, make in GRID_METRICS.items()
    }
    benchmark.extra_info.update(
        metrics_step_s=round(step_s, 3), baseline_metrics_s=round(baseline_step_s, 3),
        comparisons_s=round(compare_s, 3), pixel_statistics_s=round(stats_s, 3),
        ratio=round(ratio, 3), ratio_to_faster_step=round(ratio_fastest, 3),
        grid_error={k: f"{v:+.2e}" for k, v in grid_error.items()},
    )
    print(f"\nmetrics step {step_s:.2f} s (baseline's exact metrics {baseline_step_s:.2f} s), "
          f"all comparisons {compare_s:.2f} s (pixel_statistics of both {stats_s:.2f} s), "
          f"ratio {ratio:.2f} ({ratio_fastest:.2f} to the faster of the two steps)")
    print("  binned - exact at all counts 1: "
          + ", ".join(f"{k} {v:+.2e}" for k, v in grid_error.items()))
    for name, result in results.items():
        print(f"  {name}: {result}")
    # sanity: every interval holds its estimate (to rounding: a constant per-image difference
    # gives a zero-width interval)
    assert all(r.ci_low - 1e-9 <= r.delta <= r.ci_high + 1e-9 for r in results.values())
    assert all(abs(v) <= 2e-3 for v in grid_error.values()), grid_error
    if FULL_SCALE:
        assert ratio <= RATIO_TARGET
