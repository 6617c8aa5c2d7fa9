"""Fuzz: ``--model-kwargs`` parsing (arbitrary text, arbitrary JSON values) and the kwargs
resolution every run goes through (``pyimgano.runner.model_kwargs_for``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pyimgano.errors import ConfigError, PyImganoError
from pyimgano.models import get_entry, parse_model_kwargs, register_model, unregister_model
from pyimgano.models.kwargs import check_json_data
from pyimgano.runner import Case, model_kwargs_for
from tests.fuzz._settings import FUZZ

FAKE = "fuzz_fake_detector"
MODELS = (FAKE, "vision_padim_anomalib", "vision_anomalib_checkpoint", "vision_nope")
KNOWN_KEYS = ("checkpoint_path", "anomalib_model", "device", "noise", "downsample", "labels",
              "trust_checkpoint", "checkpoint_sha256", "decode_workers", "inferencer")

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
kwargs_dicts = st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=8)),
                               json_values, max_size=5)


@pytest.fixture(scope="module", autouse=True)
def fake_model():
    register_model(FAKE, "tests.fakes:FakeDetector",
                   metadata={"backend": "test", "requires_checkpoint": False}, overwrite=True)
    yield
    unregister_model(FAKE)


def _json_text(value: object) -> str:
    return json.dumps(value, allow_nan=True)


@FUZZ
@given(text=st.one_of(
    st.text(),
    kwargs_dicts.map(_json_text),
    json_values.map(_json_text),
    st.text(alphabet='{}[]":,0123456789.eE+-naNIfity tu', max_size=40),
))
@example(text='{"a": ' + "1" * 5000 + "}")  # int beyond Python's str limit: was a ValueError
@example(text="[" * 100_000)  # was a RecursionError
@example(text='{"a": NaN}')  # was accepted, then failed the report after the whole run
@example(text='{"a": 1e400}')  # overflows to inf
def test_parse_model_kwargs(text):
    try:
        kwargs = parse_model_kwargs(text)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("--model-kwargs: ") and "\n" not in message
        assert len(message) < 600  # the input is shown shortened
        return
    assert isinstance(kwargs, dict)
    check_json_data(kwargs, "parsed")  # only JSON data comes out (no NaN/inf)
    assert json.loads(json.dumps(kwargs, allow_nan=False)) == kwargs


@FUZZ
@given(
    model=st.sampled_from(MODELS),
    kwargs=kwargs_dicts,
    checkpoint=st.one_of(st.none(), st.text(max_size=12)),
    device=st.one_of(st.sampled_from(["auto", "cpu", "cuda", "cuda:1", " CPU ", "gpu", ""]),
                     st.text(max_size=8)),
    batch_size=st.integers(-2, 64),
)
def test_model_kwargs_resolution(model, kwargs, checkpoint, device, batch_size):
    case = Case(model=model, dataset_format="mvtec", root=Path("/data"), category="c",
                checkpoint=None if checkpoint is None else Path(checkpoint) if checkpoint else None,
                model_kwargs=kwargs, device=device, batch_size=batch_size)
    try:
        resolved = model_kwargs_for(case)
    except PyImganoError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(resolved, dict)
    entry = get_entry(model)
    if entry.requires_checkpoint:
        assert resolved.get("checkpoint_path")


python_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=4),
              st.binary(max_size=4), st.dates(), st.complex_numbers(), st.just(object())),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.tuples(inner), st.frozensets(st.integers(), max_size=2),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), inner, max_size=3)),
    max_leaves=10,
)


def _self_containing() -> list:
    value: list = []
    value.append(value)
    return value


@FUZZ
@given(value=python_values)
@example(value={"x": _self_containing()})
@example(value={"x": [[[[[[[[[[]]]]]]]]]]})
def test_check_json_data(value):
    try:
        check_json_data(value, "s.yaml: models[0].model_kwargs")
    except ConfigError as exc:
        assert str(exc).startswith("s.yaml: models[0].model_kwargs")
        return
    json.dumps(value, allow_nan=False)  # what a report does with it: must not fail
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(value))


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
