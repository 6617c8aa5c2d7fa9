"""Memory of the pixel metrics: thinned plot curves, compact region labels, bytes per pixel."""

from __future__ import annotations

import tracemalloc

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_curve as sk_roc_curve

from pyimgano.metrics import evaluate_pixels
from pyimgano.metrics._curves import CURVE_CELLS
from pyimgano.metrics._regions import label_regions

from ._reference import pooled, ref_pixel_metrics, ref_pro_curve


def _noise_case(seed: int, n: int, size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """float32 noise maps (almost every pixel a distinct score), half of them with defects."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for index in range(n):
        amap = rng.random((size, size), dtype=np.float32)
        mask = np.zeros((size, size), dtype=bool)
        if index % 2:
            mask[size // 8 : size // 3, size // 5 : size // 2] = True
            mask[size // 2 : size // 2 + 9, size // 2 : size // 2 + 40] = True
            amap[mask] += np.float32(0.4)
        maps.append(amap)
        masks.append(mask)
    return maps, masks


def _check_thinned(kept: tuple[np.ndarray, np.ndarray], full: tuple[np.ndarray, np.ndarray]):
    """``kept`` is a subsequence of ``full`` and every full point lies within one grid cell
    (on both axes) of the last kept point at or before it."""
    index = {}
    for i, point in enumerate(zip(full[0].tolist(), full[1].tolist(), strict=True)):
        index.setdefault(point, i)
    positions = [index[point] for point in zip(kept[0].tolist(), kept[1].tolist(), strict=True)]
    assert positions == sorted(positions) and positions[0] == 0
    assert (kept[0][-1], kept[1][-1]) == (full[0][-1], full[1][-1])
    owner = np.searchsorted(positions, np.arange(full[0].size), side="right") - 1
    anchor = np.asarray(positions)[owner]
    for axis in (0, 1):
        assert np.max(np.abs(full[axis] - full[axis][anchor])) <= 1.0 / CURVE_CELLS + 1e-12


def test_curves_are_thinned_while_the_metrics_stay_exact() -> None:
    maps, masks = _noise_case(3, 4, 320)
    thin = evaluate_pixels(maps, masks, keep_curves=True, aupro_limits=(0.05,))
    plain = evaluate_pixels(maps, masks, keep_curves=False, aupro_limits=(0.05,))
    assert dict(thin.metrics) == dict(plain.metrics)
    expected = ref_pixel_metrics(maps, masks)
    for key, value in expected.items():
        assert abs(thin.metrics[key] - value) <= 1e-9, key

    labels, scores = pooled(maps, masks)
    fpr, tpr, _ = sk_roc_curve(labels, scores, drop_intermediate=False)
    assert fpr.size > 300_000  # one point per distinct score ...
    assert thin.roc is not None and thin.pro is not None
    assert thin.roc[0].size <= 8 * CURVE_CELLS + 64  # ... a few thousand kept
    _check_thinned(thin.roc, (fpr, tpr))
    pro_x, pro_y = ref_pro_curve(maps, masks)
    assert thin.pro[0].size <= 8 * CURVE_CELLS + 64
    np.testing.assert_allclose(thin.pro[0][[0, -1]], [0.0, 1.0])
    np.testing.assert_allclose(thin.pro[1][[0, -1]], [0.0, 1.0])
    # the PRO points are the reference's (to the rounding of a different summation order)
    rounded = (np.round(thin.pro[0], 9), np.round(thin.pro[1], 9))
    _check_thinned(rounded, (np.round(pro_x, 9), np.round(pro_y, 9)))


def test_region_labels_cost_nothing_for_good_images_and_a_byte_for_few_regions() -> None:
    labels, counts = label_regions(np.zeros((600, 500), dtype=bool))
    assert labels.shape == (600, 500) and not labels.any() and counts.tolist() == [300_000]
    assert labels.strides == (0, 0) and labels.base is not None and labels.base.nbytes <= 1

    mask = np.zeros((64, 64), dtype=bool)
    mask[2:5, 2:5] = mask[10:12, 30:40] = mask[40, 40] = mask[41, 41] = True
    labels, counts = label_regions(mask)
    expected, n = ndimage.label(mask, structure=np.ones((3, 3)))
    assert labels.dtype == np.uint8 and n == 3
    np.testing.assert_array_equal(labels, expected)
    assert counts.tolist() == np.bincount(expected.ravel()).tolist()

    many = np.zeros((64, 64), dtype=bool)
    many[::2, ::2] = True  # 1024 separate pixels (8-connected: diagonal gap of one)
    many[1::4, :] = False
    labels, counts = label_regions(many)
    expected, n = ndimage.label(many, structure=np.ones((3, 3)))
    assert labels.dtype == (np.uint8 if n < 256 else np.uint16)
    np.testing.assert_array_equal(labels, expected)


def test_pixel_metrics_with_plot_curves_stay_within_12_bytes_per_pixel() -> None:
    # Noise maps: a distinct score per pixel, the worst case for the curves (it took about
    # 80 bytes per pixel when every curve point was kept).
    maps, masks = _noise_case(5, 8, 1024)
    regions = [label_regions(mask) for mask in masks]
    n_pixels = sum(amap.size for amap in maps)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = evaluate_pixels(maps, masks, regions=regions, keep_curves=True)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert result.metrics["pixel_auroc"] is not None
    assert peak / n_pixels <= 12, f"{peak / n_pixels:.1f} bytes per pixel"
