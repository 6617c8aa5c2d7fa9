"""``pyimgano-diff --plots``: old against new per-image scores of each diff item, one PNG each."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pyimgano.plots import png

if TYPE_CHECKING:
    from pyimgano.diff.result import DiffResult, ItemDiff


def write_diff_plot(item: ItemDiff, path: str | os.PathLike[str]) -> Path | None:
    """Scatter of old against new per-image scores of one diff item, written to ``path``.

    Flipped decisions are ringed; the F1-max thresholds are drawn when flips were decided
    there. ``None`` when the item has no matched images or matplotlib is missing.
    """
    images = item.images
    if images is None or not images.pairs:
        return None
    matplotlib = png.load_matplotlib()
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
    with png.new_figure(matplotlib, 4.8, 4.6) as figure:
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
            (0, png.NORMAL_COLOUR, "normal"),
            (1, png.ANOMALOUS_COLOUR, "anomalous"),
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
        return png.save_png(figure, Path(path))


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

