"""The catalogue itself: one test per case, every scenario a case, docs/ERRORS.md current."""

from __future__ import annotations

import importlib
import pkgutil
import re

import tests.bad_inputs as package
from pyimgano.errors import PyImganoError
from tests.bad_inputs.catalogue import _TOKEN, CASES
from tests.bad_inputs.render import PAGE, main, render
from tests.bad_inputs.scenarios import SCENARIOS


def covering_tests() -> dict[str, list[str]]:
    """case id -> the test functions of this package marked ``@covers(id)``."""
    found: dict[str, list[str]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, func in vars(module).items():
            case_id = getattr(func, "catalogue_case", None)
            if name.startswith("test_") and case_id is not None:
                found.setdefault(case_id, []).append(f"{info.name}::{name}")
    return found


def test_one_test_per_case():
    found = covering_tests()
    assert sorted(set(CASES) - set(found)) == [], "cases without a test"
    assert {k: v for k, v in found.items() if len(v) > 1} == {}, "cases with several tests"
    assert set(found) <= set(CASES)


def test_every_scenario_is_a_case():
    assert set(SCENARIOS) <= set(CASES)


def test_cases_are_complete():
    for case in CASES.values():
        assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", case.id), case.id
        assert case.input and case.meaning and case.fix and case.where, case.id
        if case.error is not None:
            assert issubclass(case.error, PyImganoError), case.id
            # the message names the input: a placeholder for the file/key/value, or a literal
            # option/flag name
            assert _TOKEN.search(case.message) or "--" in case.message, case.id


def test_errors_page_is_current():
    assert PAGE.read_text("utf-8") == render(), (
        "docs/ERRORS.md is stale: python -m tests.bad_inputs.render > docs/ERRORS.md"
    )
    assert main(["--check"]) == 0
