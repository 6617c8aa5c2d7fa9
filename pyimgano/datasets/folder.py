"""anomalib's ``Folder`` vocabulary: a custom dataset described by directories
(docs/REFERENCE.md §4).

Options (each a path or a list of paths; relative paths are relative to ``root``):

- ``normal_dir`` (required): normal images.
- ``abnormal_dir``: anomalous images; ``defect_type`` is the name of the directory an image is
  in, so several abnormal dirs give per-defect metrics.
- ``normal_test_dir``: normal test images. Without it the test normals are the images of
  ``normal_dir`` (anomalib would split off a random part of them, which a regression harness
  cannot reproduce; scoring images a model was trained on is optimistic, so give a
  ``normal_test_dir`` where you have one). The dataset then carries a note saying so
  (``Dataset.notes``, copied into the report) and ``load_dataset`` warns.
- ``mask_dir``: masks of the anomalous images, matched by image stem: ``<stem>_mask.<ext>`` or
  ``<stem>.<ext>``, any image extension, any case. An abnormal image without one gets
  ``mask_paths=None``. Per-defect mask folders are matched by defect: an image of abnormal
  directory ``crack`` takes its mask only from a mask directory named ``crack`` or from
  ``<mask_dir>/crack/`` where such a folder exists (so ``masks/crack/000_mask.png`` and
  ``masks/hole/000_mask.png`` are the masks of ``crack/000.png`` and ``hole/000.png``); else
  from the files directly in the mask directories, where a stem found in two of them is an
  error saying how to disambiguate.

The category is the dataset's name, any string the caller picks; :func:`list_categories`
returns ``[name of root]``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pyimgano.datasets._files import (
    IMAGE_EXTENSIONS,
    MaskIndex,
    list_images,
    list_subdirs,
    require_dir,
)
from pyimgano.datasets.base import ANOMALOUS, GOOD, NORMAL, DatasetFormat, Loaded, Sample
from pyimgano.errors import ConfigError, DatasetError

DirOption = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def _dirs(root: Path, key: str, value: DirOption) -> list[Path]:
    if value is None:
        return []
    items = [value] if isinstance(value, (str, os.PathLike)) else list(value)
    if not all(isinstance(v, (str, os.PathLike)) for v in items):
        raise ConfigError(f"folder option {key}={value!r}: expected a path or a list of paths")
    out = []
    for item in items:
        path = Path(item)
        path = path if path.is_absolute() else root / path
        out.append(require_dir(path, f"folder option {key}:"))
    return out


def _images(directories: list[Path], key: str) -> list[Path]:
    images: list[Path] = []
    for directory in directories:
        found = list_images(directory)
        if not found:
            raise DatasetError(
                f"folder option {key}: {directory} holds no images "
                f"(extensions {', '.join(IMAGE_EXTENSIONS)}, any case)"
            )
        images.extend(found)
    return images


def list_categories(root: Path, **_: object) -> list[str]:
    """``[root's directory name]`` (the category of a folder dataset is its name)."""
    require_dir(root, "folder dataset root")
    return [root.resolve().name or "folder"]


class _FolderMasks:
    """Mask lookup of the ``folder`` format (rules: module docstring)."""

    _ADVICE = (
        "put each defect's masks in a folder named like its abnormal directory "
        "(mask_dir/<defect>/, or a mask_dir named <defect>), or give the masks distinct stems"
    )

    def __init__(self, mask_dirs: list[Path]) -> None:
        self._flat = MaskIndex(mask_dirs, advice=self._ADVICE)
        self._by_defect: dict[str, list[Path]] = {}
        for directory in mask_dirs:
            self._by_defect.setdefault(directory.name, []).append(directory)
            for sub in list_subdirs(directory):
                self._by_defect.setdefault(sub, []).append(directory / sub)
        self._indexes: dict[str, MaskIndex] = {}

    def find(self, image: Path) -> Path | None:
        defect = image.parent.name
        folders = self._by_defect.get(defect)
        if not folders:
            return self._flat.find(image)
        if defect not in self._indexes:
            self._indexes[defect] = MaskIndex(
                folders, advice=f"keep one mask per image stem in {', '.join(map(str, folders))}"
            )
        return self._indexes[defect].find(image)


def load_samples(
    root: Path,
    category: str,
    *,
    normal_dir: DirOption = None,
    abnormal_dir: DirOption = None,
    normal_test_dir: DirOption = None,
    mask_dir: DirOption = None,
) -> Loaded:
    """Test samples: normals from ``normal_test_dir`` (else ``normal_dir``, with a note), then
    abnormals."""
    require_dir(root, "folder dataset root")
    if normal_dir is None:
        raise ConfigError(
            "folder format needs option normal_dir (also: abnormal_dir, normal_test_dir, mask_dir)"
        )
    normal = _dirs(root, "normal_dir", normal_dir)
    normal_test = _dirs(root, "normal_test_dir", normal_test_dir)
    abnormal = _dirs(root, "abnormal_dir", abnormal_dir)
    masks = _FolderMasks(_dirs(root, "mask_dir", mask_dir))
    notes: tuple[str, ...] = ()
    if normal_test:
        normals = _images(normal_test, "normal_test_dir")
    else:
        normals = _images(normal, "normal_dir")
        notes = (
            f"no normal_test_dir: the {len(normals)} normal test images are the normal_dir "
            f"images ({', '.join(map(str, normal))}), which a model is usually trained on; "
            "image metrics are optimistic. Give normal_test_dir to score held-out normals.",
        )
    samples = [Sample(p, NORMAL, None, GOOD) for p in normals]
    for image in _images(abnormal, "abnormal_dir"):
        hit = masks.find(image)
        samples.append(
            Sample(image, ANOMALOUS, (hit,) if hit else None, image.parent.name or "abnormal")
        )
    return Loaded(samples, notes=notes)


FORMATS = (
    DatasetFormat(
        "folder",
        list_categories,
        load_samples,
        ("normal_dir", "abnormal_dir", "normal_test_dir", "mask_dir"),
    ),
)
