"""Per-image records of one item compared (docs/REFERENCE.md §9): images matched by path, the
scores that moved most, and the images whose decision flipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any


@dataclass(frozen=True)
class ImageChange:
    """One image's score on both sides (``image`` is the matching key)."""

    image: str
    label: int
    defect: str | None
    old_score: float
    new_score: float

    @property
    def delta(self) -> float:
        return self.new_score - self.old_score

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "delta": self.delta}


FLIP_KINDS = {
    (1, 1, 0): "now missed",
    (0, 0, 1): "now rejected",
    (1, 0, 1): "now caught",
    (0, 1, 0): "now accepted",
}
_FLIP_RANK = {"now missed": 0, "now rejected": 1, "now caught": 2, "now accepted": 3}


@dataclass(frozen=True)
class DecisionFlip:
    """An image whose decision (1 anomalous, 0 good) differs between the sides."""

    image: str
    label: int
    defect: str | None
    old_score: float
    new_score: float
    old_decision: int
    new_decision: int

    @property
    def kind(self) -> str:
        """``now missed`` / ``now rejected`` (new errors), ``now caught`` / ``now accepted``."""
        return FLIP_KINDS[(self.label, self.old_decision, self.new_decision)]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "kind": self.kind}


PRED_LABEL = "pred_label"
F1_MAX_THRESHOLD = "f1_max_threshold"


@dataclass(frozen=True)
class ImageDiff:
    """Per-image comparison of one item (both sides had records).

    ``flip_basis`` is ``pred_label`` (the checkpoints' own decisions), ``f1_max_threshold``
    (``score >= threshold`` at each side's F1-max threshold) or ``None`` when no decision can
    be made (one class only); ``notes`` says why.
    """

    matched: int
    only_old: tuple[str, ...]
    only_new: tuple[str, ...]
    top_moved: tuple[ImageChange, ...]
    flips: tuple[DecisionFlip, ...]
    flip_basis: str | None
    old_threshold: float | None = None
    new_threshold: float | None = None
    pairs: tuple[ImageChange, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "only_old": list(self.only_old),
            "only_new": list(self.only_new),
            "top_moved": [c.to_dict() for c in self.top_moved],
            "flips": [f.to_dict() for f in self.flips],
            "flip_basis": self.flip_basis,
            "old_threshold": self.old_threshold,
            "new_threshold": self.new_threshold,
            "notes": list(self.notes),
        }


def image_key(path: str, root: str | None) -> str:
    """How images are matched: ``path`` relative to the dataset root, else ``path`` itself."""
    if root:
        try:
            return PurePath(path).relative_to(PurePath(root)).as_posix()
        except ValueError:
            pass
    return path


def f1_max_threshold(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """The lowest score threshold ``t`` whose decision ``score >= t`` reaches the maximal F1.

    ``None`` when there is no anomalous image (F1 undefined); every image anomalous: the lowest
    score (flag them all). Otherwise :func:`pyimgano.metrics.f1_max_threshold` (the sweep and
    F1 accumulator of ``image_f1_max``).
    """
    from pyimgano.metrics import f1_max_threshold as metric_threshold

    n_pos = sum(1 for label in labels if int(label) == 1)
    if n_pos == 0:
        return None
    if n_pos == len(labels):
        return float(min(float(score) for score in scores))
    return metric_threshold(list(labels), [float(score) for score in scores])


def _decisions(
    records: Sequence[Mapping[str, Any]], basis: str, threshold: float | None
) -> list[int]:
    if basis == PRED_LABEL:
        return [int(bool(r["pred_label"])) for r in records]
    assert threshold is not None
    return [int(float(r["score"]) >= threshold) for r in records]


def diff_records(
    old_records: Sequence[Mapping[str, Any]],
    new_records: Sequence[Mapping[str, Any]],
    *,
    old_root: str | None = None,
    new_root: str | None = None,
    top: int = 10,
) -> ImageDiff:
    """Compare per-image records (path, label, defect, score, pred_label) of one item.

    Images are matched by :func:`image_key`. ``top_moved`` holds up to ``top`` matched images
    whose score moved, largest ``|Δ|`` first (ties by image key). Decisions are the
    checkpoints' ``pred_label`` when every record on both sides has one, else ``score >=``
    each side's :func:`f1_max_threshold` computed from all of that side's records.
    """
    old_by_key = {image_key(str(r["path"]), old_root): r for r in old_records}
    new_by_key = {image_key(str(r["path"]), new_root): r for r in new_records}
    matched_keys = sorted(set(old_by_key) & set(new_by_key))
    notes: list[str] = [
        f"{len(records) - len(by_key)} {side} record(s) repeat an image path; the last one used"
        for side, records, by_key in (
            ("old", old_records, old_by_key),
            ("new", new_records, new_by_key),
        )
        if len(by_key) < len(records)
    ]

    pairs = []
    for key in matched_keys:
        before, after = old_by_key[key], new_by_key[key]
        if int(before["label"]) != int(after["label"]):
            notes.append(
                f"{key}: label {before['label']} in old, {after['label']} in new (old used)"
            )
        pairs.append(
            ImageChange(
                image=key,
                label=int(before["label"]),
                defect=before.get("defect"),
                old_score=float(before["score"]),
                new_score=float(after["score"]),
            )
        )
    moved = sorted((p for p in pairs if p.delta != 0), key=lambda p: (-abs(p.delta), p.image))

    both_labelled = all(r.get("pred_label") is not None for r in (*old_records, *new_records))
    basis: str | None = PRED_LABEL if both_labelled else F1_MAX_THRESHOLD
    old_threshold = new_threshold = None
    if basis == F1_MAX_THRESHOLD:
        old_threshold = f1_max_threshold(
            [int(r["label"]) for r in old_records], [float(r["score"]) for r in old_records]
        )
        new_threshold = f1_max_threshold(
            [int(r["label"]) for r in new_records], [float(r["score"]) for r in new_records]
        )
        if old_threshold is None or new_threshold is None:
            basis = None
            notes.append("no decision flips: a side has no anomalous image (F1 undefined)")

    flips: list[DecisionFlip] = []
    if basis is not None and pairs:
        old_decisions = _decisions([old_by_key[k] for k in matched_keys], basis, old_threshold)
        new_decisions = _decisions([new_by_key[k] for k in matched_keys], basis, new_threshold)
        for pair, before, after in zip(pairs, old_decisions, new_decisions, strict=True):
            if before != after and pair.label in (0, 1):
                flips.append(
                    DecisionFlip(
                        pair.image,
                        pair.label,
                        pair.defect,
                        pair.old_score,
                        pair.new_score,
                        before,
                        after,
                    )
                )
    flips.sort(key=lambda f: (_FLIP_RANK[f.kind], f.image))
    return ImageDiff(
        matched=len(matched_keys),
        only_old=tuple(sorted(set(old_by_key) - set(new_by_key))),
        only_new=tuple(sorted(set(new_by_key) - set(old_by_key))),
        top_moved=tuple(moved[: max(top, 0)]),
        flips=tuple(flips),
        flip_basis=basis,
        old_threshold=old_threshold,
        new_threshold=new_threshold,
        pairs=tuple(pairs),
        notes=tuple(notes),
    )

