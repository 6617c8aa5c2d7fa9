"""File-system helpers shared by the format loaders (listing rules live here, once).

Listing rules (documented in ``pyimgano.datasets``):

- An image file is a regular file (or a symlink to one) whose extension is one of
  :data:`IMAGE_EXTENSIONS`, compared case-insensitively (``.JPG`` == ``.jpg``).
- Entries whose name starts with ``.`` are hidden and ignored; so are sub-directories and
  non-image files inside image folders (``Thumbs.db``, ``README.txt``).
- An image-named entry that does not resolve to a file (a dangling symlink) is an error.
- Listings are sorted by file name (Python string order), so results never depend on the
  order the file system returns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from pyimgano.errors import DatasetError

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def is_image_name(name: str) -> bool:
    """True when ``name`` is not hidden and has an image extension (any case)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _entries(directory: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except FileNotFoundError as exc:
        raise DatasetError(f"directory {directory} does not exist") from exc
    except NotADirectoryError as exc:
        raise DatasetError(f"{directory} is not a directory") from exc
    except OSError as exc:
        raise DatasetError(f"cannot list directory {directory}: {exc}") from exc


def list_images(directory: Path) -> list[Path]:
    """Image files directly inside ``directory``, sorted by name (rules: module docstring)."""
    images = []
    for entry in _entries(directory):
        if not is_image_name(entry.name):
            continue
        path = directory / entry.name
        if entry.is_dir():
            continue
        if not entry.is_file():
            raise DatasetError(f"image entry {path} is not a readable file (dangling symlink?)")
        images.append(path)
    return images


def list_subdirs(directory: Path) -> list[str]:
    """Names of the non-hidden sub-directories (symlinks to directories count), sorted."""
    return [e.name for e in _entries(directory) if not e.name.startswith(".") and e.is_dir()]


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a directory, else raise DatasetError naming ``what``."""
    if not path.exists():
        raise DatasetError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise DatasetError(f"{what} {path} is not a directory")
    return path


def check_category_name(category: object, root: Path) -> str:
    """A category is one path component: not empty, no separators, not ``.``/``..``."""
    if (
        not isinstance(category, str)
        or not category
        or category in (".", "..")
        or "/" in category
        or "\\" in category
    ):
        raise DatasetError(
            f"category {category!r} under {root} must be a directory name (no path separators)"
        )
    return category


def missing_category(
    root: Path, category: str, expected: str, found: Sequence[str], fmt: str
) -> DatasetError:
    """The error for a category that is not on disk; lists the categories that are.

    ``category 'plates' not in dataset mvtec at <root> (found: disk, plate, tiles): expected
    <what the layout needs>``.
    """
    hint = " ('all' is expanded by callers through list_categories)" if category == "all" else ""
    listing = ", ".join(found) if found else "none"
    return DatasetError(
        f"category {category!r} not in dataset {fmt} at {root} (found: {listing}): "
        f"expected {expected}{hint}"
    )


def no_categories(root: Path, fmt: str, layout: str) -> DatasetError:
    return DatasetError(f"no {fmt} categories found under {root}: expected {layout}")


class MaskIndex:
    """Look up the mask file of an image by stem in one or more mask directories.

    A mask for image stem ``S`` is ``S_mask.<ext>`` or else ``S.<ext>``, with ``<ext>`` any image
    extension (any case). Several files at the same priority (``000.png`` and ``000.bmp``, or
    ``000_mask.png`` in two of the directories) are an error naming them and ``advice``.
    Missing directories index nothing.
    """

    def __init__(
        self, directories: Iterable[Path], advice: str = "keep one mask per image"
    ) -> None:
        self._by_stem: dict[str, list[Path]] = {}
        self._advice = advice
        for directory in directories:
            if not directory.is_dir():
                continue
            for path in list_images(directory):
                self._by_stem.setdefault(path.stem, []).append(path)

    def find(self, image: Path) -> Path | None:
        for key in (f"{image.stem}_mask", image.stem):
            hits = self._by_stem.get(key)
            if not hits:
                continue
            if len(hits) > 1:
                names = ", ".join(str(h) for h in hits)
                raise DatasetError(
                    f"several mask files match image {image}: {names}; {self._advice}"
                )
            return hits[0]
        return None
