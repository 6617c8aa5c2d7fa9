"""Map normalisation (SPEC §3) with dict-like and object-like predictions of every shape."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pyimgano.errors import ModelOutputError
from pyimgano.outputs import to_prediction

BASE = np.arange(12, dtype=np.float64).reshape(3, 4) / 11.0

SHAPES = {
    "(H,W)": BASE,
    "(1,H,W)": BASE[None],
    "(H,W,1)": BASE[..., None],
    "(1,1,H,W)": BASE[None, None],
    "(1,H,W,1)": BASE[None, ..., None],
}


class MappingLike:
    """Dict-like but not a dict: ``keys`` + ``__getitem__`` (as anomalib's batch items)."""

    def __init__(self, **values):
        self._values = values

    def keys(self):
        return self._values.keys()

    def __getitem__(self, key):
        return self._values[key]


def _as_dict(**values):
    return dict(values)


def _as_object(**values):
    return SimpleNamespace(**values)


def _as_mapping_like(**values):
    return MappingLike(**values)


KINDS = [_as_dict, _as_object, _as_mapping_like]


@pytest.mark.parametrize("make", KINDS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_maps_squeeze_to_2d_float32(make, shape):
    prediction = to_prediction(
        make(pred_score=np.float32(0.25), anomaly_map=SHAPES[shape], pred_label=True),
        image="img.png",
    )
    assert prediction.anomaly_map.shape == (3, 4)
    assert prediction.anomaly_map.dtype == np.float32
    np.testing.assert_array_equal(prediction.anomaly_map, BASE.astype(np.float32))
    assert prediction.score == 0.25 and isinstance(prediction.score, float)
    assert prediction.pred_label == 1


def test_tensor_like_values_are_read_without_torch():
    class TensorLike:
        def __init__(self, array):
            self.array = array

        def detach(self):
            return self

        def cpu(self):
            return self

        def numpy(self):
            return self.array

    prediction = to_prediction(
        {"pred_score": TensorLike(np.array([0.5], np.float32)),
         "anomaly_map": TensorLike(BASE[None, None])},
        image="t.png",
    )
    assert prediction.score == 0.5
    assert prediction.anomaly_map.shape == (3, 4)
    assert prediction.pred_label is None


def test_map_is_optional():
    prediction = to_prediction({"pred_score": 1.0}, image="x.png")
    assert prediction.anomaly_map is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"anomaly_map": BASE}, "x.png: .*no image score"),
        ({"pred_score": float("nan")}, "x.png: image score is nan"),
        ({"pred_score": np.inf}, "x.png: image score is inf"),
        ({"pred_score": np.ones(2)}, r"x.png: image score has shape \(2,\)"),
        ({"pred_score": 0.1, "anomaly_map": np.ones((2, 3, 4))}, r"x.png: .*shape \(2, 3, 4\)"),
        ({"pred_score": 0.1, "anomaly_map": np.ones(5)}, r"x.png: .*shape \(5,\)"),
        ({"pred_score": 0.1, "anomaly_map": np.ones((1, 0, 3))}, r"x.png: .*shape \(1, 0, 3\)"),
        ({"pred_score": 0.1, "anomaly_map": np.full((2, 2), np.nan)}, "x.png: .*4 NaN"),
        ({"pred_score": 0.1, "anomaly_map": np.array([["a"]])}, "x.png: .*dtype"),
        ({"pred_score": 0.1, "pred_label": 3}, "x.png: pred_label is 3"),
    ],
)
def test_bad_outputs_name_the_image(raw, message):
    with pytest.raises(ModelOutputError, match=message):
        to_prediction(raw, image="x.png")
