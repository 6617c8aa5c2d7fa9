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

from pyimgano.metrics._curves import CURVE_CELLS, thin_curve
from pyimgano.plots.curves import DEFAULT_AUPRO_LIMIT
from pyimgano.plots.diff_scatter import diff_plot_name, write_diff_plot, write_diff_plots
from pyimgano.plots.png import DPI
from pyimgano.plots.worst import (
    HEAT_ALPHA,
    HEAT_CMAP,
    HIGHEST_NORMAL,
    LOWEST_ANOMALOUS,
    MAX_WORST,
    WorstPanel,
    verdict,
    worst_indices,
    worst_panels,
)
from pyimgano.plots.write import PLOT_KINDS, plot_path, write_plots

__all__ = [
    "CURVE_CELLS",
    "DEFAULT_AUPRO_LIMIT",
    "DPI",
    "HEAT_ALPHA",
    "HEAT_CMAP",
    "HIGHEST_NORMAL",
    "LOWEST_ANOMALOUS",
    "MAX_WORST",
    "PLOT_KINDS",
    "WorstPanel",
    "diff_plot_name",
    "plot_path",
    "thin_curve",
    "verdict",
    "worst_indices",
    "worst_panels",
    "write_diff_plot",
    "write_diff_plots",
    "write_plots",
]
