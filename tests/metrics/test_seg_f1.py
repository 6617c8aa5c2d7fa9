"""SegF1 (MVTec AD 2) and the calibration rules, against straightforward definitions.

SegF1 here: binarise every map at ``map >= t`` and count TP/FP/FN over all pixels of all images
together; F1 = 2 TP / (2 TP + FP + FN). The reference below does exactly that with plain NumPy
comparisons in float64, one image at a time.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyimgano.metrics.pixel as pixel_module
from pyimgano.errors import ConfigError, MetricInputError
from pyimgano.metrics import (
    evaluate_pixels,
    metric_direction,
    pixel_metrics,
    seg_f1,
    seg_f1_counts,
)
from pyimgano.protocols import CalibrationRule, calibration_threshold, parse_calibration


def ref_seg_f1(maps, masks, threshold):
    tp = fp = fn = 0
    for amap, mask in zip(maps, masks, strict=True):
        predicted = np.asarray(amap).astype(np.float64) >= float(threshold)
        truth = np.asarray(mask) != 0
        tp += int(np.sum(predicted & truth))
        fp += int(np.sum(predicted & ~truth))
        fn += int(np.sum(~predicted & truth))
    return 2 * tp / (2 * tp + fp + fn)


@st.composite
def category(draw):
    n = draw(st.integers(1, 4))
    maps, masks = [], []
    for _ in range(n):
        h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        # few distinct values: many ties, some exactly at the threshold
        values = draw(st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.7, 1.0]),
                               min_size=h * w, max_size=h * w))
        maps.append(np.array(values, dtype=draw(st.sampled_from([np.float32, np.float64])))
                    .reshape(h, w))
        masks.append(np.array(draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w)))
                     .reshape(h, w))
    return maps, masks


@settings(max_examples=150, deadline=None)
@given(category(), st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.70000001, 1.0, 2.0, -1.0]))
def test_seg_f1_matches_the_definition(data, threshold):
    maps, masks = data
    n_defect = sum(int(np.count_nonzero(m)) for m in masks)
    n_pixels = sum(m.size for m in masks)
    value = seg_f1(maps, masks, threshold)
    if n_defect == 0 or n_defect == n_pixels:
        assert value is None
        return
    assert value == pytest.approx(ref_seg_f1(maps, masks, threshold), abs=1e-15)


def test_float32_maps_are_compared_exactly_with_a_float64_threshold():
    # float32(0.6) = 0.6000000238...: at or above the float64 threshold 0.6, below 0.60000003
    maps = [np.array([[0.9, 0.6, 0.1]], dtype=np.float32)]
    masks = [np.array([[1, 0, 1]])]
    assert seg_f1(maps, masks, 0.6) == pytest.approx(ref_seg_f1(maps, masks, 0.6))
    assert seg_f1(maps, masks, 0.6) == pytest.approx(2 / 4)
    assert seg_f1(maps, masks, 0.60000003) == pytest.approx(2 / 3)


def test_seg_f1_with_the_other_pixel_metrics_from_one_sort(monkeypatch):
    rng = np.random.default_rng(3)
    maps = [rng.random((6, 7)).astype(np.float32) for _ in range(4)]
    masks = [rng.random((6, 7)) > 0.7 for _ in range(4)]
    calls = []
    original = pixel_module.pool_pixels
    monkeypatch.setattr(pixel_module, "pool_pixels",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    result = pixel_metrics(maps, masks, aupro_limits=[0.05], seg_f1_threshold=0.5)
    assert len(calls) == 1  # one pooled sort serves every metric, seg_f1 included
    assert result["seg_f1"] == pytest.approx(ref_seg_f1(maps, masks, 0.5), abs=1e-15)
    plain = pixel_metrics(maps, masks, aupro_limits=[0.05])
    assert "seg_f1" not in plain
    for name, value in plain.items():  # adding seg_f1 changes no other metric
        assert result[name] == value, name


def test_seg_f1_on_the_torch_path_equals_the_numpy_path():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    maps = [rng.random((5, 9)).astype(np.float32) for _ in range(3)]
    masks = [rng.random((5, 9)) > 0.6 for _ in range(3)]
    for threshold in (0.3, float(maps[0][2, 3]), 0.99):
        on_host = evaluate_pixels(maps, masks, seg_f1_threshold=threshold).metrics["seg_f1"]
        on_torch = evaluate_pixels([torch.from_numpy(m) for m in maps], masks,
                                   seg_f1_threshold=threshold).metrics["seg_f1"]
        assert on_torch == on_host == pytest.approx(ref_seg_f1(maps, masks, threshold))


def test_seg_f1_undefined_and_bad_threshold():
    maps = [np.array([[0.2, 0.8]])]
    result = pixel_metrics(maps, [np.zeros((1, 2))], seg_f1_threshold=0.5)
    assert result["seg_f1"] is None
    assert "no anomalous pixels" in result.notes["seg_f1"]
    for bad in (float("nan"), float("inf"), "0.5", True):
        with pytest.raises(MetricInputError, match="seg_f1 threshold"):
            seg_f1(maps, [np.array([[0, 1]])], bad)


def test_new_metrics_declare_their_direction():
    for name in ("seg_f1", "sample_auroc", "sample_ap", "sample_f1_max"):
        assert metric_direction(name) is True


# ------------------------------------------------------------------------------ calibration


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(0, 10**6)),
                min_size=1, max_size=5))
def test_mean_std_is_the_pooled_mean_plus_three_population_std(shapes):
    maps = [np.random.default_rng(seed).normal(3.0, 2.0, (h, w)).astype(np.float32)
            for h, w, seed in shapes]
    pooled = np.concatenate([m.ravel().astype(np.float64) for m in maps])
    expected = np.mean(pooled) + 3 * np.std(pooled)  # MVTec's suggested baseline
    assert calibration_threshold(maps) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert calibration_threshold(maps, CalibrationRule("mean_std", k=1.5)) == pytest.approx(
        np.mean(pooled) + 1.5 * np.std(pooled), rel=1e-12, abs=1e-12)
    q = calibration_threshold(maps, CalibrationRule("quantile", q=0.9))
    assert q == pytest.approx(np.quantile(pooled, 0.9), rel=1e-12, abs=1e-12)


def test_calibration_rule_parsing():
    assert parse_calibration(None) == CalibrationRule("mean_std", k=3.0)
    assert parse_calibration({"rule": "quantile", "q": 0.999}).as_dict() == {
        "rule": "quantile", "q": 0.999}
    assert parse_calibration({"rule": "mean_std", "k": 2}).as_dict() == {
        "rule": "mean_std", "k": 2.0}
    with pytest.raises(ConfigError, match=r"calibration.rule='median': expected one of"):
        parse_calibration({"rule": "median"})
    with pytest.raises(ConfigError, match=r"calibration.q=1.5: expected a number in \[0, 1\]"):
        parse_calibration({"rule": "quantile", "q": 1.5})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) 'q' for rule 'mean_std'"):
        parse_calibration({"q": 0.9})
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_calibration("quantile")
    with pytest.raises(MetricInputError, match="NaN or Inf"):
        calibration_threshold([np.array([[np.nan]])])


@settings(max_examples=80, deadline=None)
@given(category(), st.sampled_from([0.0, 0.25, 0.5, 0.70000001, 2.0]))
def test_per_image_counts_add_up_to_seg_f1(data, threshold):
    maps, masks = data
    counts = seg_f1_counts(maps, masks, threshold)
    assert counts.shape == (len(maps), 3)
    for index, (amap, mask) in enumerate(zip(maps, masks, strict=True)):
        predicted = amap.astype(np.float64) >= threshold
        assert counts[index].tolist() == [int(np.sum(predicted & mask)),
                                          int(np.sum(predicted & ~mask)),
                                          int(np.sum(~predicted & mask))]
    tp, fp, fn = counts.sum(axis=0)
    value = seg_f1(maps, masks, threshold)
    if value is not None:
        assert value == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=1e-15)
    with pytest.raises(MetricInputError, match="1 maps but 2 masks"):
        seg_f1_counts(maps[:1], [masks[0], masks[0]], threshold)
