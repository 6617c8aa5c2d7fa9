"""Walk sorted samples once, from the highest score down, and emit threshold curve points.

A *source* yields chunks ``(scores, ids, next_score)`` that together list every sample in
non-increasing score order:

- ``scores``: 1-D array of the chunk's scores (or any order-preserving keys of them),
- ``ids``: 1-D integer array, ``< first_defect`` for a normal sample, ``>= first_defect`` for an
  anomalous one (for pixels, the labels of :mod:`pyimgano.metrics._pixels`),
- ``next_score``: the first score of the next chunk, or ``None`` after the last chunk.

:func:`sweep` turns each chunk into a :class:`~pyimgano.metrics._curves.Block` holding the
cumulative counts at every distinct score that *ends* in the chunk (a run of equal scores is one
threshold; the point is taken after its last element, as MVTec's ``compute_pro`` keeps the last
element of each run), carries the running totals into the next chunk, and hands each block to
every consumer. Memory stays at a few arrays of one chunk, whatever the number of samples.
A block describes its points (:class:`~pyimgano.metrics._curves.SweptPoints`: the run ends and
the positions of the chunk's anomalous samples): the consumers read single points (ROC, AP,
F1-max and the thin curves only where ``tp`` rises), and the full ``fp``/``tp``/``pro`` arrays
are built only for those that need every point (AU-PRO up to its FPR limit).

*Pixel consumers* (AUPIMO, AU-sPRO) need more than the curve points: while they are not
``done`` they also get each chunk's raw ``(scores, ids, next_score)``, in the same order,
before its block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from pyimgano.metrics._curves import Block, SweptPoints

__all__ = ["Chunk", "Consumer", "PixelConsumer", "group_ends", "sweep"]

Chunk = tuple[np.ndarray, np.ndarray, object]


class Consumer(Protocol):
    def update(self, block: Block) -> None: ...


class PixelConsumer(Protocol):
    @property
    def done(self) -> bool: ...

    def update_pixels(self, scores: np.ndarray, ids: np.ndarray, next_score: object) -> None: ...


def group_ends(scores: np.ndarray, next_score: object) -> np.ndarray:
    """Positions of the last element of each run of equal scores that ends in this chunk."""
    is_end = np.empty(scores.size, dtype=bool)
    np.not_equal(scores[:-1], scores[1:], out=is_end[:-1])
    is_end[-1] = next_score is None or bool(scores[-1] != next_score)
    return np.flatnonzero(is_end)


def sweep(
    chunks: Iterable[Chunk],
    consumers: Sequence[Consumer],
    *,
    weights: np.ndarray | None = None,
    keep_scores: bool = False,
    first_defect: int = 1,
    pixel_consumers: Sequence[PixelConsumer] = (),
) -> None:
    """Feed every consumer the curve points of ``chunks``, in decreasing-threshold order.

    Parameters
    ----------
    chunks : iterable of (scores, ids, next_score)
        See the module docstring.
    consumers : sequence of objects with ``update(block)``
        Accumulators from :mod:`pyimgano.metrics._curves`.
    weights : ndarray of float64, shape (n_regions + 1,), optional
        ``weights[id]`` is added to the ``pro`` sum for each sample with that id
        (``1 / region size`` for pixels, ``weights[0] == 0``). Without it ``block.pro`` is None.
    keep_scores : bool
        Also give each block the threshold values (``block.scores``), for curves.
    first_defect : int, default 1
        The smallest id of an anomalous sample.
    pixel_consumers : sequence of objects with ``done`` and ``update_pixels(scores, ids, next)``
        Given every chunk until they are done (see the module docstring). With no
        ``consumers``, the sweep stops once every pixel consumer is done.
    """
    seen = 0  # samples in earlier chunks
    tp_seen = 0  # anomalous samples in earlier chunks
    pro_seen = 0.0  # their region weights
    last_fp = last_tp = 0  # the last point emitted
    for scores, ids, next_score in chunks:
        if scores.size == 0:
            continue
        if not consumers and all(pixel_consumer.done for pixel_consumer in pixel_consumers):
            break
        for pixel_consumer in pixel_consumers:
            if not pixel_consumer.done:
                pixel_consumer.update_pixels(scores, ids, next_score)
        if not scores.flags.c_contiguous:  # e.g. the key words of packed pixels
            scores = np.ascontiguousarray(scores)  # one copy; the passes below run faster
        if not ids.flags.c_contiguous:
            ids = np.ascontiguousarray(ids)
        ends = group_ends(scores, next_score)
        # The chunk's anomalous samples (sparse among the pixels): their positions, and the
        # point each one is counted at (the first group end at or after it; ends.size for a
        # run that ends in the next chunk). The block describes its points by these
        # (SweptPoints): no cumulative sum runs over every sample, and fp/tp/pro at every
        # point are built only for the consumers that read them all (AU-PRO up to its limit).
        flags = ids >= first_defect if first_defect != 1 else ids != 0
        anomalous_at = np.flatnonzero(flags)
        del flags
        chunk_tp = anomalous_at.size
        running_pro = None
        chunk_pro = 0.0
        if weights is not None:
            # Region weights of the chunk's anomalous samples, summed in order; the running
            # sum after the k-th anomalous sample is running_pro[k].
            running_pro = np.zeros(chunk_tp + 1, dtype=np.float64)
            np.cumsum(weights[ids[anomalous_at]], out=running_pro[1:])
            chunk_pro = float(running_pro[-1])
        if ends.size:
            at_point = np.searchsorted(ends, anomalous_at)
            # the points where tp rises: those with an anomalous sample of their own, and the
            # first point when an earlier chunk's last run carried some over
            counted = at_point[: int(np.searchsorted(at_point, ends.size))]
            first_of_run = np.empty(counted.size, dtype=bool)
            first_of_run[:1] = True
            np.not_equal(counted[1:], counted[:-1], out=first_of_run[1:])
            run_starts = np.flatnonzero(first_of_run)
            rises = counted[run_starts]
            del first_of_run
            # the chunk's anomalous samples up to each rise: where the next run starts
            rises_tp_local = np.empty(rises.size, dtype=np.int64)
            rises_tp_local[:-1] = run_starts[1:]
            rises_tp_local[-1:] = counted.size
            del run_starts
            if tp_seen != last_tp and (rises.size == 0 or rises[0] != 0):
                rises = np.concatenate(([0], rises))
                rises_tp_local = np.concatenate(([0], rises_tp_local))
            points = SweptPoints(
                ends, anomalous_at, at_point, seen, tp_seen, running_pro, pro_seen, rises_tp_local
            )
            del at_point, running_pro, rises_tp_local  # the block's now (it releases them)
            block = Block(
                prev_fp=last_fp,
                prev_tp=last_tp,
                scores=scores[ends] if keep_scores else None,
                rises=rises.astype(np.int64, copy=False),
                points=points,
            )
            del counted, anomalous_at, ends  # likewise
            for consumer in consumers:
                consumer.update(block)
            last = np.array([block.size - 1])
            last_fp, last_tp = int(block.fp_at(last)[0]), int(block.tp_at(last)[0])
            del block, points
        seen += scores.size
        tp_seen += chunk_tp
        pro_seen += chunk_pro
