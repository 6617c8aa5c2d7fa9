"""Kolektor Surface-Defect Dataset (``kolektor``) as anomalib 2.7 splits it (docs/REFERENCE.md §4).

The layout and split anomalib 2.7 reads (``anomalib/data/datasets/image/kolektor.py``,
``make_kolektor_dataset`` and ``is_mask_anomalous``; datamodule
``anomalib/data/datamodules/image/kolektor.py``, ``Kolektor``)::

    <root>/kos01/Part0.jpg
    <root>/kos01/Part0_label.bmp        the image's mask; all zero for a defect-free part
    <root>/kos02/...

- The dataset has no categories: its one category is ``kolektor``.
- An image is a ``.jpg`` file in an item directory (``kos01`` ...) directly under ``root``;
  its mask is ``<stem>_label.bmp`` beside it. Suffixes are matched exactly as anomalib does
  (a ``.JPG`` is not an image of this format: counting it would change anomalib's split).
  The label comes from the mask: anomalous where any pixel is non-zero (anomalib's
  ``is_mask_anomalous``), so every mask is read at load time, and an image without its mask
  is an error.
- Test split (anomalib's): every anomalous image, plus the normal images that
  ``sklearn.model_selection.train_test_split(goods, train_size=0.8, random_state=42)`` puts in
  the test part, where ``goods`` are the normal images sorted by their path string. That split
  is reproduced here without sklearn: ``n_train = floor(0.8 * n)``, the test part is the first
  ``n - n_train`` entries of ``numpy.random.RandomState(42).permutation(n)`` (sklearn's
  ``ShuffleSplit``; the test suite checks it against sklearn itself). Fewer than two normal
  images leave anomalib's split empty and are an error.
- Anomalous samples have ``defect_type="bad"``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pyimgano.datasets._files import (
    check_category_name,
    list_subdirs,
    missing_category,
    no_categories,
    require_dir,
)
from pyimgano.datasets.base import ANOMALOUS, GOOD, NORMAL, DatasetFormat, Sample
from pyimgano.datasets.masks import read_mask
from pyimgano.errors import DatasetError

CATEGORY = "kolektor"
TRAIN_SIZE = 0.8
SEED = 42
LAYOUT = "<root>/<item>/<name>.jpg with masks <root>/<item>/<name>_label.bmp (KolektorSDD)"


def _items(root: Path) -> list[Path]:
    """Item directories directly under ``root`` that hold at least one ``.jpg``."""
    return [root / d for d in list_subdirs(root) if _jpgs(root / d)]


def _jpgs(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix == ".jpg" and not p.name.startswith(".") and p.is_file()
    )


def _mask_of(image: Path) -> Path:
    mask = image.parent / f"{image.stem}_label.bmp"
    if not mask.is_file():
        raise DatasetError(
            f"kolektor image {image} has no mask {mask}: every KolektorSDD image needs its "
            "<name>_label.bmp, whose content gives the label (all zero: defect-free)"
        )
    return mask


def list_categories(root: Path) -> list[str]:
    """``["kolektor"]`` when ``root`` holds KolektorSDD item directories."""
    require_dir(root, "kolektor dataset root")
    if not _items(root):
        raise no_categories(root, "kolektor", LAYOUT)
    return [CATEGORY]


def normal_test_indices(n_normal: int) -> list[int]:
    """Positions (in path order) of the normal images anomalib's 80/20 split tests on.

    Raises
    ------
    DatasetError
        Fewer than two normal images (the split's train part would be empty).
    """
    n_train = math.floor(TRAIN_SIZE * n_normal)
    if n_train == 0:
        raise DatasetError(
            f"kolektor needs at least 2 defect-free images for anomalib's 80/20 split, "
            f"found {n_normal}"
        )
    permutation = np.random.RandomState(SEED).permutation(n_normal)
    return sorted(int(i) for i in permutation[: n_normal - n_train])


def load_samples(root: Path, category: str) -> list[Sample]:
    """Test samples: every anomalous image and anomalib's test part of the normal ones."""
    require_dir(root, "kolektor dataset root")
    check_category_name(category, root)
    items = _items(root)
    if category != CATEGORY or not items:
        raise missing_category(
            root,
            category,
            f"the single category {CATEGORY!r} ({LAYOUT})",
            [CATEGORY] if items else [],
            "kolektor",
        )
    normals: list[Path] = []
    samples: list[Sample] = []
    for image in sorted((p for item in items for p in _jpgs(item)), key=str):
        mask = _mask_of(image)
        if read_mask(mask).any():
            samples.append(Sample(image, ANOMALOUS, (mask,), "bad"))
        else:
            normals.append(image)
    if normals:
        chosen = normal_test_indices(len(normals))
        samples.extend(Sample(normals[i], NORMAL, None, GOOD) for i in chosen)
    return samples


FORMATS = (DatasetFormat("kolektor", list_categories, load_samples),)
