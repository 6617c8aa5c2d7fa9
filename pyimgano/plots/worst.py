"""``<stem>.worst.png``: the lowest-scoring anomalous and the highest-scoring normal images, each
with the checkpoint's verdict, its anomaly map as a heat overlay on its own colour range and
the ground truth outlined (the package docstring says how they are drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.errors import DatasetError
from pyimgano.evaluation import Evaluation
from pyimgano.plots import png
from pyimgano.plots.inputs import PlotInputs

#: Lowest-scoring anomalous and highest-scoring normal images shown, each.
MAX_WORST = 4
#: Opacity of the heat overlay at the top of each map's own range (0 at its bottom).
HEAT_ALPHA = 0.7
HEAT_CMAP = "jet"

#: Row titles of the worst-images plot.
LOWEST_ANOMALOUS = "lowest-scoring anomalous"
HIGHEST_NORMAL = "highest-scoring normal"

_WRONG_COLOUR = "#b00000"


def worst_indices(
    labels: Sequence[int], scores: Sequence[float], count: int = MAX_WORST
) -> tuple[list[int], list[int]]:
    """Indices of the lowest-scoring anomalous and of the highest-scoring normal images.

    Returns ``(lowest_anomalous, highest_normal)``, up to ``count`` each, worst first; ties keep
    dataset order. Whether an image was actually missed or falsely rejected is the
    checkpoint's decision (:func:`verdict`), not its rank.
    """
    label_array = np.asarray(labels)
    score_array = np.asarray(scores, dtype=np.float64)
    anomalous = np.flatnonzero(label_array == 1)
    normal = np.flatnonzero(label_array == 0)
    lowest = anomalous[np.argsort(score_array[anomalous], kind="stable")][:count]
    highest = normal[np.argsort(-score_array[normal], kind="stable")][:count]
    return [int(i) for i in lowest], [int(i) for i in highest]


def verdict(label: int, pred_label: int | None) -> str:
    """What the checkpoint's own decision did with an image.

    ``"missed"`` (anomalous, ``pred_label`` 0), ``"detected"`` (anomalous, 1), ``"false alarm"``
    (normal, 1), ``"passed"`` (normal, 0), or ``"no pred_label"`` when the checkpoint gives none.

    >>> verdict(1, 0), verdict(1, 1), verdict(0, 1), verdict(0, 0), verdict(1, None)
    ('missed', 'detected', 'false alarm', 'passed', 'no pred_label')
    """
    if pred_label is None:
        return "no pred_label"
    if label == 1:
        return "missed" if pred_label == 0 else "detected"
    return "false alarm" if pred_label == 1 else "passed"


@dataclass(frozen=True, eq=False)
class WorstPanel:
    """One panel of ``<stem>.worst.png``.

    Attributes
    ----------
    index : int
        Position in the evaluation's dataset and predictions.
    row : str
        :data:`LOWEST_ANOMALOUS` or :data:`HIGHEST_NORMAL`.
    verdict : str
        :func:`verdict` of the image.
    score : float
        The image's score.
    heat : ndarray of shape (H, W), or None
        The anomaly map at the image's size as drawn; ``None`` without a map.
    mask : ndarray of bool, shape (H, W), or None
        The ground truth to outline; ``None`` where the image has none.
    map_range : (float, float) or None
        The overlay's own colour range: ``heat``'s minimum and maximum.
    """

    index: int
    row: str
    verdict: str
    score: float
    heat: np.ndarray | None
    mask: np.ndarray | None
    map_range: tuple[float, float] | None


def _panel_map_and_mask(
    inputs: PlotInputs, index: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One image's map at image size and its mask, from the evaluation's pixel data if any."""
    sample = inputs.evaluation.dataset[index]
    prediction = inputs.evaluation.predictions[index]
    maps, masks = inputs.given("maps"), inputs.given("masks")
    heat = None if maps is None else maps[index]
    mask = None if masks is None else masks[index]
    if maps is None or masks is None:  # fallback: this image's files only
        from pyimgano.datasets.masks import image_size, load_mask

        size = image_size(sample.image_path)
        if mask is None and sample.mask_paths:
            try:
                mask = load_mask(sample, size)
            except DatasetError:
                mask = None
        if heat is None and prediction.anomaly_map is not None:
            from pyimgano.alignment import align_map

            heat = align_map(prediction.anomaly_map, size, image=str(sample.image_path))
    from pyimgano.outputs import to_numpy

    if heat is not None:
        heat = to_numpy(heat)  # a tensor where the maps stayed on the model's device
    if mask is not None:
        mask = to_numpy(mask).astype(bool, copy=False)
        if heat is not None and mask.shape != heat.shape:
            mask = None  # cannot happen for evaluate()'s data: maps are aligned to masks
    return heat, mask


def worst_panels(evaluation: Evaluation, count: int = MAX_WORST) -> list[list[WorstPanel]]:
    """The rows of ``<stem>.worst.png``: lowest-scoring anomalous, then highest-scoring normal.

    Rows without images are left out (so a one-class dataset gives one row). Maps and masks
    come from ``evaluation.pixel`` when it has them; else only these images' files are read.
    """
    return _worst_panels(PlotInputs(evaluation), count)


def _worst_panels(inputs: PlotInputs, count: int) -> list[list[WorstPanel]]:
    lowest, highest = worst_indices(inputs.labels, inputs.scores, count)
    rows = []
    for row, indices in ((LOWEST_ANOMALOUS, lowest), (HIGHEST_NORMAL, highest)):
        panels = []
        for index in indices:
            heat, mask = _panel_map_and_mask(inputs, index)
            prediction = inputs.evaluation.predictions[index]
            map_range = None
            if heat is not None:
                map_range = (float(np.min(heat)), float(np.max(heat)))
            panels.append(
                WorstPanel(
                    index=index,
                    row=row,
                    verdict=verdict(int(inputs.labels[index]), prediction.pred_label),
                    score=float(prediction.score),
                    heat=heat,
                    mask=mask,
                    map_range=map_range,
                )
            )
        if panels:
            rows.append(panels)
    return rows


def _distinct(low: float, high: float) -> tuple[str, str]:
    """``low`` and ``high`` with the fewest significant digits (3 to 9) that tell them apart."""
    for digits in range(3, 10):
        texts = (f"{low:.{digits}g}", f"{high:.{digits}g}")
        if texts[0] != texts[1]:
            return texts
    return f"{low!r}", f"{high!r}"


def _draw_panel(
    figure: Any, ax: Any, evaluation: Evaluation, panel: WorstPanel, colormap: Any
) -> None:
    """One image of the worst plot: the overlay, its colour bar, the outline and the title."""
    from PIL import Image

    sample = evaluation.dataset[panel.index]
    with Image.open(sample.image_path) as opened:
        image = np.asarray(opened.convert("RGB"))
    ax.imshow(image, interpolation="antialiased")
    extent = (-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5)
    scale_text = "no anomaly map"
    if panel.heat is not None and panel.map_range is not None:
        low, high = panel.map_range
        if high > low:
            level = np.clip((panel.heat.astype(np.float64) - low) / (high - low), 0.0, 1.0)
            overlay = colormap(level)
            overlay[..., 3] = HEAT_ALPHA * level**2  # low values stay (nearly) transparent
            ax.imshow(overlay, interpolation="antialiased", extent=extent)
            from matplotlib.cm import ScalarMappable
            from matplotlib.colors import Normalize

            bar = figure.colorbar(
                ScalarMappable(Normalize(low, high), colormap), ax=ax, fraction=0.05, pad=0.03
            )
            texts = _distinct(low, high)
            bar.set_ticks([low, high], labels=list(texts))
            bar.ax.tick_params(labelsize=6, length=2)
            scale_text = f"map {texts[0]} – {texts[1]}"
        else:
            scale_text = f"map constant {low:.6g}"
    if panel.mask is not None and panel.mask.any():
        outline = panel.mask.astype(np.float32)
        ax.contour(outline, levels=[0.5], colors="black", linewidths=2.2)
        ax.contour(outline, levels=[0.5], colors="white", linewidths=1.0)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    name = f"{sample.defect_type}/{Path(sample.image_path).name}"
    wrong = panel.verdict in ("missed", "false alarm")
    ax.set_title(
        f"{name}\nscore {panel.score:.6g} · {panel.verdict}\n{scale_text}",
        fontsize=7,
        color=_WRONG_COLOUR if wrong else "black",
        fontweight="bold" if wrong else "normal",
    )
    ax.set_xticks([])
    ax.set_yticks([])


def worst_plot(matplotlib: Any, inputs: PlotInputs, path: Path) -> Path | None:
    """``<stem>.worst.png`` at ``path``; ``None`` (nothing written) when no row has an image."""
    rows = _worst_panels(inputs, MAX_WORST)
    if not rows:
        return None
    evaluation = inputs.evaluation
    columns = max(len(panels) for panels in rows)
    colormap = matplotlib.colormaps[HEAT_CMAP]
    with png.new_figure(matplotlib, 2.4 * columns + 0.6, 2.55 * len(rows) + 0.6) as figure:
        axes = figure.subplots(len(rows), columns, squeeze=False)
        for row, panels in enumerate(rows):
            for column in range(columns):
                ax = axes[row][column]
                if column < len(panels):
                    _draw_panel(figure, ax, evaluation, panels[column], colormap)
                else:
                    ax.set_axis_off()
            axes[row][0].set_ylabel(panels[0].row, fontsize=8)
        figure.suptitle(
            f"{png.title(evaluation, 'worst-scored images')}\n"
            f"rows: the {LOWEST_ANOMALOUS} and the {HIGHEST_NORMAL} images; verdict from the "
            "checkpoint's pred_label\neach overlay on its own colour range (stated on its bar, "
            "not comparable between images); ground truth outlined",
            fontsize=8,
        )
        return png.save_png(figure, path)

