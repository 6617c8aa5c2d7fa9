"""Decision metrics at the checkpoint's own threshold (its ``pred_label``; docs/REFERENCE.md §5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics._validation import check_labels
from pyimgano.metrics.results import MetricResults

__all__ = ["decision_metrics"]

DECISION_METRICS = ("image_miss_rate", "image_false_reject_rate")


def decision_metrics(labels: Any, pred_labels: Sequence[Any] | None) -> MetricResults:
    """Miss rate and false-reject rate of the checkpoint's own image decisions.

    Parameters
    ----------
    labels : array-like of shape (n_images,)
        Ground truth, 1 (or True) anomalous, 0 (or False) normal.
    pred_labels : sequence of shape (n_images,) or None
        The checkpoint's decisions (1 anomalous, 0 normal); ``None``, or ``None`` for any
        image, when the checkpoint gives none.

    Returns
    -------
    MetricResults
        ``image_miss_rate``: anomalous images predicted 0 / anomalous images;
        ``image_false_reject_rate``: good images predicted 1 / good images. ``None`` with a
        note when there are no decisions or the class a rate divides by is empty.

    Raises
    ------
    MetricInputError
        Bad labels (see :func:`~pyimgano.metrics.image_metrics`), a length that differs from
        ``labels``, or a decision other than 0/1.

    Notes
    -----
    Lower is better for both rates.

    Examples
    --------
    >>> r = decision_metrics([0, 0, 1, 1], [0, 1, 1, 1])
    >>> r["image_miss_rate"], r["image_false_reject_rate"]
    (0.0, 0.5)
    """
    y = check_labels(labels)
    results = MetricResults()
    if pred_labels is None:
        results.set_undefined(DECISION_METRICS, "the model gives no pred_label")
        return results
    decisions = list(pred_labels)
    if len(decisions) != y.size:
        raise MetricInputError(
            f"pred_labels has {len(decisions)} values but labels has {y.size}; "
            "expected one decision per image"
        )
    missing = [i for i, value in enumerate(decisions) if value is None]
    if missing:
        results.set_undefined(
            DECISION_METRICS,
            f"the model gives no pred_label for {len(missing)} image(s), first: image {missing[0]}",
        )
        return results
    predicted = check_labels(np.asarray(decisions), name="pred_labels")
    n_pos = int(np.count_nonzero(y))
    n_neg = y.size - n_pos
    if n_pos:
        results.set("image_miss_rate", np.count_nonzero(y & ~predicted) / n_pos)
    else:
        results.set("image_miss_rate", None, f"no anomalous images in labels ({n_neg} normal)")
    if n_neg:
        results.set("image_false_reject_rate", np.count_nonzero(~y & predicted) / n_neg)
    else:
        results.set(
            "image_false_reject_rate", None, f"no normal images in labels ({n_pos} anomalous)"
        )
    return results
