"""Loaders for the folder-per-label layouts: ``mvtec``, prepared ``visa``, ``btad``,
``mvtec_loco``, ``mvtec_ad2``, ``mpdd`` (docs/REFERENCE.md §4).

All share one shape: ``<root>/<category>/<test dir>/<label folder>/<image>`` with masks under
``<root>/<category>/<ground-truth dir>/<label folder>/``. They differ in the test and
ground-truth directories, the name of the normal folder, which label folders are allowed and how
an image's mask is found; :class:`LabelFolderLayout` holds those differences. This module
registers ``mvtec`` and ``btad``; the others live in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyimgano.datasets._files import (
    IMAGE_EXTENSIONS,
    MaskIndex,
    check_category_name,
    list_images,
    list_subdirs,
    missing_category,
    no_categories,
    require_dir,
)
from pyimgano.datasets.base import ANOMALOUS, GOOD, NORMAL, DatasetFormat, Sample
from pyimgano.errors import DatasetError

# (ground_truth dir of one label folder) -> (image path -> mask paths or None)
MaskFinder = Callable[[Path], Callable[[Path], tuple[Path, ...] | None]]


def stem_masks(mask_dir: Path) -> Callable[[Path], tuple[Path, ...] | None]:
    """``<mask_dir>/<stem>_mask.<ext>`` or ``<mask_dir>/<stem>.<ext>`` (see MaskIndex)."""
    index = MaskIndex([mask_dir])

    def find(image: Path) -> tuple[Path, ...] | None:
        hit = index.find(image)
        return (hit,) if hit is not None else None

    return find


def folder_masks(mask_dir: Path) -> Callable[[Path], tuple[Path, ...] | None]:
    """MVTec LOCO: every image file in ``<mask_dir>/<stem>/`` (000.png, 001.png, ...)."""

    def find(image: Path) -> tuple[Path, ...] | None:
        folder = mask_dir / image.stem
        if not folder.is_dir():
            return None
        masks = list_images(folder)
        return tuple(masks) or None

    return find


@dataclass(frozen=True)
class LabelFolderLayout:
    """One folder-per-label format.

    Attributes
    ----------
    name : str
        Format name (``mvtec``, ...).
    layout : str
        Human description used in error messages.
    normal_folder : str
        Test sub-folder of normal images; its samples get ``defect_type="good"``.
    allowed : frozenset of str, or None
        Allowed test sub-folders; ``None`` allows any (each is a defect type).
    masks : MaskFinder
        Builds the mask lookup of one ``<ground-truth dir>/<label folder>`` directory.
    test_dir : str
        The category's test directory (``test``; MVTec AD 2: ``test_public``).
    gt_dir : str
        The category's ground-truth directory, relative to the category
        (``ground_truth``; MVTec AD 2: ``test_public/ground_truth``).
    not_labels : frozenset of str
        Sub-folders of the test directory that are not label folders (MVTec AD 2's
        ``ground_truth`` inside ``test_public``).
    """

    name: str
    layout: str
    normal_folder: str
    allowed: frozenset[str] | None
    masks: MaskFinder
    test_dir: str = "test"
    gt_dir: str = "ground_truth"
    not_labels: frozenset[str] = frozenset()

    def categories_on_disk(self, root: Path) -> list[str]:
        """Sorted sub-directories of ``root`` that hold the test directory (maybe none)."""
        return [d for d in list_subdirs(root) if (root / d / self.test_dir).is_dir()]

    def list_categories(self, root: Path) -> list[str]:
        """Sorted sub-directories of ``root`` that hold the test directory."""
        require_dir(root, f"{self.name} dataset root")
        found = self.categories_on_disk(root)
        if not found:
            raise no_categories(root, self.name, self.layout)
        return found

    def load_samples(self, root: Path, category: str) -> list[Sample]:
        """Test samples of ``category`` (unsorted; the caller sorts)."""
        require_dir(root, f"{self.name} dataset root")
        check_category_name(category, root)
        test_dir = root / category / self.test_dir
        if not test_dir.is_dir():
            raise missing_category(
                root,
                category,
                f"directory {test_dir} ({self.layout})",
                self.categories_on_disk(root),
                self.name,
            )
        folders = [f for f in list_subdirs(test_dir) if f not in self.not_labels]
        if not folders:
            raise DatasetError(f"test directory {test_dir} holds no label folders ({self.layout})")
        if self.allowed is not None:
            unexpected = [f for f in folders if f not in self.allowed]
            if unexpected:
                raise DatasetError(
                    f"unexpected folder(s) {', '.join(unexpected)} in {test_dir}: "
                    f"{self.name} test folders are {', '.join(sorted(self.allowed))}"
                )
        samples: list[Sample] = []
        for folder in folders:
            images = list_images(test_dir / folder)
            if not images:
                raise DatasetError(
                    f"test folder {test_dir / folder} holds no images "
                    f"(extensions {', '.join(IMAGE_EXTENSIONS)}, any case)"
                )
            if folder == self.normal_folder:
                samples.extend(Sample(p, NORMAL, None, GOOD) for p in images)
                continue
            find = self.masks(root / category / self.gt_dir / folder)
            samples.extend(Sample(p, ANOMALOUS, find(p), folder) for p in images)
        return samples


MVTEC = LabelFolderLayout(
    name="mvtec",
    layout="<category>/test/{good,<defect>}/ with masks "
    "<category>/ground_truth/<defect>/<stem>_mask.png",
    normal_folder=GOOD,
    allowed=None,
    masks=stem_masks,
)

VISA_PREPARED = LabelFolderLayout(
    name="visa",
    layout="<category>/test/{good,bad}/ with masks <category>/ground_truth/bad/<stem>.png "
    "(anomalib's prepared VisA), or split_csv/1cls.csv (raw VisA)",
    normal_folder=GOOD,
    allowed=frozenset({GOOD, "bad"}),
    masks=stem_masks,
)

BTAD = LabelFolderLayout(
    name="btad",
    layout="<category>/test/{ok,ko}/ with masks <category>/ground_truth/ko/<stem>.png",
    normal_folder="ok",
    allowed=frozenset({"ok", "ko"}),
    masks=stem_masks,
)

MVTEC_LOCO = LabelFolderLayout(
    name="mvtec_loco",
    layout="<category>/test/{good,logical_anomalies,structural_anomalies}/ with masks "
    "<category>/ground_truth/<type>/<stem>/000.png, 001.png, ...",
    normal_folder=GOOD,
    allowed=None,
    masks=folder_masks,
)


FORMATS = (
    DatasetFormat("mvtec", MVTEC.list_categories, MVTEC.load_samples),
    DatasetFormat("btad", BTAD.list_categories, BTAD.load_samples),
)
