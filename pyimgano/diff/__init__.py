"""Upgrade diffs (docs/REFERENCE.md §9): which metric of which item moved, and which images changed.

- :mod:`pyimgano.diff.compare` — pure comparison of already loaded reports, item by item
  (:func:`diff_reports`, :func:`diff_items`, :func:`diff_sides`), from
  :mod:`~pyimgano.diff.rows` (metric rows and their verdicts), :mod:`~pyimgano.diff.images`
  (per-image records: moved scores, flipped decisions) and :mod:`~pyimgano.diff.tolerances`
  (``--tolerance``), into the :mod:`~pyimgano.diff.result` objects;
- :mod:`pyimgano.diff.inputs` — reading report files, report dirs and ``summary.json``;
- :mod:`pyimgano.diff.render` — table, markdown and JSON output.

:func:`diff_paths` joins them for the ``pyimgano-diff`` CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyimgano.diff.compare import diff_items, diff_reports, diff_sides
from pyimgano.diff.images import (
    DecisionFlip,
    ImageChange,
    ImageDiff,
    diff_records,
    f1_max_threshold,
    image_key,
)
from pyimgano.diff.inputs import load_side, load_sides
from pyimgano.diff.render import render
from pyimgano.diff.result import DiffResult, ItemDiff, ItemInput, Side
from pyimgano.diff.rows import BEYOND, EQUAL, NULLNESS, UNGATED, WITHIN, MetricRow
from pyimgano.diff.tolerances import Tolerances, parse_tolerances

__all__ = [
    "BEYOND",
    "EQUAL",
    "NULLNESS",
    "UNGATED",
    "WITHIN",
    "DecisionFlip",
    "DiffResult",
    "ImageChange",
    "ImageDiff",
    "ItemDiff",
    "ItemInput",
    "MetricRow",
    "Side",
    "Tolerances",
    "diff_items",
    "diff_paths",
    "diff_records",
    "diff_reports",
    "diff_sides",
    "f1_max_threshold",
    "image_key",
    "load_side",
    "load_sides",
    "parse_tolerances",
    "render",
]


def diff_paths(
    old: str | os.PathLike[str],
    new: str | os.PathLike[str],
    tolerances: Tolerances | None = None,
    *,
    top: int = 10,
    paired: bool = False,
) -> DiffResult:
    """Load two report files / report dirs / summaries and compare them (``paired``: also
    the paired tests of NEW against OLD, docs/REFERENCE.md §12)."""
    old_side, new_side = load_sides(Path(old), Path(new))
    return diff_sides(old_side, new_side, tolerances or Tolerances(), top=top, paired=paired)
