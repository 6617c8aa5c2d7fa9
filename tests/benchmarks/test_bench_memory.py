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
3. ``test_device_path_bytes_per_pixel`` (``-k device``): the torch path
   (:mod:`pyimgano.metrics._torch`) on CPU tensors, ``PYIMGANO_BENCH_DEVICE_IMAGES`` maps
   (default 17) of 1024x1024 (17.8 M px), half of them good, four regions on each other one
   (about 4.6 % defect pixels): the peak resident memory over the call (the process's
   high-water mark, reset before the call through ``/proc/self/clear_refs``, minus its resident
   size before it; torch's CPU allocations are not traced) per pixel, with the default score
   ranges (target <= 16) and with the whole category as one range; every metric within 1e-12
   of the NumPy path's.
4. ``test_mvtec_ad2_size_category`` (only with ``PYIMGANO_BENCH_AD2=1``: minutes): 150 maps of
   2448x2048 under a 4 GiB budget; wall time per megapixel.
"""

from __future__ import annotations

import contextlib
import ctypes
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


DEVICE_IMAGES = int(os.environ.get("PYIMGANO_BENCH_DEVICE_IMAGES", "17"))


def make_device_case(n_images: int, size: int = 1024, seed: int = 3):
    """:func:`make_case` maps, with four separate regions (rectangles and ellipses of several
    sizes, about 6 % of the image) on every odd image instead of one rectangle and a blob."""
    maps, _ = make_case(n_images, size, size, seed=seed)
    rng = np.random.default_rng(seed)
    rows, cols = np.ogrid[0:size, 0:size]
    masks = []
    for index, amap in enumerate(maps):
        mask = np.zeros((size, size), dtype=bool)
        if index % 2:
            for quarter, scale in zip(range(4), (4, 6, 9, 14), strict=True):
                top, left = (quarter // 2) * size // 2, (quarter % 2) * size // 2
                y, x = top + rng.integers(0, size // 4), left + rng.integers(0, size // 4)
                if quarter % 2:
                    mask[y : y + size // scale, x : x + size // (scale - 1)] = True
                else:
                    radius = size / (2 * scale)
                    mask |= ((rows - y - radius) ** 2 + (cols - x - radius) ** 2) <= radius**2
            amap[mask] += np.float32(0.3)
        masks.append(mask)
    return maps, masks


def _resident() -> tuple[int, int]:
    """The process's resident and peak resident bytes (``VmRSS``, ``VmHWM``)."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) * 1024
    return found["VmRSS"], found["VmHWM"]


def resident_peak(function) -> tuple[object, int]:
    """``function()`` and the growth of the resident memory's high-water mark over it (bytes).

    Freed heap memory that the C allocator still holds is first handed back (``malloc_trim``,
    glibc), so that an earlier call's leftovers neither count nor hide this call's need.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    before, _ = _resident()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current resident size
    result = function()
    return result, _resident()[1] - before


def test_device_path_bytes_per_pixel() -> None:
    torch = pytest.importorskip("torch")
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("needs /proc/self/clear_refs (Linux) to reset the peak resident size")
    from pyimgano.metrics._regions import label_regions

    maps, masks = make_device_case(DEVICE_IMAGES)
    regions = [label_regions(mask) for mask in masks]
    n_pixels = sum(amap.size for amap in maps)
    tensors = [torch.from_numpy(amap) for amap in maps]
    result, peak = resident_peak(lambda: _call(tensors, masks, regions))
    _, one_range = resident_peak(lambda: _call(tensors, masks, regions, chunk_size=n_pixels))
    expected = _call(maps, masks, regions).metrics
    figures = {
        "pixels": n_pixels,
        "defect_fraction": round(sum(int(m.sum()) for m in masks) / n_pixels, 4),
        "bytes_per_pixel": round(peak / n_pixels, 2),
        "one_range_bytes_per_pixel": round(one_range / n_pixels, 2),
    }
    print("\ndevice path (CPU tensors)", figures)
    for key, value in expected.items():
        if value is not None:
            assert result.metrics[key] == pytest.approx(value, abs=1e-12, rel=0), key
    if n_pixels >= 1 << 24:
        assert figures["bytes_per_pixel"] <= 16


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
