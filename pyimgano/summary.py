"""The summary of a run of suite items: its data model, ``summary.json`` and renderings.

Shared by the pytest plugin (which fills it from test reports) and by ``pyimgano-diff
--merge`` (which rebuilds it from report dirs), so both write the same files. No pytest here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyimgano.report import SCHEMA_VERSION

SUMMARY_KIND = "pyimgano-summary"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
#: ``not_run``: selected but never started (``-x``/``--maxfail`` stopped the session first).
OUTCOMES = ("passed", "failed", "skipped", "error", "not_run")
NOT_RUN = "not_run"
#: snapshot states an item may record (``None``: the item never reached the snapshot step).
SNAPSHOT_STATES = ("created", "updated", "matched", "changed", "missing")
#: why a failed item failed (``None`` for an item that did not fail).
FAILURE_CAUSES = ("threshold", "parity", "comparison", "snapshot", "error")
#: Columns of the terminal table and summary.md (where at least one item has a value):
#: ``sample_auroc`` for Real-IAD items, ``seg_f1`` for MVTec AD 2 items (docs/REFERENCE.md §5).
HEADLINE_METRICS = ("image_auroc", "image_ap", "sample_auroc", "pixel_auroc", "aupro", "seg_f1")
#: What an item's summary keeps of its report's ``parity`` object (docs/REFERENCE.md §11).
PARITY_KEYS = ("score_max_abs", "map_max_abs", "decision_flips", "passed")
#: Parity columns of the terminal table and summary.md (when at least one item has parity).
PARITY_COLUMNS = (("parity Δscore", "score_max_abs"), ("flips", "decision_flips"))
#: What an item's summary keeps of each entry of its report's ``comparison`` (§12).
COMPARISON_KEYS = ("delta", "ci_low", "ci_high", "p_value", "passed")
#: Comparison columns of the terminal table and summary.md (when at least one item has one):
#: the failing metric (else the first), its Δ and p-value.
COMPARISON_COLUMNS = (("Δ baseline", "delta"), ("p", "p_value"))
#: What an item's summary keeps of its report's ``resources`` object (docs/REFERENCE.md §6).
RESOURCE_KEYS = ("peak_rss_mb", "peak_device_mb")
#: Memory columns (MiB) of the terminal table and summary.md (when at least one item has one).
RESOURCE_COLUMNS = (("peak MB", "peak_rss_mb"), ("device MB", "peak_device_mb"))


@dataclass
class ItemRecord:
    """What the summary knows about one item."""

    nodeid: str
    suite: str
    id: str
    category: str
    outcome: str = "passed"
    report: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    device: str | None = None
    snapshot: str | None = None
    failure_cause: str | None = None
    parity: dict[str, Any] | None = None  # PARITY_KEYS of the report's parity; None: no parity
    resources: dict[str, Any] | None = None  # RESOURCE_KEYS of the report's resources
    comparison: dict[str, Any] | None = None  # {metric: COMPARISON_KEYS}; None: no baseline

    def to_dict(self, report_dir: Path) -> dict[str, Any]:
        """The ``summary.json`` item; the ``parity`` key only where the item has parity."""
        item = {
            "nodeid": self.nodeid,
            "suite": self.suite,
            "id": self.id,
            "category": self.category,
            "outcome": self.outcome,
            "report": relative_report(self.report, report_dir),
            "metrics": dict(self.metrics),
            "thresholds": dict(self.thresholds),
            "message": self.message,
            "snapshot": self.snapshot,
            "failure_cause": self.failure_cause,
        }
        if self.parity is not None:
            item["parity"] = dict(self.parity)
        if self.resources is not None:
            item["resources"] = dict(self.resources)
        if self.comparison is not None:
            item["comparison"] = {m: dict(e) for m, e in self.comparison.items()}
        return item

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> ItemRecord:
        """An item of a ``summary.json`` back as a record (``report`` kept as written)."""
        return cls(
            nodeid=str(item["nodeid"]),
            suite=str(item.get("suite") or ""),
            id=str(item.get("id") or ""),
            category=str(item.get("category") or ""),
            outcome=str(item.get("outcome") or "passed"),
            report=item.get("report"),
            metrics=dict(item.get("metrics") or {}),
            thresholds=dict(item.get("thresholds") or {}),
            message=item.get("message"),
            snapshot=item.get("snapshot"),
            failure_cause=item.get("failure_cause"),
            parity=compact_parity(item.get("parity")),
            resources=compact_resources(item.get("resources")),
            comparison=compact_comparison(item.get("comparison")),
        )


def compact_parity(parity: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The :data:`PARITY_KEYS` of a report's ``parity`` object (None stays None)."""
    if not isinstance(parity, Mapping):
        return None
    return {key: parity.get(key) for key in PARITY_KEYS}


def compact_comparison(comparison: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The :data:`COMPARISON_KEYS` of each entry of a report's ``comparison`` (None stays
    None)."""
    if not isinstance(comparison, Mapping):
        return None
    return {
        str(metric): {key: entry.get(key) for key in COMPARISON_KEYS}
        for metric, entry in comparison.items()
        if isinstance(entry, Mapping)
    }


def compact_resources(resources: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The :data:`RESOURCE_KEYS` of a report's ``resources`` object (None stays None)."""
    if not isinstance(resources, Mapping):
        return None
    return {key: resources.get(key) for key in RESOURCE_KEYS}


def relative_report(path: str | None, report_dir: Path) -> str | None:
    """A report path relative to the report dir (POSIX), absolute if it lies outside."""
    if path is None:
        return None
    try:
        return Path(path).relative_to(report_dir).as_posix()
    except ValueError:
        rel = os.path.relpath(path, report_dir)
        return Path(path).as_posix() if rel.startswith("..") else Path(rel).as_posix()


def summary_object(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``summary.json`` object for already serialised ``items``."""
    return {"schema_version": SCHEMA_VERSION, "kind": SUMMARY_KIND, "items": list(items)}


# ------------------------------------------------------------------------------------------
# rendering


def headline_columns(records: Sequence[ItemRecord]) -> list[str]:
    """The headline metrics that at least one item has a value for."""
    return [
        m for m in HEADLINE_METRICS if any(r.metrics.get(m) is not None for r in records)
    ]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.4f}"
    return str(value)


def _failed_gates(record: ItemRecord) -> list[str]:
    return sorted(m for m, t in record.thresholds.items() if not t.get("passed", True))


def _parity_columns(records: Sequence[ItemRecord]) -> tuple[tuple[str, str], ...]:
    return PARITY_COLUMNS if any(r.parity is not None for r in records) else ()


def _parity_cell(record: ItemRecord, key: str) -> str:
    value = None if record.parity is None else record.parity.get(key)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1e}"
    return str(value)


def _comparison_columns(records: Sequence[ItemRecord]) -> tuple[tuple[str, str], ...]:
    return COMPARISON_COLUMNS if any(r.comparison for r in records) else ()


def _comparison_cell(record: ItemRecord, key: str) -> str:
    """``<metric> <Δ>`` / the p-value of the item's failing comparison (else the first)."""
    if not record.comparison:
        return "-"
    ordered = sorted(record.comparison.items())
    metric, entry = next(((m, e) for m, e in ordered if e.get("passed") is False), ordered[0])
    value = entry.get(key)
    if not isinstance(value, (int, float)):
        return "-"
    return f"{metric} {value:+.4f}" if key == "delta" else f"{value:.3g}"


def _resource_columns(records: Sequence[ItemRecord]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (title, key)
        for title, key in RESOURCE_COLUMNS
        if any(r.resources is not None and r.resources.get(key) is not None for r in records)
    )


def _resource_cell(record: ItemRecord, key: str) -> str:
    value = None if record.resources is None else record.resources.get(key)
    return "-" if value is None else f"{value:.0f}"


def terminal_lines(records: Sequence[ItemRecord]) -> list[str]:
    """The terminal table: item, each headline metric, parity (if any item has it), peak
    memory (if any item has it), result.

    The parity columns are the largest score |Δ| against the reference and the decision flips
    (docs/REFERENCE.md §11); ``-`` for items without a reference. ``peak MB`` is the item's
    peak host memory and ``device MB`` its peak device memory, in MiB (docs/REFERENCE.md §6).
    """
    columns = headline_columns(records)
    parity = _parity_columns(records)
    compared = _comparison_columns(records)
    memory = _resource_columns(records)
    header = ["item", *columns, *(title for title, _ in parity),
              *(title for title, _ in compared), *(title for title, _ in memory), "result"]
    rows = [
        [r.nodeid, *(_fmt(r.metrics.get(m)) for m in columns),
         *(_parity_cell(r, key) for _, key in parity),
         *(_comparison_cell(r, key) for _, key in compared),
         *(_resource_cell(r, key) for _, key in memory), _result_word(r.outcome).upper()]
        for r in records
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def _result_word(outcome: str) -> str:
    return "not run" if outcome == NOT_RUN else outcome


def _counts(records: Sequence[ItemRecord]) -> str:
    counts = {o: sum(r.outcome == o for r in records) for o in OUTCOMES}
    return ", ".join(f"{n} {_result_word(o)}" for o, n in counts.items() if n)


def snapshot_counts_line(records: Sequence[ItemRecord]) -> str | None:
    """``pyimgano: N snapshots written, M updated, K unchanged`` (None: no item compared one).

    Changed and missing snapshots (which fail their items) follow when there are any.
    """
    states = [r.snapshot for r in records if r.snapshot]
    if not states:
        return None

    def count(state: str) -> int:
        return sum(s == state for s in states)

    line = (f"pyimgano: {count('created')} snapshots written, {count('updated')} updated, "
            f"{count('matched')} unchanged")
    failing = [f"{count(s)} {s}" for s in ("changed", "missing") if count(s)]
    return line + (f" ({', '.join(failing)})" if failing else "")


def skip_lines(records: Sequence[ItemRecord]) -> list[str]:
    """``SKIPPED <nodeid>: <reason>`` for every skipped item (shown without ``-rs``)."""
    return [f"SKIPPED {r.nodeid}: {r.message or '(no reason given)'}"
            for r in records if r.outcome == "skipped"]


def footer_line(records: Sequence[ItemRecord], report_dir: Path) -> str:
    """One line: counts, the report dir, the device(s) used."""
    devices = sorted({r.device for r in records if r.device})
    where = f"; device {', '.join(devices)}" if devices else ""
    noun = "item" if len(records) == 1 else "items"
    return (
        f"pyimgano: {len(records)} {noun} ({_counts(records)}); reports in {report_dir}{where}"
    )


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(records: Sequence[ItemRecord], report_dir: Path) -> str:
    """``summary.md``: a Markdown table for CI job pages."""
    columns = headline_columns(records)
    parity = _parity_columns(records)
    compared = _comparison_columns(records)
    memory = _resource_columns(records)
    titles = [*columns, *(_md(title) for title, _ in parity),
              *(_md(title) for title, _ in compared), *(title for title, _ in memory)]
    lines = [
        "# pyimgano summary",
        "",
        f"{len(records)} {'item' if len(records) == 1 else 'items'}: {_counts(records)}.",
        "",
        "| item | " + " | ".join(titles) + (" | " if titles else "")
        + "result | snapshot | cause | note |",
        "|---|" + "---:|" * len(titles) + "---|---|---|---|",
    ]
    for r in records:
        word = _result_word(r.outcome)
        result = word if r.outcome in ("passed", "skipped") else f"**{word}**"
        note = r.message or ""
        failed = _failed_gates(r)
        if failed and not note:
            note = "gates failed: " + ", ".join(failed)
        cells = [f"`{_md(r.nodeid)}`", *(_fmt(r.metrics.get(m)) for m in columns),
                 *(_parity_cell(r, key) for _, key in parity),
                 *(_md(_comparison_cell(r, key)) for _, key in compared),
                 *(_resource_cell(r, key) for _, key in memory), result,
                 r.snapshot or "-", r.failure_cause or "-", _md(note)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Reports: `{report_dir}`", ""]
    return "\n".join(lines)

