"""Dataset loaders (docs/REFERENCE.md §4): ordered test samples with labels, masks and a
fingerprint.

Public API::

    load_dataset(format, root, category, **options) -> Dataset
    list_categories(format, root, **options) -> list[str]
    check_category(format, root, category, **options)   # cheap; DatasetError for a typo
    require_masks(dataset)            # DatasetError if an anomalous image has no mask
    load_mask(sample, image_size=None) -> bool array (H, W)   (pyimgano.datasets.masks)
    synthetic.generate(root, categories, seed, size, ...) -> Path
    loco.load_defects(dataset, sample) -> list[loco.Defect]   (MVTec LOCO defects_config.json)

Formats: ``mvtec``, ``btad`` (``layouts``), ``visa``, ``mvtec_loco`` (``loco``), ``folder``,
``mvtec_ad2``, ``realiad``, ``mpdd``, ``kolektor``: one module each, listed in
``loaders.FORMAT_MODULES``; each module's docstring gives its layout and the anomalib 2.7
source it follows.

Rules where docs/REFERENCE.md §4 is silent (also in docs):

- Only test samples are loaded. Order: normal images first, then defect types in name order,
  each by file name.
- Image files: extensions .png .jpg .jpeg .bmp .tif .tiff in any case. Hidden entries (name
  starting with ``.``), sub-directories and non-image files inside image folders are ignored.
  A test label folder without images is an error.
- Masks of image stem ``S``: ``S_mask.<ext>`` or else ``S.<ext>`` in the format's mask
  directory (MVTec LOCO: every image in ``ground_truth/<type>/S/``). No mask file: the sample
  has ``mask_paths=None``; only ``require_masks``/``load_mask`` turn that into an error.
- Normal samples have ``defect_type="good"``; anomalous ones the label folder's name
  (``bad`` for VisA, MVTec AD 2 and Kolektor, ``ko`` for BTAD, the abnormal dir's name for
  ``folder``, the JSON ``anomaly_class`` for Real-IAD).
- Bad arguments (unknown format or option) raise ``ConfigError``; anything about the files on
  disk raises ``DatasetError``. Neither imports torch or anomalib.
"""

from __future__ import annotations

from pyimgano.datasets._files import IMAGE_EXTENSIONS
from pyimgano.datasets.base import (
    Dataset,
    DatasetFormat,
    Loaded,
    Sample,
    file_sha256,
    fingerprint_samples,
    require_masks,
)
from pyimgano.datasets.loaders import FORMATS, check_category, list_categories, load_dataset
from pyimgano.datasets.masks import image_size, load_mask, read_mask

__all__ = [
    "FORMATS",
    "IMAGE_EXTENSIONS",
    "Dataset",
    "DatasetFormat",
    "Loaded",
    "Sample",
    "check_category",
    "file_sha256",
    "fingerprint_samples",
    "image_size",
    "list_categories",
    "load_dataset",
    "load_mask",
    "read_mask",
    "require_masks",
]
