"""Write an evaluation's files: the report, its per-image JSONL and (optionally) plots."""

from __future__ import annotations

import os
from pathlib import Path

from pyimgano.evaluation import Evaluation
from pyimgano.report import records_path, write_report


def companion_paths(report_path: str | os.PathLike[str], *, plots: bool = True) -> list[Path]:
    """The files :func:`write_evaluation` may write beside ``report_path``: its JSONL and,
    with ``plots``, ``<stem>.<kind>.png`` for every plot kind."""
    path = Path(report_path)
    files = [records_path(path)]
    if plots:
        from pyimgano.plots import PLOT_KINDS, plot_path

        files += [plot_path(path, kind) for kind in PLOT_KINDS]
    return files


def write_evaluation(
    evaluation: Evaluation,
    report_path: str | os.PathLike[str],
    *,
    plots: bool = True,
    manifest_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write report + JSONL atomically, then plots beside them (never counted in timing).

    With ``manifest_dir`` (a report dir), every file written is recorded in its manifest
    (:func:`pyimgano.manifest.record_files`) once they are all written.
    """
    path = write_report(evaluation.report, report_path)
    written = [path, records_path(path)]
    if plots:
        from pyimgano.plots import write_plots

        written += write_plots(evaluation, path)
    if manifest_dir is not None:
        from pyimgano.manifest import record_files

        record_files(Path(manifest_dir), written)
    return path
