"""The gates a written report records, read back (:func:`pyimgano.gates.recorded_failures`).

Every place that derives an outcome from a report (``pyimgano-diff --merge``, the CLI's exit
code) reads it through this one function, so a gate kind added to reports fails everywhere.
"""

from __future__ import annotations

import pytest

from pyimgano.gates import parity_failed, recorded_failures
from pyimgano.parity import parity_verdict


def _parity(passed, degenerate=None, checks=()):
    return {"passed": passed, "degenerate": degenerate, "checks": list(checks)}


def test_nothing_recorded_or_everything_held_is_no_failure():
    assert recorded_failures({}) == []
    assert recorded_failures({
        "thresholds": {"aupro": {"min": 0.5, "value": 0.9, "passed": True}},
        "parity": _parity(True),
        "comparison": {"image_auroc": {"delta": -0.001, "passed": True}},
    }) == []


def test_parity_measured_without_bounds_neither_passes_nor_fails():
    parity = _parity(None)
    assert not parity_failed(parity)
    assert recorded_failures({"parity": parity}) == []
    assert parity_verdict(parity) == "measured (no bounds)"
    assert parity_verdict(_parity(True)) == "passed"
    assert parity_verdict(_parity(False)) == "FAILED"


@pytest.mark.parametrize(
    ("report", "cause", "text"),
    [
        ({"thresholds": {"aupro": {"min": 0.9, "value": 0.5, "passed": False}}},
         "threshold", "threshold aupro 0.5 outside min 0.9"),
        ({"thresholds": {"aupro": {"min": 0.9, "value": None, "passed": False,
                                   "reason": "no masks"}}},
         "threshold", "threshold aupro null bound min 0.9 (no masks)"),
        ({"parity": _parity(False, checks=[{"name": "map_max_abs", "value": 0.5,
                                            "bound": 0.01, "passed": False}])},
         "parity", "parity map_max_abs 0.5 > 0.01"),
        ({"parity": _parity(None, degenerate="every score is saturated")},
         "parity", "parity: degenerate artifact: every score is saturated"),
        ({"parity": _parity(False)}, "parity", "parity failed"),
        ({"comparison": {"image_auroc": {"delta": -0.02, "passed": False},
                         "aupro": {"delta": 0.0, "passed": True}}},
         "comparison", "comparison image_auroc: delta -0.02 against the baseline"),
    ],
)
def test_each_failed_gate_kind_is_found(report, cause, text):
    (failure,) = recorded_failures(report)
    assert (failure.cause, failure.text) == (cause, text)


def test_failures_come_in_a_fixed_order():
    report = {
        "comparison": {"aupro": {"delta": -0.1, "passed": False}},
        "parity": _parity(False, degenerate="constant"),
        "thresholds": {"b": {"max": 1.0, "value": 2.0, "passed": False},
                       "a": {"min": 1.0, "value": 0.0, "passed": False}},
    }
    assert [f.cause for f in recorded_failures(report)] == [
        "threshold", "threshold", "parity", "comparison"]
    assert recorded_failures(report)[0].text.startswith("threshold a ")
