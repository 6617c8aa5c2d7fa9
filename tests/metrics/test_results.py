"""MetricResults, METRIC_DIRECTIONS and the import contract."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys

import numpy as np
import pytest

from pyimgano.metrics import (
    METRIC_DIRECTIONS,
    MetricResults,
    decision_metrics,
    image_metrics,
    pixel_metrics,
    sample_metrics,
)


def test_is_a_dict_with_notes() -> None:
    result = MetricResults({"a": 0.5, "b": None}, notes={"b": "why"})
    assert isinstance(result, dict)
    assert dict(result) == {"a": 0.5, "b": None}
    assert result.notes == {"b": "why"}
    assert "notes" in repr(result)


def test_rejects_nan_and_unexplained_none() -> None:
    with pytest.raises(ValueError, match="must be None"):
        MetricResults({"a": math.nan})
    with pytest.raises(ValueError, match="no reason"):
        MetricResults({"a": None})


def test_setting_a_value_drops_its_note() -> None:
    result = MetricResults({"a": None}, notes={"a": "why"})
    result.set("a", 1)
    assert result == {"a": 1.0} and result.notes == {}


def test_pickles_with_notes() -> None:
    result = image_metrics([0, 0], [0.1, 0.2])
    again = pickle.loads(pickle.dumps(result))
    assert again == result and again.notes == result.notes


def test_strict_json() -> None:
    results = [
        image_metrics([0, 1, 1], [0.1, 0.5, 0.2]),
        image_metrics([1, 1], [0.1, 0.5]),
        pixel_metrics([np.zeros((2, 2))], [np.zeros((2, 2))]),
        decision_metrics([0, 1], None),
    ]
    for result in results:
        json.dumps(result, allow_nan=False)
        json.dumps(result.notes, allow_nan=False)
        assert all(result[name] is None for name in result.notes)


def test_directions_cover_every_metric() -> None:
    names = set(image_metrics([0, 1], [0.1, 0.2]))
    names |= set(pixel_metrics([np.array([[0.1, 0.9]])], [np.array([[0, 1]])]))
    names |= set(decision_metrics([0, 1], [0, 1]))
    names |= set(sample_metrics([0, 1], [0.1, 0.2], ["a", "b"]))
    names |= set(pixel_metrics([np.array([[0.1, 0.9]])], [np.array([[0, 1]])],
                               seg_f1_threshold=0.5))
    names |= {"ms_per_image", "images_per_s", "image_borderline"}  # made by the evaluation
    assert names == set(METRIC_DIRECTIONS)
    assert all(type(value) is bool for value in METRIC_DIRECTIONS.values())
    lower_is_better = {k for k, higher in METRIC_DIRECTIONS.items() if not higher}
    assert lower_is_better == {
        "image_miss_rate",
        "image_false_reject_rate",
        "ms_per_image",
        "image_auroc_step",
        "aupimo_std",
        "image_borderline",
    }


def test_parametrised_metric_names() -> None:
    from pyimgano.metrics import limit_key, metric_direction

    assert [limit_key(v) for v in (0.05, 0.3, 1, 1e-05)] == ["0.05", "0.3", "1.0", "1e-05"]
    assert metric_direction("aupro_0.05") is True
    assert metric_direction("auspro_0.3") is True
    assert metric_direction("aupimo_std") is False
    for unknown in ("aupro_0.050", "aupro_x", "aupro_1.5", "auspro_", "nope"):
        assert metric_direction(unknown) is None


def test_import_does_not_import_torch() -> None:
    code = "import sys, pyimgano.metrics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
