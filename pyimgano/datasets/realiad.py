"""Real-IAD (``realiad``): per-category JSON split files, multi-view images (docs/REFERENCE.md §4).

The layout anomalib 2.7 reads (``anomalib/data/datasets/image/realiad.py``, ``RealIADDataset``
and ``make_realiad_dataset``; datamodule ``anomalib/data/datamodules/image/realiad.py``,
``RealIAD``)::

    <root>/realiad_<resolution>/<category>/OK/S0001/<category>_0001_OK_C1_<time>.jpg
    <root>/realiad_<resolution>/<category>/NG/<defect>/S0002/<...>_NG_C1_<time>.jpg
    <root>/realiad_<resolution>/<category>/NG/<defect>/S0002/<...>_NG_C1_<time>_mask.png
    <root>/realiad_jsons/realiad_jsons/<category>.json        (the default ``json_path``)

The JSON file is an object with a ``test`` list (and ``train``, not read); each entry has
``image_path`` and ``mask_path`` (``null``/empty for normal images), both relative to
``<root>/realiad_<resolution>/<category>/``, and ``anomaly_class``: ``"OK"`` for normal
images, else the defect code (``AK``, ``BX``, ...), which becomes ``defect_type``. Each camera
view (C1..C5) is its own sample, as in anomalib.

Options (as anomalib's ``RealIADDataset``): ``resolution`` (``256`` default, ``512``,
``1024``, ``raw``; string or integer) and ``json_path`` (relative to ``root``, an absolute
path is used as given; ``{category}`` is replaced by the category; default
``realiad_jsons/realiad_jsons/{category}.json``; the single-view and FUIAD files are chosen
this way). Categories are the sorted sub-directories of
``<root>/realiad_<resolution>/`` whose JSON file exists.

Samples (docs/REFERENCE.md §5): the views of one physical object share a *sample id*, the part
of the file name before ``_C<view>_`` as the Real-IAD evaluation captures it (:data:`SAMPLE_KEY`,
the pattern its ADEval command line is given for every Real-IAD setting:
``<category>_<4 digits>_<OK|NG...>``); :func:`sample_id` reads it. A listed image whose name
has no sample id is a :class:`DatasetError` at load time. The resolution read
(``Dataset.facts["resolution"]``) goes into the report's ``dataset`` section.

Differences from anomalib, on purpose: a path that leaves ``root`` (anomalib raises too), a
listed image or mask that does not exist, or an entry without ``image_path`` /
``anomaly_class`` is a :class:`DatasetError` naming the JSON file and the entry; pyimgano does
not check the category against anomalib's fixed list of 30 names.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pyimgano.datasets._files import (
    check_category_name,
    list_subdirs,
    missing_category,
    no_categories,
    require_dir,
)
from pyimgano.datasets.base import ANOMALOUS, GOOD, NORMAL, DatasetFormat, Loaded, Sample
from pyimgano.errors import ConfigError, DatasetError

RESOLUTIONS = ("256", "512", "1024", "raw")
DEFAULT_JSON = "realiad_jsons/realiad_jsons/{category}.json"
NORMAL_CLASS = "OK"

#: The sample key of a view's file name (group 1), as the Real-IAD evaluation (ADEval's
#: ``--sample_key_pat``) captures it: ``audiojack_0001_NG_QS_C3_2023...jpg`` ->
#: ``audiojack_0001_NG_QS``.
SAMPLE_KEY = re.compile(r"([a-zA-Z][a-zA-Z0-9_]*_[0-9]{4}_[A-Z][A-Z_]*[A-Z])_C[0-9]_")


def sample_id(path: str | os.PathLike[str]) -> str:
    """The sample (physical object) a view belongs to, from its file name.

    Raises :class:`DatasetError` naming the file when the name holds no
    ``<category>_<NNNN>_<CLASS>_C<view>_`` part.
    """
    name = Path(path).name
    found = SAMPLE_KEY.search(name)
    if found is None:
        raise DatasetError(
            f"Real-IAD image {path}: no sample id in its name; expected "
            "<category>_<4 digits>_<OK|NG[_defects]>_C<view>_<...> (e.g. "
            "audiojack_0001_OK_C1_20231021.jpg)"
        )
    return found.group(1)


def _resolution(value: object) -> str:
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if text not in RESOLUTIONS:
        raise ConfigError(
            f"realiad option resolution={value!r}: expected one of {', '.join(RESOLUTIONS)}"
        )
    return text


def _json_file(root: Path, json_path: object, category: str) -> Path:
    if not isinstance(json_path, (str, os.PathLike)):
        raise ConfigError(f"realiad option json_path={json_path!r}: expected a path")
    text = os.fspath(json_path)
    try:
        text = text.format(category=category)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"realiad option json_path={json_path!r}: only the placeholder {{category}} is "
            f"allowed ({exc})"
        ) from None
    path = Path(text)
    return path if path.is_absolute() else root / path


def _layout(resolution: str, json_path: object) -> str:
    return (
        f"realiad_{resolution}/<category>/ with the JSON split file {json_path} "
        "(keys train/test; entries image_path, mask_path, anomaly_class)"
    )


def _categories(root: Path, resolution: str, json_path: object) -> list[str]:
    images = root / f"realiad_{resolution}"
    if not images.is_dir():
        return []
    return [c for c in list_subdirs(images) if _json_file(root, json_path, c).is_file()]


def list_categories(
    root: Path, *, resolution: str | int = "256", json_path: str = DEFAULT_JSON
) -> list[str]:
    """Sorted sub-directories of ``<root>/realiad_<resolution>/`` whose JSON file exists."""
    require_dir(root, "realiad dataset root")
    res = _resolution(resolution)
    found = _categories(root, res, json_path)
    if not found:
        raise no_categories(root, "realiad", _layout(res, json_path))
    return found


def _inside(root: Path, path: Path, where: str) -> Path:
    normal = Path(os.path.normpath(path))
    base = Path(os.path.normpath(root))
    if normal != base and base not in normal.parents:
        raise DatasetError(f"{where}: path {path} leaves the dataset root {root}")
    return path


def load_samples(
    root: Path,
    category: str,
    *,
    resolution: str | int = "256",
    json_path: str = DEFAULT_JSON,
) -> Loaded:
    """Test samples of ``category`` from its JSON file's ``test`` list (unsorted), with the
    resolution read as ``facts["resolution"]``."""
    require_dir(root, "realiad dataset root")
    check_category_name(category, root)
    res = _resolution(resolution)
    category_dir = root / f"realiad_{res}" / category
    json_file = _json_file(root, json_path, category)
    if not category_dir.is_dir() or not json_file.is_file():
        missing = category_dir if not category_dir.is_dir() else json_file
        raise missing_category(
            root,
            category,
            f"{missing} ({_layout(res, json_path)})",
            _categories(root, res, json_path),
            "realiad",
        )
    entries = _test_entries(json_file)
    samples = []
    for index, entry in enumerate(entries):
        where = f"{json_file}: test[{index}]"
        if not isinstance(entry, dict):
            raise DatasetError(f"{where}: expected an object with image_path and anomaly_class")
        image_rel, kind = entry.get("image_path"), entry.get("anomaly_class")
        if not isinstance(image_rel, str) or not image_rel:
            raise DatasetError(f"{where}.image_path={image_rel!r}: expected a relative path")
        if not isinstance(kind, str) or not kind:
            raise DatasetError(f"{where}.anomaly_class={kind!r}: expected 'OK' or a defect code")
        image = _inside(root, category_dir / image_rel, f"{where}.image_path")
        if not image.is_file():
            raise DatasetError(f"{where}.image_path: image {image} does not exist")
        try:
            sample_id(image)
        except DatasetError as exc:
            raise DatasetError(f"{where}.image_path: {exc}") from None
        if kind == NORMAL_CLASS:
            samples.append(Sample(image, NORMAL, None, GOOD))
            continue
        mask_rel = entry.get("mask_path")
        masks: tuple[Path, ...] | None = None
        if mask_rel:
            if not isinstance(mask_rel, str):
                raise DatasetError(f"{where}.mask_path={mask_rel!r}: expected a relative path")
            mask = _inside(root, category_dir / mask_rel, f"{where}.mask_path")
            if not mask.is_file():
                raise DatasetError(f"{where}.mask_path: mask {mask} does not exist")
            masks = (mask,)
        samples.append(Sample(image, ANOMALOUS, masks, kind))
    return Loaded(samples, facts={"resolution": res})


def _test_entries(json_file: Path) -> list:
    try:
        data = json.loads(json_file.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read Real-IAD split file {json_file}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"Real-IAD split file {json_file} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or "test" not in data:
        raise DatasetError(
            f"Real-IAD split file {json_file} has no key 'test': expected an object with a "
            "'test' list of entries (image_path, mask_path, anomaly_class)"
        )
    if not isinstance(data["test"], list) or not data["test"]:
        raise DatasetError(f"{json_file}: key 'test' must be a non-empty list of entries")
    return data["test"]


FORMATS = (
    DatasetFormat("realiad", list_categories, load_samples, ("resolution", "json_path")),
)
