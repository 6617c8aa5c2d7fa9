"""MVTec AD 2 (``mvtec_ad2``): the public test split with its masks (docs/REFERENCE.md §4).

The layout anomalib 2.7 reads (``anomalib/data/datasets/image/mvtecad2.py``,
``make_mvtec2_dataset`` with ``test_type=TestType.PUBLIC``; datamodule
``anomalib/data/datamodules/image/mvtecad2.py``, ``MVTecAD2``)::

    <root>/<category>/train/good/*.png                  (not read: training images)
    <root>/<category>/validation/good/*.png             not test samples; inferred with pixel
                                                        metrics, for the seg_f1 threshold
    <root>/<category>/test_public/good/*.png            normal test images
    <root>/<category>/test_public/bad/*.png             anomalous test images
    <root>/<category>/test_public/ground_truth/bad/<stem>_mask.png
    <root>/<category>/test_private/, test_private_mixed/   no ground truth: never test samples
                                                        (inferred for --export-submission)

Categories are the sorted sub-directories of ``root`` holding ``test_public/``. Anomalous
samples have ``defect_type="bad"``. As everywhere in pyimgano, a mask is also found as
``<stem>.<ext>`` and in any image extension/case (anomalib requires ``<stem>_mask<suffix>``
and ``.png``); a bad image without a mask gets ``mask_paths=None`` (anomalib raises at load
time; pyimgano only when pixel metrics are asked for). The protocol (``aupro_0.05`` always,
the ``validation/good`` calibration and ``seg_f1``, the server submission) is in
:mod:`pyimgano.protocols`.
"""

from __future__ import annotations

from pyimgano.datasets.base import GOOD, DatasetFormat
from pyimgano.datasets.layouts import LabelFolderLayout, stem_masks

MVTEC_AD2 = LabelFolderLayout(
    name="mvtec_ad2",
    layout="<category>/test_public/{good,bad}/ with masks "
    "<category>/test_public/ground_truth/bad/<stem>_mask.png "
    "(test_private* hold no ground truth and are not test splits)",
    normal_folder=GOOD,
    allowed=frozenset({GOOD, "bad"}),
    masks=stem_masks,
    test_dir="test_public",
    gt_dir="test_public/ground_truth",
    not_labels=frozenset({"ground_truth"}),
)

FORMATS = (DatasetFormat("mvtec_ad2", MVTEC_AD2.list_categories, MVTEC_AD2.load_samples),)
