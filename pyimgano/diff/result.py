"""What a diff is made of and what it returns: the items of each side as loaded
(:class:`ItemInput`, :class:`Side`) and their comparison (:class:`ItemDiff`, :class:`DiffResult`,
whose ``exit_code`` decides the CLI's). No comparison logic here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyimgano.diff.images import ImageDiff
from pyimgano.diff.rows import BEYOND, EQUAL, NULLNESS, UNGATED, MetricRow
from pyimgano.diff.tolerances import Tolerances

BOTH = "both"
OLD_ONLY = "old_only"
NEW_ONLY = "new_only"


@dataclass(frozen=True)
class ItemInput:
    """One item of one side, as loaded from disk.

    ``report`` is the report object (or, for a summary item without its report file, a
    mapping holding the summary's ``metrics``); ``records`` the per-image JSONL records, or
    ``None`` when there is no JSONL beside the report.
    """

    key: str
    path: str
    report: Mapping[str, Any]
    records: tuple[Mapping[str, Any], ...] | None = None
    nodeid: str | None = None
    outcome: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemDiff:
    """The comparison of one item: metric rows, notes and (with records) per-image changes."""

    key: str
    presence: str = BOTH
    rows: tuple[MetricRow, ...] = ()
    notes: tuple[str, ...] = ()
    images: ImageDiff | None = None
    old_path: str | None = None
    new_path: str | None = None
    nodeid: str | None = None
    paired: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def failed(self) -> bool:
        """True when this item alone makes the diff exit 1."""
        return self.presence != BOTH or any(row.failed for row in self.rows)

    @property
    def status(self) -> str:
        """``old_only``, ``new_only``, ``failed``, ``changed`` (within tolerance) or ``equal``.

        Ungated rows (timing without a tolerance of its own) do not make an item ``changed``:
        run-to-run speed noise would otherwise mark every item.
        """
        if self.presence != BOTH:
            return self.presence
        if self.failed:
            return "failed"
        if any(row.status not in (EQUAL, UNGATED) for row in self.rows):
            return "changed"
        return "equal"

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "nodeid": self.nodeid,
            "presence": self.presence,
            "status": self.status,
            "old_path": self.old_path,
            "new_path": self.new_path,
            "rows": [row.to_dict() for row in self.rows],
            "notes": list(self.notes),
            "images": None if self.images is None else self.images.to_dict(),
            **({} if self.paired is None else {"paired": {k: dict(v)
                                                          for k, v in self.paired.items()}}),
        }


@dataclass(frozen=True)
class Side:
    """One side of a diff: what was given (``report``, ``dir`` or ``summary``) and its items.

    For a report dir with ``summary.json`` manifests, ``manifests`` names them (relative to
    the dir) and ``stale`` the report files no manifest lists (left over from earlier runs;
    not compared).
    """

    kind: str
    path: str
    items: Mapping[str, ItemInput]
    stale: tuple[str, ...] = ()
    manifests: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffResult:
    """The whole diff. :attr:`exit_code` is 1 when any item failed, else 0."""

    old: str
    new: str
    kind: str
    tolerances: Tolerances
    items: tuple[ItemDiff, ...]
    environment: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    old_stale: tuple[str, ...] = ()
    new_stale: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return 1 if any(item.failed for item in self.items) else 0

    def counts(self) -> dict[str, int]:
        """Items by status, and rows beyond tolerance / with a nullness change."""
        counts = {
            "items": len(self.items),
            "equal": 0,
            "changed": 0,
            "failed": 0,
            OLD_ONLY: 0,
            NEW_ONLY: 0,
            "rows_beyond": sum(item.count(BEYOND) for item in self.items),
            "rows_nullness": sum(item.count(NULLNESS) for item in self.items),
        }
        for item in self.items:
            counts[item.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "pyimgano-diff",
            "old": self.old,
            "new": self.new,
            "input_kind": self.kind,
            "tolerances": self.tolerances.to_dict(),
            "environment": {
                key: {"old": list(old), "new": list(new)}
                for key, (old, new) in self.environment.items()
            },
            "counts": self.counts(),
            "stale": {"old": list(self.old_stale), "new": list(self.new_stale)},
            "exit_code": self.exit_code,
            "items": [item.to_dict() for item in self.items],
        }

