"""The run's summary of suite items: terminal table, ``summary.json`` and ``summary.md``.

:class:`PyImganoSession` lives in ``config.stash[SESSION_KEY]`` and is registered as a plugin
object on the controller only (not on xdist workers), like junitxml's ``LogXML``. It learns
about items solely from ``pytest_runtest_logreport`` reports and their ``user_properties``, so
it works the same when items run on xdist workers. The summary is written at session finish,
atomically, and only when suite items ran; selected items that never started (``-x``) are
listed as ``not_run``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pyimgano.manifest import foreign_summaries, record_files
from pyimgano.summary import (
    NOT_RUN,
    SUMMARY_JSON,
    SUMMARY_MD,
    ItemRecord,
    compact_comparison,
    compact_parity,
    compact_resources,
    footer_line,
    markdown,
    skip_lines,
    snapshot_counts_line,
    summary_object,
    terminal_lines,
)
from pytest_pyimgano.warnings import ReportDirWarning

SUMMARY_LOCK = ".summary.lock"
UNFINISHED = "the item did not finish (session interrupted)"
NOT_STARTED = "not run: the session stopped before this item (-x, --maxfail or an interrupt)"
_CLOCK_SLACK_NS = 50_000_000

_OWN = ("pyimgano_item", "pyimgano_report", "pyimgano_device", "pyimgano_snapshot",
        "pyimgano_thresholds", "pyimgano_failure_cause", "pyimgano_parity",
        "pyimgano_resources", "pyimgano_comparison")
_NODE_NAME = re.compile(r"^(?P<id>[^\[\]:]+)\[(?P<category>[^\[\]]+)\]$")


def parse_item_nodeid(nodeid: str) -> tuple[str, str, str] | None:
    """``suites/r.yaml::fake[disk]`` → ``("suites/r.yaml", "fake", "disk")``; None for other ids."""
    path, sep, name = nodeid.partition("::")
    match = _NODE_NAME.match(name) if sep else None
    if match is None or not path.endswith((".yaml", ".yml")):
        return None
    return path, match.group("id"), match.group("category")


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
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message).strip().splitlines()[0]
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
        self.finished: set[str] = set()  # node ids with a result (call, or a failed setup)
        self.selected: dict[str, tuple[str, str, str]] = {}  # node id → (suite, id, category)
        self.removed: list[Path] = []  # stale reports removed at collection (not under xdist)
        # File times come from the kernel's coarse clock, which may lag time.time_ns() by a
        # tick; the slack keeps a summary written just after this point from looking older.
        self.started_ns = time.time_ns() - _CLOCK_SLACK_NS

    # -- hooks (thin) ---------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.add_report(report)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from pytest_pyimgano.nodes import CaseItem

        for item in session.items:
            if isinstance(item, CaseItem):
                spec = item.spec
                self.selected[item.nodeid] = (spec.suite.source, spec.id, spec.category)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Under xdist the controller does not collect: it learns the selection from workers."""
        for nodeid in ids:
            parsed = parse_item_nodeid(nodeid)
            if parsed is not None:
                self.selected[nodeid] = parsed

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.records:
            self.close_unfinished()
            self.add_not_run()
            self.written = self.write()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.records:
            return
        records = self.sorted_records()
        terminalreporter.write_sep("-", "pyimgano summary")
        for line in terminal_lines(records):
            terminalreporter.write_line(line)
        for line in skip_lines(records):
            terminalreporter.write_line(line)
        snapshots = snapshot_counts_line(records)
        if snapshots:
            terminalreporter.write_line(snapshots)
        if self.removed:
            terminalreporter.write_line(
                f"pyimgano: removed {len(self.removed)} stale report file(s) of the suites run"
            )
        terminalreporter.write_line(footer_line(records, self.report_dir))

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
            elif name == "pyimgano_failure_cause":
                record.failure_cause = None if value is None else str(value)
            elif name == "pyimgano_thresholds":
                record.thresholds = json.loads(value) if isinstance(value, str) else dict(value)
            elif name == "pyimgano_parity":
                record.parity = compact_parity(json.loads(value) if isinstance(value, str)
                                               else value)
            elif name == "pyimgano_comparison":
                record.comparison = compact_comparison(
                    json.loads(value) if isinstance(value, str) else value)
            elif name == "pyimgano_resources":
                record.resources = compact_resources(json.loads(value) if isinstance(value, str)
                                                     else value)
            elif name not in _OWN:
                record.metrics[name] = value
        outcome = _outcome(report)
        if outcome is not None and _rank(outcome) > _rank(record.outcome):
            record.outcome = outcome
            record.message = short_message(report)
            if outcome == "error" and record.failure_cause is None:
                record.failure_cause = "error"
        if report.when == "call" or report.failed or report.skipped:
            self.finished.add(report.nodeid)
        return record

    def close_unfinished(self) -> None:
        """Items whose setup passed but that never reported a result (Ctrl-C, a killed
        worker) are errors, never "passed" (a record starts as passed)."""
        for nodeid, record in self.records.items():
            if nodeid not in self.finished and record.outcome == "passed":
                record.outcome = "error"
                record.message = UNFINISHED

    def add_not_run(self) -> None:
        """Selected items without any report: the session stopped before them."""
        for nodeid, (suite, item_id, category) in self.selected.items():
            if nodeid not in self.records:
                self.records[nodeid] = ItemRecord(nodeid, suite, item_id, category,
                                                  outcome=NOT_RUN, message=NOT_STARTED)

    def sorted_records(self) -> list[ItemRecord]:
        return [self.records[k] for k in sorted(self.records)]

    def summary(self) -> dict[str, Any]:
        """The ``summary.json`` object."""
        return summary_object([r.to_dict(self.report_dir) for r in self.sorted_records()])

    def write(self) -> list[Path]:
        """Write ``summary.json`` and ``summary.md`` atomically into the report dir.

        Two sessions may share a report dir at the same time; each would overwrite the other's
        summary. So, under an exclusive lock on ``<report-dir>/.summary.lock``, a
        ``summary.json`` written *while this session ran* (its mtime is after this session
        started) is merged: its items stay unless this session ran the same node id. A summary
        of an earlier, finished run is replaced, as before.
        """
        from pyimgano.report import dumps, write_text_atomic

        self.report_dir.mkdir(parents=True, exist_ok=True)
        with _locked(self.report_dir / SUMMARY_LOCK):
            own = self.sorted_records()
            ids = {record.nodeid for record in own}
            others = [i for i in self._concurrent_items() if i.get("nodeid") not in ids]
            items = sorted(
                [r.to_dict(self.report_dir) for r in own] + others, key=lambda i: i["nodeid"]
            )
            records = sorted(own + [ItemRecord.from_dict(i) for i in others],
                             key=lambda r: r.nodeid)
            texts = {
                SUMMARY_JSON: dumps(summary_object(items)),
                SUMMARY_MD: markdown(records, self.report_dir),
            }
            refused = foreign_summaries(self.report_dir)
            for path in refused:
                warnings.warn(
                    f"{path}: exists and was not written by pyimgano; the session summary is "
                    "not written over it (move it, or choose another --pyimgano-report-dir)",
                    ReportDirWarning,
                    stacklevel=1,
                )
            written = [
                write_text_atomic(self.report_dir / name, text)
                for name, text in texts.items()
                if self.report_dir / name not in refused
            ]
            record_files(self.report_dir, written)
            return written

    def _concurrent_items(self) -> list[dict[str, Any]]:
        """Items of a ``summary.json`` written after this session started (else none)."""
        path = self.report_dir / SUMMARY_JSON
        try:
            if path.stat().st_mtime_ns < self.started_ns:
                return []
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            return []
        return [i for i in items if isinstance(i, dict) and isinstance(i.get("nodeid"), str)]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``fcntl.flock`` on ``path`` (no locking where fcntl does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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
