"""The shipped suite JSON Schema agrees with the parser (docs/REFERENCE.md §6: schemas ship in the
package)."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest

from pyimgano.errors import SuiteError
from pyimgano.report import load_schema
from pytest_pyimgano.expand import expand_suite
from pytest_pyimgano.parse import parse_suite
from pytest_pyimgano.suite_yaml import load_yaml
from tests.plugin.test_suite import ENV, SUITE, base

REPO = Path(__file__).resolve().parents[2]


def validator() -> jsonschema.Draft202012Validator:
    schema = load_schema("suite")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", sorted((REPO / "suites").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_suites_validate(path):
    data = load_yaml(path.read_text("utf-8"), str(path))
    assert list(validator().iter_errors(data)) == []
    parse_suite(data, path, environ={})


def test_spec_example_validates():
    assert list(validator().iter_errors(base())) == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(extra=1),
        lambda d: d.update(pyimgano_suite=2),
        lambda d: d["defaults"].update(pixels=True),
        lambda d: d["models"][0]["thresholds"].update(image_aucroc=0.9),
        lambda d: d["defaults"]["snapshot"].update(tolerance={"ms_per_image": 1}),
        lambda d: d["datasets"]["mvtec"].update(layout="raw"),
        lambda d: d["models"][0]["model_kwargs"].update(trust_checkpoint=True),
        lambda d: d["models"][0].update(categories=[]),
        lambda d: d["models"][0].update(sha256="xyz"),
        lambda d: d["defaults"].update(batch_size=0),
        lambda d: d["models"][0].pop("dataset"),
    ],
)
def test_schema_and_parser_reject_the_same_suites(edit):
    data = copy.deepcopy(base())
    edit(data)
    assert list(validator().iter_errors(data)), "the schema accepts it"
    with pytest.raises(SuiteError):
        expand_suite(parse_suite(data, SUITE, environ=ENV),
                     list_categories=lambda *a, **k: ["bottle", "cable"])


def test_schema_metric_names_are_the_gates_metrics():
    from pyimgano.gates import NOT_SNAPSHOTTED, TIMING_METRICS, metric_directions

    defs = load_schema("suite")["$defs"]
    assert set(defs["metric"]["anyOf"][0]["enum"]) == set(metric_directions())
    assert {"peak_rss_mb", "peak_device_mb", "params"} <= set(metric_directions())
    assert set(NOT_SNAPSHOTTED) == {*TIMING_METRICS, "peak_rss_mb", "peak_device_mb", "params"}
    assert set(defs["snapshot_metric"]["anyOf"][0]["enum"]) == set(metric_directions()) - set(
        NOT_SNAPSHOTTED
    )


def test_schema_and_parser_accept_a_bound_on_an_extra_aupro_limit():
    data = copy.deepcopy(base())
    data["defaults"]["aupro_limits"] = [0.05]
    data["models"][0]["thresholds"].update({"aupro_0.05": 0.5})
    assert not list(validator().iter_errors(data))
    items = expand_suite(parse_suite(data, SUITE, environ=ENV),
                         list_categories=lambda *a, **k: ["bottle", "cable"])
    assert items
    data["models"][0]["thresholds"] = {"aupro_x": 0.5}
    assert list(validator().iter_errors(data))
    with pytest.raises(SuiteError, match="aupro_x"):
        expand_suite(parse_suite(data, SUITE, environ=ENV),
                     list_categories=lambda *a, **k: ["bottle", "cable"])


def test_schema_dataset_formats_are_the_loaders_formats():
    from pyimgano.datasets import FORMATS

    dataset = load_schema("suite")["$defs"]["dataset"]
    assert dataset["properties"]["format"]["enum"] == list(FORMATS)
    options = {option for fmt in FORMATS.values() for option in fmt.options}
    assert options <= set(dataset["properties"])


def test_schema_and_parser_accept_realiad_options_and_refuse_them_elsewhere():
    data = copy.deepcopy(base())
    data["datasets"]["mvtec"] = {
        "format": "realiad", "root": "/data/realiad", "resolution": 512,
        "json_path": "realiad_jsons/{category}.json",
    }
    assert list(validator().iter_errors(data)) == []
    suite = parse_suite(data, SUITE, environ=ENV)
    assert suite.datasets["mvtec"].options["resolution"] == 512
    data["datasets"]["mvtec"] = {"format": "mvtec", "root": "/data", "resolution": 512}
    assert list(validator().iter_errors(data))
    with pytest.raises(SuiteError, match="resolution"):
        parse_suite(data, SUITE, environ=ENV)
