"""MVTec LOCO AD: the ``mvtec_loco`` format and its ``defects_config.json`` (docs/REFERENCE.md §4).

Layout (the ``MVTecLOCO`` datamodule of anomalib 2.7 reads the same tree)::

    <root>/<category>/test/{good,logical_anomalies,structural_anomalies}/<stem>.png
    <root>/<category>/ground_truth/<type>/<stem>/000.png, 001.png, ...   one file per defect
    <root>/<category>/defects_config.json

``defects_config.json`` (shipped with the official dataset, one per category) is a JSON list of
objects ``{"defect_name": str, "pixel_value": int, "saturation_threshold": number,
"relative_saturation": bool}``. Each ground-truth mask file is ONE defect: its non-zero pixels
all hold that defect type's ``pixel_value``.

Public API::

    read_defects_config(path) -> DefectsConfig          # pixel value -> DefectType
    defects_config(dataset) -> DefectsConfig            # the dataset's, or DatasetError
    load_defects(dataset, sample, *, config=None, image_size=None) -> list[Defect]

Saturation convention (the official MVTec LOCO AD evaluation, ``src/image.py``
``GroundTruthChannel.get_saturation_area`` of the MVTec LOCO evaluation scripts)::

    relative_saturation:  saturation_pixels = int(saturation_threshold * defect_area)
    absolute:             saturation_pixels = min(saturation_threshold, defect_area)

so an absolute threshold IS capped at the defect's area (the official code also warns when the
threshold exceeds the area), and a relative one is truncated towards zero to whole pixels. The
official sPRO of one defect at one threshold is ``min(tp_area / saturation_pixels, 1)`` with
``tp_area`` the defect's pixels whose score is ``> threshold``. ``saturation_pixels`` is 0 only
for a relative threshold with ``saturation_threshold * defect_area < 1`` (official configs never
give that for a real defect; the metric must decide what 0 means, the official code divides by
it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from pyimgano.datasets.base import NORMAL, DatasetFormat, Loaded, Sample
from pyimgano.datasets.layouts import MVTEC_LOCO
from pyimgano.datasets.masks import _READ_ERRORS
from pyimgano.datasets.masks import image_size as read_image_size
from pyimgano.errors import DatasetError

CONFIG_NAME = "defects_config.json"
#: The two defect groups of MVTec LOCO (``Sample.defect_type`` of its anomalous samples).
GROUPS = ("logical_anomalies", "structural_anomalies")
_KEYS = ("defect_name", "pixel_value", "saturation_threshold", "relative_saturation")


@dataclass(frozen=True)
class DefectType:
    """One entry of ``defects_config.json``."""

    defect_name: str
    pixel_value: int
    saturation_threshold: float
    relative_saturation: bool

    def saturation_pixels(self, defect_area: int) -> float:
        """Saturation area in pixels of one defect of ``defect_area`` pixels (module docstring)."""
        if self.relative_saturation:
            return float(int(self.saturation_threshold * defect_area))
        return float(min(self.saturation_threshold, defect_area))


@dataclass(frozen=True)
class DefectsConfig:
    """A category's defect types by pixel value, read from ``path``."""

    path: Path
    by_pixel_value: Mapping[int, DefectType]


class Defect(NamedTuple):
    """One defect of an anomalous sample: one ground-truth mask file.

    Attributes
    ----------
    mask : numpy.ndarray of bool, shape (H, W)
        The defect's pixels.
    saturation_pixels : float
        Pixels of the defect that must be hit for its sPRO to saturate at 1 (module docstring).
    defect_name : str
    pixel_value : int
    """

    mask: np.ndarray
    saturation_pixels: float
    defect_name: str
    pixel_value: int


def _bad(path: Path, where: str, expected: str) -> DatasetError:
    return DatasetError(f"defects config {path}: {where}: expected {expected}")


def read_defects_config(path: str | Path) -> DefectsConfig:
    """Read and validate a ``defects_config.json``.

    Rules (those the official evaluation asserts): a JSON list of objects with the keys
    ``defect_name`` (non-empty string), ``pixel_value`` (integer 1..255, unique),
    ``relative_saturation`` (boolean) and ``saturation_threshold`` (relative: a number in
    (0, 1]; absolute: a positive integer). Other keys are ignored, as the official code does.

    Raises
    ------
    DatasetError
        Missing or unreadable file, invalid JSON, or an entry breaking a rule; the message
        names the file, the entry index and the key.
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise DatasetError(f"defects config {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read defects config {path}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"defects config {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise _bad(path, "top level", "a non-empty JSON list of defect objects")
    by_value: dict[int, DefectType] = {}
    for index, entry in enumerate(data):
        where = f"entry {index}"
        if not isinstance(entry, dict):
            raise _bad(path, where, f"an object with keys {', '.join(_KEYS)}")
        missing = [k for k in _KEYS if k not in entry]
        if missing:
            raise _bad(path, f"{where} lacks key {missing[0]}", f"keys {', '.join(_KEYS)}")
        name, value = entry["defect_name"], entry["pixel_value"]
        threshold, relative = entry["saturation_threshold"], entry["relative_saturation"]
        if not isinstance(name, str) or not name:
            raise _bad(path, f"{where}.defect_name={name!r}", "a non-empty string")
        if not _is_int(value) or not 1 <= value <= 255:
            raise _bad(path, f"{where}.pixel_value={value!r}", "an integer 1..255")
        if value in by_value:
            raise _bad(
                path,
                f"{where}.pixel_value={value}",
                f"a value not already used by {by_value[value].defect_name!r}",
            )
        if not isinstance(relative, bool):
            raise _bad(path, f"{where}.relative_saturation={relative!r}", "true or false")
        if relative:
            if not _is_number(threshold) or not 0 < threshold <= 1:
                raise _bad(
                    path,
                    f"{where}.saturation_threshold={threshold!r}",
                    "a number in (0, 1] (relative_saturation is true)",
                )
        elif not _is_int(threshold) or threshold < 1:
            raise _bad(
                path,
                f"{where}.saturation_threshold={threshold!r}",
                "a positive integer number of pixels (relative_saturation is false)",
            )
        by_value[value] = DefectType(name, value, float(threshold), relative)
    return DefectsConfig(path, by_value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def defects_config(dataset) -> DefectsConfig:
    """The ``defects_config.json`` of an ``mvtec_loco`` dataset, read and validated.

    Raises
    ------
    DatasetError
        The dataset is not ``mvtec_loco``, or its category has no ``defects_config.json``
        (naming where it was expected), or the file is invalid (see
        :func:`read_defects_config`).
    """
    if dataset.format != "mvtec_loco":
        raise DatasetError(
            f"defects_config.json belongs to the mvtec_loco format; dataset {dataset.format} "
            f"category {dataset.category!r} at {dataset.root} has none"
        )
    path = dataset.defects_config_path
    if path is None:
        expected = Path(dataset.root) / dataset.category / CONFIG_NAME
        raise DatasetError(
            f"mvtec_loco category {dataset.category!r} at {dataset.root} has no {expected}, "
            "which AU-sPRO needs (the official MVTec LOCO AD release ships one per category)"
        )
    return read_defects_config(path)


def load_defects(
    dataset,
    sample: Sample,
    *,
    config: DefectsConfig | None = None,
    image_size: Sequence[int] | None = None,
) -> list[Defect]:
    """The defects of one sample, one per ground-truth mask file, in file-name order.

    Parameters
    ----------
    dataset : Dataset
        An ``mvtec_loco`` dataset (its config is read unless ``config`` is given).
    sample : Sample
        A sample of ``dataset``. Normal samples have no defects (``[]``).
    config : DefectsConfig, optional
        Pass :func:`defects_config`'s result when calling for many samples.
    image_size : (height, width), optional
        The image's size if known; else read from the image header.

    Returns
    -------
    list of Defect
        ``(mask, saturation_pixels, defect_name, pixel_value)`` per mask file.

    Raises
    ------
    DatasetError
        An anomalous sample without mask files; a mask that is not a single-channel integer
        image, holds no defect pixel, holds more than one non-zero value, or whose value is not
        in the config; a mask whose size differs from its image.
    """
    if sample.label == NORMAL:
        return []
    if not sample.mask_paths:
        raise DatasetError(
            f"anomalous image {sample.image_path} ({sample.defect_type}) has no ground-truth "
            "mask; AU-sPRO needs one mask file per defect"
        )
    config = defects_config(dataset) if config is None else config
    size = (
        read_image_size(sample.image_path)
        if image_size is None
        else (int(image_size[0]), int(image_size[1]))
    )
    defects = []
    for path in sample.mask_paths:
        values = _read_values(path)
        if values.shape != size:
            raise DatasetError(
                f"mask {path} is {values.shape[1]}x{values.shape[0]} (WxH) but its image "
                f"{sample.image_path} is {size[1]}x{size[0]}; a mask must have its image's "
                "size (masks are never resized)"
            )
        nonzero = np.unique(values[values != 0])
        if nonzero.size == 0:
            raise DatasetError(
                f"mask {path} holds no defect pixel; each MVTec LOCO mask file is one defect"
            )
        if nonzero.size > 1:
            shown = ", ".join(str(int(v)) for v in nonzero[:5])
            raise DatasetError(
                f"mask {path} holds several defect values ({shown}); each MVTec LOCO mask file "
                "is one defect with one pixel value"
            )
        value = int(nonzero[0])
        kind = config.by_pixel_value.get(value)
        if kind is None:
            known = ", ".join(
                f"{v} ({t.defect_name})" for v, t in sorted(config.by_pixel_value.items())
            )
            raise DatasetError(
                f"mask {path} has pixel value {value}, which {config.path} does not define "
                f"(pixel_value of its entries: {known})"
            )
        mask = values != 0
        defects.append(
            Defect(mask, kind.saturation_pixels(int(mask.sum())), kind.defect_name, value)
        )
    return defects


def _read_values(path: Path) -> np.ndarray:
    """A mask's raw integer pixel values (H, W), as the official evaluation reads them."""
    try:
        with Image.open(path) as image:
            image.load()
            array = np.asarray(image)
    except _READ_ERRORS as exc:
        raise DatasetError(f"cannot read mask {path}: {exc}") from exc
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.integer):
        raise DatasetError(
            f"mask {path} is not a single-channel integer image (shape {array.shape}, "
            f"dtype {array.dtype}); MVTec LOCO masks hold the defect's pixel value"
        )
    return array


def load_samples(root: Path, category: str) -> Loaded:
    """Test samples of ``category`` and the path of its ``defects_config.json`` if present."""
    samples = MVTEC_LOCO.load_samples(root, category)
    config = root / category / CONFIG_NAME
    return Loaded(samples, defects_config_path=config if config.is_file() else None)


FORMATS = (DatasetFormat("mvtec_loco", MVTEC_LOCO.list_categories, load_samples),)
