"""Fuzz: map/score/label normalisation (``pyimgano.outputs.to_prediction``) on arbitrary
arrays, shapes, dtypes and dict-like / object-like / tensor-like wrappers."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import SimpleNamespace

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pyimgano.errors import ModelOutputError
from pyimgano.outputs import LABEL_KEYS, MAP_KEYS, SCORE_KEYS, Prediction, to_prediction
from tests.fuzz._settings import FUZZ

IMAGE = "img/007.png"


class FakeTensor:
    """Duck-typed tensor: ``detach().cpu().numpy()`` like torch, no torch import."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def detach(self) -> FakeTensor:
        return self

    def cpu(self) -> FakeTensor:
        return self

    def numpy(self) -> np.ndarray:
        return self.array


class BrokenTensor(FakeTensor):
    """A tensor whose conversion fails (as torch's ``.numpy()`` does for bfloat16)."""

    def numpy(self) -> np.ndarray:
        raise TypeError("Got unsupported ScalarType BFloat16")


class FrozenMapping(Mapping):
    def __init__(self, data: dict) -> None:
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class KeysOnly:
    """Dict-like without being a Mapping (``keys()`` and ``[]``), like anomalib's batches."""

    def __init__(self, data: dict) -> None:
        self._data = data

    def keys(self):
        return self._data.keys()

    def __getitem__(self, key):
        return self._data[key]


dtypes = st.one_of(
    hnp.scalar_dtypes(),  # bool, ints, uints, floats, complex, datetime64, timedelta64
    hnp.unicode_string_dtypes(max_len=3),
    hnp.byte_string_dtypes(max_len=3),
)
shapes = hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=5)
arrays = st.one_of(
    hnp.arrays(dtypes, shapes),
    hnp.arrays(np.float32, shapes, elements=st.floats(width=32)),
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4),
               elements=st.floats(allow_nan=True, allow_infinity=True)),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.complex_numbers(), st.text(max_size=4),
    st.binary(max_size=4),
)
values = st.one_of(
    arrays,
    scalars,
    arrays.map(FakeTensor),
    arrays.map(BrokenTensor),
    st.lists(st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=4),  # ragged too
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
)
ALL_KEYS = (*SCORE_KEYS, *MAP_KEYS, *LABEL_KEYS, "other")
wrappers = st.sampled_from([dict, SimpleNamespace, FrozenMapping, KeysOnly, list, str])


def wrap(kind, fields: dict):
    if kind is SimpleNamespace:
        return SimpleNamespace(**fields)
    if kind is list:
        return list(fields.values())
    if kind is str:
        return str(fields)
    return kind(fields)


@FUZZ
@given(kind=wrappers, fields=st.dictionaries(st.sampled_from(ALL_KEYS), values, max_size=4))
@example(kind=dict, fields={"pred_score": [[1, 2], [3]]})  # ragged: was a raw ValueError
@example(kind=dict, fields={"pred_score": 1.0, "pred_label": 1 + 0j})  # was a TypeError
@example(kind=dict, fields={"pred_score": 1.0, "anomaly_map": np.ones((3, 3), complex)})
@example(kind=dict, fields={"pred_score": "1.5"})  # a string score was read as 1.5
@example(kind=dict, fields={"pred_score": 1.0, "anomaly_map": np.ones((2, 2), "m8[s]")})
@example(kind=dict, fields={"pred_score": 1.0, "anomaly_map": np.full((2, 2), 1e300)})
@example(kind=dict, fields={"pred_score": BrokenTensor(np.zeros(1))})
def test_to_prediction_gives_a_prediction_or_a_model_output_error(kind, fields):
    output = wrap(kind, fields)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning or cast warning is a bug too
        try:
            prediction = to_prediction(output, image=IMAGE)
        except ModelOutputError as exc:
            message = str(exc)
            assert message.startswith(f"{IMAGE}: ") and "\n" not in message
            return
    assert isinstance(prediction, Prediction)
    assert isinstance(prediction.score, float) and np.isfinite(prediction.score)
    if prediction.anomaly_map is not None:
        array = prediction.anomaly_map
        assert array.dtype == np.float32 and array.ndim == 2 and 0 not in array.shape
        assert array.flags.c_contiguous and np.isfinite(array).all()
    assert prediction.pred_label in (None, 0, 1)
