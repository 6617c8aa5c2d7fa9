"""Map normalisation (docs/REFERENCE.md §3) with dict-like and object-like predictions of every
shape."""

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


# -- device-resident maps (the same normalisation path, no host copy) ---------------------------


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_keep_device_gives_a_2d_float32_tensor_equal_to_the_host_map(shape, dtype):
    torch = pytest.importorskip("torch")
    raw = torch.from_numpy(np.ascontiguousarray(SHAPES[shape])).to(getattr(torch, dtype))
    on_device = to_prediction({"pred_score": torch.tensor([0.5]), "anomaly_map": raw},
                              image="t.png", keep_device=True)
    host = to_prediction({"pred_score": torch.tensor([0.5]), "anomaly_map": raw}, image="t.png")
    amap = on_device.anomaly_map
    assert isinstance(amap, torch.Tensor)
    assert amap.dtype == torch.float32 and tuple(amap.shape) == (3, 4)
    assert amap.is_contiguous() and amap.device == raw.device
    assert isinstance(host.anomaly_map, np.ndarray)
    assert np.array_equal(amap.numpy(), host.anomaly_map)
    assert on_device.score == host.score == 0.5 and isinstance(on_device.score, float)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: t.full((2, 2), float("nan")), "x.png: anomaly map holds 4 NaN"),
        (lambda t: t.ones((2, 3, 4)), r"x.png: anomaly map of shape \(2, 3, 4\)"),
        (lambda t: t.full((2, 2), 1e300, dtype=t.float64), "x.png: .*beyond float32's range"),
        (lambda t: t.ones((2, 2), dtype=t.complex64), "x.png: anomaly map has dtype"),
    ],
)
def test_keep_device_errors_are_the_host_errors(make, message):
    torch = pytest.importorskip("torch")
    with pytest.raises(ModelOutputError, match=message):
        to_prediction({"pred_score": 0.1, "anomaly_map": make(torch)}, image="x.png",
                      keep_device=True)


def test_keep_device_leaves_numpy_maps_numpy():
    prediction = to_prediction({"pred_score": 0.1, "anomaly_map": BASE}, image="x.png",
                               keep_device=True)
    assert isinstance(prediction.anomaly_map, np.ndarray)
    assert prediction.anomaly_map.dtype == np.float32


def test_to_numpy_casts_floating_tensors_before_the_copy():
    torch = pytest.importorskip("torch")
    from pyimgano.outputs import to_numpy

    value = torch.tensor([[0.25, 0.5]], dtype=torch.float64)
    assert to_numpy(value).dtype == np.float64
    assert to_numpy(value, float32=True).dtype == np.float32
    assert to_numpy(torch.tensor([1.0], dtype=torch.bfloat16)).dtype == np.float32
    assert to_numpy(torch.tensor([True])).dtype == np.bool_
    assert to_numpy(torch.tensor([3]), float32=True).dtype == np.int64


def test_split_batch_output_keeps_tensor_maps_on_request():
    torch = pytest.importorskip("torch")
    from pyimgano.outputs import split_batch_output

    maps = torch.arange(2 * 12, dtype=torch.float32).reshape(2, 1, 3, 4)
    output = {"pred_score": torch.tensor([[0.1], [0.2]]), "anomaly_map": maps,
              "pred_label": torch.tensor([[True], [False]])}
    kept = split_batch_output(output, ["a.png", "b.png"], keep_device=True)
    host = split_batch_output(output, ["a.png", "b.png"])
    assert [type(p.anomaly_map).__name__ for p in kept] == ["Tensor", "Tensor"]
    assert [type(p.anomaly_map).__name__ for p in host] == ["ndarray", "ndarray"]
    for k in range(2):
        assert np.array_equal(kept[k].anomaly_map.numpy(), host[k].anomaly_map)
        assert np.array_equal(host[k].anomaly_map, maps[k, 0].numpy())
    assert [p.pred_label for p in kept] == [1, 0]
    assert [p.score for p in kept] == pytest.approx([0.1, 0.2])
