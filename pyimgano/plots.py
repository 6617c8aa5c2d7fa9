"""Pictures beside a report: ROC/PRO curves and overlays of the worst misses (SPEC §6).

Files, named from the report's stem (``bottle.json`` → ``bottle.*.png``):

- ``<stem>.roc.png``: image-level ROC with the AUROC in the legend, and the checkpoint's own
  decision point where it gives ``pred_label`` (only with both classes present);
- ``<stem>.pro.png``: the full PRO curve up to FPR 1 with the AU-PRO limit marked (only when
  the report has a defined ``aupro`` and every image has a map);
- ``<stem>.worst.png``: the anomalous images with the lowest scores (worst misses) and the
  normal images with the highest scores (worst false alarms), up to 4 each: the image, its
  anomaly map (aligned to the image with :func:`~pyimgano.alignment.align_map`) as a heat
  overlay on one colour scale for the whole evaluation (opacity grows with the value, so
  low-scored regions show the image), and the ground-truth mask's contour.

The PRO plot recomputes the exact curve with :func:`pyimgano.metrics.pro_curve` (the metrics do
not keep it), which costs about as much as the pixel metrics themselves; points are thinned to
about ``MAX_CURVE_POINTS`` for drawing only.

:func:`write_diff_plot` draws old against new per-image scores of one diff item.

matplotlib is optional: without it nothing is drawn, the functions return ``[]``/``None`` and
warn. Figures are :class:`matplotlib.figure.Figure` objects rendered by ``FigureCanvasAgg``
under matplotlib's default style (pyplot and the user's rcParams are never touched), then
stored as 256-colour PNGs (Pillow's fast-octree quantiser, no dithering, no timestamps):
deterministic for one matplotlib/Pillow version, and small (tens of KB; the overlays ~50-100 KB).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pyimgano.evaluation import Evaluation

if TYPE_CHECKING:
    from pyimgano.diff.compare import DiffResult, ItemDiff

#: Worst misses and worst false alarms shown, each.
MAX_WORST = 4
#: AU-PRO limit assumed when the evaluation does not say which one it used.
DEFAULT_AUPRO_LIMIT = 0.3
#: Curves with more points are thinned (for drawing only) to about this many.
MAX_CURVE_POINTS = 4000
DPI = 100
#: Opacity of the heat overlay at the top of the map scale (0 at its bottom).
HEAT_ALPHA = 0.7
HEAT_CMAP = "jet"

_NORMAL_COLOUR = "#1f77b4"
_ANOMALOUS_COLOUR = "#d62728"
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
    path.parent.mkdir(parents=True, exist_ok=True)
    # not mkstemp: its 0600 mode would survive the rename; this file gets the umask's mode
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as stream:
            image.save(stream, format="PNG", optimize=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def plot_path(report_path: str | os.PathLike[str], kind: str) -> Path:
    """``<dir>/<stem>.<kind>.png`` beside a report."""
    path = Path(report_path)
    return path.with_name(f"{path.stem}.{kind}.png")


def _thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_CURVE_POINTS) -> tuple[np.ndarray, ...]:
    """At most about ``limit`` points of a monotone curve, for drawing (ends kept)."""
    if x.size <= limit:
        return x, y
    grid = np.linspace(0.0, 1.0, limit)
    keep = np.unique(np.concatenate(([0], np.searchsorted(x, grid), [x.size - 1])))
    keep = keep[keep < x.size]
    return x[keep], y[keep]


def _title(evaluation: Evaluation, what: str) -> str:
    model = evaluation.report.model.get("name") or "model"
    return f"{model} · {evaluation.dataset.category} · {what}"


# ------------------------------------------------------------------------------------------
# curves


def _roc_plot(matplotlib: Any, evaluation: Evaluation, path: Path) -> Path | None:
    from pyimgano.metrics import roc_curve

    labels = np.asarray([s.label for s in evaluation.dataset], dtype=np.int64)
    scores = np.asarray([p.score for p in evaluation.predictions], dtype=np.float64)
    n_pos = int(labels.sum())
    n_neg = int(labels.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return None
    fpr, tpr, _ = roc_curve(labels, scores)
    fpr, tpr = _thin(fpr, tpr)
    metrics = evaluation.report.metrics
    auroc = metrics.get("image_auroc")
    with _figure(matplotlib, 4.6, 4.4) as figure:
        ax = figure.add_subplot()
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="chance")
        label = "ROC" if auroc is None else f"ROC, AUROC = {auroc:.4f}"
        ax.plot(fpr, tpr, color=_ANOMALOUS_COLOUR, linewidth=1.6, label=label)
        miss, reject = metrics.get("image_miss_rate"), metrics.get("image_false_reject_rate")
        if miss is not None and reject is not None:
            ax.plot(
                [reject],
                [1.0 - miss],
                marker="o",
                color="black",
                linestyle="none",
                label="checkpoint's pred_label",
            )
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1.01),
            xlabel="false positive rate (normal images)",
            ylabel="true positive rate (anomalous images)",
        )
        ax.set_aspect("equal")
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(
            f"{_title(evaluation, 'image ROC')}\n{n_neg} normal, {n_pos} anomalous", fontsize=9
        )
        return _save_png(figure, path)


def _aligned_maps_and_masks(
    evaluation: Evaluation,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from pyimgano.alignment import align_map
    from pyimgano.datasets.masks import load_mask

    masks = [load_mask(sample) for sample in evaluation.dataset]
    maps = [
        align_map(p.anomaly_map, m.shape, image=str(s.image_path))  # type: ignore[arg-type]
        for p, m, s in zip(evaluation.predictions, masks, evaluation.dataset, strict=True)
    ]
    return maps, masks


def _pro_plot(matplotlib: Any, evaluation: Evaluation, path: Path) -> Path | None:
    from pyimgano.metrics import pro_curve

    aupro = evaluation.report.metrics.get("aupro")
    if aupro is None or any(p.anomaly_map is None for p in evaluation.predictions):
        return None
    limit = float(getattr(evaluation, "aupro_limit", None) or DEFAULT_AUPRO_LIMIT)
    maps, masks = _aligned_maps_and_masks(evaluation)
    fpr, pro = pro_curve(maps, masks)
    fpr, pro = _thin(fpr, pro)
    with _figure(matplotlib, 4.6, 4.4) as figure:
        ax = figure.add_subplot()
        ax.plot(fpr, pro, color=_ANOMALOUS_COLOUR, linewidth=1.6, label="PRO curve")
        inside = fpr <= limit
        x_fill = np.append(fpr[inside], limit)
        y_fill = np.append(pro[inside], np.interp(limit, fpr, pro))
        ax.fill_between(
            x_fill,
            y_fill,
            color=_ANOMALOUS_COLOUR,
            alpha=0.15,
            label=f"AU-PRO (FPR ≤ {limit:g}) = {aupro:.4f}",
        )
        ax.axvline(
            limit, color="black", linestyle="--", linewidth=1, label=f"integration limit {limit:g}"
        )
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1.01),
            xlabel="false positive rate (normal pixels)",
            ylabel="per-region overlap",
        )
        ax.set_aspect("equal")
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title(_title(evaluation, "pixel PRO"), fontsize=9)
        return _save_png(figure, path)


# ------------------------------------------------------------------------------------------
# worst misses


def worst_indices(
    labels: Sequence[int], scores: Sequence[float], count: int = MAX_WORST
) -> tuple[list[int], list[int]]:
    """Indices of the lowest-scored anomalous and the highest-scored normal images.

    Ties keep dataset order. Returns ``(misses, false_alarms)``.
    """
    label_array = np.asarray(labels)
    score_array = np.asarray(scores, dtype=np.float64)
    anomalous = np.flatnonzero(label_array == 1)
    normal = np.flatnonzero(label_array == 0)
    misses = anomalous[np.argsort(score_array[anomalous], kind="stable")][:count]
    alarms = normal[np.argsort(-score_array[normal], kind="stable")][:count]
    return [int(i) for i in misses], [int(i) for i in alarms]


def _map_range(evaluation: Evaluation) -> tuple[float, float] | None:
    maps = [p.anomaly_map for p in evaluation.predictions if p.anomaly_map is not None]
    if not maps:
        return None
    low = min(float(np.min(m)) for m in maps)
    high = max(float(np.max(m)) for m in maps)
    return (low, high if high > low else low + 1.0)


def _panel(
    ax: Any,
    evaluation: Evaluation,
    index: int,
    scale: tuple[float, float] | None,
    heading: str,
    colormap: Any,
) -> None:
    from PIL import Image

    from pyimgano.alignment import align_map
    from pyimgano.datasets.masks import load_mask
    from pyimgano.errors import DatasetError

    sample = evaluation.dataset[index]
    prediction = evaluation.predictions[index]
    with Image.open(sample.image_path) as opened:
        image = np.asarray(opened.convert("RGB"))
    ax.imshow(image, interpolation="antialiased")
    if prediction.anomaly_map is not None and scale is not None:
        heat = align_map(prediction.anomaly_map, image.shape[:2], image=str(sample.image_path))
        level = np.clip((np.asarray(heat, np.float64) - scale[0]) / (scale[1] - scale[0]), 0, 1)
        overlay = colormap(level)
        overlay[..., 3] = HEAT_ALPHA * level  # low scores stay transparent: the image shows
        ax.imshow(overlay, interpolation="antialiased")
    if sample.mask_paths:
        try:
            mask = load_mask(sample, image.shape[:2])
        except DatasetError:
            mask = None
        if mask is not None and mask.any():
            outline = mask.astype(np.float32)
            ax.contour(outline, levels=[0.5], colors="black", linewidths=2.2)
            ax.contour(outline, levels=[0.5], colors="white", linewidths=1.0)
    name = f"{sample.defect_type}/{Path(sample.image_path).name}"
    ax.set_title(f"{heading} {name}\nscore {prediction.score:.4g}", fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def _worst_plot(matplotlib: Any, evaluation: Evaluation, path: Path) -> Path | None:
    labels = [s.label for s in evaluation.dataset]
    scores = [p.score for p in evaluation.predictions]
    misses, alarms = worst_indices(labels, scores)
    rows = [
        (heading, found)
        for heading, found in (("missed", misses), ("false alarm", alarms))
        if found
    ]
    if not rows:
        return None
    columns = max(len(found) for _, found in rows)
    scale = _map_range(evaluation)
    colormap = matplotlib.colormaps[HEAT_CMAP]
    with _figure(matplotlib, 2.0 * columns + 0.6, 2.3 * len(rows) + 0.5) as figure:
        axes = figure.subplots(len(rows), columns, squeeze=False)
        for row, (heading, found) in enumerate(rows):
            for column in range(columns):
                ax = axes[row][column]
                if column < len(found):
                    _panel(ax, evaluation, found[column], scale, heading, colormap)
                else:
                    ax.set_axis_off()
        if scale is not None:
            from matplotlib.cm import ScalarMappable
            from matplotlib.colors import Normalize

            bar = figure.colorbar(
                ScalarMappable(Normalize(*scale), colormap), ax=axes, shrink=0.7, aspect=30
            )
            bar.set_label("anomaly map (one scale for all images)", fontsize=7)
            bar.ax.tick_params(labelsize=6)
        figure.suptitle(
            f"{_title(evaluation, 'worst images')}\nmissed: anomalous images with the lowest "
            "scores; false alarm: normal images with the highest scores; ground truth outlined",
            fontsize=8,
        )
        return _save_png(figure, path)


def write_plots(evaluation: Evaluation, report_path: Path) -> list[Path]:
    """Draw the report's pictures beside ``report_path``; returns the files written.

    Call after the report is written (plots never count in ``timing``). Returns ``[]`` with a
    warning when matplotlib is not installed.
    """
    matplotlib = _matplotlib()
    if matplotlib is None:
        return []
    written = []
    for kind, draw in (("roc", _roc_plot), ("pro", _pro_plot), ("worst", _worst_plot)):
        result = draw(matplotlib, evaluation, plot_path(report_path, kind))
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
