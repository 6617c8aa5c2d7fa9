"""Merge sharded report sets (pytest-split shards, CI machines) into one report dir (§8, §9).

Section numbers are those of docs/REFERENCE.md.

Inputs are report dirs (their ``summary.json`` when they have one, else every report file in
them) or ``summary.json`` files. The output directory gets a copy of every report with its
JSONL and plots (at the same relative path as in its input), one ``summary.json`` listing every
item sorted by nodeid, and ``summary.md``. The same item (nodeid) may appear in several inputs
only with the same results; otherwise the merge is refused with an error naming both files.

:func:`collect_entries` and :func:`write_merged` do the I/O; :func:`merge_entries` is pure.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pyimgano.diff.inputs import (
    SUMMARY_NAME,
    check_report,
    check_summary,
    report_files,
    schema_major,
    summary_report_path,
)
from pyimgano.errors import ReportError
from pyimgano.report import dumps, read_report, records_path, staged_file, write_text_atomic
from pyimgano.summary import (
    SUMMARY_KIND,
    SUMMARY_MD,
    ItemRecord,
    compact_resources,
    markdown,
    summary_object,
)

SUMMARY_KEYS = (
    "nodeid",
    "suite",
    "id",
    "category",
    "outcome",
    "report",
    "metrics",
    "thresholds",
    "message",
)


@dataclass(frozen=True)
class SummaryEntry:
    """One item of one input: its summary fields, where it came from and its report file.

    ``relative`` is the report's path relative to the input's root (and to the merged
    summary); ``report`` the loaded report object (to compare duplicates), when there is one.
    """

    item: Mapping[str, Any]
    source: Path
    report_file: Path | None = None
    relative: str | None = None
    report: Mapping[str, Any] | None = field(default=None, repr=False)
    major: int | None = None

    @property
    def nodeid(self) -> str:
        return str(self.item["nodeid"])


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge_paths` wrote."""

    summary_path: Path
    markdown_path: Path
    items: tuple[Mapping[str, Any], ...]
    warnings: tuple[str, ...] = ()


# ------------------------------------------------------------------------------------------
# reading


def summary_item_from_report(report: Mapping[str, Any], relative: str) -> dict[str, Any]:
    """The summary entry of a report found without a summary (e.g. from pyimgano-benchmark).

    ``nodeid`` is the report's ``item.nodeid``, or its relative path for CLI reports; the
    outcome is ``failed`` when any gate the report records failed (thresholds, export parity
    or a degenerate artifact, comparisons: :func:`pyimgano.gates.recorded_failures`), with
    ``message`` and ``failure_cause`` saying which; else ``passed``.
    """
    item = report.get("item") or {}
    entry = {
        "nodeid": item.get("nodeid") or relative,
        "suite": item.get("suite"),
        "id": item.get("id"),
        "category": item.get("category") or (report.get("dataset") or {}).get("category"),
        "outcome": "passed",
        "report": relative,
        "metrics": dict(report.get("metrics") or {}),
        "thresholds": dict(report.get("thresholds") or {}),
        "message": None,
        "resources": compact_resources(report.get("resources")),
    }
    return with_recorded_failures(entry, report)


def with_recorded_failures(
    item: Mapping[str, Any], report: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``item`` (a summary entry) made ``failed`` when its report records a failed gate.

    Only a ``passed`` item changes (an error or a skip stays what it is); ``message`` lists
    the failed gates and ``failure_cause`` names the first one's kind.
    """
    from pyimgano.gates import recorded_failures

    item = dict(item)
    failures = [] if report is None else recorded_failures(report)
    if failures and item.get("outcome", "passed") == "passed":
        item["outcome"] = "failed"
        item["message"] = "; ".join(f.text for f in failures)
        item["failure_cause"] = failures[0].cause
    return item


def _relative(text: str) -> str | None:
    """A summary's report path as a relative POSIX path, or ``None`` when it points outside
    the summary's directory (absolute, or through ``..``): such reports are not copied."""
    path = PurePosixPath(text.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        return None
    return path.as_posix()


def _read_summary_entries(
    path: Path, data: Mapping[str, Any]
) -> tuple[list[SummaryEntry], list[str]]:
    entries, warnings = [], []
    major = schema_major(data, path)
    for item in check_summary(data, path):
        report_path = summary_report_path(path, item)
        if report_path is None:
            entries.append(SummaryEntry(item=dict(item), source=path, major=major))
            continue
        relative = _relative(str(item["report"]))
        if not report_path.is_file():
            warnings.append(
                f"{path}: report {report_path} of {item['nodeid']} not found; the merged "
                "summary keeps its metrics with report: null"
            )
            entries.append(SummaryEntry(item={**item, "report": None}, source=path, major=major))
            continue
        report = read_report(report_path)
        check_report(report, report_path)
        entries.append(
            SummaryEntry(
                item=with_recorded_failures(item, report),
                source=path,
                report_file=report_path,
                relative=relative,
                report=report,
                major=major,
            )
        )
    return entries, warnings


def collect_entries(path: Path) -> tuple[list[SummaryEntry], list[str]]:
    """The items of one input (a report dir or a ``summary.json``), plus warnings."""
    if path.is_dir():
        summary = path / SUMMARY_NAME
        if summary.is_file():
            return collect_entries(summary)
        files = report_files(path)
        if not files:
            raise ReportError(f"{path}: neither a summary.json nor any report file in it")
        entries = []
        for file in files:
            report = read_report(file)
            check_report(report, file)
            relative = file.relative_to(path).as_posix()
            entries.append(
                SummaryEntry(
                    item=summary_item_from_report(report, relative),
                    source=file,
                    report_file=file,
                    relative=relative,
                    report=report,
                    major=schema_major(report, file),
                )
            )
        return entries, []
    if not path.exists():
        raise ReportError(f"{path}: no such file or directory")
    data = read_report(path)
    if data.get("kind") != SUMMARY_KIND:
        raise ReportError(
            f"{path}: not a summary.json (kind {data.get('kind')!r}); merge takes report "
            "directories or summary.json files"
        )
    return _read_summary_entries(path, data)


# ------------------------------------------------------------------------------------------
# merging (pure)


def _results(entry: SummaryEntry) -> dict[str, Any]:
    """What must agree between two copies of one item."""
    results: dict[str, Any] = {
        "outcome": entry.item.get("outcome"),
        "metrics": entry.item.get("metrics") or {},
        "thresholds": entry.item.get("thresholds") or {},
    }
    if entry.report is not None:
        results["report.metrics"] = entry.report.get("metrics")
        results["report.metrics_by_defect"] = entry.report.get("metrics_by_defect")
    return results


def _first_difference(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    for key in sorted(set(a) & set(b)):
        if a[key] != b[key]:
            if isinstance(a[key], Mapping) and isinstance(b[key], Mapping):
                return f"{key}.{_first_difference(a[key], b[key])}"
            return f"{key} ({a[key]!r} vs {b[key]!r})"
    return "results"


def _where(entry: SummaryEntry) -> str:
    return str(entry.source)


def merge_entries(entries: Iterable[SummaryEntry]) -> list[SummaryEntry]:
    """One entry per nodeid, sorted by nodeid.

    Raises :class:`ReportError` naming both files when one nodeid has different results
    (outcome, metrics, thresholds, report metrics) in two inputs, or when two different items
    claim the same report path.
    """
    by_nodeid: dict[str, SummaryEntry] = {}
    for entry in entries:
        kept = by_nodeid.get(entry.nodeid)
        if kept is None:
            by_nodeid[entry.nodeid] = entry
            continue
        mine, theirs = _results(kept), _results(entry)
        shared = {k: mine[k] for k in mine if k in theirs}
        other = {k: theirs[k] for k in theirs if k in mine}
        if shared != other:
            raise ReportError(
                f"conflicting results for {entry.nodeid}: {_where(kept)} and {_where(entry)} "
                f"differ in {_first_difference(shared, other)}"
            )
        if kept.report_file is None and entry.report_file is not None:
            by_nodeid[entry.nodeid] = entry
    by_path: dict[str, SummaryEntry] = {}
    for entry in by_nodeid.values():
        if entry.relative is None:
            continue
        other_entry = by_path.setdefault(entry.relative, entry)
        if other_entry is not entry:
            raise ReportError(
                f"{entry.nodeid} ({_where(entry)}) and {other_entry.nodeid} "
                f"({_where(other_entry)}) both use the report path {entry.relative}"
            )
    return [by_nodeid[nodeid] for nodeid in sorted(by_nodeid)]


def merged_item(entry: SummaryEntry) -> dict[str, Any]:
    """The entry as written to the merged summary (every SUMMARY_KEYS key present)."""
    item = {key: entry.item.get(key) for key in SUMMARY_KEYS}
    item["metrics"] = dict(item["metrics"] or {})
    item["thresholds"] = dict(item["thresholds"] or {})
    if entry.report_file is None:
        item["report"] = None
    elif entry.relative is not None:
        item["report"] = entry.relative
    else:  # outside its input directory: not copied, referenced where it is
        item["report"] = Path(os.path.abspath(entry.report_file)).as_posix()
    extra = {k: v for k, v in entry.item.items() if k not in SUMMARY_KEYS}
    return {**extra, **item}


def summary_markdown(items: Sequence[Mapping[str, Any]], out_dir: Path) -> str:
    """``summary.md`` for ``items``, rendered exactly as a single run renders it."""
    return markdown([ItemRecord.from_dict(item) for item in items], out_dir)


# ------------------------------------------------------------------------------------------
# writing


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically (temp file + rename); same file: nothing."""
    if target.exists() and os.path.samefile(source, target):
        return
    with staged_file(target) as tmp:
        shutil.copyfile(source, tmp)


def report_companions(report_file: Path) -> list[Path]:
    """The report, its JSONL and its plots (``<stem>.*.png``) that exist."""
    files = [report_file]
    jsonl = records_path(report_file)
    if jsonl.is_file():
        files.append(jsonl)
    files += sorted(report_file.parent.glob(f"{glob.escape(report_file.stem)}.*.png"))
    return files


def _planned_copies(
    entries: Sequence[SummaryEntry], out_dir: Path
) -> list[tuple[SummaryEntry, list[tuple[Path, Path]]]]:
    """Per entry with a report, ``(source, target)`` of its report (first), JSONL and plots."""
    planned = []
    for entry in entries:
        if entry.report_file is not None and entry.relative is not None:
            target = out_dir / entry.relative
            stem = entry.report_file.stem
            planned.append((entry, [
                (file, target.parent / (target.stem + file.name[len(stem) :]))
                for file in report_companions(entry.report_file)
            ]))
    return planned


def check_targets(
    planned: Sequence[tuple[SummaryEntry, Sequence[tuple[Path, Path]]]], out_dir: Path
) -> None:
    """Refuse, before anything is written, to overwrite a file in ``out_dir`` that pyimgano
    did not write: an item's files by the rule of :func:`pyimgano.manifest.check_writable`,
    ``summary.json``/``summary.md`` by :func:`pyimgano.manifest.foreign_summaries`. A target
    that is its own source (a merge into one of its inputs) is left as it is."""
    from pyimgano.manifest import check_writable, foreign_summaries

    for entry, copies in planned:
        (_, report), *companions = copies
        if report.exists() and os.path.samefile(copies[0][0], report):
            continue
        check_writable(out_dir, report, [target for _, target in companions],
                       nodeid=entry.nodeid)
    foreign = foreign_summaries(out_dir)
    if foreign:
        raise ReportError(
            f"{foreign[0]}: exists and was not written by pyimgano; the merged summary is not "
            "written over it: move it, or choose another output dir"
        )


def write_merged(
    entries: Sequence[SummaryEntry], out_dir: Path
) -> tuple[Path, Path, list[dict[str, Any]]]:
    """Copy the entries' reports into ``out_dir`` and write ``summary.json`` / ``summary.md``.

    Nothing is written when a target exists that pyimgano did not write (:func:`check_targets`);
    every file written is recorded in ``out_dir``'s manifest."""
    from pyimgano.manifest import record_files

    planned = _planned_copies(entries, out_dir)
    check_targets(planned, out_dir)
    copied = []
    for _, copies in planned:
        for source, target in copies:
            _copy(source, target)
            copied.append(target)
    items = [merged_item(entry) for entry in entries]
    summary = summary_object(items)
    summary_path = write_text_atomic(out_dir / SUMMARY_NAME, dumps(summary))
    markdown_path = write_text_atomic(out_dir / SUMMARY_MD, summary_markdown(items, out_dir))
    record_files(out_dir, [*copied, summary_path, markdown_path])
    return summary_path, markdown_path, items


def check_majors(entries: Iterable[SummaryEntry]) -> None:
    """Refuse inputs of different MAJOR ``schema_version`` (naming one file of each)."""
    majors: dict[int, Path] = {}
    for entry in entries:
        if entry.major is not None:
            majors.setdefault(entry.major, entry.source)
    if len(majors) > 1:
        (a, first), (b, second) = sorted(majors.items())[:2]
        raise ReportError(
            f"{second}: schema_version major {b} differs from {first} (major {a}); "
            "cannot merge different major versions"
        )


def merge_paths(
    inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str]
) -> MergeResult:
    """Merge report dirs / ``summary.json`` files into ``out_dir`` (see the module docstring)."""
    if not inputs:
        raise ReportError("nothing to merge: give at least one report dir or summary.json")
    entries: list[SummaryEntry] = []
    warnings: list[str] = []
    for path in inputs:
        found, notes = collect_entries(Path(path))
        entries += found
        warnings += notes
    check_majors(entries)
    merged = merge_entries(entries)
    summary_path, markdown_path, items = write_merged(merged, Path(out_dir))
    return MergeResult(summary_path, markdown_path, tuple(items), tuple(warnings))
