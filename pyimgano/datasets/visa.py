"""VisA: the raw release (``split_csv/1cls.csv``) and anomalib's prepared layout
(docs/REFERENCE.md §4).

Raw VisA::

    <root>/split_csv/1cls.csv            object,split,label,image,mask
    <root>/<object>/Data/Images/{Normal,Anomaly}/*.JPG
    <root>/<object>/Data/Masks/Anomaly/*.png          (defect pixels hold small values, e.g. 1)

Only ``split == "test"`` rows are loaded; ``label`` is ``normal`` or ``anomaly``; ``image`` and
``mask`` are paths relative to ``root``; an empty ``mask`` on an anomaly row gives
``mask_paths=None``. A row naming a file that does not exist is an error at load time.

Prepared VisA (what anomalib's ``Visa.prepare_data`` writes under ``visa_pytorch/``)::

    <root>/<category>/test/{good,bad}/*.JPG
    <root>/<category>/ground_truth/bad/<stem>.png     (0/255; ``<stem>_mask.png`` also accepted)

``layout="auto"`` (default) picks raw when ``<root>/split_csv/1cls.csv`` exists, else prepared.
Anomalous samples have ``defect_type="bad"`` in both layouts.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pyimgano.datasets._files import (
    check_category_name,
    missing_category,
    no_categories,
    require_dir,
)
from pyimgano.datasets.base import ANOMALOUS, GOOD, NORMAL, DatasetFormat, Sample
from pyimgano.datasets.layouts import VISA_PREPARED
from pyimgano.errors import ConfigError, DatasetError

SPLIT_CSV = Path("split_csv") / "1cls.csv"
CSV_COLUMNS = ("object", "split", "label", "image", "mask")
LAYOUTS = ("auto", "raw", "prepared")
_LABELS = {"normal": NORMAL, "anomaly": ANOMALOUS}


def is_raw(root: Path, layout: str = "auto") -> bool:
    """Whether ``root`` is read as raw VisA under ``layout`` (auto: the csv exists)."""
    if layout not in LAYOUTS:
        raise ConfigError(f"visa option layout={layout!r}: expected one of {', '.join(LAYOUTS)}")
    if layout == "auto":
        return (root / SPLIT_CSV).is_file()
    return layout == "raw"


def _read_rows(root: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of every csv row; header checked."""
    csv_path = root / SPLIT_CSV
    if not csv_path.is_file():
        raise DatasetError(f"raw VisA split file {csv_path} does not exist")
    try:
        with open(csv_path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in CSV_COLUMNS if c not in header]
            if missing:
                raise DatasetError(
                    f"{csv_path} lacks column(s) {', '.join(missing)}: expected header "
                    f"{','.join(CSV_COLUMNS)}, found {','.join(header) or 'nothing'}"
                )
            rows = []
            for row in reader:
                clean = {
                    (k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None
                }
                if any(clean.values()):
                    rows.append((reader.line_num, clean))
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"cannot read raw VisA split file {csv_path}: {exc}") from exc


def list_categories(root: Path, *, layout: str = "auto") -> list[str]:
    """Raw: sorted distinct ``object`` values of the csv; prepared: dirs holding ``test/``."""
    require_dir(root, "visa dataset root")
    if not is_raw(root, layout):
        return VISA_PREPARED.list_categories(root)
    found = sorted({row["object"] for _, row in _read_rows(root) if row["object"]})
    if not found:
        raise no_categories(root, "visa", f"rows in {root / SPLIT_CSV}")
    return found


def load_samples(root: Path, category: str, *, layout: str = "auto") -> list[Sample]:
    """Test samples of ``category`` (unsorted; the caller sorts)."""
    require_dir(root, "visa dataset root")
    if not is_raw(root, layout):
        return VISA_PREPARED.load_samples(root, category)
    check_category_name(category, root)
    csv_path = root / SPLIT_CSV
    rows = _read_rows(root)
    mine = [(n, r) for n, r in rows if r["object"] == category]
    if not mine:
        found = sorted({r["object"] for _, r in rows if r["object"]})
        raise missing_category(
            root, category, f"rows with object={category} in {csv_path}", found, "visa"
        )
    samples: list[Sample] = []
    for line, row in mine:
        if row["split"] != "test":
            continue
        where = f"{csv_path} line {line}"
        label = _LABELS.get(row["label"])
        if label is None:
            raise DatasetError(
                f"{where}: label {row['label']!r} is not one of {', '.join(_LABELS)}"
            )
        if not row["image"]:
            raise DatasetError(f"{where}: empty image path")
        image = root / row["image"]
        if not image.is_file():
            raise DatasetError(f"{where}: image {image} does not exist")
        masks: tuple[Path, ...] | None = None
        if row["mask"]:
            mask = root / row["mask"]
            if not mask.is_file():
                raise DatasetError(f"{where}: mask {mask} does not exist")
            masks = (mask,)
        defect = "bad" if label == ANOMALOUS else GOOD
        samples.append(Sample(image, label, masks if label == ANOMALOUS else None, defect))
    if not samples:
        raise DatasetError(f"{csv_path} has no split=test rows for object {category!r}")
    return samples


FORMATS = (DatasetFormat("visa", list_categories, load_samples, ("layout",)),)
