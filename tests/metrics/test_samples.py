"""sample_metrics against an independent grouping: a dict of views per sample, maxima, sklearn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyimgano.errors import MetricInputError
from pyimgano.metrics import group_samples, sample_metrics
from tests.metrics._reference import ref_ap, ref_auroc, ref_f1_max


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, 1),
                          st.sampled_from([0.0, 0.1, 0.5, 0.5000001, 0.9, 1.0])),
                min_size=1, max_size=25))
def test_sample_metrics_match_an_independent_grouping(views):
    ids = [v[0] for v in views]
    labels = [v[1] for v in views]
    scores = [v[2] for v in views]
    grouped: dict[str, list[tuple[int, float]]] = {}
    for sample, label, score in views:
        grouped.setdefault(sample, []).append((label, score))
    s_labels = [max(label for label, _ in grouped[s]) for s in sorted(grouped)]
    s_scores = [max(score for _, score in grouped[s]) for s in sorted(grouped)]
    names, got_labels, got_scores = group_samples(labels, scores, ids)
    assert names == sorted(grouped)
    assert got_labels.tolist() == s_labels and got_scores.tolist() == s_scores
    result = sample_metrics(labels, scores, ids)
    if len(set(s_labels)) < 2:
        assert all(result[k] is None for k in result)
        assert result.notes["sample_auroc"].startswith("samples: only one class")
        return
    assert result["sample_auroc"] == pytest.approx(ref_auroc(s_labels, s_scores), abs=1e-12)
    assert result["sample_ap"] == pytest.approx(ref_ap(s_labels, s_scores), abs=1e-12)
    assert result["sample_f1_max"] == pytest.approx(ref_f1_max(s_labels, s_scores), abs=1e-12)


def test_sample_ids_are_checked():
    with pytest.raises(MetricInputError, match="sample_ids has 1 entries but labels has 2"):
        sample_metrics([0, 1], [0.1, 0.2], ["a"])
    with pytest.raises(MetricInputError, match=r"sample_ids\[1\] is ''"):
        sample_metrics([0, 1], [0.1, 0.2], ["a", ""])
    with pytest.raises(MetricInputError):
        sample_metrics([0, 1], [0.1, np.nan], ["a", "b"])
