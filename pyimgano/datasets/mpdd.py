"""MPDD (``mpdd``): the MVTec AD tree of the Metal Parts Defect Detection dataset
(docs/REFERENCE.md §4).

The layout anomalib 2.7 reads (``anomalib/data/datasets/image/mpdd.py``,
``make_mpdd_dataset``; datamodule ``anomalib/data/datamodules/image/mpdd.py``, ``MPDD``)::

    <root>/<category>/train/good/*.png                  (not read: training images)
    <root>/<category>/test/good/*.png                   normal test images
    <root>/<category>/test/<defect>/*.png               anomalous, defect_type=<defect>
    <root>/<category>/ground_truth/<defect>/<stem>_mask.png

anomalib pairs sorted images with sorted masks by position and checks that each image stem is
contained in its mask's stem (``000.png`` with ``000_mask.png``); pyimgano matches each image
to ``<stem>_mask.<ext>`` (or ``<stem>.<ext>``) in its defect's folder, which gives the same
pairs on a well-formed tree and ``mask_paths=None`` instead of a shifted pairing when one mask
is missing. Categories are the sorted sub-directories of ``root`` holding ``test/``.
"""

from __future__ import annotations

from pyimgano.datasets.base import GOOD, DatasetFormat
from pyimgano.datasets.layouts import LabelFolderLayout, stem_masks

MPDD = LabelFolderLayout(
    name="mpdd",
    layout="<category>/test/{good,<defect>}/ with masks "
    "<category>/ground_truth/<defect>/<stem>_mask.png",
    normal_folder=GOOD,
    allowed=None,
    masks=stem_masks,
)

FORMATS = (DatasetFormat("mpdd", MPDD.list_categories, MPDD.load_samples),)
