"""Speed and memory of ``pyimgano.metrics.pixel_metrics`` at MVTec scale (docs/REFERENCE.md §10).

Heavy: skipped in a plain ``pytest tests/`` run. Run on demand with either of::

    pytest tests/benchmarks --benchmark-only
    PYIMGANO_BENCH=1 pytest tests/benchmarks

Scale (default: 80 maps of 900x900, about 65 M pixels, float32, a few blobby defects on half
the images) can be reduced for a quick run::

    PYIMGANO_BENCH_IMAGES=8 PYIMGANO_BENCH_SIZE=300 pytest tests/benchmarks --benchmark-only

What is measured, in the same run:

1. ``test_pixel_metrics_speed``: ``pixel_metrics`` against a straightforward baseline written
   below (float64, one sort per metric, scikit-learn-like AUROC/AP/F1-max and MVTec-like
   AU-PRO). Results must agree to 1e-9. ``extra_info``: both times and their ratio
   (target <= 0.15, asserted at full scale).
2. ``test_pixel_metrics_memory``: peak extra memory of ``pixel_metrics`` under tracemalloc
   (NumPy allocations are traced), in bytes per pixel (target <= 24, asserted at full scale;
   at small scale one sweep chunk's temporaries dominate).
3. ``test_protocol_metrics_cost``: the added cost of the protocol metrics (docs/REFERENCE.md
   §5) against today's metrics step (the four pixel metrics, one sort, no AUPIMO), same run:
   the step with ``aupro_limits=(0.05,)`` and AUPIMO, then also with AU-sPRO (MVTec LOCO
   only; each mask as one defect saturating at half its area), all from the one sort.
   ``extra_info``: each time and the ratios (target: all protocol metrics together <= 1.5x
   today's step; reported, not asserted).
4. ``test_torch_cpu_against_numpy``: the torch path on CPU tensors against the NumPy path
   (same maps, same run; results agree to 1e-9), so the CPU default can be chosen.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
import pytest
from scipy import ndimage

from pyimgano.metrics import evaluate_pixels, pixel_metrics

N_IMAGES = int(os.environ.get("PYIMGANO_BENCH_IMAGES", "80"))
SIZE = int(os.environ.get("PYIMGANO_BENCH_SIZE", "900"))
FULL_SCALE = N_IMAGES >= 80 and SIZE >= 900
TIME_RATIO_TARGET = 0.15
BYTES_PER_PIXEL_TARGET = 24.0
KEYS = ("pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro")


def make_maps_and_masks(
    n_images: int, size: int, seed: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Smooth float32 maps (upsampled coarse noise, as feature-map models give) and masks with
    one to three blobby defects on every second image, where the map is raised."""
    rng = np.random.default_rng(seed)
    rows, cols = np.ogrid[0:size, 0:size]
    maps, masks = [], []
    for index in range(n_images):
        coarse = rng.random((size // 16 + 2, size // 16 + 2))
        amap = ndimage.zoom(coarse, 16, order=1)[:size, :size]
        mask = np.zeros((size, size), dtype=bool)
        if index % 2:
            for _ in range(rng.integers(1, 4)):
                cy, cx = rng.integers(0, size, size=2)
                ry, rx = rng.integers(max(2, size // 100), max(3, size // 10), size=2)
                wobble = 1.0 + 0.3 * np.sin(rows * 0.2 + cx) * np.cos(cols * 0.15 + cy)
                mask |= ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= wobble
            amap = amap + 0.8 * ndimage.gaussian_filter(mask.astype(np.float64), 3.0)
        amap = amap + 0.02 * rng.standard_normal((size, size))
        maps.append(amap.astype(np.float32))
        masks.append(mask)
    return maps, masks


# --- the straightforward baseline: float64, one sort per metric ---------------------------


def _pooled(maps, masks):
    scores = np.concatenate([m.astype(np.float64).ravel() for m in maps])
    labels = np.concatenate([(k != 0).ravel() for k in masks])
    return labels, scores


def _clf_curve(labels, scores):
    """scikit-learn's ``_binary_clf_curve``: stable sort, ties collapsed, float64 cumsum."""
    order = np.argsort(scores, kind="mergesort")[::-1]
    scores = scores[order]
    y = labels[order].astype(np.float64)
    ends = np.r_[np.flatnonzero(np.diff(scores)), y.size - 1]
    tps = np.cumsum(y)[ends]
    fps = 1 + ends - tps
    return fps, tps


def baseline_auroc(labels, scores):
    fps, tps = _clf_curve(labels, scores)
    fpr = np.r_[0.0, fps] / fps[-1]
    tpr = np.r_[0.0, tps] / tps[-1]
    return float(np.trapezoid(tpr, fpr))


def baseline_ap(labels, scores):
    fps, tps = _clf_curve(labels, scores)
    precision = np.r_[(tps / (tps + fps))[::-1], 1.0]
    recall = np.r_[(tps / tps[-1])[::-1], 0.0]
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def baseline_f1_max(labels, scores):
    fps, tps = _clf_curve(labels, scores)
    return float(np.max(2 * tps / (tps + fps + tps[-1])))


def baseline_aupro(maps, masks, limit):
    eight = np.ones((3, 3), dtype=int)
    fp_steps, pro_steps = [], []
    n_ok = n_regions = 0
    for mask in masks:
        labeled, count = ndimage.label(mask, structure=eight)
        sizes = np.bincount(labeled.ravel())
        weights = np.r_[0.0, 1.0 / sizes[1:]]
        fp_steps.append((labeled == 0).ravel())
        pro_steps.append(weights[labeled.ravel()])
        n_ok += int(sizes[0])
        n_regions += count
    scores = np.concatenate([m.astype(np.float64).ravel() for m in maps])
    order = np.argsort(scores)[::-1]
    scores = scores[order]
    fpr = np.cumsum(np.concatenate(fp_steps)[order]) / n_ok
    pro = np.cumsum(np.concatenate(pro_steps)[order]) / n_regions
    keep = np.r_[np.diff(scores) != 0, True]
    x = np.r_[0.0, np.minimum(fpr[keep], 1.0), 1.0]
    y = np.r_[0.0, np.minimum(pro[keep], 1.0), 1.0]
    correction = 0.0
    if limit not in x:
        ins = int(np.searchsorted(x, limit, side="right"))
        y_at = y[ins - 1] + (y[ins] - y[ins - 1]) * (limit - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_at + y[ins - 1]) * (limit - x[ins - 1])
    inside = x <= limit
    x, y = x[inside], y[inside]
    return float((np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction) / limit)


def baseline_pixel_metrics(maps, masks, limit=0.3):
    labels, scores = _pooled(maps, masks)
    return {
        "pixel_auroc": baseline_auroc(labels, scores),
        "pixel_ap": baseline_ap(labels, scores),
        "pixel_f1_max": baseline_f1_max(labels, scores),
        "aupro": baseline_aupro(maps, masks, limit),
    }


# --- benchmarks ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> tuple[list[np.ndarray], list[np.ndarray]]:
    return make_maps_and_masks(N_IMAGES, SIZE)


def test_pixel_metrics_speed(benchmark, data) -> None:
    maps, masks = data
    n_pixels = sum(m.size for m in maps)
    started = time.perf_counter()
    expected = baseline_pixel_metrics(maps, masks)
    baseline_s = time.perf_counter() - started

    result = benchmark.pedantic(pixel_metrics, args=(maps, masks), rounds=1, iterations=1)
    optimised_s = benchmark.stats.stats.min

    ratio = optimised_s / baseline_s
    benchmark.extra_info.update(
        n_images=len(maps),
        n_pixels=n_pixels,
        baseline_s=baseline_s,
        optimised_s=optimised_s,
        time_ratio=ratio,
        time_ratio_target=TIME_RATIO_TARGET,
        metrics=dict(result),
    )
    for key in KEYS:
        assert result[key] == pytest.approx(expected[key], abs=1e-9, rel=0), key
    if FULL_SCALE:
        assert ratio <= TIME_RATIO_TARGET, f"{optimised_s:.2f}s vs baseline {baseline_s:.2f}s"


def test_pixel_metrics_memory(benchmark, data) -> None:
    maps, masks = data
    n_pixels = sum(m.size for m in maps)
    peaks: list[int] = []

    def traced() -> None:
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            pixel_metrics(maps, masks)
            peaks.append(tracemalloc.get_traced_memory()[1] - before)
        finally:
            tracemalloc.stop()

    benchmark.pedantic(traced, rounds=1, iterations=1)
    bytes_per_pixel = peaks[-1] / n_pixels
    benchmark.extra_info.update(
        n_pixels=n_pixels,
        peak_extra_bytes=peaks[-1],
        bytes_per_pixel=bytes_per_pixel,
        bytes_per_pixel_target=BYTES_PER_PIXEL_TARGET,
        note="timing of this test is under tracemalloc",
    )
    if FULL_SCALE:  # small runs are dominated by one sweep chunk's temporaries
        assert bytes_per_pixel <= BYTES_PER_PIXEL_TARGET


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


#: Rounds of the same-run comparisons below; each variant's best round is kept, and the
#: variants take turns, so that load on a shared machine hits them alike.
ROUNDS = int(os.environ.get("PYIMGANO_BENCH_ROUNDS", "3"))


def _best_of(variants: dict) -> tuple[dict, dict]:
    """Run each ``name -> callable`` ROUNDS times, interleaved; (last result, best seconds)."""
    results, best = {}, {}
    for _ in range(ROUNDS):
        for name, function in variants.items():
            results[name], seconds = _timed(function)
            best[name] = min(seconds, best.get(name, float("inf")))
    return results, best


def test_protocol_metrics_cost(benchmark, data) -> None:
    maps, masks = data
    # MVTec LOCO style: each mask is one defect, saturating at half its area
    defects = [[(mask, 0.5 * np.count_nonzero(mask))] if mask.any() else [] for mask in masks]
    evaluate_pixels(maps[:2], masks[:2])  # warm up (imports torch for AUPIMO's thresholds)
    results, best = _best_of(
        {
            "today": lambda: evaluate_pixels(maps, masks, aupimo_fpr_bounds=None),
            "aupro_limits_and_aupimo": lambda: evaluate_pixels(maps, masks, aupro_limits=(0.05,)),
            "all_protocol": lambda: evaluate_pixels(
                maps, masks, aupro_limits=(0.05,), defects=defects, auspro_limits=(0.05, 0.3)
            ),
        }
    )
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # timings are in extra_info
    evaluation = results["all_protocol"]
    benchmark.extra_info.update(
        n_pixels=sum(m.size for m in maps),
        rounds=ROUNDS,
        seconds=best,
        ratio_aupro_limits_and_aupimo=best["aupro_limits_and_aupimo"] / best["today"],
        ratio_all_protocol=best["all_protocol"] / best["today"],
        ratio_target=1.5,
        metrics=dict(evaluation.metrics),
        aupimo_warnings=list(evaluation.aupimo_warnings),
    )
    assert evaluation.metrics["aupro_0.05"] is not None
    assert evaluation.metrics["auspro_0.05"] is not None
    for key, value in results["aupro_limits_and_aupimo"].metrics.items():
        if value is not None:
            assert evaluation.metrics[key] == pytest.approx(value, abs=1e-9, rel=0), key


def test_torch_cpu_against_numpy(benchmark, data) -> None:
    torch = pytest.importorskip("torch")
    maps, masks = data
    tensors = [torch.from_numpy(m) for m in maps]
    evaluate_pixels(tensors[:2], masks[:2])  # warm up
    results, best = _best_of(
        {
            "numpy": lambda: evaluate_pixels(maps, masks, aupro_limits=(0.05,)),
            "torch_cpu": lambda: evaluate_pixels(tensors, masks, aupro_limits=(0.05,)),
        }
    )
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # timings are in extra_info
    benchmark.extra_info.update(
        n_pixels=sum(m.size for m in maps),
        rounds=ROUNDS,
        seconds=best,
        torch_over_numpy=best["torch_cpu"] / best["numpy"],
        torch_threads=torch.get_num_threads(),
    )
    assert results["torch_cpu"].metrics_device == "cpu (torch)"
    for key, value in results["numpy"].metrics.items():
        if value is None:
            assert results["torch_cpu"].metrics[key] is None
        else:
            assert results["torch_cpu"].metrics[key] == pytest.approx(value, abs=1e-9, rel=0), key
