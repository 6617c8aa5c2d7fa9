"""Pictures beside a report: ROC/PRO curves and the worst-scored images (docs/REFERENCE.md §6).

Files, named from the report's stem (``bottle.json`` → ``bottle.*.png``):

- ``<stem>.roc.png``: the image-level ROC with its AUROC and the checkpoint's own decision
  point where it gives ``pred_label`` (with both classes present), plus the pixel-level ROC with
  its AUROC when pixel metrics were computed;
- ``<stem>.pro.png``: the full PRO curve up to FPR 1, the AU-PRO area and its FPR limit marked
  (only when the report has a defined ``aupro``);
- ``<stem>.worst.png``: up to :data:`MAX_WORST` **lowest-scoring anomalous** images and up to
  :data:`MAX_WORST` **highest-scoring normal** images (:func:`worst_panels`). Each panel states
  the checkpoint's verdict (:func:`verdict`): "missed" / "false alarm" only where its
  ``pred_label`` says so, "detected" / "passed" where it decided right, "no pred_label" where it
  gives none. The anomaly map is a heat overlay on **its own colour range** (that map's minimum
  to maximum, written at the ends of the panel's colour bar; opacity grows with the square of
  the position in that range, from 0 at the minimum to :data:`HEAT_ALPHA` at the maximum, so the
  image shows through everywhere but at the hot spots). One image with a huge
  or saturated map therefore cannot make the other overlays invisible; colours are not
  comparable between panels, the stated ranges are. The ground-truth region is outlined.

Where the data comes from: the :class:`~pyimgano.evaluation.Evaluation`'s ``pixel`` field (a
:class:`~pyimgano.evaluation.PixelData`: ``maps`` aligned to mask size — NumPy arrays or torch
tensors on the model's device, of which only the drawn ones are copied to the host —,
``masks`` (all-False or ``None`` for an image without a mask), ``roc`` = pixel ``(fpr, tpr)``
and ``pro`` = ``(fpr, per-region overlap)`` from the metrics' own sweep). Nothing is re-read,
re-aligned or re-sorted when those are there. Only a field that
is ``None`` (or an evaluation without ``pixel``, e.g. built by other code) is computed here:
masks read with :func:`~pyimgano.datasets.masks.load_mask`, maps aligned with
:func:`~pyimgano.alignment.align_map`, curves from :func:`pyimgano.metrics.roc_curve` /
:func:`~pyimgano.metrics.pro_curve` — which costs about as much as the pixel metrics.

Curves with millions of points are thinned for drawing only by :func:`thin_curve`, which keeps
their shape to a tenth of a pixel (vertical and horizontal jumps included); the metrics are
never computed from the thinned points.

:func:`write_diff_plot` draws old against new per-image scores of one diff item.

matplotlib is optional: without it nothing is drawn, the functions return ``[]``/``None`` and
warn. Figures are :class:`matplotlib.figure.Figure` objects rendered by ``FigureCanvasAgg``
under matplotlib's default style (pyplot and the user's rcParams are never touched), then
stored as 256-colour PNGs (Pillow's fast-octree quantiser, no dithering, no timestamps):
deterministic for one matplotlib/Pillow version, and small (tens of KB; the overlays ~100 KB).
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pyimgano.errors import DatasetError
from pyimgano.evaluation import Evaluation
from pyimgano.metrics._curves import CURVE_CELLS, thin_curve  # noqa: F401 - public here too
from pyimgano.report import staged_file

if TYPE_CHECKING:
    from pyimgano.diff.compare import DiffResult, ItemDiff

#: Lowest-scoring anomalous and highest-scoring normal images shown, each.
MAX_WORST = 4
#: AU-PRO limit assumed when the evaluation does not say which one it used.
DEFAULT_AUPRO_LIMIT = 0.3
DPI = 100
#: Opacity of the heat overlay at the top of each map's own range (0 at its bottom).
HEAT_ALPHA = 0.7
HEAT_CMAP = "jet"

#: Row titles of the worst-images plot.
LOWEST_ANOMALOUS = "lowest-scoring anomalous"
HIGHEST_NORMAL = "highest-scoring normal"

_NORMAL_COLOUR = "#1f77b4"
_ANOMALOUS_COLOUR = "#d62728"
_PIXEL_COLOUR = "#2ca02c"
_WRONG_COLOUR = "#b00000"
_MISSING = "matplotlib is not installed: no plots are drawn (pip install 'pyimgano[plots]')"


# ------------------------------------------------------------------------------------------
# matplotlib plumbing


def _matplotlib() -> Any | None:
    """The matplotlib module, or ``None`` (with a warning) when it is not installed."""
    try:
        import matplotlib
        import matplotlib.style
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        warnings.warn(_MISSING, UserWarning, stacklevel=3)
        return None
    return matplotlib


@contextlib.contextmanager
def _figure(matplotlib: Any, width: float, height: float) -> Iterator[Any]:
    """A Figure under matplotlib's default style (rcParams restored afterwards)."""
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"):
        yield Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _save_png(figure: Any, path: Path) -> Path:
    """Render ``figure`` with Agg and write it as a 256-colour PNG, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    image = Image.fromarray(np.ascontiguousarray(rgb)).quantize(
        colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
    )
    with staged_file(path) as tmp:
        image.save(tmp, format="PNG", optimize=True)
    return path


#: The pictures :func:`write_plots` may draw, as ``<stem>.<kind>.png``.
PLOT_KINDS = ("roc", "pro", "worst")


def plot_path(report_path: str | os.PathLike[str], kind: str) -> Path:
    """``<dir>/<stem>.<kind>.png`` beside a report."""
    path = Path(report_path)
    return path.with_name(f"{path.stem}.{kind}.png")


def _title(evaluation: Evaluation, what: str) -> str:
    model = evaluation.report.model.get("name") or "model"
    return f"{model} · {evaluation.dataset.category} · {what}"


def _distinct(low: float, high: float) -> tuple[str, str]:
    """``low`` and ``high`` with the fewest significant digits (3 to 9) that tell them apart."""
    for digits in range(3, 10):
        texts = (f"{low:.{digits}g}", f"{high:.{digits}g}")
        if texts[0] != texts[1]:
            return texts
    return f"{low!r}", f"{high!r}"


# ------------------------------------------------------------------------------------------
# what the plots draw


class _Inputs:
    """Labels, scores and the pixel data of an evaluation; computed only where it lacks them."""

    def __init__(self, evaluation: Evaluation) -> None:
        self.evaluation = evaluation
        #: the evaluation's PixelData (maps, masks, roc, pro), or None
        self.pixel = getattr(evaluation, "pixel", None)
        self.labels = np.asarray([s.label for s in evaluation.dataset], dtype=np.int64)
        self.scores = np.asarray([p.score for p in evaluation.predictions], dtype=np.float64)

    def given(self, name: str) -> Any:
        """``evaluation.pixel.<name>`` (maps, masks, roc, pro), or None where it is missing."""
        return None if self.pixel is None else getattr(self.pixel, name, None)

    @cached_property
    def aligned(self) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
        """Maps at mask size and boolean masks (all-False where an image has none).

        From ``evaluation.pixel`` when it has them; else (fallback) every mask is read and every
        map aligned. ``None`` when a prediction has no map.
        """
        maps, masks = self.given("maps"), self.given("masks")
        if maps is None or masks is None:
            predictions = self.evaluation.predictions
            if any(p.anomaly_map is None for p in predictions):
                return None
            from pyimgano.alignment import align_map
            from pyimgano.datasets.masks import load_mask

            masks = [load_mask(sample) for sample in self.evaluation.dataset]
            maps = [
                align_map(p.anomaly_map, m.shape, image=str(s.image_path))  # type: ignore[arg-type]
                for p, m, s in zip(predictions, masks, self.evaluation.dataset, strict=True)
            ]
        from pyimgano.outputs import to_numpy

        host = [to_numpy(amap) for amap in maps]  # maps may be tensors on the model's device
        full = [
            np.zeros(amap.shape, dtype=bool) if mask is None else to_numpy(mask).astype(bool)
            for amap, mask in zip(host, masks, strict=True)
        ]
        return host, full

    def pixel_curve(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The pixel ``"roc"`` (fpr, tpr) or ``"pro"`` (fpr, overlap) curve, or ``None``.

        ``None`` when the report's metric (``pixel_auroc`` / ``aupro``) is undefined or absent.
        Taken from ``evaluation.pixel`` when it holds it; else computed from :attr:`aligned`.
        """
        metric = {"roc": "pixel_auroc", "pro": "aupro"}[name]
        if self.evaluation.report.metrics.get(metric) is None:
            return None
        curve = self.given(name)
        if curve is None:
            aligned = self.aligned
            if aligned is None:
                return None
            maps, masks = aligned
            if name == "pro":
                from pyimgano.metrics import pro_curve

                curve = pro_curve(maps, masks)
            else:
                from pyimgano.metrics import roc_curve

                flat_masks = np.concatenate([m.ravel() for m in masks])
                flat_maps = np.concatenate([np.asarray(m).ravel() for m in maps])
                curve = roc_curve(flat_masks, flat_maps)[:2]
        from pyimgano.outputs import to_numpy

        x, y = (to_numpy(values).astype(np.float64, copy=False) for values in curve)
        return x, y


# ------------------------------------------------------------------------------------------
# curves


def _thinned(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = thin_curve(x, y)
    return x[keep], y[keep]


def _roc_plot(matplotlib: Any, inputs: _Inputs, path: Path) -> Path | None:
    from pyimgano.metrics import roc_curve

    evaluation = inputs.evaluation
    n_pos = int(inputs.labels.sum())
    n_neg = int(inputs.labels.size - n_pos)
    image_curve = roc_curve(inputs.labels, inputs.scores)[:2] if n_pos and n_neg else None
    pixel_curve = inputs.pixel_curve("roc")
    if image_curve is None and pixel_curve is None:
        return None
    metrics = evaluation.report.metrics
    with _figure(matplotlib, 4.6, 4.4) as figure:
        ax = figure.add_subplot()
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="chance")
        if image_curve is not None:
            auroc = metrics.get("image_auroc")
            label = "image ROC" if auroc is None else f"image ROC, AUROC = {auroc:.4f}"
            ax.plot(*_thinned(*image_curve), color=_ANOMALOUS_COLOUR, linewidth=1.6, label=label)
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
                color=_PIXEL_COLOUR,
                linewidth=1.2,
                label=f"pixel ROC, AUROC = {metrics['pixel_auroc']:.4f}",
            )
        ax.set(
            xlim=(-0.01, 1.01),
            ylim=(-0.01, 1.02),
            xlabel="false positive rate (normal images / pixels)",
            ylabel="true positive rate (anomalous images / pixels)",
        )
        ax.set_aspect("equal")
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(f"{_title(evaluation, 'ROC')}\n{n_neg} normal, {n_pos} anomalous", fontsize=9)
        return _save_png(figure, path)


def _pro_plot(matplotlib: Any, inputs: _Inputs, path: Path) -> Path | None:
    evaluation = inputs.evaluation
    curve = inputs.pixel_curve("pro")
    if curve is None:
        return None
    aupro = evaluation.report.metrics["aupro"]
    limit = float(getattr(evaluation, "aupro_limit", None) or DEFAULT_AUPRO_LIMIT)
    at_limit = float(np.interp(limit, *curve))
    fpr, pro = _thinned(*curve)
    with _figure(matplotlib, 4.6, 4.4) as figure:
        ax = figure.add_subplot()
        ax.plot(fpr, pro, color=_ANOMALOUS_COLOUR, linewidth=1.6, label="PRO curve")
        inside = fpr <= limit
        ax.fill_between(
            np.append(fpr[inside], limit),
            np.append(pro[inside], at_limit),
            color=_ANOMALOUS_COLOUR,
            alpha=0.15,
            label=f"AU-PRO (FPR ≤ {limit:g}) = {aupro:.4f}",
        )
        ax.axvline(
            limit, color="black", linestyle="--", linewidth=1, label=f"integration limit {limit:g}"
        )
        ax.set(
            xlim=(-0.01, 1.01),
            ylim=(-0.01, 1.02),
            xlabel="false positive rate (normal pixels)",
            ylabel="per-region overlap",
        )
        ax.set_aspect("equal")
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(_title(evaluation, "pixel PRO"), fontsize=9)
        return _save_png(figure, path)


# ------------------------------------------------------------------------------------------
# worst images


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
    inputs: _Inputs, index: int
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
    return _worst_panels(_Inputs(evaluation), count)


def _worst_panels(inputs: _Inputs, count: int) -> list[list[WorstPanel]]:
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


def _draw_panel(
    figure: Any, ax: Any, evaluation: Evaluation, panel: WorstPanel, colormap: Any
) -> None:
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


def _worst_plot(matplotlib: Any, inputs: _Inputs, path: Path) -> Path | None:
    rows = _worst_panels(inputs, MAX_WORST)
    if not rows:
        return None
    evaluation = inputs.evaluation
    columns = max(len(panels) for panels in rows)
    colormap = matplotlib.colormaps[HEAT_CMAP]
    with _figure(matplotlib, 2.4 * columns + 0.6, 2.55 * len(rows) + 0.6) as figure:
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
            f"{_title(evaluation, 'worst-scored images')}\n"
            f"rows: the {LOWEST_ANOMALOUS} and the {HIGHEST_NORMAL} images; verdict from the "
            "checkpoint's pred_label\neach overlay on its own colour range (stated on its bar, "
            "not comparable between images); ground truth outlined",
            fontsize=8,
        )
        return _save_png(figure, path)


def write_plots(evaluation: Evaluation, report_path: Path) -> list[Path]:
    """Draw the report's pictures beside ``report_path``; returns the files written.

    Call after the report is written (plots never count in ``timing``). Uses
    ``evaluation.pixel`` (maps, masks, curves) where present; see the module docstring.
    Returns ``[]`` with a warning when matplotlib is not installed.
    """
    matplotlib = _matplotlib()
    if matplotlib is None:
        return []
    inputs = _Inputs(evaluation)
    written = []
    for kind, draw in zip(PLOT_KINDS, (_roc_plot, _pro_plot, _worst_plot), strict=True):
        result = draw(matplotlib, inputs, plot_path(report_path, kind))
        if result is not None:
            written.append(result)
    return written


# ------------------------------------------------------------------------------------------
# diff pictures


def write_diff_plot(item: ItemDiff, path: str | os.PathLike[str]) -> Path | None:
    """Scatter of old against new per-image scores of one diff item, written to ``path``.

    Flipped decisions are ringed; the F1-max thresholds are drawn when flips were decided
    there. ``None`` when the item has no matched images or matplotlib is missing.
    """
    images = item.images
    if images is None or not images.pairs:
        return None
    matplotlib = _matplotlib()
    if matplotlib is None:
        return None
    old = np.asarray([p.old_score for p in images.pairs], dtype=np.float64)
    new = np.asarray([p.new_score for p in images.pairs], dtype=np.float64)
    labels = np.asarray([p.label for p in images.pairs])
    flipped = {f.image for f in images.flips}
    ring = np.asarray([p.image in flipped for p in images.pairs])
    low = float(min(old.min(), new.min()))
    high = float(max(old.max(), new.max()))
    pad = 0.03 * (high - low or 1.0)
    with _figure(matplotlib, 4.8, 4.6) as figure:
        ax = figure.add_subplot()
        ax.plot(
            [low - pad, high + pad],
            [low - pad, high + pad],
            color="0.6",
            linestyle="--",
            linewidth=1,
            label="unchanged",
        )
        for value, colour, name in (
            (0, _NORMAL_COLOUR, "normal"),
            (1, _ANOMALOUS_COLOUR, "anomalous"),
        ):
            chosen = labels == value
            if chosen.any():
                ax.scatter(
                    old[chosen],
                    new[chosen],
                    s=12,
                    color=colour,
                    alpha=0.75,
                    linewidths=0,
                    label=f"{name} ({int(chosen.sum())})",
                )
        if ring.any():
            ax.scatter(
                old[ring],
                new[ring],
                s=60,
                facecolors="none",
                edgecolors="black",
                linewidths=1,
                label=f"decision flipped ({int(ring.sum())})",
            )
        if images.old_threshold is not None and images.new_threshold is not None:
            ax.axvline(
                images.old_threshold,
                color="0.3",
                linewidth=0.8,
                linestyle=":",
                label="F1-max thresholds",
            )
            ax.axhline(images.new_threshold, color="0.3", linewidth=0.8, linestyle=":")
        ax.set(
            xlim=(low - pad, high + pad),
            ylim=(low - pad, high + pad),
            xlabel="old score",
            ylabel="new score",
        )
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.legend(loc="upper left", fontsize=7)
        ax.set_title(
            f"{item.key}\n{images.matched} images, {len(images.flips)} flipped", fontsize=8
        )
        return _save_png(figure, Path(path))


def diff_plot_name(key: str) -> str:
    """A file name for an item key (``a/b/bottle.json`` → ``a__b__bottle.png``)."""
    stem = key[:-5] if key.endswith(".json") else key
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem.replace("/", "__")).strip("._") or "item"
    return f"{stem}.png"


def write_diff_plots(result: DiffResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """One :func:`write_diff_plot` per item with matched images, into ``out_dir``."""
    written: list[Path] = []
    used: set[str] = set()
    for item in result.items:
        if item.images is None or not item.images.pairs:
            continue
        name = diff_plot_name(item.key)
        base, number = name[:-4], 2
        while name in used:
            name, number = f"{base}-{number}.png", number + 1
        used.add(name)
        path = write_diff_plot(item, Path(out_dir) / name)
        if path is None:
            break
        written.append(path)
    return written
