"""Sample-level metrics of multi-view datasets (Real-IAD; docs/REFERENCE.md §5).

A *sample* is one physical object seen by several cameras; each view is one test image. The
sample's score is the maximum of its views' scores and its label the maximum of their labels
(anomalous when any view is), as in the Real-IAD benchmark (Wang et al., "Real-IAD: A
Real-World Multi-View Dataset for Benchmarking Versatile Industrial Anomaly Detection", CVPR
2024, S-AUROC) and its evaluation package ADEval (sample ids captured from the image paths,
scores and labels reduced with the maximum). The sample scores then go through the image
metrics' one sort (:func:`pyimgano.metrics.image_metrics`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics._validation import check_labels, check_scores
from pyimgano.metrics.image import image_metrics
from pyimgano.metrics.results import MetricResults

__all__ = ["SAMPLE_METRICS", "group_samples", "sample_metrics"]

#: The keys :func:`sample_metrics` returns.
SAMPLE_METRICS = ("sample_auroc", "sample_ap", "sample_f1_max")


def group_samples(
    labels: Any, scores: Any, sample_ids: Sequence[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Reduce per-view labels and scores to one per sample (the maximum over its views).

    Parameters
    ----------
    labels : array-like of shape (n_views,)
        1 (or True) anomalous, 0 normal.
    scores : array-like of shape (n_views,)
        View anomaly scores; finite.
    sample_ids : sequence of str, length n_views
        The sample each view belongs to.

    Returns
    -------
    ids : list of str
        The distinct sample ids, sorted.
    sample_labels : ndarray of int64, shape (n_samples,)
    sample_scores : ndarray, shape (n_samples,)
        The scores' own dtype (float64 at least).

    Raises
    ------
    MetricInputError
        The input errors of :func:`~pyimgano.metrics.image_metrics`; ``sample_ids`` of another
        length, or an id that is not a non-empty string.
    """
    y = check_labels(labels)
    s = check_scores(scores, y.size)
    ids = list(sample_ids)
    if len(ids) != y.size:
        raise MetricInputError(
            f"sample_ids has {len(ids)} entries but labels has {y.size}; expected one per view"
        )
    for index, sample in enumerate(ids):
        if not isinstance(sample, str) or not sample:
            raise MetricInputError(f"sample_ids[{index}] is {sample!r}; expected a non-empty str")
    names, inverse = np.unique(np.asarray(ids, dtype=object).astype(str), return_inverse=True)
    dtype = np.result_type(s.dtype, np.float64)
    sample_scores = np.full(names.size, -np.inf, dtype=dtype)
    np.maximum.at(sample_scores, inverse, s.astype(dtype, copy=False))
    sample_labels = np.zeros(names.size, dtype=np.int64)
    np.maximum.at(sample_labels, inverse, y.astype(np.int64))
    return [str(n) for n in names], sample_labels, sample_scores


def sample_metrics(labels: Any, scores: Any, sample_ids: Sequence[str]) -> MetricResults:
    """S-AUROC, S-AP and S-F1-max: the image metrics over samples instead of views.

    Parameters
    ----------
    labels : array-like of shape (n_views,)
        1 (or True) for an anomalous view, 0 for a normal one.
    scores : array-like of shape (n_views,)
        View anomaly scores, higher means more anomalous; finite.
    sample_ids : sequence of str, length n_views
        The physical object each view shows (Real-IAD: :func:`pyimgano.datasets.realiad.sample_id`
        of the file name).

    Returns
    -------
    MetricResults
        ``sample_auroc``, ``sample_ap``, ``sample_f1_max``: :func:`~pyimgano.metrics.auroc`,
        :func:`~pyimgano.metrics.average_precision` and :func:`~pyimgano.metrics.f1_max` of
        the samples, each scored by the maximum of its views' scores and labelled by the
        maximum of their labels. ``None`` with a note unless both classes are present among
        the samples. ``higher_is_better``: True for all three.

    Raises
    ------
    MetricInputError
        As :func:`group_samples`.

    Notes
    -----
    Source: the Real-IAD benchmark's sample-level metrics (Wang et al., CVPR 2024; its ADEval
    evaluation groups the views by the sample key captured from each image path and takes the
    maximum). Ties between samples form one threshold, as for the image metrics.

    Examples
    --------
    >>> r = sample_metrics([0, 0, 1, 0], [0.1, 0.7, 0.2, 0.9], ["a", "a", "b", "b"])
    >>> r["sample_auroc"]  # sample a: 0.7 (normal), sample b: max(0.2, 0.9) = 0.9 (anomalous)
    1.0
    """
    _, sample_labels, sample_scores = group_samples(labels, scores, sample_ids)
    image = image_metrics(sample_labels, sample_scores)
    results = MetricResults()
    for name in SAMPLE_METRICS:
        source = "image_" + name.removeprefix("sample_")
        note = image.notes.get(source)
        results.set(name, image[source], None if note is None else f"samples: {note}")
    return results
