"""Samples and datasets: the plain objects that dataset loaders return (SPEC §4)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

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


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint_samples(samples: Sequence[Sample]) -> str:
    """sha256 over the sorted per-image (label, image-file hash, mask-file hashes) records.

    Paths do not enter the fingerprint: moving a dataset keeps it, changing any pixel, label or
    mask of it changes it.
    """
    records = sorted(
        "{}:{}:{}".format(
            sample.label,
            file_sha256(sample.image_path),
            ",".join(file_sha256(m) for m in (sample.mask_paths or ())),
        )
        for sample in samples
    )
    digest = hashlib.sha256()
    for record in records:
        digest.update(record.encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Dataset(Sequence[Sample]):
    """The ordered test samples of one category, with provenance.

    Behaves as a read-only sequence of :class:`Sample`. ``fingerprint`` is computed on first use
    (it reads every file once).
    """

    format: str
    root: Path
    category: str
    samples: tuple[Sample, ...]

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
