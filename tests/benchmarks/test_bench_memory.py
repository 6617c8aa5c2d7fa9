"""Memory and time of the pixel metrics at MVTec scale, in memory and within a budget.

Run on demand (``PYIMGANO_BENCH=1 pytest tests/benchmarks/test_bench_memory.py -s``). Scale:
``PYIMGANO_BENCH_MEM_IMAGES`` maps (default 100) of ``PYIMGANO_BENCH_MEM_SIZE`` px square
(default 1024), float32 noise-textured maps (about one distinct score per pixel, the worst case
for the curves), a rectangle and a blob of defect on every second image. Each test prints and
records (``extra_info``) its figures; BENCHMARKS.md quotes them.

1. ``test_in_memory_path``: the evaluation's call (``keep_curves=True``, one extra AU-PRO limit,
   AUPIMO) — wall time against one in-place ``np.sort`` of the same packed keys in the same
   run (the floor; target <= 1.5x), and peak traced bytes per pixel (target <= 16, goal 12).
2. ``test_streamed_path``: the same call with ``memory_budget`` a quarter of the in-memory need:
   time against the in-memory path (target <= 1.5x), peak traced bytes against the budget,
   and every metric within 1e-12 of the in-memory one.
3. ``test_mvtec_ad2_size_category`` (only with ``PYIMGANO_BENCH_AD2=1``: minutes): 150 maps of
   2448x2048 under a 4 GiB budget; wall time per megapixel.
"""

from __future__ import annotations

import contextlib
import os
import time
import tracemalloc

import numpy as np
import pytest

from pyimgano.metrics import evaluate_pixels
from pyimgano.metrics._pixels import Layout
from pyimgano.metrics._pixels import packed_keys as _packed_keys
from pyimgano.metrics._spill import in_memory_need

N_IMAGES = int(os.environ.get("PYIMGANO_BENCH_MEM_IMAGES", "100"))
SIZE = int(os.environ.get("PYIMGANO_BENCH_MEM_SIZE", "1024"))
FULL_SCALE = N_IMAGES >= 100 and SIZE >= 1024


def make_case(n_images: int, height: int, width: int, seed: int = 0):
    """Float32 maps: coarse noise (8-px blocks) plus fine noise; defects on odd images."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for index in range(n_images):
        coarse = rng.random((height // 8 + 1, width // 8 + 1), dtype=np.float32)
        amap = np.repeat(np.repeat(coarse, 8, axis=0), 8, axis=1)[:height, :width]
        amap = amap + np.float32(0.05) * rng.random((height, width), dtype=np.float32)
        mask = np.zeros((height, width), dtype=bool)
        if index % 2:
            y, x = rng.integers(0, height // 2), rng.integers(0, width // 2)
            mask[y : y + height // 6, x : x + width // 5] = True
            rows, cols = np.ogrid[0:height, 0:width]
            cy, cx = rng.integers(height // 4, 3 * height // 4, size=2)
            mask |= ((rows - cy) / (height / 20)) ** 2 + ((cols - cx) / (width / 30)) ** 2 <= 1
            amap[mask] += np.float32(0.4)
        maps.append(amap)
        masks.append(mask)
    return maps, masks


def packed_keys(maps, masks) -> np.ndarray:
    """The packed keys the in-memory path sorts, unsorted (``_pool_packed``'s own builder)."""
    return _packed_keys(maps, Layout(masks, None), sum(amap.size for amap in maps))


def _call(maps, masks, regions=None, **kwargs):
    return evaluate_pixels(
        maps, masks, regions=regions, keep_curves=True, aupro_limits=(0.05,), **kwargs
    )


def _timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def _traced_peak(function) -> tuple[object, int]:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = function()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def case():
    from pyimgano.metrics._regions import label_regions

    # AUPIMO draws its thresholds with torch.linspace and imports torch on first use: a
    # one-time cost per process (1.5-2 s here), not a cost of the pixels, so it is paid
    # before the timed calls (an evaluation of a torch model has imported it already).
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401
    maps, masks = make_case(N_IMAGES, SIZE, SIZE)
    return maps, masks, [label_regions(mask) for mask in masks]


def test_in_memory_path(case) -> None:
    maps, masks, regions = case
    n_pixels = sum(amap.size for amap in maps)
    keys = packed_keys(maps, masks)
    _, sort_s = _timed(keys.sort)
    del keys
    result, metrics_s = _timed(lambda: _call(maps, masks, regions))
    _, peak = _traced_peak(lambda: _call(maps, masks, regions))
    figures = {
        "pixels": n_pixels,
        "sort_s": round(sort_s, 2),
        "metrics_s": round(metrics_s, 2),
        "ratio_to_sort": round(metrics_s / sort_s, 2),
        "bytes_per_pixel": round(peak / n_pixels, 2),
        "curve_points": int(result.roc[0].size),
    }
    print("\nin-memory", figures)
    assert result.metrics["pixel_auroc"] is not None
    if FULL_SCALE:
        assert figures["bytes_per_pixel"] <= 16


def test_streamed_path(case) -> None:
    maps, masks, regions = case
    budget = in_memory_need([amap.size for amap in maps]) // 4
    expected, memory_s = _timed(lambda: _call(maps, masks, regions))
    streamed, streamed_s = _timed(lambda: _call(maps, masks, regions, memory_budget=budget))
    _, peak = _traced_peak(lambda: _call(maps, masks, regions, memory_budget=budget))
    figures = {
        "budget_mb": round(budget / 2**20, 1),
        "peak_mb": round(peak / 2**20, 1),
        "in_memory_s": round(memory_s, 2),
        "streamed_s": round(streamed_s, 2),
        "ratio": round(streamed_s / memory_s, 2),
    }
    print("\nstreamed at a quarter of the need", figures)
    for key, value in expected.metrics.items():
        if value is not None:
            assert streamed.metrics[key] == pytest.approx(value, abs=1e-12, rel=0), key
    assert peak <= budget


@pytest.mark.skipif(os.environ.get("PYIMGANO_BENCH_AD2") != "1", reason="PYIMGANO_BENCH_AD2=1")
def test_mvtec_ad2_size_category() -> None:
    maps, masks = make_case(150, 2048, 2448, seed=2)
    n_pixels = sum(amap.size for amap in maps)
    result, wall_s = _timed(lambda: _call(maps, masks, memory_budget="4GiB"))
    figures = {
        "pixels": n_pixels,
        "wall_s": round(wall_s, 1),
        "s_per_megapixel": round(wall_s / (n_pixels / 1e6), 4),
    }
    print("\nMVTec AD 2 size under 4 GiB", figures)
    assert result.metrics["aupro"] is not None
