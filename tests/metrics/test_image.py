"""Image-level metrics against scikit-learn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_curve as sk_roc_curve

from pyimgano.errors import MetricInputError
from pyimgano.metrics import (
    auroc,
    average_precision,
    f1_max,
    image_metrics,
    roc_curve,
)

from ._reference import ref_ap, ref_auroc, ref_f1_max

TOL = 1e-12


def _random_case(seed: int, n: int, levels: int | None, dtype=np.float64):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    labels[0], labels[1] = 0, 1  # both classes
    if levels is None:
        scores = rng.standard_normal(n) + 0.8 * labels
    else:  # heavy ties: few distinct values
        scores = rng.integers(0, levels, size=n) / levels + 0.2 * labels
    return labels, scores.astype(dtype)


# --- hand-computed tiny cases ----------------------------------------------------------


def test_doc_example() -> None:
    assert auroc(np.array([0, 1]), np.array([0.1, 0.9])) == 1.0


def test_tiny_case_with_a_tie_by_hand() -> None:
    labels = np.array([0, 1, 0, 1])
    scores = np.array([0.5, 0.5, 0.2, 0.9])
    # AUROC = P(pos > neg) + 0.5 P(tie): pairs (0.9,0.5)=1, (0.9,0.2)=1, (0.5,0.5)=0.5,
    # (0.5,0.2)=1 -> 3.5 / 4.
    assert auroc(labels, scores) == pytest.approx(0.875, abs=TOL)
    # Thresholds 0.9: TP1 FP0 -> P=1, R=1/2; 0.5: TP2 FP1 -> P=2/3, R=1; 0.2: R stays 1.
    # AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    assert average_precision(labels, scores) == pytest.approx(5 / 6, abs=TOL)
    # F1 = 2TP / (2TP + FP + FN): 0.9 -> 2/3; 0.5 -> 4/5; 0.2 -> 4/6.
    assert f1_max(labels, scores) == pytest.approx(0.8, abs=TOL)


def test_inverted_scores_by_hand() -> None:
    # Every anomalous score is below every normal one: AUROC 0. F1-max is at the lowest
    # threshold (everything anomalous): 2*2 / (2*2 + 3 + 0) = 4/7.
    labels = np.array([1, 1, 0, 0, 0])
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert auroc(labels, scores) == 0.0
    assert f1_max(labels, scores) == pytest.approx(4 / 7, abs=TOL)


def test_auroc_step_is_one_over_pairs() -> None:
    labels = [1, 1, 1, 0, 0, 0, 0]  # 3 anomalous x 4 normal pairs
    result = image_metrics(labels, np.arange(7.0))
    assert result["image_auroc_step"] == pytest.approx(1 / 12, abs=TOL)


# --- scikit-learn agreement ---------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [None, 2, 5, 50])
def test_matches_sklearn(seed: int, levels: int | None) -> None:
    labels, scores = _random_case(seed, n=200 + 37 * seed, levels=levels)
    result = image_metrics(labels, scores)
    assert result["image_auroc"] == pytest.approx(ref_auroc(labels, scores), abs=TOL)
    assert result["image_ap"] == pytest.approx(ref_ap(labels, scores), abs=TOL)
    assert result["image_f1_max"] == pytest.approx(ref_f1_max(labels, scores), abs=TOL)
    assert auroc(labels, scores) == result["image_auroc"]
    assert average_precision(labels, scores) == result["image_ap"]
    assert f1_max(labels, scores) == result["image_f1_max"]
    assert not result.notes


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64, np.int8])
def test_other_score_dtypes(dtype) -> None:
    labels, scores = _random_case(3, n=300, levels=20)
    scores = (scores * 20).astype(dtype)
    expected = scores.astype(np.float64)
    assert auroc(labels, scores) == pytest.approx(ref_auroc(labels, expected), abs=TOL)
    assert average_precision(labels, scores) == pytest.approx(ref_ap(labels, expected), abs=TOL)


def test_bool_labels_and_lists() -> None:
    labels = [False, True, True, False]
    scores = [0.3, 0.8, 0.1, 0.2]
    assert auroc(labels, scores) == pytest.approx(ref_auroc(np.array(labels), scores), abs=TOL)


def test_float64_scores_are_not_rounded_to_float32() -> None:
    # 1 and 1 + 1e-9 are one float32 value (a tie) but distinct float64 values.
    labels = np.array([0, 1, 0, 1])
    scores = np.array([1.0, 1.0 + 1e-9, 0.5, 2.0])
    assert np.float32(scores[0]) == np.float32(scores[1])
    rounded = auroc(labels, scores.astype(np.float32))
    exact = auroc(labels, scores)
    assert exact == pytest.approx(ref_auroc(labels, scores), abs=TOL) == 1.0
    assert rounded == pytest.approx(ref_auroc(labels, scores.astype(np.float32)), abs=TOL)
    assert rounded != exact  # 0.875: the tie costs half a pair


def test_negative_and_extreme_scores() -> None:
    labels = np.array([0, 1, 0, 1, 0, 1, 1, 0])
    scores = np.array([-1e300, 1e300, -0.0, 0.0, 5e-324, -5e-324, 1e-300, -1e-300])
    assert auroc(labels, scores) == pytest.approx(ref_auroc(labels, scores), abs=TOL)
    assert average_precision(labels, scores) == pytest.approx(ref_ap(labels, scores), abs=TOL)
    assert f1_max(labels, scores) == pytest.approx(ref_f1_max(labels, scores), abs=TOL)


# --- roc_curve ------------------------------------------------------------------------


@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("levels", [None, 4])
def test_roc_curve_matches_sklearn(drop: bool, levels: int | None) -> None:
    labels, scores = _random_case(7, n=150, levels=levels)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=drop)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(labels, scores, drop_intermediate=drop)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=TOL)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=TOL)
    np.testing.assert_array_equal(thresholds, sk_thr)
    assert fpr.dtype == tpr.dtype == np.float64


def test_roc_curve_single_class_raises() -> None:
    with pytest.raises(MetricInputError, match="only one class"):
        roc_curve([0, 0], [0.1, 0.2])


# --- definedness ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "text"),
    [([0, 0, 0], "(3 normal, 0 anomalous)"), ([1, 1], "(0 normal, 2 anomalous)")],
)
def test_single_class_is_none_with_note(labels, text) -> None:
    result = image_metrics(labels, np.arange(len(labels), dtype=float))
    assert set(result) == {"image_auroc", "image_ap", "image_f1_max", "image_auroc_step"}
    assert all(value is None for value in result.values())
    for name in result:
        assert result.notes[name] == f"only one class in labels {text}"
    assert auroc(labels, np.zeros(len(labels))) is None
    assert average_precision(labels, np.zeros(len(labels))) is None
    assert f1_max(labels, np.zeros(len(labels))) is None


def test_returns_python_floats() -> None:
    result = image_metrics([0, 1, 1], np.array([0.2, 0.1, 0.9], dtype=np.float32))
    assert all(type(value) is float for value in result.values())


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "scores", "match"),
    [
        ([], [], r"labels is empty"),
        ([0, 1], [0.1], r"scores has 1 values but labels has 2"),
        ([0, 1], [[0.1, 0.2]], r"scores has shape \(1, 2\); expected a 1-D"),
        ([[0, 1]], [0.1, 0.2], r"labels has shape \(1, 2\)"),
        ([0, 1, 0], [0.1, np.nan, 0.2], r"scores\[1\] is .*nan.*finite"),
        ([0, 1, 0], [0.1, 0.3, np.inf], r"scores\[2\] is .*inf"),
        ([0, 2, 1], [0.1, 0.2, 0.3], r"labels\[1\] is .*2.*expected 0 \(normal\) or 1"),
        (["a", "b"], [0.1, 0.2], r"labels has dtype"),
        ([0, 1], ["x", "y"], r"scores has dtype"),
    ],
)
def test_input_errors(labels, scores, match) -> None:
    with pytest.raises(MetricInputError, match=match):
        image_metrics(labels, scores)
    with pytest.raises(ValueError):  # MetricInputError is a ValueError
        auroc(labels, scores)


# --- operating points: image_tpr_at_fpr_<x> ----------------------------------------------------


def ref_tpr_at_fpr(labels, scores, limit: float) -> float:
    """Straight from the definition: try every threshold (each distinct score, and above all)."""
    labels, scores = np.asarray(labels).astype(bool), np.asarray(scores, dtype=np.float64)
    best = 0.0
    for t in [np.inf, *np.unique(scores)]:
        flagged = scores >= t
        fpr = np.count_nonzero(flagged & ~labels) / np.count_nonzero(~labels)
        if fpr <= limit:
            best = max(best, np.count_nonzero(flagged & labels) / np.count_nonzero(labels))
    return best


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("levels", [None, 3, 8])
def test_tpr_at_fpr_matches_the_definition_with_ties(seed: int, levels: int | None) -> None:
    from pyimgano.metrics import tpr_at_fpr

    labels, scores = _random_case(seed, n=5 + seed, levels=levels)
    for limit in (0.01, 0.1, 0.25, 1 / 3, 0.5, 1.0):
        assert tpr_at_fpr(labels, scores, fpr_limit=limit) == ref_tpr_at_fpr(labels, scores, limit)


def test_tpr_at_fpr_tiny_and_tied_sets() -> None:
    from pyimgano.metrics import tpr_at_fpr

    # a normal image tied with the best anomalous one: no threshold splits them
    assert tpr_at_fpr([0, 1, 1], [0.9, 0.9, 0.5], fpr_limit=0.5) == 0.0
    assert tpr_at_fpr([0, 1, 1], [0.9, 0.9, 0.5], fpr_limit=1.0) == 1.0
    assert tpr_at_fpr([0, 1], [0.1, 0.9], fpr_limit=0.01) == 1.0
    # 3 false positives of 300 normal images are FPR 0.01 exactly: allowed at 0.01
    labels = np.r_[np.zeros(300), np.ones(2)]
    scores = np.r_[np.linspace(0, 1, 297), [5.0, 5.0, 5.0], [4.0, 9.0]]
    assert tpr_at_fpr(labels, scores, fpr_limit=0.01) == 1.0
    assert tpr_at_fpr(labels, scores, fpr_limit=0.0099) == 0.5
    assert tpr_at_fpr([1, 1], [0.1, 0.2], fpr_limit=0.1) is None
    with pytest.raises(MetricInputError, match=r"fpr_limit is 0; expected a number in \(0, 1\]"):
        tpr_at_fpr([0, 1], [0.1, 0.2], fpr_limit=0)


def test_image_metrics_report_operating_points() -> None:
    from pyimgano.metrics import metric_direction

    labels, scores = _random_case(7, n=60, levels=5)
    r = image_metrics(labels, scores, fpr_limits=[0.05, 0.2, 0.05])
    assert [k for k in r if k.startswith("image_tpr")] == [
        "image_tpr_at_fpr_0.05",
        "image_tpr_at_fpr_0.2",
    ]
    assert r["image_tpr_at_fpr_0.2"] == ref_tpr_at_fpr(labels, scores, 0.2)
    assert metric_direction("image_tpr_at_fpr_0.05") is True
    assert metric_direction("image_tpr_at_fpr_0.050") is None  # not limit_key's spelling
    one = image_metrics([0, 0], [0.1, 0.2], fpr_limits=[0.01])
    assert one["image_tpr_at_fpr_0.01"] is None and "only one class" in one.notes[
        "image_tpr_at_fpr_0.01"
    ]
    with pytest.raises(MetricInputError, match=r"fpr_limits\[0\] is 2"):
        image_metrics(labels, scores, fpr_limits=[2])
    with pytest.raises(MetricInputError, match="fpr_limits is '0.1'"):
        image_metrics(labels, scores, fpr_limits="0.1")
