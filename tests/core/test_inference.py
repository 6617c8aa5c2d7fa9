"""run_inference: batch-dependence fallback, the batch guard, parity pairing, device errors."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from PIL import Image

import pyimgano.decoding as images
from pyimgano.errors import BatchDependenceWarning, DeviceError
from pyimgano.inference import run_inference
from pyimgano.models.base import Batch, Detector
from pyimgano.outputs import Prediction


class MeanDetector(Detector):
    """Score = the image's mean, minus the batch's mean of means when ``dependent`` (like cflow,
    whose map subtracts the batch maximum). Implements ``infer`` only."""

    def __init__(self, dependent: bool = False, batch_independent=None, offset: float = 0.0):
        self.dependent = dependent
        self.batch_independent = batch_independent
        self.offset = offset
        self.batch_sizes: list[int] = []

    def infer(self, batch):
        means = np.array([float(image.mean()) for image in batch.images])
        self.batch_sizes.append(len(means))
        if self.dependent:
            means = means - means.mean()
        began = time.perf_counter()
        predictions = tuple(
            Prediction(float(m) + self.offset, np.full((2, 2), m, np.float32), int(m > 0.5))
            for m in means
        )
        return Batch(batch.indices, predictions, time.perf_counter() - began)


@pytest.fixture
def paths(tmp_path):
    rng = np.random.default_rng(0)
    out = []
    for i in range(7):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
        out.append(path)
    return out


def _per_image(paths):
    return [float(images.decode_image(p).mean()) for p in paths]


def test_a_batch_dependent_model_runs_one_image_at_a_time(paths):
    model = MeanDetector(dependent=True, batch_independent=False)
    result = run_inference(model, paths, batch_size=4)
    assert set(model.batch_sizes) == {1}
    assert result.batch_size == 1 and "batch-dependent" in result.batch_note
    # per image, the dependent model's score is m - m = 0: exactly what per-image inference gives
    assert [p.score for p in result.predictions] == [0.0] * len(paths)


def test_the_guard_catches_an_unknown_batch_dependent_model(paths):
    model = MeanDetector(dependent=True, batch_independent=None)
    with pytest.warns(BatchDependenceWarning, match="differ from per-image inference"):
        result = run_inference(model, paths, batch_size=4)
    assert result.batch_size == 1 and "batch-dependent" in result.batch_note
    assert [p.score for p in result.predictions] == [0.0] * len(paths)
    # first batch: 4 batched + 4 single passes; then the remaining 3 one by one
    assert model.batch_sizes == [4, 1, 1, 1, 1, 1, 1, 1]


def test_the_guard_keeps_the_batch_of_an_independent_model(paths):
    model = MeanDetector(dependent=False, batch_independent=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BatchDependenceWarning)
        result = run_inference(model, paths, batch_size=4)
    assert result.batch_size == 4 and result.batch_note is None
    assert model.batch_sizes == [4, 1, 1, 1, 1, 3]  # the guard's singles, once
    assert [p.score for p in result.predictions] == pytest.approx(_per_image(paths), abs=0)


def test_a_known_independent_model_is_not_guarded(paths):
    model = MeanDetector(batch_independent=True)
    run_inference(model, paths, batch_size=4)
    assert model.batch_sizes == [4, 3]


def test_reference_runs_on_the_same_decoded_images(paths, monkeypatch):
    decoded = []
    original = images.decode_image

    def counting(path):
        decoded.append(path)
        return original(path)

    monkeypatch.setattr(images, "decode_image", counting)
    model = MeanDetector(batch_independent=True, offset=1e-4)
    reference = MeanDetector(batch_independent=True)
    result = run_inference(model, paths, batch_size=3, reference=reference)
    assert sorted(decoded) == sorted(paths)  # each image decoded once for both models
    assert [p.score - 1e-4 for p in result.predictions] == pytest.approx(
        [p.score for p in result.reference], abs=1e-12
    )


def test_out_of_memory_becomes_one_device_error_naming_the_batch(paths):
    class Exhausted(MeanDetector):
        device = "cuda:0"

        def infer(self, batch):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    message = r"cuda:0: out of memory .* batch size 4 .*--batch-size 2"
    with pytest.raises(DeviceError, match=message):
        run_inference(Exhausted(batch_independent=True), paths, batch_size=4)


def test_other_model_errors_are_not_disguised(paths):
    class Broken(MeanDetector):
        def infer(self, batch):
            raise ValueError("a bug in the model")

    with pytest.raises(ValueError, match="a bug in the model"):
        run_inference(Broken(batch_independent=True), paths, batch_size=4)


# -- the reference gets the same batching policy as the model -----------------------------------


def test_the_guard_catches_an_unknown_batch_dependent_reference(paths):
    """Without the guard the reference's batched scores (m - batch mean) would enter parity."""
    model = MeanDetector(batch_independent=True)
    reference = MeanDetector(dependent=True, batch_independent=None)
    with pytest.warns(BatchDependenceWarning, match="reference MeanDetector: scores at batch "
                                                     "size 4 differ"):
        result = run_inference(model, paths, batch_size=4, reference=reference)
    # per image, the dependent reference scores m - m = 0
    assert [p.score for p in result.reference] == [0.0] * len(paths)
    assert reference.batch_sizes == [4, 1, 1, 1, 1, 1, 1, 1]
    # the model itself is unaffected: batched at 4, its own scores
    assert model.batch_sizes == [4, 3] and result.batch_size == 4
    assert [p.score for p in result.predictions] == pytest.approx(_per_image(paths), abs=0)
    assert result.batch_note.startswith("reference MeanDetector: ")


def test_the_guard_keeps_the_batch_of_an_independent_reference(paths):
    model = MeanDetector(batch_independent=True)
    reference = MeanDetector(batch_independent=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BatchDependenceWarning)
        result = run_inference(model, paths, batch_size=4, reference=reference)
    assert reference.batch_sizes == [4, 1, 1, 1, 1, 3]  # the guard's singles, once
    assert result.batch_note is None
    assert [p.score for p in result.reference] == pytest.approx(_per_image(paths), abs=0)


def test_a_known_batch_dependent_reference_runs_one_image_at_a_time(paths):
    model = MeanDetector(batch_independent=True)
    reference = MeanDetector(dependent=True, batch_independent=False)
    result = run_inference(model, paths, batch_size=4, reference=reference)
    assert set(reference.batch_sizes) == {1} and model.batch_sizes == [4, 3]
    assert [p.score for p in result.reference] == [0.0] * len(paths)
    assert "reference MeanDetector is batch-dependent" in result.batch_note


# -- device errors: torch's own out-of-memory type ------------------------------------------------


@pytest.mark.parametrize("role", ["model", "reference"])
def test_torch_out_of_memory_in_either_forward_pass_is_one_device_error(paths, role):
    torch = pytest.importorskip("torch")

    class Exhausted(MeanDetector):
        device = "cuda:0"

        def infer(self, batch):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    good = MeanDetector(batch_independent=True)
    bad = Exhausted(batch_independent=True)
    model, reference = (bad, good) if role == "model" else (good, bad)
    stage = "the forward pass" if role == "model" else "the reference's forward pass"
    with pytest.raises(DeviceError) as info:
        run_inference(model, paths, batch_size=4, reference=reference)
    message = str(info.value)
    assert message.startswith(f"cuda:0: out of memory in {stage} at batch size 4 (CUDA out of")
    assert "--batch-size 2" in message and "--device cpu" in message
    assert "\n" not in message
