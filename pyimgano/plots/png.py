"""Figures and PNG files for the plots: matplotlib loaded lazily (optional), a Figure under
matplotlib's default style, the shared colours and titles, and 256-colour PNGs written
atomically (deterministic for one matplotlib/Pillow version).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.evaluation import Evaluation
from pyimgano.report import staged_file

DPI = 100

#: Colours shared by the plots: normal images, anomalous images and the anomalous curve, pixels.
NORMAL_COLOUR = "#1f77b4"
ANOMALOUS_COLOUR = "#d62728"
PIXEL_COLOUR = "#2ca02c"
_MISSING = "matplotlib is not installed: no plots are drawn (pip install 'pyimgano[plots]')"


def load_matplotlib() -> Any | None:
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
def new_figure(matplotlib: Any, width: float, height: float) -> Iterator[Any]:
    """A Figure under matplotlib's default style (rcParams restored afterwards)."""
    from matplotlib.figure import Figure

    with matplotlib.style.context("default"):
        yield Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save_png(figure: Any, path: Path) -> Path:
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


def title(evaluation: Evaluation, what: str) -> str:
    """``<model> · <category> · <what>``, the first line of a report plot's title."""
    model = evaluation.report.model.get("name") or "model"
    return f"{model} · {evaluation.dataset.category} · {what}"

