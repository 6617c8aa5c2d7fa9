"""Threshold bounds (docs/REFERENCE.md §8): directions, merging, null metrics fail."""

from __future__ import annotations

import pytest

from pyimgano.errors import SuiteError
from pyimgano.gates import Bound, check_bounds, merge_bounds, parse_bounds
from tests.core.test_report import make_report


def test_bare_number_bounds_the_better_direction():
    bounds = parse_bounds(
        {"image_auroc": 0.9, "ms_per_image": 50, "image_miss_rate": 0.1, "images_per_s": 3},
        where="s.yaml: thresholds",
    )
    assert bounds["image_auroc"] == Bound("image_auroc", min=0.9)
    assert bounds["ms_per_image"] == Bound("ms_per_image", max=50.0)
    assert bounds["image_miss_rate"] == Bound("image_miss_rate", max=0.1)
    assert bounds["images_per_s"] == Bound("images_per_s", min=3.0)


def test_explicit_min_max():
    bounds = parse_bounds({"aupro": {"min": 0.8, "max": 0.99}}, where="w")
    assert bounds["aupro"] == Bound("aupro", 0.8, 0.99)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"image_aucroc": 0.9}, r"w\.image_aucroc: unknown metric 'image_aucroc'; allowed: .*"
                                r"image_auroc"),
        ({"aupro": {"minimum": 0.8}}, r"w\.aupro: unknown key\(s\) 'minimum'; allowed keys"),
        ({"aupro": {"min": 0.9, "max": 0.8}}, "min 0.9 is greater than max 0.8"),
        ({"aupro": "high"}, r"w\.aupro: expected a finite number, got 'high'"),
        ({"aupro": True}, "expected a finite number, got True"),
        ({"aupro": float("nan")}, "expected a finite number"),
        ({"aupro": {}}, "none given"),
        ([1], "expected a mapping"),
    ],
)
def test_bad_bounds_name_the_key(spec, message):
    with pytest.raises(SuiteError, match=message):
        parse_bounds(spec, where="w")


def test_merge_replaces_per_metric():
    defaults = parse_bounds({"image_auroc": 0.9, "aupro": 0.7}, where="d")
    model = parse_bounds({"image_auroc": {"min": 0.95}}, where="m")
    category = parse_bounds({"image_auroc": 0.8}, where="c")
    merged = merge_bounds(defaults, model, category)
    assert merged == {"image_auroc": Bound("image_auroc", min=0.8),
                      "aupro": Bound("aupro", min=0.7)}


def test_check_records_thresholds_and_null_fails_with_reason():
    report = make_report()  # image_auroc 0.30000000000000004, image_ap None
    bounds = parse_bounds(
        {"image_auroc": 0.3, "image_ap": 0.1, "image_f1_max": {"max": 0.5}}, where="w"
    )
    rows = {row.metric: row for row in check_bounds(report, bounds)}
    assert rows["image_auroc"].passed is True
    assert rows["image_ap"].passed is False
    assert rows["image_ap"].reason == "only one class"
    assert rows["image_f1_max"].passed is False  # 1.0 > 0.5
    assert report.thresholds["image_auroc"] == {
        "min": 0.3, "value": 0.30000000000000004, "passed": True
    }
    assert report.thresholds["image_ap"]["passed"] is False


def test_pixel_metric_not_computed_fails_with_hint():
    report = make_report()
    rows = check_bounds(report, parse_bounds({"aupro": 0.5}, where="w"))
    assert not rows[0].passed
    assert "pixel: true" in rows[0].reason


def test_speed_gate_without_timing_fails():
    report = make_report()
    rows = check_bounds(report, parse_bounds({"ms_per_image": 10}, where="w"))
    assert not rows[0].passed and "two inference batches" in rows[0].reason
