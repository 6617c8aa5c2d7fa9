"""``load_dataset``, ``list_categories``, ``check_category``: one entry point for every format
of docs/REFERENCE.md §4."""

from __future__ import annotations

import importlib
import inspect
import os
import warnings
from collections.abc import Callable
from pathlib import Path

from pyimgano.datasets.base import Dataset, DatasetFormat, Loaded, sort_samples
from pyimgano.errors import ConfigError, DatasetError

#: The modules of ``pyimgano.datasets`` that define formats (each exposes ``FORMATS``, a tuple
#: of :class:`DatasetFormat`), in the order formats are listed. Adding a layout is one module
#: plus its name here.
FORMAT_MODULES: tuple[str, ...] = (
    "layouts",  # mvtec, btad
    "visa",
    "loco",  # mvtec_loco
    "folder",
    "mvtec_ad2",
    "realiad",
    "mpdd",
    "kolektor",
)


def _collect(modules: tuple[str, ...]) -> dict[str, DatasetFormat]:
    found: dict[str, DatasetFormat] = {}
    for name in modules:
        module = importlib.import_module(f"pyimgano.datasets.{name}")
        for fmt in module.FORMATS:
            if fmt.name in found:
                raise RuntimeError(f"dataset format {fmt.name!r} is defined twice")
            found[fmt.name] = fmt
    return found


#: Format name -> :class:`DatasetFormat`: ``mvtec``, ``btad``, ``visa``, ``mvtec_loco``,
#: ``folder``, ``mvtec_ad2``, ``realiad``, ``mpdd``, ``kolektor``.
FORMATS: dict[str, DatasetFormat] = _collect(FORMAT_MODULES)


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

    Discovered from disk: sub-directories of ``root`` holding the format's test layout
    (``test/``; ``mvtec_ad2``: ``test_public/``; ``realiad``: ``realiad_<resolution>/<cat>/``
    with its JSON split file; raw VisA: the csv's ``object`` values; ``folder``: ``[root's
    name]``; ``kolektor``: ``["kolektor"]``).

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
        One of :data:`FORMATS`: ``mvtec``, ``visa``, ``btad``, ``mvtec_loco``, ``folder``,
        ``mvtec_ad2``, ``realiad``, ``mpdd``, ``kolektor``.
    root : path
        Dataset root; sample paths are built under it as given (symlinks are not resolved).
    category : str
        A category from :func:`list_categories` (``folder``: any name).
    **options
        Format options: ``visa``: ``layout`` (``auto``/``raw``/``prepared``); ``folder``:
        ``normal_dir``, ``abnormal_dir``, ``normal_test_dir``, ``mask_dir``; ``realiad``:
        ``resolution``, ``json_path``.

    Returns
    -------
    Dataset
        Normal samples first, then defect types in name order, each by file name.
        Anomalous images without a mask have ``mask_paths=None``; see ``require_masks``.
        ``Dataset.notes`` holds caveats for the report (each also issued as a
        ``UserWarning``); ``Dataset.defects_config_path`` MVTec LOCO's defects config.

    Raises
    ------
    ConfigError
        Unknown format or option.
    DatasetError
        Missing root or category (the message lists the categories found), a test folder
        without images, a layout violation. Image files are not opened here (``kolektor``
        reads its masks: they give the labels).
    """
    fmt = _format(format, options)
    path = _root(root)
    loaded = fmt.load_samples(path, category, **options)
    if not isinstance(loaded, Loaded):
        loaded = Loaded(list(loaded))
    if not loaded.samples:
        raise DatasetError(f"{format} category {category!r} under {path} has no test images")
    for note in loaded.notes:
        warnings.warn(f"{format} dataset at {path}: {note}", UserWarning, stacklevel=2)
    return Dataset(
        format=fmt.name,
        root=path,
        category=category,
        samples=sort_samples(loaded.samples),
        notes=loaded.notes,
        defects_config_path=loaded.defects_config_path,
        facts=dict(loaded.facts),
    )


def check_category(
    format: str, root: str | os.PathLike[str], category: str, **options: object
) -> None:
    """Raise unless ``category`` is a category of the dataset at ``root``; cheap, reads no image.

    For callers that must report a misspelt category before anything else (checkpoint paths,
    pins): ``category 'plates' not in dataset mvtec at <root> (found: disk, plate, tiles): ...``,
    the same error :func:`load_dataset` gives. ``folder`` accepts any name.

    Raises
    ------
    ConfigError
        Unknown format or option.
    DatasetError
        Missing root, no category at all, or ``category`` not among them.
    """
    fmt = _format(format, options)
    path = _root(root)
    if fmt.name == "folder":
        return
    found = list_categories(format, path, **options)
    if category in found:
        return
    # the format's own loader names what it expected; it fails before reading any image
    fmt.load_samples(path, category, **options)
    from pyimgano.datasets._files import missing_category

    raise missing_category(path, category, "one of the categories found", found, fmt.name)


def _params(func: Callable[..., object]) -> set[str]:
    return set(inspect.signature(func).parameters)
