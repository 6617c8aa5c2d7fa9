"""MVTec AD 2 evaluation-server submission (docs/REFERENCE.md §7, ``--export-submission``).

The private test splits of MVTec AD 2 (``test_private``, ``test_private_mixed``) have no
public ground truth; the evaluation server scores an uploaded archive. Its layout, names,
file types and counts follow MVTec's public utilities (``mvtec_ad_2_public_offline.py``:
output path = ``anomaly_images[_thresholded]/<category>/<split>/<image stem>.tiff|.png``;
``check_and_prepare_data_for_upload.py`` and its ``utils.py``: the checks and the archive)::

    DIR/anomaly_images/<category>/test_private/000_regular.tiff ...       float16, 2-D
    DIR/anomaly_images/<category>/test_private_mixed/000_mixed.tiff ...
    DIR/anomaly_images_thresholded/<category>/<split>/<stem>.png          uint8 {0, 255}, 2-D
    DIR.tar.gz                                                            members DIR/...

Every one of the 8 categories must be there with exactly :data:`FILE_COUNTS` files per split,
named ``NNN_regular`` / ``NNN_mixed`` with ``NNN`` from ``000``. pyimgano writes one category per
run (maps aligned to the image size, masks ``map >= threshold`` with the ``seg_f1`` threshold
calibrated on ``validation/good``), then checks the whole directory as MVTec's checker does:
a wrong or extra file or directory is a :class:`SubmissionError` naming it; categories not yet
exported are listed and the archive is packed only once none is missing.
"""

from __future__ import annotations

import os
import struct
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.errors import PyImganoError

__all__ = [
    "FILE_COUNTS",
    "MAPS_DIR",
    "MASKS_DIR",
    "SPLITS",
    "SubmissionError",
    "SubmissionResult",
    "check_submission",
    "export_submission",
    "expected_names",
    "pack_submission",
    "private_images",
    "write_float16_tiff",
]

#: Images per category in each of ``test_private`` and ``test_private_mixed``: the counts
#: MVTec's ``check_and_prepare_data_for_upload.py`` checks (``utils.OBJECT_FILE_COUNTER``).
FILE_COUNTS: Mapping[str, int] = {
    "can": 321,
    "fabric": 314,
    "fruit_jelly": 255,
    "rice": 277,
    "sheet_metal": 142,
    "vial": 276,
    "wallplugs": 232,
    "walnuts": 228,
}
#: Private split -> the suffix of its file names (``000_regular``, ``000_mixed``).
SPLITS: Mapping[str, str] = {"test_private": "regular", "test_private_mixed": "mixed"}
MAPS_DIR = "anomaly_images"
MASKS_DIR = "anomaly_images_thresholded"
_EXTENSIONS = {MAPS_DIR: ".tiff", MASKS_DIR: ".png"}
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_SHOW = 4


class SubmissionError(PyImganoError):
    """A submission that the evaluation server would refuse (names what is wrong)."""


@dataclass(frozen=True)
class SubmissionResult:
    """What :func:`export_submission` did.

    ``written``: files written for the category; ``missing_categories``: categories of
    :data:`FILE_COUNTS` not in the directory yet; ``archive``: the packed ``DIR.tar.gz``, or
    ``None`` while categories are missing.
    """

    directory: Path
    category: str
    written: int
    missing_categories: tuple[str, ...]
    archive: Path | None

    def describe(self) -> str:
        done = f"{self.written} files for {self.category} in {self.directory}"
        if self.archive is not None:
            return f"submission complete: {done}; archive {self.archive}"
        return (
            f"submission incomplete: {done}; categories still missing: "
            f"{', '.join(self.missing_categories)} (export them into the same directory; the "
            "archive is packed once all are there)"
        )


def expected_names(split: str, count: int, extension: str) -> list[str]:
    """``000_regular.tiff`` ... for ``count`` files of ``split`` (as the server expects)."""
    return [f"{index:03d}_{SPLITS[split]}{extension}" for index in range(count)]


def _listing(names: Sequence[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:_SHOW])
    return f"[{shown}, ...] + {len(names) - _SHOW} more" if len(names) > _SHOW else f"[{shown}]"


def _compare(found: set[str], required: set[str], where: Path, what: str) -> list[str]:
    problems = []
    if found - required:
        problems.append(f"extra {what} {_listing(sorted(found - required))} in {where}")
    if required - found:
        problems.append(f"missing {what} {_listing(sorted(required - found))} in {where}")
    return problems


def check_submission(
    directory: Path, counts: Mapping[str, int] | None = None
) -> tuple[list[str], list[str]]:
    """Check ``directory`` as MVTec's checker does; ``(problems, missing_categories)``.

    ``problems``: every extra or missing directory or file in the categories present (and any
    extra top-level entry or unknown category), each naming the path; ``missing_categories``:
    the categories of ``counts`` (default :data:`FILE_COUNTS`) with no directory yet (sorted).
    """
    counts = FILE_COUNTS if counts is None else counts
    directory = Path(directory)
    problems: list[str] = []
    top = {p.name for p in directory.iterdir()} if directory.is_dir() else set()
    problems += _compare(top, set(_EXTENSIONS), directory, "entries")
    present: set[str] = set()
    for kind in _EXTENSIONS:
        base = directory / kind
        if not base.is_dir():
            continue
        categories = {p.name for p in base.iterdir()}
        unknown = categories - set(counts)
        if unknown:
            problems.append(
                f"extra entries {_listing(sorted(unknown))} in {base} (MVTec AD 2 categories: "
                f"{', '.join(sorted(counts))})"
            )
        present |= categories & set(counts)
    for category in sorted(present):
        for kind, extension in _EXTENSIONS.items():
            folder = directory / kind / category
            if not folder.is_dir():
                problems.append(f"missing directory {folder}")
                continue
            problems += _compare({p.name for p in folder.iterdir()}, set(SPLITS), folder,
                                 "entries")
            for split in SPLITS:
                split_dir = folder / split
                if not split_dir.is_dir():
                    continue
                required = set(expected_names(split, counts[category], extension))
                found = {p.name for p in split_dir.iterdir()}
                if len(found) != len(required):
                    problems.append(
                        f"expected {len(required)} files, found {len(found)} in {split_dir}"
                    )
                problems += _compare(found, required, split_dir, "files")
    missing = sorted(set(counts) - present)
    return problems, missing


def write_float16_tiff(path: Path, array: np.ndarray) -> None:
    """Write a 2-D array as an uncompressed single-channel float16 TIFF (one strip).

    Baseline TIFF 6.0 tags, little-endian, ``BitsPerSample=16``, ``SampleFormat=3`` (IEEE
    float), ``PhotometricInterpretation=1``: what the server's checker reads as a 2-D
    ``float16`` image. Raises :class:`SubmissionError` for a value float16 cannot hold.
    """
    values = np.asarray(array)
    if values.ndim != 2:
        raise SubmissionError(f"{path}: expected a 2-D map, got shape {values.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        half = values.astype("<f2")
    if not np.all(np.isfinite(half)):
        worst = float(np.max(np.abs(values.astype(np.float64))))
        raise SubmissionError(
            f"{path}: map values up to {worst:g} do not fit float16 (largest {_FLOAT16_MAX:g}), "
            "the type the evaluation server reads"
        )
    height, width = half.shape
    data = half.tobytes(order="C")
    short, long = 3, 4
    entries = [  # (tag, type, value), in ascending tag order
        (256, long, width),
        (257, long, height),
        (258, short, 16),  # BitsPerSample
        (259, short, 1),  # Compression: none
        (262, short, 1),  # PhotometricInterpretation: BlackIsZero
        (273, long, 0),  # StripOffsets, filled below
        (277, short, 1),  # SamplesPerPixel
        (278, long, height),  # RowsPerStrip
        (279, long, len(data)),  # StripByteCounts
        (284, short, 1),  # PlanarConfiguration: contiguous
        (339, short, 3),  # SampleFormat: IEEE floating point
    ]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    ifd = [struct.pack("<H", len(entries))]
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        if kind == short:
            ifd.append(struct.pack("<HHIHH", tag, kind, 1, value, 0))
        else:
            ifd.append(struct.pack("<HHII", tag, kind, 1, value))
    ifd.append(struct.pack("<I", 0))
    with open(path, "wb") as handle:
        handle.write(b"II" + struct.pack("<HI", 42, 8))
        handle.write(b"".join(ifd))
        handle.write(data)


def _write_mask(path: Path, mask: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(path)


def private_images(
    root: Path, category: str, counts: Mapping[str, int] | None = None
) -> dict[str, list[Path]]:
    """Per private split, its images; :class:`SubmissionError` when a split is missing or its
    images are not exactly the server's names (naming what is missing or extra). Reads no
    image (a listing): the runner calls it before any inference."""
    from pyimgano.datasets._files import list_images

    counts = FILE_COUNTS if counts is None else counts
    if category not in counts:
        raise SubmissionError(
            f"category {category!r} is not an MVTec AD 2 category of the evaluation server "
            f"(expected one of {', '.join(sorted(counts))})"
        )
    found: dict[str, list[Path]] = {}
    for split in SPLITS:
        directory = Path(root) / category / split
        if not directory.is_dir():
            raise SubmissionError(
                f"mvtec_ad2 category {category!r}: no {split} directory at {directory}; the "
                "submission is inferred on test_private and test_private_mixed"
            )
        images = list_images(directory)
        stems = {p.stem for p in images}
        required = {Path(n).stem for n in expected_names(split, counts[category], "")}
        problems = _compare(stems, required, directory, "images")
        if len(images) != len(stems):
            problems.append(f"two images share a name in {directory}")
        if problems:
            raise SubmissionError(
                f"the {split} images of {category!r} are not the {counts[category]} the "
                f"evaluation server expects: {'; '.join(problems)}"
            )
        found[split] = images
    return found


def pack_submission(directory: Path) -> Path:
    """``DIR.tar.gz`` beside ``DIR``, members ``DIR/...`` (as MVTec's checker packs it).

    Written atomically (a temporary file in the same directory, then renamed).
    """
    directory = Path(directory)
    archive = directory.parent / f"{directory.name}.tar.gz"
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    handle, temp = tempfile.mkstemp(prefix=f".{directory.name}.", suffix=".tmp",
                                    dir=directory.parent)
    os.close(handle)
    try:
        with tarfile.open(temp, "w:gz") as tar:
            for path in files:
                tar.add(path, arcname=(Path(directory.name) / path.relative_to(directory))
                        .as_posix())
        os.replace(temp, archive)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return archive


def export_submission(
    model: Any,
    root: Path,
    category: str,
    directory: Path,
    threshold: float | None,
    *,
    batch_size: int = 16,
    progress: bool = False,
    counts: Mapping[str, int] | None = None,
) -> SubmissionResult:
    """Infer the category's private splits, write its files into ``directory``, check the
    whole directory, and pack the archive once every category is there.

    Parameters
    ----------
    model : Detector
        The evaluated model (the same inference path as the test images).
    root, category
        The MVTec AD 2 dataset root and the category.
    directory : Path
        The submission directory (created; other categories' files are kept).
    threshold : float or None
        The calibrated ``seg_f1`` threshold; masks are ``map >= threshold``. ``None`` (the
        model gives no map) is a :class:`SubmissionError`.
    counts : mapping, optional
        Files per split and category (default :data:`FILE_COUNTS`; tests pass their own).

    Raises
    ------
    SubmissionError
        No threshold, private images that are not the server's, a map float16 cannot hold,
        or a directory the checker would refuse (naming each extra or missing entry).
    """
    from pyimgano.protocols.mvtec_ad2 import infer_aligned

    if threshold is None:
        raise SubmissionError(
            f"no seg_f1 threshold for {category!r}: the model gives no anomaly map, which the "
            "submission's TIFF maps and PNG masks need"
        )
    counts = FILE_COUNTS if counts is None else counts
    splits = private_images(root, category, counts)
    directory = Path(directory)
    written = 0
    for split, images in splits.items():
        out = {kind: directory / kind / category / split for kind in _EXTENSIONS}
        for folder in out.values():
            folder.mkdir(parents=True, exist_ok=True)

        def write(_index: int, path: Path, amap: np.ndarray | None, out=out) -> None:
            nonlocal written
            if amap is None:
                raise SubmissionError(f"the model gives no anomaly map for {path}")
            write_float16_tiff(out[MAPS_DIR] / f"{path.stem}.tiff", amap)
            _write_mask(out[MASKS_DIR] / f"{path.stem}.png", amap >= np.float64(threshold))
            written += 2

        infer_aligned(model, images, batch_size=batch_size, progress=progress,
                      desc=f"{category} {split}", on_map=write)
    problems, missing = check_submission(directory, counts)
    if problems:
        raise SubmissionError(
            f"submission directory {directory} would be refused by the evaluation server: "
            + "; ".join(problems)
        )
    archive = None if missing else pack_submission(directory)
    return SubmissionResult(directory, category, written, tuple(missing), archive)
