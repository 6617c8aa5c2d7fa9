"""Write an evaluation's files: the report, its per-image JSONL and (optionally) plots."""

from __future__ import annotations

import os
from pathlib import Path

from pyimgano.evaluation import Evaluation
from pyimgano.report import write_report


def write_evaluation(
    evaluation: Evaluation, report_path: str | os.PathLike[str], *, plots: bool = True
) -> Path:
    """Write report + JSONL atomically, then plots beside them (never counted in timing)."""
    path = write_report(evaluation.report, report_path)
    if plots:
        from pyimgano.plots import write_plots

        write_plots(evaluation, path)
    return path
