"""Catalogue: model kwargs (``--model-kwargs`` JSON, a suite's ``model_kwargs``)."""

from __future__ import annotations

import datetime

import yaml

from pytest_pyimgano.parse import parse_suite
from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import cli_args, expect_cli, expect_raise, run_argv
from tests.bad_inputs.scenarios import fake_suite


@covers("kwargs.not_json")
def test_model_kwargs_that_are_not_a_json_object(base_data):
    for text in ("{nope", "[1, 2]", '"padim"', '{"at": ' + "1" * 5000 + "}", "[" * 100_000):
        argv = cli_args(base_data, "--model-kwargs", text)
        expect_cli("kwargs.not_json", argv)
        expect_raise("kwargs.not_json", lambda a=argv: run_argv(a))


@covers("kwargs.non_finite")
def test_non_finite_and_non_json_values(base_data, plugin_batch):
    case = CASES["kwargs.non_finite"]
    for text, value in (('{"at": NaN}', "NaN"), ('{"at": -Infinity}', "-Infinity"),
                        ('{"at": 1e400}', "1e400 (overflows to inf)")):
        argv = cli_args(base_data, "--model-kwargs", text)
        expect_cli(case, argv, where="--model-kwargs", value=value)
        expect_raise(case, lambda a=argv: run_argv(a), where="--model-kwargs", value=value)
    # a suite: a SuiteError (a ConfigError) at collection, naming the key path
    where = f"{plugin_batch.suite(case.id)}: models[0].model_kwargs.at"
    plugin_batch.expect(case, "error", where=where, value="nan")
    for value, shown in ((float("inf"), "inf"), (datetime.date(2001, 2, 3),
                                                 "date datetime.date(2001, 2, 3)"),
                         (b"\x00", "bytes b'\\x00'"), ({1, 2}, "set {1, 2}")):
        data = yaml.safe_load(fake_suite("/data"))
        data["models"][0]["model_kwargs"] = {"at": value}
        message = str(_suite_error(data))
        case.check(message, where="s.yaml: models[0].model_kwargs.at", value=shown)


def _suite_error(data: dict) -> Exception:
    from pyimgano.errors import SuiteError

    try:
        parse_suite(data, "s.yaml")
    except SuiteError as exc:
        return exc
    raise AssertionError("no SuiteError")


@covers("kwargs.unknown_key")
def test_unknown_model_kwarg(base_data, plugin_batch):
    case = CASES["kwargs.unknown_key"]
    values = {"model": "'bad_fake'", "name": "'fualt'"}
    argv = cli_args(base_data, "--model-kwargs", '{"fualt": "nan_score"}')
    message = expect_cli(case, argv, **values)
    assert "fault" in message  # the accepted keys name the right one
    expect_raise(case, lambda: run_argv(argv), **values)
    plugin_batch.expect(case, "failed", "fake[tiles]", **values)
