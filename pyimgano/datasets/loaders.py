"""``load_dataset`` and ``list_categories``: one entry point for every format of SPEC §4."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyimgano.datasets import folder, visa
from pyimgano.datasets.base import Dataset, Sample, sort_samples
from pyimgano.datasets.layouts import BTAD, MVTEC, MVTEC_LOCO
from pyimgano.errors import ConfigError, DatasetError


@dataclass(frozen=True)
class DatasetFormat:
    """A format name with its two functions; ``options`` are the keyword options both take."""

    name: str
    list_categories: Callable[..., list[str]]
    load_samples: Callable[..., list[Sample]]
    options: tuple[str, ...] = ()


FORMATS: dict[str, DatasetFormat] = {
    "mvtec": DatasetFormat("mvtec", MVTEC.list_categories, MVTEC.load_samples),
    "visa": DatasetFormat("visa", visa.list_categories, visa.load_samples, ("layout",)),
    "btad": DatasetFormat("btad", BTAD.list_categories, BTAD.load_samples),
    "mvtec_loco": DatasetFormat("mvtec_loco", MVTEC_LOCO.list_categories, MVTEC_LOCO.load_samples),
    "folder": DatasetFormat(
        "folder",
        folder.list_categories,
        folder.load_samples,
        ("normal_dir", "abnormal_dir", "normal_test_dir", "mask_dir"),
    ),
}


def _format(name: str, options: dict) -> DatasetFormat:
    fmt = FORMATS.get(name) if isinstance(name, str) else None
    if fmt is None:
        raise ConfigError(f"unknown dataset format {name!r}; expected one of {', '.join(FORMATS)}")
    unknown = sorted(set(options) - set(fmt.options))
    if unknown:
        accepted = ", ".join(fmt.options) if fmt.options else "none"
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for dataset format {name!r}; "
            f"accepted: {accepted}"
        )
    return fmt


def _root(root: str | os.PathLike[str]) -> Path:
    if not isinstance(root, (str, os.PathLike)):
        raise ConfigError(f"dataset root must be a path, got {root!r}")
    path = Path(root)
    if not path.exists():
        raise DatasetError(f"dataset root {path} does not exist")
    if not path.is_dir():
        raise DatasetError(f"dataset root {path} is not a directory")
    return path


def list_categories(format: str, root: str | os.PathLike[str], **options: object) -> list[str]:
    """The categories of the dataset at ``root``, sorted; what ``categories: all`` means.

    Discovered from disk: sub-directories of ``root`` holding a ``test`` directory (raw VisA:
    the csv's ``object`` values; ``folder``: ``[root's name]``).

    Raises
    ------
    ConfigError
        Unknown format or option.
    DatasetError
        Missing root, or no category found (the message names the root and the layout).
    """
    fmt = _format(format, options)
    kwargs = {k: v for k, v in options.items() if k in _params(fmt.list_categories)}
    return fmt.list_categories(_root(root), **kwargs)


def load_dataset(
    format: str, root: str | os.PathLike[str], category: str, **options: object
) -> Dataset:
    """The ordered test samples of one category.

    Parameters
    ----------
    format : str
        One of :data:`FORMATS`: ``mvtec``, ``visa``, ``btad``, ``mvtec_loco``, ``folder``.
    root : path
        Dataset root; sample paths are built under it as given (symlinks are not resolved).
    category : str
        A category from :func:`list_categories` (``folder``: any name).
    **options
        Format options: ``visa``: ``layout`` (``auto``/``raw``/``prepared``); ``folder``:
        ``normal_dir``, ``abnormal_dir``, ``normal_test_dir``, ``mask_dir``.

    Returns
    -------
    Dataset
        Normal samples first, then defect types in name order, each by file name.
        Anomalous images without a mask have ``mask_paths=None``; see ``require_masks``.

    Raises
    ------
    ConfigError
        Unknown format or option.
    DatasetError
        Missing root or category (the message lists the categories found), a test folder
        without images, a layout violation. Image files are not opened here.
    """
    fmt = _format(format, options)
    path = _root(root)
    samples = fmt.load_samples(path, category, **options)
    if not samples:
        raise DatasetError(f"{format} category {category!r} under {path} has no test images")
    return Dataset(format=fmt.name, root=path, category=category, samples=sort_samples(samples))


def _params(func: Callable[..., object]) -> set[str]:
    return set(inspect.signature(func).parameters)
