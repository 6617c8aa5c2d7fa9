"""Property tests: random small inputs against the independent references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pyimgano.metrics import image_metrics
from pyimgano.metrics.pixel import evaluate_pixels

from ._reference import pooled, ref_ap, ref_auroc, ref_f1_max, ref_pixel_metrics

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def images(draw):
    n_images = draw(st.integers(1, 4))
    levels = draw(st.sampled_from([2, 3, 10, 1000]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    maps, masks = [], []
    for _ in range(n_images):
        shape = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
        values = draw(hnp.arrays(np.int16, shape, elements=st.integers(-levels, levels)))
        maps.append((values / levels).astype(dtype))
        masks.append(draw(hnp.arrays(np.bool_, shape)))
    return maps, masks


@SETTINGS
@given(
    data=images(),
    chunk_size=st.sampled_from([1, 3, 16, 1 << 20]),
    limit=st.sampled_from([0.3, 0.05, 1.0, 0.5, 0.125]),
)
def test_pixel_metrics_match_references(data, chunk_size, limit) -> None:
    maps, masks = data
    labels, _ = pooled(maps, masks)
    result = evaluate_pixels(maps, masks, aupro_limit=limit, chunk_size=chunk_size).metrics
    if labels.all() or not labels.any():
        assert all(value is None for value in result.values())
        assert set(result.notes) == set(result)
        return
    expected = ref_pixel_metrics(maps, masks, limit)
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-9, rel=0), key


@SETTINGS
@given(
    labels=hnp.arrays(np.int8, st.integers(1, 60), elements=st.integers(0, 1)),
    levels=st.sampled_from([1, 2, 5, 10**6]),
    seed=st.integers(0, 2**32 - 1),
)
def test_image_metrics_match_sklearn(labels, levels, seed) -> None:
    scores = np.random.default_rng(seed).integers(0, levels + 1, size=labels.size) / levels
    result = image_metrics(labels, scores)
    if labels.all() or not labels.any():
        assert all(value is None for value in result.values())
        return
    assert result["image_auroc"] == pytest.approx(ref_auroc(labels, scores), abs=1e-12)
    assert result["image_ap"] == pytest.approx(ref_ap(labels, scores), abs=1e-12)
    assert result["image_f1_max"] == pytest.approx(ref_f1_max(labels, scores), abs=1e-12)
    n_pos = int(labels.sum())
    assert result["image_auroc_step"] == pytest.approx(1 / (n_pos * (labels.size - n_pos)))
