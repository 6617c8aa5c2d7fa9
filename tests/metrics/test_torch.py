"""The torch path of the pixel metrics (CPU tensors in CI; CUDA when present) against the
NumPy path and the independent references."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.errors import MetricInputError
from pyimgano.metrics import evaluate_pixels
from pyimgano.metrics._regions import label_regions

from ._reference import ref_aupro, ref_pixel_metrics
from .test_aupimo import _case as aupimo_case
from .test_pixel import _case

torch = pytest.importorskip("torch")

TOL = 1e-12
KEYS = ("pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro", "aupro_0.05")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _tensors(maps, device="cpu"):
    return [torch.from_numpy(np.ascontiguousarray(m)).to(device) for m in maps]


def _assert_same(torch_result, numpy_result, tol=TOL):
    assert list(torch_result) == list(numpy_result)
    for key, value in numpy_result.items():
        if value is None:
            assert torch_result[key] is None, key
            assert torch_result.notes[key] == numpy_result.notes[key], key
        else:
            assert torch_result[key] == pytest.approx(value, abs=tol, rel=0), key


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("levels", [None, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_numpy_and_references(device, seed, levels, dtype) -> None:
    maps, masks = _case(seed, levels=levels, dtype=dtype)
    host = evaluate_pixels(maps, masks, aupro_limits=(0.05,))
    on_device = evaluate_pixels(_tensors(maps, device), masks, aupro_limits=(0.05,))
    _assert_same(on_device.metrics, host.metrics)
    expected = ref_pixel_metrics(maps, masks)
    for key in KEYS[:4]:
        assert on_device.metrics[key] == pytest.approx(expected[key], abs=TOL, rel=0)
    assert on_device.metrics_device == ("cpu (torch)" if device == "cpu" else "cuda:0")
    assert host.metrics_device == "cpu"


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 64, 1 << 20])
def test_tiny_score_ranges_give_the_exact_result(chunk_size) -> None:
    # Few score levels: a range may hold one tied run only; ranges never split a run.
    maps, masks = _case(11, levels=2, dtype=np.float64)
    maps = [m + 0.5 * (i % 2) + 1e-13 for i, m in enumerate(maps)]
    host = evaluate_pixels(maps, masks, aupro_limits=(0.05,))
    result = evaluate_pixels(
        [torch.from_numpy(m) for m in maps],
        masks,
        aupro_limits=(0.05,),
        chunk_size=chunk_size,
        device=torch.device("cpu"),
    )
    _assert_same(result.metrics, host.metrics)
    assert result.metrics["aupro_0.05"] == pytest.approx(
        ref_aupro(maps, masks, 0.05), abs=TOL, rel=0
    )


def test_float64_maps_are_not_rounded() -> None:
    amap = np.full((4, 4), 0.5)
    amap[1, 1] = 0.5 + 1e-10
    amap[3, 3] = 0.1
    mask = np.zeros((4, 4), dtype=np.uint8)
    mask[1, 1] = 255
    result = evaluate_pixels([torch.from_numpy(amap)], [mask]).metrics
    assert result["pixel_auroc"] == 1.0


def test_mixed_dtypes_and_integer_maps() -> None:
    maps, masks = _case(6, dtype=np.float64)
    maps[0] = maps[0].astype(np.float32)
    maps[1] = np.round(maps[1] * 10).astype(np.int16)
    host = evaluate_pixels(maps, masks).metrics
    _assert_same(evaluate_pixels(_tensors(maps), masks).metrics, host)


def test_empty_masks_and_all_anomalous() -> None:
    maps, masks = _case(3)
    for fill in (np.zeros_like, np.ones_like):
        same = [fill(m) for m in masks]
        host = evaluate_pixels(maps, same).metrics
        _assert_same(evaluate_pixels(_tensors(maps), same).metrics, host)


def test_eight_connected_regions() -> None:
    amap = np.array([[0.9, 0.2, 0.3], [0.4, 0.05, 0.01], [0.5, 0.6, 0.7]])
    mask = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    result = evaluate_pixels([torch.from_numpy(amap)], [mask], keep_curves=True)
    host = evaluate_pixels([amap], [mask], keep_curves=True)
    _assert_same(result.metrics, host.metrics)
    np.testing.assert_allclose(result.pro[1], host.pro[1], rtol=0, atol=TOL)
    np.testing.assert_array_equal(result.roc[0], host.roc[0])


def test_precomputed_regions_and_numpy_maps_on_a_device() -> None:
    maps, masks = _case(15)
    regions = [label_regions(mask) for mask in masks]
    result = evaluate_pixels(maps, masks, regions=regions, device="cpu")
    assert result.metrics_device == "cpu (torch)"
    _assert_same(result.metrics, evaluate_pixels(maps, masks).metrics)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_aupimo_matches_numpy(device, dtype) -> None:
    maps, masks = aupimo_case(5, dtype=dtype, levels=50)
    host = evaluate_pixels(maps, masks)
    on_device = evaluate_pixels(_tensors(maps, device), masks)
    assert host.metrics["aupimo_mean"] is not None
    _assert_same(on_device.metrics, host.metrics)
    for got, want in zip(on_device.aupimo_per_image, host.aupimo_per_image, strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, abs=TOL, rel=0)


def test_errors_name_the_image() -> None:
    maps, masks = _case(2)
    tensors = _tensors(maps)
    tensors[1][2, 3] = float("nan")
    with pytest.raises(MetricInputError, match=r"maps\[1\] holds a non-finite value .* \(2, 3\)"):
        evaluate_pixels(tensors, masks)
    with pytest.raises(MetricInputError, match=r"maps\[0\] has shape .* but masks\[0\] has shape"):
        evaluate_pixels(_tensors(maps), [masks[1], *masks[1:]])
    with pytest.raises(MetricInputError, match=r"device is 'nope'"):
        evaluate_pixels(maps, masks, device="nope")
    with pytest.raises(MetricInputError, match=r"maps\[0\] has dtype torch.complex64"):
        evaluate_pixels([torch.zeros(masks[0].shape, dtype=torch.complex64)], masks[:1])


def test_importing_the_metrics_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, pyimgano.metrics as m; "
        "m.evaluate_pixels([np.eye(3)], [np.eye(3)]); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # the NumPy path imports torch only for AUPIMO's thresholds, and only when AUPIMO is defined
    assert out.stdout.strip() == "False"


def _interleaved_case(dtype):
    """Good images first, last and between anomalous ones; several regions per anomalous
    image; few score levels, so tied runs hold defect and normal pixels of several images."""
    rng = np.random.default_rng(21)
    maps, masks = [], []
    for index in range(7):
        mask = np.zeros((9, 11), dtype=bool)
        if index in (1, 2, 4):  # 0, 3, 5 and 6 are good
            mask[1:4, 1:4] = True  # three 8-connected regions of several sizes
            mask[6:8, 2:9] = True
            mask[2 + index, 8] = True
        amap = np.round(rng.random((9, 11)) * 4 + 1.5 * mask) / 2  # 0.0 .. 2.5 in steps of 0.5
        maps.append(amap.astype(dtype))
        masks.append(mask)
    return maps, masks


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("chunk_size", [1, 5, 40, 150, 10_000])
def test_ranges_cutting_regions_between_good_images(dtype, chunk_size) -> None:
    # The labels of defect pixels are kept per anomalous image only (none for good images):
    # a range boundary inside a region, a range with no defect pixel or with only defect
    # pixels, and ties across the defect/normal boundary must all give the NumPy result.
    maps, masks = _interleaved_case(dtype)
    host = evaluate_pixels(maps, masks, aupro_limits=(0.05,), keep_curves=True)
    result = evaluate_pixels(
        _tensors(maps), masks, aupro_limits=(0.05,), keep_curves=True, chunk_size=chunk_size
    )
    _assert_same(result.metrics, host.metrics)
    for got, want in zip((*result.roc, *result.pro), (*host.roc, *host.pro), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    float_maps = [m.astype(np.float64) for m in maps]
    assert result.metrics["aupro"] == pytest.approx(
        ref_aupro(float_maps, masks, 0.3), abs=TOL, rel=0
    )
    expected = ref_pixel_metrics(float_maps, masks)
    for key in KEYS[:3]:
        assert result.metrics[key] == pytest.approx(expected[key], abs=TOL, rel=0), key


def test_default_ranges_hold_at_most_a_quarter_of_the_pixels() -> None:
    # the memory bound of the device path: a range's sort is paid on a quarter of the pixels
    from pyimgano.metrics._torch import default_chunk_size

    cpu = torch.device("cpu")
    assert default_chunk_size(cpu, 1_000) == 1_000  # small categories: one range
    assert default_chunk_size(cpu, 1 << 16) == 1 << 16
    assert default_chunk_size(cpu, 10_000_001) == 2_500_001
    assert default_chunk_size(cpu, 1 << 30) == 1 << 24  # and at most 2**24 pixels on the CPU
    # many defect pixels (their positions and labels stay resident): smaller ranges
    assert default_chunk_size(cpu, 8_000_000, n_defect=1_999_999) == 2_000_000
    assert default_chunk_size(cpu, 8_000_000, n_defect=2_000_000) == 1_000_000
    assert default_chunk_size(cpu, 8_000_000, n_defect=6_000_000) == 500_000
