"""``memory_budget``: suite key, plugin option and ini, CLI flag, and their precedence."""

from __future__ import annotations

import pytest

from pyimgano.errors import SuiteError
from pytest_pyimgano.spec import RunSettings

from .test_suite import base, expand


@pytest.mark.parametrize(
    ("settings", "model", "defaults", "expected"),
    [
        (RunSettings(), {}, {}, None),
        (RunSettings(ini_memory_budget=1 << 20), {}, {}, 1 << 20),
        (RunSettings(ini_memory_budget=1 << 20), {}, {"memory_budget": "2GiB"}, 2 << 30),
        (RunSettings(ini_memory_budget=1 << 20), {"memory_budget": "auto"},
         {"memory_budget": "2GiB"}, "auto"),
        (RunSettings(memory_budget=5000, ini_memory_budget=1 << 20), {"memory_budget": "auto"},
         {"memory_budget": "2GiB"}, 5000),
    ],
    ids=["none", "ini", "defaults", "model", "command-line"],
)
def test_memory_budget_precedence(settings, model, defaults, expected):
    data = base()
    data["defaults"].update(defaults)
    data["models"][0].update(model)
    case = expand(data, settings)[0].case
    assert case.memory_budget == expected


def test_bad_memory_budget_in_a_suite_names_the_key():
    data = base()
    data["models"][0]["memory_budget"] = "lots"
    with pytest.raises(SuiteError, match=r"release\.yaml: models\[0\]\.memory_budget is 'lots'"):
        expand(data)


def test_memory_budget_in_the_suite_schema():
    import json
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("pyimgano.schemas").joinpath("suite.schema.json")
                        .read_text(encoding="utf-8"))
    data = base()
    for good in ("auto", "512MiB", "4GiB", "1.5GB", 1000):
        data["defaults"]["memory_budget"] = good
        jsonschema.validate(data, schema)
    for bad in ("lots", 0, -5):
        data["defaults"]["memory_budget"] = bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data, schema)


def test_plugin_option_and_ini(pytester):
    pytester.makeini("[pytest]\npyimgano_memory_budget = 3GiB\n")
    pytester.makeconftest(
        "from pytest_pyimgano.options import read_options\n"
        "def pytest_configure(config):\n"
        "    o = read_options(config)\n"
        "    print('BUDGET', o.memory_budget, o.ini_memory_budget, "
        "o.run_settings.memory_budget, o.run_settings.ini_memory_budget)\n"
    )
    args = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-s")
    result = pytester.runpytest("--pyimgano-memory-budget", "auto", *args)
    result.stdout.fnmatch_lines([f"BUDGET auto {3 << 30} auto {3 << 30}"])
    result = pytester.runpytest("--pyimgano-memory-budget", "much", *args)
    result.stderr.fnmatch_lines(["*--pyimgano-memory-budget is 'much'; expected 'auto'*"])


def test_cli_flag(tmp_path):
    from pyimgano.cli.benchmark import parse_options
    from pyimgano.errors import ConfigError

    argv = ["--model", "vision_padim_anomalib", "--dataset", "mvtec", "--root", str(tmp_path),
            "--category", "bottle"]
    assert parse_options(argv).case.memory_budget is None
    assert parse_options([*argv, "--memory-budget", "4GiB"]).case.memory_budget == 4 << 30
    assert parse_options([*argv, "--memory-budget", "auto"]).case.memory_budget == "auto"
    with pytest.raises(ConfigError, match=r"--memory-budget is '4 parsecs'"):
        parse_options([*argv, "--memory-budget", "4 parsecs"])
