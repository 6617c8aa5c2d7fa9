"""The pictures beside one report (``<stem>.<kind>.png``): which kinds, where, and
:func:`write_plots`, which draws them after the report is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from pyimgano.evaluation import Evaluation
from pyimgano.plots.curves import pro_plot, roc_plot
from pyimgano.plots.inputs import PlotInputs
from pyimgano.plots.png import load_matplotlib
from pyimgano.plots.worst import worst_plot

#: The pictures :func:`write_plots` may draw, as ``<stem>.<kind>.png``.
PLOT_KINDS = ("roc", "pro", "worst")


def plot_path(report_path: str | os.PathLike[str], kind: str) -> Path:
    """``<dir>/<stem>.<kind>.png`` beside a report."""
    path = Path(report_path)
    return path.with_name(f"{path.stem}.{kind}.png")


def write_plots(evaluation: Evaluation, report_path: Path) -> list[Path]:
    """Draw the report's pictures beside ``report_path``; returns the files written.

    Call after the report is written (plots never count in ``timing``). Uses
    ``evaluation.pixel`` (maps, masks, curves) where present; see :mod:`pyimgano.plots`.
    Returns ``[]`` with a warning when matplotlib is not installed.
    """
    matplotlib = load_matplotlib()
    if matplotlib is None:
        return []
    inputs = PlotInputs(evaluation)
    written = []
    for kind, draw in zip(PLOT_KINDS, (roc_plot, pro_plot, worst_plot), strict=True):
        result = draw(matplotlib, inputs, plot_path(report_path, kind))
        if result is not None:
            written.append(result)
    return written

