"""Cost of every comparison of one item against its metrics step (docs/REFERENCE.md §5).

Heavy: skipped in a plain ``pytest tests/`` run; run with ``PYIMGANO_BENCH=1`` (or
``--benchmark-only``). Scale as :mod:`tests.benchmarks.test_bench_metrics` (default 80 maps of
900x900; ``PYIMGANO_BENCH_IMAGES`` / ``PYIMGANO_BENCH_SIZE`` reduce it).

``test_comparison_cost``: in one run, the metrics step (``pixel_metrics`` of one model) and all
comparisons of the item (a candidate against a baseline): DeLong on ``image_auroc``, the paired
bootstrap (2000 resamples) of ``image_ap``, ``image_f1_max``, ``pixel_auroc`` and ``aupro`` —
the pixel metrics from per-image statistics on a fine grid (``pixel_statistics`` of both
models, counted in the cost) — and Wilcoxon on per-image AUPIMO (stand-in values).
``extra_info``: both times and their ratio (target <= 1.0, asserted at full scale).
"""

from __future__ import annotations

import time

import numpy as np

from pyimgano.metrics import (
    aupro_metric,
    delong_test,
    image_bootstrap_metric,
    paired_bootstrap,
    pixel_auroc_metric,
    pixel_metrics,
    pixel_statistics,
    wilcoxon_aupimo,
)

from .test_bench_metrics import FULL_SCALE, N_IMAGES, SIZE, make_maps_and_masks

RATIO_TARGET = 1.0


def test_comparison_cost(benchmark) -> None:
    maps_a, masks = make_maps_and_masks(N_IMAGES, SIZE, seed=0)
    rng = np.random.default_rng(1)
    maps_b = [m + rng.standard_normal(m.shape, dtype=np.float32) * 0.05 for m in maps_a]
    labels = np.array([int(m.any()) for m in masks])
    scores_a = np.array([m.max() for m in maps_a], dtype=np.float64)
    scores_b = np.array([m.max() for m in maps_b], dtype=np.float64)

    started = time.perf_counter()
    exact_a = pixel_metrics(maps_a, masks)
    step_s = time.perf_counter() - started
    exact_b = pixel_metrics(maps_b, masks)

    def compare() -> dict[str, object]:
        out: dict[str, object] = {"image_auroc": delong_test(labels, scores_a, scores_b)}
        for name in ("image_ap", "image_f1_max"):
            metric = image_bootstrap_metric(name)
            out[name] = paired_bootstrap(labels, metric, scores_a, scores_b)
        stats_a, stats_b = pixel_statistics(maps_a, masks), pixel_statistics(maps_b, masks)
        for name, metric in (("pixel_auroc", pixel_auroc_metric()), ("aupro", aupro_metric())):
            exact = (exact_a[name], exact_b[name])
            out[name] = paired_bootstrap(labels, metric, stats_a, stats_b, exact=exact)
        per_image = rng.uniform(0.2, 0.9, size=labels.size)
        out["aupimo"] = wilcoxon_aupimo(per_image, per_image + 0.01)
        return out

    started = time.perf_counter()
    results = benchmark.pedantic(compare, rounds=1, iterations=1)
    compare_s = time.perf_counter() - started
    ratio = compare_s / step_s
    benchmark.extra_info.update(
        metrics_step_s=round(step_s, 3), comparisons_s=round(compare_s, 3), ratio=round(ratio, 3)
    )
    print(f"\nmetrics step {step_s:.2f} s, all comparisons {compare_s:.2f} s, ratio {ratio:.2f}")
    for name, result in results.items():
        print(f"  {name}: {result}")
    # sanity: every interval holds its estimate (to rounding: a constant per-image difference
    # gives a zero-width interval)
    assert all(r.ci_low - 1e-9 <= r.delta <= r.ci_high + 1e-9 for r in results.values())
    if FULL_SCALE:
        assert ratio <= RATIO_TARGET
