"""The value type every ``*_metrics`` function returns, and each metric's better direction."""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "METRIC_DIRECTIONS",
    "METRIC_ORDER",
    "METRIC_PREFIX_DIRECTIONS",
    "MetricResults",
    "metric_direction",
]

#: Metric name -> ``higher_is_better``, for every metric pyimgano reports
#: (docs/REFERENCE.md §5, §6, §8).
#: Gates use it to turn a bare-number threshold into ``min`` or ``max``.
#: ``image_auroc_step`` is the resolution of ``image_auroc`` (smaller is finer).
#: ``image_borderline`` counts images whose score is within 1e-6 of the checkpoint's threshold.
#: ``seg_f1`` (MVTec AD 2) and ``sample_*`` (Real-IAD) are the protocol metrics of §5.
METRIC_DIRECTIONS: dict[str, bool] = {
    "image_auroc": True,
    "image_ap": True,
    "image_f1_max": True,
    "image_auroc_step": False,
    "sample_auroc": True,
    "sample_ap": True,
    "sample_f1_max": True,
    "pixel_auroc": True,
    "pixel_ap": True,
    "pixel_f1_max": True,
    "aupro": True,
    "seg_f1": True,
    "aupimo_mean": True,
    "aupimo_std": False,
    "image_miss_rate": False,
    "image_false_reject_rate": False,
    "image_borderline": False,
    "ms_per_image": False,
    "images_per_s": True,
}


#: The order reports, diffs and the CLI list the headline metrics in (the rest follow by name).
METRIC_ORDER = (
    "image_auroc",
    "image_ap",
    "image_f1_max",
    "image_miss_rate",
    "image_false_reject_rate",
    "sample_auroc",
    "sample_ap",
    "sample_f1_max",
    "pixel_auroc",
    "pixel_ap",
    "pixel_f1_max",
    "aupro",
    "seg_f1",
)


#: Metric-name prefix -> ``higher_is_better`` for the metrics whose name carries a parameter:
#: ``aupro_<limit>`` (extra AU-PRO limits), ``auspro_<limit>`` (MVTec LOCO AU-sPRO) and
#: ``image_tpr_at_fpr_<limit>`` (operating points), where ``<limit>`` is :func:`limit_key`'s
#: spelling of the FPR limit.
METRIC_PREFIX_DIRECTIONS: dict[str, bool] = {
    "aupro_": True,
    "auspro_": True,
    "image_tpr_at_fpr_": True,
}


def metric_direction(name: str) -> bool | None:
    """``higher_is_better`` of a metric name (fixed or parametrised), or None if unknown."""
    if name in METRIC_DIRECTIONS:
        return METRIC_DIRECTIONS[name]
    for prefix, higher in METRIC_PREFIX_DIRECTIONS.items():
        if name.startswith(prefix) and _is_limit(name[len(prefix) :]):
            return higher
    return None


def _is_limit(text: str) -> bool:
    try:
        return 0.0 < float(text) <= 1.0 and limit_key(float(text)) == text
    except ValueError:
        return False


def limit_key(limit: float) -> str:
    """The spelling of an FPR limit in a metric name: Python's shortest round-trip ``repr``.

    ``0.05 -> "0.05"``, ``0.3 -> "0.3"``, ``1 -> "1.0"``, ``1e-05 -> "1e-05"``; the name is
    ``aupro_`` or ``auspro_`` followed by it (``aupro_0.05``).
    """
    return repr(float(limit))


class MetricResults(dict):
    """Metric name -> ``float`` or ``None``, with the reason for every ``None`` in ``notes``.

    A plain :class:`dict` for every consumer (JSON, ``dict(result)``, ``result["aupro"]``);
    ``notes`` maps each undefined metric to a human-readable reason (docs/REFERENCE.md §5:
    undefined is ``null`` with a reason, never NaN).

    Parameters
    ----------
    values : mapping of str to float or None, optional
        The metric values. ``NaN`` or infinite values are rejected.
    notes : mapping of str to str, optional
        Reason per metric whose value is ``None``.

    Raises
    ------
    ValueError
        If a value is not finite, or a ``None`` value has no note.

    Examples
    --------
    >>> r = MetricResults({"image_auroc": None}, notes={"image_auroc": "only one class"})
    >>> r["image_auroc"] is None, r.notes["image_auroc"]
    (True, 'only one class')
    """

    notes: dict[str, str]

    def __init__(
        self,
        values: Mapping[str, float | None] | None = None,
        notes: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.notes = {}
        for name, value in (values or {}).items():
            self.set(name, value, (notes or {}).get(name))

    def set(self, name: str, value: float | None, note: str | None = None) -> None:
        """Store one metric: a finite number, or ``None`` together with its reason."""
        if value is None:
            if not note:
                raise ValueError(f"metric {name!r} is None but has no reason")
            self[name] = None
            self.notes[name] = note
            return
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric {name!r} is {number!r}; undefined metrics must be None")
        self[name] = number
        self.notes.pop(name, None)

    def set_undefined(self, names: tuple[str, ...] | list[str], note: str) -> None:
        """Mark every metric in ``names`` as ``None`` with the same reason."""
        for name in names:
            self.set(name, None, note)

    def __repr__(self) -> str:
        return f"MetricResults({dict.__repr__(self)}, notes={self.notes!r})"


def one_class_note(n_neg: int, n_pos: int, *, what: str = "labels") -> str:
    """Reason text for ranking metrics that need both classes."""
    return f"only one class in {what} ({n_neg} normal, {n_pos} anomalous)"
