"""Pixel-level metrics against scikit-learn and a plain MVTec AU-PRO reference."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from pyimgano.errors import MetricInputError
from pyimgano.metrics import evaluate_pixels, pixel_metrics, pro_curve, roc_curve
from pyimgano.metrics import pixel as pixel_module
from pyimgano.metrics._pixels import float32_keys, pool_pixels
from pyimgano.metrics._regions import label_regions
from pyimgano.metrics.aupimo import NUM_THRESHOLDS

from ._reference import pooled, ref_aupro, ref_pixel_metrics

TOL = 1e-9
KEYS = ("pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro")
# Every key pixel_metrics returns by default: the four above, then AUPIMO's (these small cases
# have too few normal pixels to reach FPR 1e-5, so AUPIMO is None with a note there).
ALL_KEYS = (*KEYS, "aupimo_mean", "aupimo_std")


def _blobs(rng: np.random.Generator, shape: tuple[int, int], n_blobs: int) -> np.ndarray:
    rows, cols = np.ogrid[0 : shape[0], 0 : shape[1]]
    mask = np.zeros(shape, dtype=bool)
    for _ in range(n_blobs):
        cy, cx = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        ry, rx = rng.uniform(1, max(1.5, shape[0] / 4)), rng.uniform(1, max(1.5, shape[1] / 4))
        mask |= ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
    return mask


def _case(seed: int, *, levels: int | None = None, dtype=np.float32, good_images: int = 2):
    """Images of several sizes, blobby defects raising the map, and some good images."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    shapes = [(17, 23), (8, 8), (31, 12), (5, 40)]
    for index, shape in enumerate(shapes + [(12, 9)] * good_images):
        mask = _blobs(rng, shape, int(rng.integers(1, 4))) if index < len(shapes) else None
        if mask is None:
            mask = np.zeros(shape, dtype=bool)
        amap = rng.standard_normal(shape) + 1.5 * mask
        if levels is not None:
            amap = np.round(amap * levels / 4) / levels
        maps.append(amap.astype(dtype))
        masks.append(mask)
    return maps, masks


def _assert_matches(result, expected, tol: float = TOL) -> None:
    for key in KEYS:
        assert result[key] == pytest.approx(expected[key], abs=tol, rel=0), key


# --- agreement with the references -------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("levels", [None, 3, 40])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_references(seed: int, levels: int | None, dtype) -> None:
    maps, masks = _case(seed, levels=levels, dtype=dtype)
    result = pixel_metrics(maps, masks)
    _assert_matches(result, ref_pixel_metrics(maps, masks), tol=1e-12)
    assert list(result) == list(ALL_KEYS)
    assert set(result.notes) == {"aupimo_mean", "aupimo_std"}
    assert result.notes["aupimo_mean"].startswith("the FPR bound 1e-05 is outside")


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 1 << 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunk_boundaries_inside_tied_runs(chunk_size: int, dtype) -> None:
    # Few score levels over ~1,600 pixels: chunk boundaries fall inside tied runs.
    maps, masks = _case(11, levels=2, dtype=dtype)
    maps = [m + np.float64(0.5).astype(dtype) * (i % 2) for i, m in enumerate(maps)]
    if dtype is np.float64:  # values a float32 cannot hold: the argsort path
        maps = [m + 1e-13 for m in maps]
    assert pool_pixels(maps, masks).packed is (dtype is np.float32)
    result = evaluate_pixels(maps, masks, chunk_size=chunk_size).metrics
    _assert_matches(result, ref_pixel_metrics(maps, masks), tol=1e-12)


@pytest.mark.parametrize("limit", [0.3, 0.05, 1.0, 0.5])
def test_limits(limit: float) -> None:
    maps, masks = _case(5, levels=None)
    result = pixel_metrics(maps, masks, limit)
    _assert_matches(result, ref_pixel_metrics(maps, masks, limit), tol=1e-12)


def test_constant_maps() -> None:
    maps, masks = _case(2)
    maps = [np.full(m.shape, 0.25, dtype=np.float32) for m in maps]
    result = pixel_metrics(maps, masks)
    expected = ref_pixel_metrics(maps, masks)
    _assert_matches(result, expected, tol=1e-12)
    # One threshold: ROC is the diagonal (0.5); PRO runs (0,0)->(1,1), so at 0.3 the area is
    # 0.3 * 0.3 / 2 = 0.045, / 0.3 = 0.15.
    assert result["pixel_auroc"] == pytest.approx(0.5, abs=1e-12)
    assert result["aupro"] == pytest.approx(0.15, abs=1e-12)


def test_float64_maps_are_not_rounded_to_float32() -> None:
    # The defect pixel is 1e-10 above the normal ones: a tie in float32, a win in float64.
    amap = np.full((4, 4), 0.5)
    amap[1, 1] = 0.5 + 1e-10
    amap[3, 3] = 0.1
    mask = np.zeros((4, 4), dtype=np.uint8)
    mask[1, 1] = 255
    assert np.float32(amap[1, 1]) == np.float32(amap[0, 0])
    exact = pixel_metrics([amap], [mask])
    rounded = pixel_metrics([amap.astype(np.float32)], [mask])
    _assert_matches(exact, ref_pixel_metrics([amap], [mask]), tol=1e-12)
    _assert_matches(rounded, ref_pixel_metrics([amap.astype(np.float32)], [mask]), tol=1e-12)
    assert exact["pixel_auroc"] == 1.0
    assert rounded["pixel_auroc"] != exact["pixel_auroc"]
    assert rounded["aupro"] != exact["aupro"]
    assert not pool_pixels([amap], [mask]).packed  # exact float64 path


def test_float64_maps_holding_float32_values_take_the_packed_path() -> None:
    maps32, masks = _case(4, levels=None)
    maps64 = [m.astype(np.float64) for m in maps32]
    assert pool_pixels(maps64, masks).packed
    assert pixel_metrics(maps64, masks) == pixel_metrics(maps32, masks)


def test_mixed_dtypes_use_the_common_type() -> None:
    maps, masks = _case(6, levels=None, dtype=np.float64)
    maps[0] = maps[0].astype(np.float32)
    maps[1] = np.round(maps[1] * 10).astype(np.int16)
    result = pixel_metrics(maps, masks)
    _assert_matches(result, ref_pixel_metrics(maps, masks), tol=1e-12)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, bool])
def test_integer_and_bool_maps(dtype) -> None:
    maps, masks = _case(8, levels=None, dtype=np.float64)
    scale = 1 if dtype is bool else (60 if dtype is not np.int64 else 2**40)
    maps = [np.clip(np.round((m + 3) * scale), 0, None).astype(dtype) for m in maps]
    result = pixel_metrics(maps, masks)
    _assert_matches(result, ref_pixel_metrics(maps, masks), tol=1e-12)


def test_negative_zero_ties_with_zero_and_extremes() -> None:
    for dtype, big, tiny in ((np.float32, 3e38, 1e-45), (np.float64, 1e300, 5e-324)):
        amap = np.array(
            [[-0.0, 0.0, -big, big], [tiny, -tiny, 0.0, -0.0], [-1.0, 1.0, -0.0, 2.0]],
            dtype=dtype,
        )
        mask = np.array([[1, 0, 0, 1], [1, 0, 0, 0], [0, 0, 1, 0]])
        result = pixel_metrics([amap], [mask])
        _assert_matches(result, ref_pixel_metrics([amap], [mask]), tol=1e-12)
        canonical = pixel_metrics([amap + dtype(0.0)], [mask])  # every -0.0 -> +0.0
        assert result == canonical


def test_float32_keys_are_monotone() -> None:
    values = np.array(
        [-np.finfo(np.float32).max, -1.5, -1e-45, -0.0, 0.0, 1e-45, 1e-38, 1.0, 3.4e38],
        dtype=np.float32,
    )
    keys = float32_keys(values)
    assert np.all(np.diff(keys.astype(np.int64)) >= 0)
    assert keys[3] == keys[4]  # -0.0 ties with +0.0
    assert np.count_nonzero(np.diff(keys.astype(np.int64)) == 0) == 1


def test_masks_of_any_dtype() -> None:
    maps, masks = _case(9)
    expected = pixel_metrics(maps, masks)
    as_uint8 = [m.astype(np.uint8) * 255 for m in masks]
    as_float = [m * 0.7 for m in masks]
    assert pixel_metrics(maps, as_uint8) == expected
    assert pixel_metrics(maps, as_float) == expected


def test_one_ordering_for_all_four_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = pixel_module.pool_pixels

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pixel_module, "pool_pixels", counting)
    maps, masks = _case(1)
    pixel_metrics(maps, masks)
    assert len(calls) == 1


def test_peak_memory_per_pixel_with_small_chunks() -> None:
    # 2 M float32 pixels in 32 images; with 64 Ki-pixel chunks the pooled uint64 array
    # (8 B/px) dominates the peak (the benchmark checks <= 24 B/px at MVTec scale).
    # AUPIMO (always computed) adds a cost per threshold, not per pixel: its 300,000 uint32
    # threshold keys; it is allowed for below. torch (whose linspace draws the thresholds) is
    # imported before the trace, so its one-time import is not counted.
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    maps = [rng.random((250, 250), dtype=np.float32) for _ in range(32)]
    masks = [_blobs(rng, (250, 250), i % 3) for i in range(32)]
    for amap, mask in zip(maps, masks, strict=True):
        amap[mask] += 0.5
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        evaluate_pixels(maps, masks, chunk_size=1 << 16)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert (peak - 4 * NUM_THRESHOLDS) / 2_000_000 <= 12


# --- extra AU-PRO limits, curves, precomputed regions ----------------------------------


def test_extra_aupro_limits_from_the_same_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = pixel_module.pool_pixels

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pixel_module, "pool_pixels", counting)
    maps, masks = _case(12)
    result = pixel_metrics(maps, masks, 0.3, aupro_limits=[0.05, 0.3, 1, 0.05, 0.123])
    assert len(calls) == 1
    assert list(result)[:8] == [*KEYS, "aupro_0.05", "aupro_0.3", "aupro_1.0", "aupro_0.123"]
    for key, limit in (("aupro_0.05", 0.05), ("aupro_1.0", 1.0), ("aupro_0.123", 0.123)):
        assert result[key] == pytest.approx(ref_aupro(maps, masks, limit), abs=1e-12, rel=0)
    assert result["aupro_0.3"] == result["aupro"]


@pytest.mark.parametrize("chunk_size", [1, 5, 1 << 20])
def test_extra_limits_with_small_chunks(chunk_size: int) -> None:
    maps, masks = _case(13, levels=3)
    result = evaluate_pixels(
        maps, masks, chunk_size=chunk_size, aupro_limits=(0.01,)
    ).metrics
    assert result["aupro_0.01"] == pytest.approx(ref_aupro(maps, masks, 0.01), abs=1e-12, rel=0)


def test_extra_limits_undefined_with_the_same_reason() -> None:
    maps, masks = _case(3)
    result = pixel_metrics(maps, [np.zeros_like(m) for m in masks], aupro_limits=(0.05,))
    assert result["aupro_0.05"] is None
    assert result.notes["aupro_0.05"] == result.notes["aupro"]


@pytest.mark.parametrize("limits", [(0.0,), (0.05, 2.0), "0.05", 0.05])
def test_bad_extra_limits(limits) -> None:
    maps, masks = _good()
    with pytest.raises(MetricInputError, match=r"aupro_limits"):
        pixel_metrics(maps, masks, aupro_limits=limits)


@pytest.mark.parametrize("levels", [None, 3])
def test_kept_curves_are_the_public_curves(levels) -> None:
    maps, masks = _case(14, levels=levels)
    evaluation = evaluate_pixels(maps, masks, keep_curves=True)
    labels, scores = pooled(maps, masks)
    fpr, tpr, _ = roc_curve(labels, scores)
    assert evaluation.roc is not None and evaluation.pro is not None
    np.testing.assert_allclose(evaluation.roc[0], fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(evaluation.roc[1], tpr, rtol=0, atol=1e-15)
    pro_fpr, pro = pro_curve(maps, masks)
    np.testing.assert_array_equal(evaluation.pro[0], pro_fpr)
    np.testing.assert_array_equal(evaluation.pro[1], pro)
    assert evaluation.metrics == pixel_metrics(maps, masks)
    assert evaluation.metrics_device == "cpu"
    assert evaluate_pixels(maps, masks).roc is None


def test_precomputed_regions_give_the_same_result() -> None:
    maps, masks = _case(15)
    regions = [label_regions(mask) for mask in masks]
    with_regions = evaluate_pixels(maps, masks, regions=regions, aupro_limits=(0.05,))
    assert with_regions.metrics == pixel_metrics(maps, masks, aupro_limits=(0.05,))
    with pytest.raises(MetricInputError, match=r"regions has 2 entries but masks has 6"):
        evaluate_pixels(maps, masks, regions=regions[:2])
    wrong = list(regions)
    wrong[0] = label_regions(np.zeros_like(masks[0]))
    with pytest.raises(MetricInputError, match=r"regions\[0\] counts"):
        evaluate_pixels(maps, masks, regions=wrong)


# --- definedness ----------------------------------------------------------------------


def test_empty_masks_everywhere() -> None:
    maps, masks = _case(3)
    masks = [np.zeros_like(m) for m in masks]
    result = pixel_metrics(maps, masks)
    assert list(result) == list(ALL_KEYS)
    assert all(value is None for value in result.values())
    n_pixels = sum(m.size for m in maps)
    for key in KEYS[:3]:
        assert result.notes[key] == f"no anomalous pixels in masks ({n_pixels} normal pixels)"
    assert result.notes["aupro"].startswith("no ground-truth regions")
    assert result.notes["aupimo_mean"].startswith("no anomalous images")


def test_all_pixels_anomalous() -> None:
    maps = [np.random.default_rng(0).random((3, 4))]
    result = pixel_metrics(maps, [np.ones((3, 4))])
    assert all(value is None for value in result.values())
    assert result.notes["pixel_auroc"] == "no normal pixels in masks (12 anomalous pixels)"
    assert result.notes["aupro"].startswith("no normal pixels")
    assert result.notes["aupimo_std"].startswith("no normal images")


# --- errors ---------------------------------------------------------------------------


def _good():
    return [np.zeros((2, 3), np.float32), np.ones((4, 4), np.float32)], [
        np.zeros((2, 3)),
        np.eye(4),
    ]


def test_shape_mismatch_names_index_and_shapes() -> None:
    maps, masks = _good()
    masks[1] = np.zeros((4, 5))
    with pytest.raises(
        MetricInputError, match=r"maps\[1\] has shape \(4, 4\) but masks\[1\] has shape \(4, 5\)"
    ):
        pixel_metrics(maps, masks)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_map_names_index_and_pixel(bad: float) -> None:
    maps, masks = _good()
    maps[1][2, 3] = bad
    with pytest.raises(MetricInputError, match=r"maps\[1\] holds a non-finite value .* \(2, 3\)"):
        pixel_metrics(maps, masks)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda maps, masks: (maps, masks[:1]), r"maps has 2 images but masks has 1"),
        (lambda maps, masks: ([], []), r"empty; expected at least one image"),
        (
            lambda maps, masks: ([np.zeros((0, 3))], [np.zeros((0, 3))]),
            r"no pixels",
        ),
        (
            lambda maps, masks: ([maps[0], np.zeros((1, 4, 4))], masks),
            r"maps\[1\] has shape \(1, 4, 4\); expected a 2-D array",
        ),
        (
            lambda maps, masks: (maps, [masks[0], np.zeros(16)]),
            r"masks\[1\] has shape \(16,\); expected a 2-D array",
        ),
        (
            lambda maps, masks: ([maps[0], np.full((4, 4), "a")], masks),
            r"maps\[1\] has dtype",
        ),
        (lambda maps, masks: (3, masks), r"sequences of 2-D arrays"),
    ],
)
def test_input_errors(change, match) -> None:
    maps, masks = change(*_good())
    with pytest.raises(MetricInputError, match=match):
        pixel_metrics(maps, masks)


@pytest.mark.parametrize("limit", [0.0, -0.1, 1.5, float("nan"), "x", None, True])
def test_bad_limit(limit) -> None:
    maps, masks = _good()
    with pytest.raises(MetricInputError, match=r"aupro_limit is .*; expected a number in \(0, 1\]"):
        pixel_metrics(maps, masks, aupro_limit=limit)


# --- entry points: pixel_metrics (public), evaluate_pixels (internal), deprecated aliases ----


def test_deprecated_entry_points_warn_and_give_the_same_results() -> None:
    from pyimgano.metrics.pixel import compute_pixel_evaluation, compute_pixel_metrics

    maps, masks = _case(5)
    kept = evaluate_pixels(maps, masks, aupro_limit=0.2, chunk_size=1000, aupro_limits=(0.05,))
    with pytest.warns(DeprecationWarning, match=r"compute_pixel_metrics .*evaluate_pixels"):
        old = compute_pixel_metrics(maps, masks, 0.2, chunk_size=1000, aupro_limits=(0.05,))
    assert dict(old) == dict(kept.metrics)
    with pytest.warns(DeprecationWarning, match=r"compute_pixel_evaluation .*evaluate_pixels"):
        old_evaluation = compute_pixel_evaluation(
            maps, masks, 0.2, chunk_size=1000, aupro_limits=(0.05,), keep_curves=True
        )
    curves = evaluate_pixels(
        maps, masks, aupro_limit=0.2, chunk_size=1000, aupro_limits=(0.05,), keep_curves=True
    )
    assert dict(old_evaluation.metrics) == dict(kept.metrics)
    assert old_evaluation.aupimo_per_image == kept.aupimo_per_image
    for ours, theirs in ((old_evaluation.roc, curves.roc), (old_evaluation.pro, curves.pro)):
        assert ours is not None and theirs is not None
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_pixel_metrics_is_the_public_entry_point() -> None:
    import pyimgano.metrics as metrics

    assert "pixel_metrics" in metrics.__all__
    assert not {"evaluate_pixels", "compute_pixel_metrics", "compute_pixel_evaluation"} & set(
        metrics.__all__
    )


@pytest.mark.parametrize("chunk_size", [0, -3, 2.5, True, "64"])
def test_bad_chunk_size_is_named(chunk_size) -> None:
    maps, masks = _case(2)
    with pytest.raises(MetricInputError, match="chunk_size is"):
        evaluate_pixels(maps, masks, chunk_size=chunk_size)
