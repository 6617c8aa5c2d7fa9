"""The run's summary of suite items: terminal table, ``summary.json`` and ``summary.md``.

:class:`PyImganoSession` lives in ``config.stash[SESSION_KEY]`` and is registered as a plugin
object on the controller only (not on xdist workers), like junitxml's ``LogXML``. It learns
about items solely from ``pytest_runtest_logreport`` reports and their ``user_properties``, so
it works the same when items run on xdist workers. The summary is written at session finish,
atomically, and only when suite items ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pyimgano.summary import (
    SUMMARY_JSON,
    SUMMARY_MD,
    ItemRecord,
    footer_line,
    markdown,
    summary_object,
    terminal_lines,
)

_OWN = ("pyimgano_item", "pyimgano_report", "pyimgano_device", "pyimgano_snapshot",
        "pyimgano_thresholds")


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
        return summary_object([r.to_dict(self.report_dir) for r in self.sorted_records()])

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
