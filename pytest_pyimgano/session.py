"""The run's summary of suite items: terminal table, ``summary.json`` and ``summary.md``.

:class:`PyImganoSession` lives in ``config.stash[SESSION_KEY]`` and is registered as a plugin
object on the controller only (not on xdist workers), like junitxml's ``LogXML``. It learns
about items solely from ``pytest_runtest_logreport`` reports and their ``user_properties``, so
it works the same when items run on xdist workers. The summary is written at session finish,
atomically, and only when suite items ran.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_pyimgano.item import HEADLINE_METRICS

SUMMARY_VERSION = "1.0"
SUMMARY_KIND = "pyimgano-summary"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
OUTCOMES = ("passed", "failed", "skipped", "error")
_OWN = ("pyimgano_item", "pyimgano_report", "pyimgano_device", "pyimgano_snapshot",
        "pyimgano_thresholds")


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

    def to_dict(self, report_dir: Path) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "suite": self.suite,
            "id": self.id,
            "category": self.category,
            "outcome": self.outcome,
            "report": relative_report(self.report, report_dir),
            "metrics": dict(self.metrics),
            "thresholds": dict(self.thresholds),
            "message": self.message,
        }


def relative_report(path: str | None, report_dir: Path) -> str | None:
    """A report path relative to the report dir (POSIX), absolute if it lies outside."""
    if path is None:
        return None
    try:
        return Path(path).relative_to(report_dir).as_posix()
    except ValueError:
        rel = os.path.relpath(path, report_dir)
        return Path(path).as_posix() if rel.startswith("..") else Path(rel).as_posix()


def _pairs(properties: Iterable[Any]) -> list[tuple[str, Any]]:
    return [(p[0], p[1]) for p in properties if len(p) == 2]


def short_message(report: Any) -> str | None:
    """A one-line reason: the skip reason, or the first line of the failure."""
    if report.passed:
        return None
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        return text[len("Skipped: "):] if text.startswith("Skipped: ") else text
    text = getattr(report, "longreprtext", "") or str(longrepr or "")
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return None


class PyImganoSession:
    """Collects item outcomes and writes the session summary (controller only)."""

    def __init__(self, report_dir: Path) -> None:
        self.report_dir = report_dir
        self.records: dict[str, ItemRecord] = {}
        self.written: list[Path] = []

    # -- hooks (thin) ---------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.add_report(report)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.records:
            self.written = self.write()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.records:
            return
        terminalreporter.write_sep("-", "pyimgano summary")
        for line in terminal_lines(self.sorted_records()):
            terminalreporter.write_line(line)
        terminalreporter.write_line(footer_line(self.sorted_records(), self.report_dir))

    # -- logic ----------------------------------------------------------------------------

    def add_report(self, report: Any) -> ItemRecord | None:
        """Fold one phase report (setup/call/teardown) into the item's record."""
        properties = _pairs(report.user_properties)
        identity = next((value for name, value in properties if name == "pyimgano_item"), None)
        if identity is None:
            return None
        record = self.records.get(report.nodeid)
        if record is None:
            ident = json.loads(identity)
            record = ItemRecord(report.nodeid, ident["suite"], ident["id"], ident["category"])
            self.records[report.nodeid] = record
        for name, value in properties:
            if name == "pyimgano_report":
                record.report = str(value)
            elif name == "pyimgano_device":
                record.device = str(value)
            elif name == "pyimgano_snapshot":
                record.snapshot = str(value)
            elif name == "pyimgano_thresholds":
                record.thresholds = json.loads(value) if isinstance(value, str) else dict(value)
            elif name not in _OWN:
                record.metrics[name] = value
        outcome = _outcome(report)
        if outcome is not None and _rank(outcome) > _rank(record.outcome):
            record.outcome = outcome
            record.message = short_message(report)
        return record

    def sorted_records(self) -> list[ItemRecord]:
        return [self.records[k] for k in sorted(self.records)]

    def summary(self) -> dict[str, Any]:
        """The ``summary.json`` object."""
        return {
            "schema_version": SUMMARY_VERSION,
            "kind": SUMMARY_KIND,
            "items": [r.to_dict(self.report_dir) for r in self.sorted_records()],
        }

    def write(self) -> list[Path]:
        """Write ``summary.json`` and ``summary.md`` atomically into the report dir."""
        from pyimgano.report import dumps, write_text_atomic

        records = self.sorted_records()
        return [
            write_text_atomic(self.report_dir / SUMMARY_JSON, dumps(self.summary())),
            write_text_atomic(self.report_dir / SUMMARY_MD, markdown(records, self.report_dir)),
        ]


def _outcome(report: Any) -> str | None:
    if report.when == "call":
        return str(report.outcome)
    if report.failed:
        return "error"
    if report.skipped:
        return "skipped"
    return None


def _rank(outcome: str) -> int:
    return {"passed": 0, "skipped": 1, "failed": 2, "error": 3}.get(outcome, 0)


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


def terminal_lines(records: Sequence[ItemRecord]) -> list[str]:
    """The terminal table: item, each headline metric, result."""
    columns = headline_columns(records)
    header = ["item", *columns, "result"]
    rows = [
        [r.nodeid, *(_fmt(r.metrics.get(m)) for m in columns), r.outcome.upper()]
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


def _counts(records: Sequence[ItemRecord]) -> str:
    counts = {o: sum(r.outcome == o for r in records) for o in OUTCOMES}
    return ", ".join(f"{n} {o}" for o, n in counts.items() if n)


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
    lines = [
        "# pyimgano summary",
        "",
        f"{len(records)} {'item' if len(records) == 1 else 'items'}: {_counts(records)}.",
        "",
        "| item | " + " | ".join(columns) + (" | " if columns else "") + "result | note |",
        "|---|" + "---:|" * len(columns) + "---|---|",
    ]
    for r in records:
        result = r.outcome if r.outcome in ("passed", "skipped") else f"**{r.outcome}**"
        note = r.message or ""
        failed = _failed_gates(r)
        if failed and not note:
            note = "gates failed: " + ", ".join(failed)
        cells = [f"`{_md(r.nodeid)}`", *(_fmt(r.metrics.get(m)) for m in columns), result,
                 _md(note)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Reports: `{report_dir}`", ""]
    return "\n".join(lines)

