"""AUPIMO against anomalib 2.7 and against a plain transcription of the paper's definition."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.errors import MetricInputError
from pyimgano.metrics import aupimo, evaluate_pixels
from pyimgano.metrics.aupimo import compute_aupimo

torch = pytest.importorskip("torch")  # the thresholds are torch.linspace values

TOL = 1e-12


def _blob_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    rows, cols = np.ogrid[0 : shape[0], 0 : shape[1]]
    mask = np.zeros(shape, dtype=bool)
    for _ in range(int(rng.integers(1, 4))):
        cy, cx = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        ry, rx = rng.uniform(2, shape[0] / 4), rng.uniform(2, shape[1] / 4)
        mask |= ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
    return mask


def _case(seed, *, n_normal=6, n_anomalous=6, shape=(160, 160), dtype=np.float32, levels=None):
    """Heavy-tailed maps (exponential), so the top 1e-5..1e-4 spans many thresholds."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for index in range(n_normal + n_anomalous):
        mask = _blob_mask(rng, shape) if index >= n_normal else np.zeros(shape, dtype=bool)
        amap = rng.exponential(1.0, shape) + rng.uniform(0.5, 3.0) * mask
        if levels is not None:
            amap = np.round(amap * levels) / levels
        maps.append(amap.astype(dtype))
        masks.append(mask)
    order = rng.permutation(len(maps))
    return [maps[i] for i in order], [masks[i] for i in order]


# --- the reference: the paper's definition, written plainly --------------------------------


def ref_aupimo(maps, masks, bounds=(1e-5, 1e-4), num_thresholds=300_000):
    """Per-image AUPIMO (None for normal images), straight from the definition.

    Thresholds: torch.linspace over the normal images' scores; shared FPR: the mean of the
    normal images' FPRs; per-image TPR; bounds: the threshold with the closest shared FPR
    (first in ascending threshold order); trapezoid of TPR over log(shared FPR); / log(U/L).
    """
    dtype = np.result_type(*(m.dtype for m in maps))
    normal = [m for m, k in zip(maps, masks, strict=True) if not k.any()]
    low = min(float(m.min()) for m in normal)
    high = max(float(m.max()) for m in normal)
    torch_dtype = torch.float32 if dtype == np.float32 else torch.float64
    thresholds = torch.linspace(low, high, num_thresholds, dtype=torch_dtype).numpy()

    def at_or_above(values):
        ordered = np.sort(values.ravel())
        return ordered.size - np.searchsorted(ordered, thresholds, side="left")

    shared = np.mean([at_or_above(m) / m.size for m in normal], axis=0)
    assert shared.min() <= bounds[0] < bounds[1] <= shared.max()  # both bounds reachable
    index = {}
    for level in bounds:
        index[level] = int(np.argmin(np.abs(shared - level)))
    start, stop = index[bounds[1]], index[bounds[0]]
    x = np.log(shared[start : stop + 1][::-1])
    out = []
    for amap, mask in zip(maps, masks, strict=True):
        if not mask.any():
            out.append(None)
            continue
        tpr = at_or_above(amap[mask != 0]) / np.count_nonzero(mask)
        y = tpr[start : stop + 1][::-1]
        area = np.trapezoid(y, x) / np.log(bounds[1] / bounds[0])
        out.append(float(np.clip(area, 0.0, 1.0)))
    return out


def _assert_per_image(result, expected, tol=TOL):
    assert len(result) == len(expected)
    for got, want in zip(result, expected, strict=True):
        if want is None:
            assert got is None
        else:
            assert got == pytest.approx(want, abs=tol, rel=0)


def _summary(values):
    defined = np.array([v for v in values if v is not None])
    return defined.mean(), defined.std()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_reference(seed, dtype) -> None:
    maps, masks = _case(seed, dtype=dtype)
    result = aupimo(maps, masks)
    expected = ref_aupimo(maps, masks)
    _assert_per_image(result.per_image, expected)
    mean, std = _summary(expected)
    assert result.mean == pytest.approx(mean, abs=TOL)
    assert result.std == pytest.approx(std, abs=TOL)
    assert 0.0 < result.mean < 1.0  # a real, non-trivial value


def test_mixed_sizes_and_ties_match_reference() -> None:
    maps, masks = _case(7, levels=200)
    maps2, masks2 = _case(8, shape=(170, 130), levels=200)
    maps, masks = maps + maps2, masks + masks2
    for bounds in ((1e-5, 1e-4), (1e-3, 1e-2)):
        result = aupimo(maps, masks, fpr_bounds=bounds)
        assert result.note is None
        _assert_per_image(result.per_image, ref_aupimo(maps, masks, bounds))


@pytest.mark.parametrize("chunk_size", [1, 97, 4096])
def test_small_chunks_give_the_same_result(chunk_size) -> None:
    maps, masks = _case(3, n_normal=3, n_anomalous=3, shape=(64, 64), levels=20)
    bounds = (1e-3, 1e-2)
    whole = compute_aupimo(maps, masks, bounds)
    chunked = compute_aupimo(maps, masks, bounds, chunk_size=chunk_size)
    assert chunked.per_image == whole.per_image
    _assert_per_image(whole.per_image, ref_aupimo(maps, masks, bounds))


def test_evaluate_pixels_carries_the_per_image_values() -> None:
    maps, masks = _case(4)
    evaluation = evaluate_pixels(maps, masks)
    result = aupimo(maps, masks)
    assert evaluation.aupimo_per_image == result.per_image
    assert evaluation.metrics["aupimo_mean"] == result.mean
    assert evaluation.metrics["aupimo_std"] == result.std


# --- edge cases ---------------------------------------------------------------------------


def test_no_normal_images() -> None:
    maps, masks = _case(1, n_normal=0, n_anomalous=3)
    result = aupimo(maps, masks)
    assert result.mean is None and result.std is None
    assert result.per_image == [None, None, None]
    assert result.note.startswith("no normal images (all 3 images have defects)")


def test_no_anomalous_images() -> None:
    maps, masks = _case(1, n_normal=3, n_anomalous=0)
    result = aupimo(maps, masks)
    assert result.mean is None
    assert result.note == "no anomalous images (all 3 images are normal)"


def test_constant_normal_maps() -> None:
    maps, masks = _case(1, n_normal=2, n_anomalous=2)
    maps = [np.full_like(m, 0.5) if not k.any() else m for m, k in zip(maps, masks, strict=True)]
    result = aupimo(maps, masks)
    assert result.mean is None
    assert result.note.startswith("the normal images' maps are constant (0.5)")


def test_lower_bound_not_reachable() -> None:
    # Two normal images of 50x50: the smallest shared FPR is 1/2500/2 = 2e-4 > 1e-4.
    maps, masks = _case(2, n_normal=2, n_anomalous=2, shape=(50, 50))
    result = aupimo(maps, masks)
    assert result.mean is None
    assert result.note.startswith("the FPR bound 1e-05 is outside the shared FPRs reachable")


def test_too_few_points_in_the_range() -> None:
    maps, masks = _case(2, n_normal=6, n_anomalous=2)
    result = aupimo(maps, masks, num_thresholds=100)
    assert result.mean is None
    assert "thresholds in the integration range (anomalib needs more than 30)" in result.note


@pytest.mark.parametrize("bounds", [(1e-4, 1e-5), (0.0, 1e-4), (1e-5, 1.5), (1e-5,), "ab"])
def test_bad_bounds(bounds) -> None:
    maps, masks = _case(0, n_normal=1, n_anomalous=1, shape=(8, 8))
    with pytest.raises(MetricInputError, match=r"fpr_bounds is .*; expected two numbers"):
        aupimo(maps, masks, fpr_bounds=bounds)


# --- equality with the installed anomalib -------------------------------------------------


def _anomalib_aupimo(maps, masks, bounds=(1e-5, 1e-4), num_thresholds=300_000):
    from anomalib.metrics.pimo.functional import aupimo_scores

    anomaly_maps = torch.from_numpy(np.stack(maps))
    gt = torch.from_numpy(np.stack(masks).astype(np.int64))
    *_, aucs, _ = aupimo_scores(anomaly_maps, gt, num_thresholds, fpr_bounds=bounds)
    return [None if np.isnan(v) else float(v) for v in aucs.numpy()]


@pytest.mark.anomalib
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_anomalib(seed, dtype) -> None:
    pytest.importorskip("anomalib")
    maps, masks = _case(seed + 10, dtype=dtype)
    expected = _anomalib_aupimo(maps, masks)
    result = aupimo(maps, masks)
    _assert_per_image(result.per_image, expected)
    assert result.mean == pytest.approx(_summary(expected)[0], abs=TOL)


@pytest.mark.anomalib
def test_equals_anomalib_with_ties_and_other_bounds() -> None:
    pytest.importorskip("anomalib")
    maps, masks = _case(21, levels=100)
    bounds = (1e-3, 1e-2)
    expected = _anomalib_aupimo(maps, masks, bounds)
    _assert_per_image(aupimo(maps, masks, fpr_bounds=bounds).per_image, expected)


@pytest.mark.anomalib
def test_anomalib_raises_where_we_are_undefined() -> None:
    pytest.importorskip("anomalib")
    maps, masks = _case(2, n_normal=2, n_anomalous=2, shape=(50, 50))
    with pytest.raises(ValueError, match="out of the range"):
        _anomalib_aupimo(maps, masks)
    assert aupimo(maps, masks).mean is None
    maps, masks = _case(2, n_normal=6, n_anomalous=2)
    with pytest.raises(RuntimeError, match="doesn't have enough points"):
        _anomalib_aupimo(maps, masks, num_thresholds=100)
    assert aupimo(maps, masks, num_thresholds=100).mean is None
