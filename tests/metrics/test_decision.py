"""Decision metrics at the checkpoint's own labels."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.errors import MetricInputError
from pyimgano.metrics import decision_metrics


def test_rates_by_hand() -> None:
    labels = [1, 1, 1, 1, 0, 0, 0]
    predicted = [1, 0, 0, 1, 0, 1, 0]
    result = decision_metrics(labels, predicted)
    # 2 of 4 anomalous images passed as good; 1 of 3 good images rejected.
    assert result == {"image_miss_rate": 0.5, "image_false_reject_rate": 1 / 3}
    assert not result.notes


def test_accepts_bools_and_arrays() -> None:
    result = decision_metrics(np.array([True, False]), np.array([1.0, 1.0]))
    assert result == {"image_miss_rate": 0.0, "image_false_reject_rate": 1.0}


@pytest.mark.parametrize("pred", [None, [1, None, 0]])
def test_no_decisions(pred) -> None:
    result = decision_metrics([1, 0, 0], pred)
    assert result == {"image_miss_rate": None, "image_false_reject_rate": None}
    assert set(result.notes) == set(result)
    assert all("pred_label" in note for note in result.notes.values())
    if pred is not None:
        assert "image 1" in result.notes["image_miss_rate"]


def test_empty_class_is_none_with_note() -> None:
    result = decision_metrics([0, 0], [0, 1])
    assert result["image_miss_rate"] is None
    assert result.notes["image_miss_rate"] == "no anomalous images in labels (2 normal)"
    assert result["image_false_reject_rate"] == 0.5
    result = decision_metrics([1], [1])
    assert result["image_false_reject_rate"] is None
    assert result["image_miss_rate"] == 0.0


@pytest.mark.parametrize(
    ("labels", "pred", "match"),
    [
        ([0, 1], [0], r"pred_labels has 1 values but labels has 2"),
        ([0, 1], [0, 2], r"pred_labels\[1\] is .*2"),
        ([0, 3], [0, 1], r"labels\[1\] is .*3"),
        ([], [], r"labels is empty"),
    ],
)
def test_errors(labels, pred, match) -> None:
    with pytest.raises(MetricInputError, match=match):
        decision_metrics(labels, pred)
