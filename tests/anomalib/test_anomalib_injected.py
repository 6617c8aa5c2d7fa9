"""Injected inferencers (docs/REFERENCE.md §3): dict-like and object-like predictions in every map
shape,
through the one normalisation path; bad outputs name the image. No torch needed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pyimgano.backends.anomalib import VisionAnomalibCheckpoint
from pyimgano.errors import ConfigError, ModelOutputError

H, W = 5, 7
MAP = (np.arange(H * W, dtype=np.float64).reshape(H, W)) / (H * W)
SHAPES = {
    "(H,W)": lambda m: m,
    "(1,H,W)": lambda m: m[None],
    "(H,W,1)": lambda m: m[..., None],
    "(1,1,H,W)": lambda m: m[None, None],
}
PATHS = [Path(f"/data/test/good/{k:03d}.png") for k in range(7)]


class FakeInferencer:
    """Answers ``predict(path)`` from a function of the path; records the calls."""

    def __init__(self, make):
        self.make = make
        self.calls: list[Path] = []

    def predict(self, image):
        self.calls.append(image)
        return self.make(image)


def _score(path) -> float:
    return int(Path(path).stem) / 10


def _dict_output(shape):
    return lambda path: {
        "pred_score": np.float32(_score(path)),
        "anomaly_map": SHAPES[shape](MAP + _score(path)),
        "pred_label": np.array([_score(path) > 0.3]),
    }


def _object_output(shape):
    return lambda path: SimpleNamespace(
        pred_score=np.array([[_score(path)]], dtype=np.float32),
        anomaly_map=SHAPES[shape](MAP + _score(path)),
        pred_label=_score(path) > 0.3,
    )


def _predict(inferencer, paths=PATHS, batch_size=3):
    detector = VisionAnomalibCheckpoint(inferencer=inferencer)
    found = {}
    for batch in detector.predict(paths, batch_size=batch_size):
        assert len(batch.indices) <= batch_size
        assert batch.seconds >= 0
        found.update(zip(batch.indices, batch.predictions, strict=True))
    assert sorted(found) == list(range(len(paths)))
    return found


@pytest.mark.parametrize("make", [_dict_output, _object_output])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_outputs_in_every_shape(make, shape):
    inferencer = FakeInferencer(make(shape))
    found = _predict(inferencer)
    assert inferencer.calls == PATHS  # each image once, in order, by path
    for index, prediction in found.items():
        expected = _score(PATHS[index])
        assert prediction.score == pytest.approx(expected)
        assert prediction.anomaly_map.shape == (H, W)
        assert prediction.anomaly_map.dtype == np.float32
        np.testing.assert_allclose(prediction.anomaly_map, MAP + expected, rtol=1e-6)
        assert prediction.pred_label == int(expected > 0.3)


def test_output_without_map_or_label():
    found = _predict(FakeInferencer(lambda path: {"pred_score": 0.5}))
    assert all(p.anomaly_map is None and p.pred_label is None for p in found.values())


def _error_for(make, bad_index=4) -> str:
    def output(path):
        if PATHS.index(path) == bad_index:
            return make(path)
        return {"pred_score": 0.1, "anomaly_map": MAP}

    with pytest.raises(ModelOutputError) as info:
        _predict(FakeInferencer(output))
    message = str(info.value)
    assert str(PATHS[bad_index]) in message
    return message


def test_nan_score_names_the_image():
    assert "nan" in _error_for(lambda p: {"pred_score": float("nan"), "anomaly_map": MAP})


def test_nan_map_names_the_image():
    bad = MAP.copy()
    bad[1, 2] = np.nan
    assert "NaN" in _error_for(lambda p: SimpleNamespace(pred_score=0.2, anomaly_map=bad))


@pytest.mark.parametrize("shape", [(2, H, W), (H,), (1, 2, H, W), (3, 1, 1)])
def test_map_that_is_not_2d_names_image_and_shape(shape):
    message = _error_for(lambda p: {"pred_score": 0.2, "anomaly_map": np.zeros(shape)})
    assert str(shape) in message


def test_missing_score_is_an_error():
    message = _error_for(lambda p: {"anomaly_map": MAP})
    assert "no image score" in message


def test_describe_without_checkpoint():
    description = VisionAnomalibCheckpoint(inferencer=FakeInferencer(lambda p: {})).describe()
    assert description.checkpoint is None
    assert description.checkpoint_sha256 is None
    assert description.outputs_normalized is None


def test_neither_or_both_sources_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="needs a checkpoint"):
        VisionAnomalibCheckpoint()
    with pytest.raises(ConfigError, match="not both"):
        VisionAnomalibCheckpoint(tmp_path / "m.pt", inferencer=FakeInferencer(lambda p: {}))
    with pytest.raises(ConfigError, match="predict"):
        VisionAnomalibCheckpoint(inferencer=object())


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "4"])
def test_bad_batch_size(batch_size):
    detector = VisionAnomalibCheckpoint(inferencer=FakeInferencer(lambda p: {}))
    with pytest.raises(ConfigError, match="batch_size"):
        detector.predict(PATHS, batch_size=batch_size)


@pytest.mark.parametrize("workers", [-1, 1.0, None])
def test_bad_decode_workers(workers):
    with pytest.raises(ConfigError, match="decode_workers"):
        VisionAnomalibCheckpoint(inferencer=FakeInferencer(lambda p: {}), decode_workers=workers)
