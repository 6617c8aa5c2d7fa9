"""``<stem>.roc.png`` (image ROC with the checkpoint's decision point, pixel ROC) and
``<stem>.pro.png`` (the full PRO curve, the AU-PRO area up to its FPR limit); curves are
thinned for drawing only (:func:`~pyimgano.metrics._curves.thin_curve`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.metrics._curves import thin_curve
from pyimgano.plots import png
from pyimgano.plots.inputs import PlotInputs

#: AU-PRO limit assumed when the evaluation does not say which one it used.
DEFAULT_AUPRO_LIMIT = 0.3


def _unit_square(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    """Finish the axes of a curve in the unit square: limits, equal aspect, grid, legend, title."""
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.02), xlabel=xlabel, ylabel=ylabel)
    ax.set_aspect("equal")
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title, fontsize=9)


def _thinned(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of a curve that :func:`thin_curve` keeps for drawing."""
    keep = thin_curve(x, y)
    return x[keep], y[keep]


def roc_plot(matplotlib: Any, inputs: PlotInputs, path: Path) -> Path | None:
    """``<stem>.roc.png`` at ``path``; ``None`` (nothing written) without an image or pixel ROC."""
    from pyimgano.metrics import roc_curve

    evaluation = inputs.evaluation
    n_pos = int(inputs.labels.sum())
    n_neg = int(inputs.labels.size - n_pos)
    image_curve = roc_curve(inputs.labels, inputs.scores)[:2] if n_pos and n_neg else None
    pixel_curve = inputs.pixel_curve("roc")
    if image_curve is None and pixel_curve is None:
        return None
    metrics = evaluation.report.metrics
    with png.new_figure(matplotlib, 4.6, 4.4) as figure:
        ax = figure.add_subplot()
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="chance")
        if image_curve is not None:
            auroc = metrics.get("image_auroc")
            label = "image ROC" if auroc is None else f"image ROC, AUROC = {auroc:.4f}"
            ax.plot(
                *_thinned(*image_curve), color=png.ANOMALOUS_COLOUR, linewidth=1.6, label=label
            )
            miss = metrics.get("image_miss_rate")
            reject = metrics.get("image_false_reject_rate")
            if miss is not None and reject is not None:
                ax.plot(
                    [reject],
                    [1.0 - miss],
                    marker="o",
                    color="black",
                    linestyle="none",
                    label="checkpoint's pred_label",
                )
        if pixel_curve is not None:
            ax.plot(
                *_thinned(*pixel_curve),
                color=png.PIXEL_COLOUR,
                linewidth=1.2,
                label=f"pixel ROC, AUROC = {metrics['pixel_auroc']:.4f}",
            )
        _unit_square(
            ax,
            "false positive rate (normal images / pixels)",
            "true positive rate (anomalous images / pixels)",
            f"{png.title(evaluation, 'ROC')}\n{n_neg} normal, {n_pos} anomalous",
        )
        return png.save_png(figure, path)


def pro_plot(matplotlib: Any, inputs: PlotInputs, path: Path) -> Path | None:
    """``<stem>.pro.png`` at ``path``; ``None`` (nothing written) when ``aupro`` is undefined."""
    evaluation = inputs.evaluation
    curve = inputs.pixel_curve("pro")
    if curve is None:
        return None
    aupro = evaluation.report.metrics["aupro"]
    limit = float(getattr(evaluation, "aupro_limit", None) or DEFAULT_AUPRO_LIMIT)
    at_limit = float(np.interp(limit, *curve))
    fpr, pro = _thinned(*curve)
    with png.new_figure(matplotlib, 4.6, 4.4) as figure:
        ax = figure.add_subplot()
        ax.plot(fpr, pro, color=png.ANOMALOUS_COLOUR, linewidth=1.6, label="PRO curve")
        inside = fpr <= limit
        ax.fill_between(
            np.append(fpr[inside], limit),
            np.append(pro[inside], at_limit),
            color=png.ANOMALOUS_COLOUR,
            alpha=0.15,
            label=f"AU-PRO (FPR ≤ {limit:g}) = {aupro:.4f}",
        )
        ax.axvline(
            limit, color="black", linestyle="--", linewidth=1, label=f"integration limit {limit:g}"
        )
        _unit_square(
            ax,
            "false positive rate (normal pixels)",
            "per-region overlap",
            png.title(evaluation, "pixel PRO"),
        )
        return png.save_png(figure, path)

