"""The value type every ``*_metrics`` function returns, and each metric's better direction."""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["METRIC_DIRECTIONS", "MetricResults"]

#: Metric name -> ``higher_is_better``, for every metric pyimgano reports (SPEC §5, §6, §8).
#: Gates use it to turn a bare-number threshold into ``min`` or ``max``.
#: ``image_auroc_step`` is the resolution of ``image_auroc`` (smaller is finer).
METRIC_DIRECTIONS: dict[str, bool] = {
    "image_auroc": True,
    "image_ap": True,
    "image_f1_max": True,
    "image_auroc_step": False,
    "pixel_auroc": True,
    "pixel_ap": True,
    "pixel_f1_max": True,
    "aupro": True,
    "image_miss_rate": False,
    "image_false_reject_rate": False,
    "ms_per_image": False,
    "images_per_s": True,
}


class MetricResults(dict):
    """Metric name -> ``float`` or ``None``, with the reason for every ``None`` in ``notes``.

    A plain :class:`dict` for every consumer (JSON, ``dict(result)``, ``result["aupro"]``);
    ``notes`` maps each undefined metric to a human-readable reason (SPEC §5: undefined is
    ``null`` with a reason, never NaN).

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
