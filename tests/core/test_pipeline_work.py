"""The work ``evaluate`` overlaps with inference gives the sequential results (fast, default run).

``evaluate(pixel=True)`` reads masks and aligns maps on a background thread, batch by batch,
while the model infers (see ``pyimgano.evaluation._PixelInputs``), and aligns a batch's maps with
one ``interpolate`` per size (``pyimgano.alignment.align_maps``). These tests pin that this is
only a change of schedule: the same values bit for bit, each mask read once, and the errors of
the sequential order (every mask first, in dataset order; no mask error when a model yields no
maps). The real-checkpoint counterpart is ``tests/anomalib/test_anomalib_evaluate_once.py``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pyimgano.alignment import align_map, align_maps
from pyimgano.datasets import load_dataset, load_mask
from pyimgano.errors import DatasetError, ModelOutputError
from pyimgano.evaluation import evaluate
from pyimgano.metrics import pixel_metrics
from tests.fakes import FakeDetector

pytest.importorskip("torch")


class ReversedFake(FakeDetector):
    """Yields its batches last first (a detector may yield batches in any order)."""

    def predict(self, image_paths, *, batch_size):
        return reversed(list(super().predict(image_paths, batch_size=batch_size)))


@pytest.fixture
def tiny(tmp_path):
    from pyimgano.datasets.synthetic import generate

    generate(
        tmp_path, categories=("tiles",), seed=1, size=48, n_train=1, n_test_good=3,
        n_test_bad_per_defect=2,
    )  # fmt: skip
    return tmp_path


def _sequential(dataset, predictions):
    masks = [load_mask(sample) for sample in dataset]
    maps = [align_map(p.anomaly_map, m.shape) for p, m in zip(predictions, masks, strict=True)]
    return pixel_metrics(maps, masks)


@pytest.mark.parametrize("detector", [FakeDetector(downsample=3), ReversedFake(downsample=2)])
@pytest.mark.parametrize("batch_size", [1, 4, 64])
def test_overlapped_pixel_work_equals_the_sequential_computation(
    tiny, detector, batch_size, monkeypatch
):
    import pyimgano.datasets.masks as masks_module

    reads: Counter = Counter()
    original = masks_module.read_mask
    monkeypatch.setattr(
        masks_module, "read_mask", lambda path: reads.update([str(path)]) or original(path)
    )
    dataset = load_dataset("mvtec", tiny, "tiles")
    evaluation = evaluate(detector, dataset, pixel=True, batch_size=batch_size)
    assert reads == Counter(str(p) for s in dataset for p in s.mask_paths or ())
    reads.clear()
    expected = _sequential(dataset, evaluation.predictions)
    for name, value in expected.items():
        assert evaluation.report.metrics[name] == value, name


def test_first_bad_mask_in_dataset_order_is_reported(tiny):
    dataset = load_dataset("mvtec", tiny, "tiles")
    bad = [s for s in dataset if s.mask_paths]
    for sample in (bad[1], bad[-1]):
        sample.mask_paths[0].write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=str(bad[1].mask_paths[0].name)) as info:
        evaluate(ReversedFake(), dataset, pixel=True, batch_size=2)
    assert str(bad[1].mask_paths[0]) in str(info.value)


def test_no_mask_error_when_the_model_yields_no_map(tiny):
    dataset = load_dataset("mvtec", tiny, "tiles")
    next(s for s in dataset if s.mask_paths).mask_paths[0].write_bytes(b"not a png")
    report = evaluate(FakeDetector(with_map=False), dataset, pixel=True, batch_size=2).report
    assert report.metrics["aupro"] is None
    assert report.metric_notes["aupro"] == "the model yields no anomaly map"


def test_model_error_stops_the_background_work(tiny):
    import threading

    class Twice(FakeDetector):
        def predict(self, image_paths, *, batch_size):
            batches = list(super().predict(image_paths, batch_size=batch_size))
            return batches + batches[:1]

    dataset = load_dataset("mvtec", tiny, "tiles")
    with pytest.raises(ModelOutputError, match="twice"):
        evaluate(Twice(downsample=2), dataset, pixel=True, batch_size=4)
    assert not [t for t in threading.enumerate() if t.name.startswith("pyimgano-eval")]


@pytest.mark.parametrize(
    ("source", "target"),
    [((8, 8), (8, 8)), ((7, 9), (30, 20)), ((64, 64), (96, 96)), ((40, 40), (13, 17))],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_align_maps_equals_align_map_bit_for_bit(source, target, dtype):
    rng = np.random.default_rng(sum(source) + sum(target))
    maps = [(rng.random(source) * 1000).astype(dtype) for _ in range(5)]
    maps.append(np.asfortranarray(maps[0]))  # not C-contiguous
    maps.append(rng.random((source[0] + 1, source[1])).astype(dtype))  # another group
    shapes = [target] * 6 + [(target[0] + 2, target[1])]
    got = align_maps(maps, shapes, images=[f"im{k}" for k in range(len(maps))])
    for amap, shape, result in zip(maps, shapes, got, strict=True):
        expected = align_map(amap, shape)
        assert result.shape == tuple(shape)
        assert result.dtype == expected.dtype
        np.testing.assert_array_equal(result, expected)
        if amap.shape == tuple(shape):
            assert result is amap  # same-size maps are not touched


def test_align_maps_names_the_first_map_that_is_not_2d():
    maps = [np.zeros((4, 4), np.float32), np.zeros((1, 4, 4)), np.zeros(4)]
    with pytest.raises(ModelOutputError, match=r"b\.png: anomaly map of shape \(1, 4, 4\)"):
        align_maps(maps, [(8, 8)] * 3, images=["a.png", "b.png", "c.png"])
