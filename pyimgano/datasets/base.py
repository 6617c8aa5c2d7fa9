"""Samples and datasets: the plain objects that dataset loaders return (docs/REFERENCE.md §4)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pyimgano.digests import file_sha256
from pyimgano.errors import DatasetError

NORMAL = 0
ANOMALOUS = 1
GOOD = "good"


@dataclass(frozen=True)
class Sample:
    """One test image.

    Attributes
    ----------
    image_path : Path
    label : int
        0 normal, 1 anomalous.
    mask_paths : tuple of Path, or None
        Ground-truth mask file(s), OR-ed together; ``None`` for normal images and for anomalous
        images whose dataset has no mask for them.
    defect_type : str
        ``"good"`` for normal images, else the defect folder/type name.
    """

    image_path: Path
    label: int
    mask_paths: tuple[Path, ...] | None
    defect_type: str

    @property
    def is_anomalous(self) -> bool:
        return self.label == ANOMALOUS


def fingerprint_samples(samples: Sequence[Sample]) -> str:
    """sha256 over the sorted per-image (label, image-file hash, mask-file hashes) records.

    The serialisation (docs/REFERENCE.md §4; a golden-value test pins it, because users pin
    its output):

    - one ASCII record per sample: ``"<label>:<image sha256>:<mask sha256s>"``, where
      ``<label>`` is ``0`` or ``1``, hashes are lower-case hex sha256 of the file's bytes, and
      ``<mask sha256s>`` are the sample's mask files' hashes in ``mask_paths`` order joined by
      ``,`` (empty without masks: ``"0:<hex>:"``);
    - records sorted as Python strings, each followed by ``\n``;
    - the fingerprint is the hex sha256 of that concatenation.

    Paths do not enter the fingerprint: moving a dataset keeps it, changing any pixel, label or
    mask of it changes it. An unreadable file raises :class:`DatasetError` naming it.
    """
    records = sorted(
        "{}:{}:{}".format(
            sample.label,
            _hash_dataset_file(sample.image_path),
            ",".join(_hash_dataset_file(m) for m in (sample.mask_paths or ())),
        )
        for sample in samples
    )
    digest = hashlib.sha256()
    for record in records:
        digest.update(record.encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()


def _hash_dataset_file(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as exc:
        raise DatasetError(f"cannot read dataset file {path}: {exc}") from exc


def sort_samples(samples: Iterable[Sample]) -> tuple[Sample, ...]:
    """The canonical sample order: normal images first, then defect types in name order; within
    a group by file name, then by full path (ties between folders)."""
    return tuple(
        sorted(
            samples,
            key=lambda s: (s.label != NORMAL, s.defect_type, s.image_path.name, str(s.image_path)),
        )
    )


@dataclass(frozen=True)
class Loaded:
    """What a format's ``load_samples`` may return instead of a plain list of samples.

    Attributes
    ----------
    samples : list of Sample
    notes : tuple of str
        Facts about the data a reader of the report must know (e.g. the ``folder`` format
        scoring its training normals); copied to :attr:`Dataset.notes`.
    defects_config_path : Path or None
        MVTec LOCO's ``defects_config.json`` of the category, where it exists.
    facts : mapping
        Facts of the data for the report's ``dataset`` section (Real-IAD: ``resolution``);
        copied to :attr:`Dataset.facts`.
    """

    samples: list[Sample]
    notes: tuple[str, ...] = ()
    defects_config_path: Path | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetFormat:
    """A dataset format: its name, its two functions and the keyword options both accept.

    ``list_categories(root, **options) -> list[str]`` and ``load_samples(root, category,
    **options) -> list[Sample] | Loaded``; both get the options they declare in their
    signatures. Each format module of ``pyimgano.datasets`` exposes ``FORMATS``, a tuple of
    these, and :mod:`pyimgano.datasets.loaders` collects them.
    """

    name: str
    list_categories: Callable[..., list[str]]
    load_samples: Callable[..., list[Sample] | Loaded]
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset(Sequence[Sample]):
    """The ordered test samples of one category, with provenance.

    Behaves as a read-only sequence of :class:`Sample`. ``fingerprint`` is computed on first use
    (it reads every file once).

    Attributes
    ----------
    notes : tuple of str
        Caveats of this dataset for the report (e.g. ``folder`` without ``normal_test_dir``
        scores its training normals); empty for most datasets. The evaluation copies them into
        the report.
    defects_config_path : Path or None
        ``mvtec_loco`` only: the category's ``defects_config.json`` where it exists, else
        ``None`` (see :mod:`pyimgano.datasets.loco`).
    facts : mapping
        Format facts the report's ``dataset`` section carries (``realiad``: ``resolution``,
        the image set read); empty for most formats.
    """

    format: str
    root: Path
    category: str
    samples: tuple[Sample, ...]
    notes: tuple[str, ...] = ()
    defects_config_path: Path | None = None
    facts: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):  # type: ignore[override]
        return self.samples[index]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    @property
    def n_anomalous(self) -> int:
        return sum(1 for s in self.samples if s.label == ANOMALOUS)

    @cached_property
    def fingerprint(self) -> str:
        return fingerprint_samples(self.samples)

    def missing_masks(self) -> list[Sample]:
        """Anomalous samples without a mask file (``mask_paths is None``), in dataset order."""
        return [s for s in self.samples if s.label == ANOMALOUS and not s.mask_paths]


def require_masks(dataset: Dataset, *, show: int = 5) -> None:
    """Raise :class:`DatasetError` unless every anomalous sample has a mask.

    For callers that need pixel metrics: an anomalous image without its mask is an error, never
    an all-zero mask (docs/REFERENCE.md §4). The message names the first ``show`` images without
    one.
    """
    missing = dataset.missing_masks()
    if not missing:
        return
    names = ", ".join(str(s.image_path) for s in missing[:show])
    more = f" and {len(missing) - show} more" if len(missing) > show else ""
    raise DatasetError(
        f"{len(missing)} of {dataset.n_anomalous} anomalous images of {dataset.format} category "
        f"{dataset.category!r} under {dataset.root} have no ground-truth mask, which pixel "
        f"metrics need: {names}{more}"
    )
