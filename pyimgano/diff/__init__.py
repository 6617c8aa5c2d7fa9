"""Upgrade diffs (docs/REFERENCE.md §9): which metric of which item moved, and which images changed.

- :mod:`pyimgano.diff.compare` — pure comparison (:func:`diff_reports`, :func:`diff_records`,
  :func:`diff_sides`) of already loaded reports;
- :mod:`pyimgano.diff.inputs` — reading report files, report dirs and ``summary.json``;
- :mod:`pyimgano.diff.render` — table, markdown and JSON output.

:func:`diff_paths` joins them for the ``pyimgano-diff`` CLI.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyimgano.diff.compare import (
    BEYOND,
    EQUAL,
    NULLNESS,
    UNGATED,
    WITHIN,
    DecisionFlip,
    DiffResult,
    ImageChange,
    ImageDiff,
    ItemDiff,
    ItemInput,
    MetricRow,
    Side,
    Tolerances,
    diff_items,
    diff_records,
    diff_reports,
    diff_sides,
    f1_max_threshold,
    image_key,
    parse_tolerances,
)
from pyimgano.diff.inputs import load_side, load_sides
from pyimgano.diff.render import render

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
