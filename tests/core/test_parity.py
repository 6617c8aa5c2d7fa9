"""Export parity (docs/REFERENCE.md §11): the pure summary of two runs' differences."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.errors import ConfigError
from pyimgano.outputs import Prediction
from pyimgano.parity import (
    ParityAccumulator,
    degenerate_reason,
    parity_failure_table,
    parity_result,
    parse_parity,
    parse_parity_text,
)

PATHS = [f"img{i}.png" for i in range(4)]


def _result(scores, reference, labels=None, reference_labels=None, maps=None, **kw):
    n = len(scores)
    return parity_result(
        np.asarray(scores, dtype=np.float64),
        np.asarray(reference, dtype=np.float64),
        labels if labels is not None else [None] * n,
        reference_labels if reference_labels is not None else [None] * n,
        maps if maps is not None else [None] * n,
        bounds=kw.pop("bounds", {}),
        threshold=kw.pop("threshold", 0.5),
        paths=PATHS[:n],
    )


def test_max_differences_and_worst_rows():
    result = _result([0.1, 0.5, 0.9, 0.3], [0.1, 0.45, 0.93, 0.3], maps=[0.0, 0.2, 0.01, 0.0])
    assert result["score_max_abs"] == pytest.approx(0.05, abs=1e-15)
    assert result["map_max_abs"] == 0.2
    assert result["worst"][0]["path"] == "img1.png"
    assert result["worst"][0]["score_delta"] == pytest.approx(0.05, abs=1e-15)
    assert result["decision_flips"] is None
    assert result["passed"] is None  # no bound given: measured, neither passed nor failed
    assert result["checks"] == [] and result["bounds"] == {}


def test_a_flip_next_to_the_threshold_is_borderline_not_a_flip():
    labels = [0, 1, 1, 0]
    reference_labels = [0, 0, 0, 0]
    result = _result(
        [0.1, 0.5000004, 0.7, 0.2],
        [0.1, 0.4999999, 0.45, 0.2],
        labels,
        reference_labels,
        bounds={"decisions": 0},
    )
    # img1's reference score is 1e-7 from 0.5: borderline; img2 (0.45) is a real flip
    assert result["borderline"] == 1
    assert result["decision_flips"] == 1
    assert result["passed"] is False


def test_bounds_pass_and_fail_on_their_own_quantity():
    scores, reference = [0.2, 0.6, 0.8, 0.1], [0.2, 0.6, 0.8, 0.1004]
    ok = _result(scores, reference, maps=[0.0] * 4, bounds={"score": 1e-3, "map": 0.0})
    assert ok["passed"] is True
    bad = _result(scores, reference, maps=[0.0] * 4, bounds={"score": 1e-4})
    assert bad["passed"] is False
    assert bad["checks"] == [
        {
            "name": "score_max_abs",
            "value": pytest.approx(4e-4, abs=1e-12),
            "bound": 1e-4,
            "passed": False,
            "note": None,
        }
    ]


def test_a_bound_on_a_missing_quantity_fails_with_its_reason():
    result = _result([0.2, 0.7], [0.2, 0.7], bounds={"map": 1.0})
    (check,) = result["checks"]
    assert check["value"] is None and check["passed"] is False
    assert "no anomaly map" in check["note"]
    assert result["passed"] is False


@pytest.mark.parametrize(
    ("scores", "expected"),
    [([0.0, 0.0, 0.0], "constant"), ([0.0, 1.0, 1.0], "saturated"), ([0.3, 0.4], None)],
)
def test_degenerate_artifacts_fail_whatever_the_bounds(scores, expected):
    reason = degenerate_reason(np.asarray(scores))
    if expected is None:
        assert reason is None
    else:
        assert expected in reason
        result = _result(scores, [0.1, 0.6, 0.7][: len(scores)], bounds={"score": 10.0})
        assert result["passed"] is False and result["degenerate"] == reason
        assert "degenerate artifact" in parity_failure_table(result)


def test_accumulator_compares_maps_at_the_reference_size():
    pytest.importorskip("torch")
    acc = ParityAccumulator(1, threshold=0.5)
    reference = np.zeros((4, 4), dtype=np.float32)
    artifact = np.full((2, 2), 0.25, dtype=np.float32)  # aligned to 4x4: constant 0.25
    acc.update(0, Prediction(0.3, artifact, 0), Prediction(0.31, reference, 0))
    result = acc.result({"map": 0.3}, ["a.png"])
    assert result["map_max_abs"] == pytest.approx(0.25)
    assert result["decision_flips"] == 0 and result["passed"] is True


def test_parse_parity_names_the_bad_key_and_value():
    assert parse_parity({"score": 1e-3, "decisions": 0}, where="x") == {
        "score": 1e-3,
        "decisions": 0.0,
    }
    with pytest.raises(ConfigError, match="unknown parity bound 'scores'.*score, map, decisions"):
        parse_parity({"scores": 1}, where="suite.yaml: models[0].parity")
    with pytest.raises(ConfigError, match=r"parity.map: expected a number >= 0, got -1"):
        parse_parity({"map": -1}, where="parity")
    assert parse_parity_text("score=1e-3,map=1e-2,decisions=0") == {
        "score": 1e-3,
        "map": 1e-2,
        "decisions": 0.0,
    }
    with pytest.raises(ConfigError, match="expected NAME=VALUE"):
        parse_parity_text("score")
    with pytest.raises(ConfigError, match="'x' is not a number"):
        parse_parity_text("map=x")
