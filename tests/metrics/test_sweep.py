"""The sweep's blocks against a straightforward count over every sample (every distinct score).

The blocks of :func:`pyimgano.metrics._sweep.sweep` describe their points by run ends and the
positions of the anomalous samples (:class:`~pyimgano.metrics._curves.SweptPoints`) and build
``fp``/``tp``/``pro`` only on demand; here each point read is checked against the definition:
for a threshold ``t`` (a distinct score), ``tp`` / ``fp`` count the anomalous / normal samples
with score ``>= t`` and ``pro`` sums their region weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.metrics._curves import Block
from pyimgano.metrics._sweep import sweep


def _reference(scores: np.ndarray, ids: np.ndarray, weights: np.ndarray):
    thresholds = np.unique(scores)[::-1]
    fp = np.array([np.count_nonzero((scores >= t) & (ids == 0)) for t in thresholds])
    tp = np.array([np.count_nonzero((scores >= t) & (ids != 0)) for t in thresholds])
    pro = np.array([weights[ids[scores >= t]].sum() for t in thresholds])
    return thresholds, fp, tp, pro


class _Reader:
    """Reads every block through its point accessors (never the full arrays first)."""

    def __init__(self) -> None:
        self.points: list[tuple[int, int, float, float]] = []
        self.checks: list[bool] = []

    def update(self, block: Block) -> None:
        index = np.arange(block.size)
        fp, tp, pro = block.fp_at(index), block.tp_at(index), block.pro_at(index)
        rises = block.tp_rises
        previous_tp = np.concatenate(([block.prev_tp], tp[:-1]))
        previous_fp = np.concatenate(([block.prev_fp], fp[:-1]))
        self.checks.append(np.array_equal(rises, np.flatnonzero(tp != previous_tp)))
        tp_at, fp_at = block.at_rises()
        tp_before, fp_before = block.before_rises()
        self.checks.append(np.array_equal(tp_at, tp[rises]) and np.array_equal(fp_at, fp[rises]))
        self.checks.append(np.array_equal(tp_before, previous_tp[rises]))
        self.checks.append(np.array_equal(fp_before, previous_fp[rises]))
        borders = np.linspace(block.prev_fp, fp[-1], 7)[1:]
        self.checks.append(
            np.array_equal(block.fp_first_at_least(borders), np.searchsorted(fp, borders))
        )
        assert block.scores is not None
        for j in range(block.size):
            self.points.append((int(fp[j]), int(tp[j]), float(pro[j]), float(block.scores[j])))
        # the full arrays, built after the point reads, are the same points
        self.checks.append(np.array_equal(block.fp, fp) and np.array_equal(block.tp, tp))
        self.checks.append(np.array_equal(block.pro, pro))


@pytest.mark.parametrize("chunk_size", [1, 3, 16, 1000])
@pytest.mark.parametrize("levels", [4, 40, None])
def test_swept_points_match_the_counts_at_every_threshold(chunk_size, levels) -> None:
    rng = np.random.default_rng(chunk_size * 7 + (levels or 0))
    n = 600
    scores = rng.random(n) if levels is None else rng.integers(0, levels, n).astype(np.float64)
    ids = np.where(rng.random(n) < 0.3, rng.integers(1, 6, n), 0)
    weights = np.concatenate(([0.0], 1.0 / rng.integers(5, 50, 5)))
    order = np.argsort(-scores, kind="stable")
    scores, ids = scores[order], ids[order]

    def chunks():
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            yield scores[start:stop], ids[start:stop], scores[stop] if stop < n else None

    reader = _Reader()
    sweep(chunks(), [reader], weights=weights, keep_scores=True)
    thresholds, fp, tp, pro = _reference(scores, ids, weights)
    assert all(reader.checks)
    got = np.array(reader.points)
    np.testing.assert_array_equal(got[:, 3], thresholds)
    np.testing.assert_array_equal(got[:, 0], fp)
    np.testing.assert_array_equal(got[:, 1], tp)
    np.testing.assert_allclose(got[:, 2], pro, rtol=0, atol=1e-12)
