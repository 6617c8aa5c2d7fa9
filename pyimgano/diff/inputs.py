"""Read the inputs of a diff or a merge: report files, report dirs and ``summary.json`` files.

Every problem with an input is a :class:`~pyimgano.errors.ReportError` naming the file, which
the CLIs turn into exit code 2.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyimgano.diff.result import ItemInput, Side
from pyimgano.errors import ReportError
from pyimgano.report import SCHEMA_VERSION, read_report, records_path, upgrade_report
from pyimgano.summary import SUMMARY_JSON, SUMMARY_KIND

SUMMARY_NAME = SUMMARY_JSON
REPORT = "report"
DIRECTORY = "dir"
SUMMARY = "summary"

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)$")
_KIND_WORDS = {REPORT: "a report file", DIRECTORY: "a report directory", SUMMARY: "a summary.json"}


def schema_major(data: Mapping[str, Any], path: str | os.PathLike[str]) -> int:
    """The MAJOR part of ``data["schema_version"]``; :class:`ReportError` if it has none."""
    version = data.get("schema_version")
    match = _VERSION_RE.match(version) if isinstance(version, str) else None
    if match is None:
        raise ReportError(f"{path}: schema_version {version!r} is not MAJOR.MINOR")
    return int(match.group(1))


def _is_number(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_numbers(mapping: Any, where: str, path: Path) -> None:
    if not isinstance(mapping, Mapping):
        raise ReportError(f"{path}: {where} must be an object, got {type(mapping).__name__}")
    for key, value in mapping.items():
        if not _is_number(value):
            raise ReportError(f"{path}: {where}.{key} must be a number or null, got {value!r}")


def check_report(data: Mapping[str, Any], path: Path) -> None:
    """The parts of a report that a diff reads: version, metrics, per-defect and per-type
    metrics, resolution, timing.

    Deliberately lighter than the full schema, so a report of a newer MINOR version (which
    may add keys) still diffs.
    """
    schema_major(data, path)
    if "metrics" not in data:
        raise ReportError(f"{path}: not a pyimgano report (no 'metrics' key)")
    _check_numbers(data["metrics"], "metrics", path)
    for grouped in ("metrics_by_defect", "metrics_by_defect_type"):
        groups = data.get(grouped, {})
        if not isinstance(groups, Mapping):
            raise ReportError(f"{path}: {grouped} must be an object")
        for group, metrics in groups.items():
            _check_numbers(metrics, f"{grouped}.{group}", path)
    _check_numbers(data.get("timing", {}), "timing", path)
    _check_numbers(data.get("resolution", {}), "resolution", path)
    for section in ("dataset", "model", "environment", "item", "decision", "resources"):
        value = data.get(section)
        if value is not None and not isinstance(value, Mapping):
            raise ReportError(f"{path}: {section} must be an object")


def read_records(path: Path) -> tuple[dict[str, Any], ...] | None:
    """Per-image records from a JSONL file, or ``None`` when the file does not exist."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read per-image records ({exc})") from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReportError(f"{path}:{number}: not a JSON record ({exc})") from None
        if not isinstance(record, dict):
            raise ReportError(f"{path}:{number}: expected a JSON object per line")
        missing = [k for k in ("path", "label", "score") if k not in record]
        if missing:
            raise ReportError(f"{path}:{number}: record lacks {', '.join(missing)}")
        if not _is_number(record["score"]) or record["score"] is None:
            raise ReportError(f"{path}:{number}: score must be a finite number")
        if record["label"] not in (0, 1) or isinstance(record["label"], float):
            raise ReportError(f"{path}:{number}: label must be 0 or 1, got {record['label']!r}")
        records.append(record)
    return tuple(records)


def _nodeid(report: Mapping[str, Any]) -> str | None:
    item = report.get("item")
    if isinstance(item, Mapping) and isinstance(item.get("nodeid"), str):
        return item["nodeid"]
    return None


def load_report_item(path: Path, key: str) -> ItemInput:
    """One report file (and the JSONL beside it) as an :class:`ItemInput`.

    A report of an older MINOR version is read in the current layout
    (:func:`pyimgano.report.upgrade_report`): e.g. a 1.1 report's ``image_borderline`` is its
    ``decision.borderline``, never a metric.
    """
    data = read_report(path)
    if data.get("kind") == SUMMARY_KIND:
        raise ReportError(f"{path}: is a summary, not a report")
    check_report(data, path)
    return ItemInput(
        key=key,
        path=str(path),
        report=upgrade_report(data),
        records=read_records(records_path(path)),
        nodeid=_nodeid(data),
    )


def report_files(directory: Path) -> list[Path]:
    """Report files under ``directory``: every ``*.json`` except ``summary.json`` and hidden
    (temporary) files, in sorted relative-path order."""
    found = []
    for path in directory.rglob("*.json"):
        relative = path.relative_to(directory)
        if path.name == SUMMARY_NAME or any(p.startswith(".") for p in relative.parts):
            continue
        if path.is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(directory).as_posix())


def manifest_listing(directory: Path) -> tuple[list[Path], dict[Path, Mapping[str, Any]]]:
    """The ``summary.json`` manifests under ``directory`` and the report files they list.

    Returns the manifest paths (sorted) and, for every listed report that exists, its
    resolved path → the manifest's item (``nodeid``, ``outcome``). No manifest: both empty.
    """
    manifests = sorted(
        path
        for path in directory.rglob(SUMMARY_NAME)
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )
    listed: dict[Path, Mapping[str, Any]] = {}
    for manifest in manifests:
        data = read_report(manifest)
        if data.get("kind") != SUMMARY_KIND:
            raise ReportError(f"{manifest}: is not a pyimgano summary (kind {data.get('kind')!r})")
        for entry in check_summary(data, manifest):
            report_path = summary_report_path(manifest, entry)
            if report_path is not None and report_path.is_file():
                listed[report_path.resolve()] = entry
    return manifests, listed


def load_dir(directory: Path) -> Side:
    """Every report under ``directory``, keyed by its relative path.

    Where the directory holds ``summary.json`` manifests (each pytest session writes one),
    only the reports a manifest lists are compared; the others are left over from earlier
    runs and are listed in :attr:`Side.stale` instead of being compared.
    """
    files = report_files(directory)
    if not files:
        raise ReportError(f"{directory}: no report files (*.json other than summary.json) found")
    manifests, listed = manifest_listing(directory)
    items = {}
    stale = []
    for path in files:
        key = path.relative_to(directory).as_posix()
        entry = listed.get(path.resolve()) if manifests else None
        if manifests and entry is None:
            stale.append(key)
            continue
        item = load_report_item(path, key)
        if entry is not None:
            item = replace(item, nodeid=entry["nodeid"], outcome=entry.get("outcome"))
        items[key] = item
    return Side(
        kind=DIRECTORY,
        path=str(directory),
        items=items,
        stale=tuple(stale),
        manifests=tuple(p.relative_to(directory).as_posix() for p in manifests),
    )


def check_summary(data: Mapping[str, Any], path: Path) -> list[Mapping[str, Any]]:
    """The items of a summary object, checked; :class:`ReportError` names the file."""
    schema_major(data, path)
    items = data.get("items")
    if not isinstance(items, list):
        raise ReportError(f"{path}: a summary needs an 'items' list")
    seen = set()
    for index, item in enumerate(items):
        where = f"{path}: items[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("nodeid"), str):
            raise ReportError(f"{where} needs a string 'nodeid'")
        if item["nodeid"] in seen:
            raise ReportError(f"{where}: nodeid {item['nodeid']!r} is listed twice")
        seen.add(item["nodeid"])
        report = item.get("report")
        if report is not None and not isinstance(report, str):
            raise ReportError(f"{where}.report must be a path string or null")
        _check_numbers(item.get("metrics") or {}, f"items[{index}].metrics", path)
    return items


def summary_report_path(summary_path: Path, item: Mapping[str, Any]) -> Path | None:
    """Where a summary item's report file is (relative paths are relative to the summary)."""
    report = item.get("report")
    if report is None:
        return None
    return summary_path.parent / report


def load_summary(path: Path, data: Mapping[str, Any]) -> Side:
    """A summary's items, keyed by nodeid. Each item uses its report file (full metrics and
    records) when it exists, else the summary's own ``metrics``, with a note saying so."""
    items = {}
    for entry in check_summary(data, path):
        nodeid = entry["nodeid"]
        report_path = summary_report_path(path, entry)
        outcome = entry.get("outcome")
        if report_path is not None and report_path.is_file():
            loaded = load_report_item(report_path, nodeid)
            items[nodeid] = replace(loaded, nodeid=nodeid, outcome=outcome)
            continue
        why = "no report file" if report_path is None else f"report file {report_path} not found"
        items[nodeid] = ItemInput(
            key=nodeid,
            path=str(path),
            report=upgrade_report({"metrics": dict(entry.get("metrics") or {})}),
            nodeid=nodeid,
            outcome=outcome,
            notes=(f"{path.name}: {why}; compared on the summary's metrics",),
        )
    return Side(kind=SUMMARY, path=str(path), items=items)


def load_side(path: Path) -> Side:
    """A report file, a report directory or a ``summary.json``."""
    if path.is_dir():
        return load_dir(path)
    if not path.exists():
        raise ReportError(f"{path}: no such file or directory")
    data = read_report(path)
    if data.get("kind") == SUMMARY_KIND:
        return load_summary(path, data)
    item = load_report_item(path, path.name)
    return Side(kind=REPORT, path=str(path), items={path.name: item})


def _majors(side: Side) -> dict[int, str]:
    """Schema MAJOR → one file of the side that has it."""
    majors: dict[int, str] = {}
    for item in side.items.values():
        if "schema_version" in item.report:
            majors.setdefault(schema_major(item.report, item.path), item.path)
    return majors


def check_versions(old: Side, new: Side) -> None:
    """Refuse sides of different MAJOR schema versions, or a MAJOR this pyimgano cannot read."""
    old_majors, new_majors = _majors(old), _majors(new)
    for major, old_file in sorted(old_majors.items()):
        for other, new_file in sorted(new_majors.items()):
            if major != other:
                raise ReportError(
                    f"{new_file}: schema_version major {other} differs from {old_file} "
                    f"(major {major}); reports of different major versions cannot be diffed"
                )
    ours = int(SCHEMA_VERSION.split(".")[0])
    for major, file in sorted({**old_majors, **new_majors}.items()):
        if major != ours:
            raise ReportError(
                f"{file}: schema_version major {major} is not supported (this pyimgano reads "
                f"{ours}.x); use the pyimgano release that wrote it"
            )


def load_sides(old_path: Path, new_path: Path) -> tuple[Side, Side]:
    """Load both sides of a diff; they must be the same kind and schema MAJOR version.

    Two single report files are compared with each other whatever their names: both get the
    key of the new file's nodeid (or its name).
    """
    old, new = load_side(old_path), load_side(new_path)
    if old.kind != new.kind:
        raise ReportError(
            f"cannot diff {_KIND_WORDS[old.kind]} ({old_path}) with {_KIND_WORDS[new.kind]} "
            f"({new_path}); give two of the same kind"
        )
    check_versions(old, new)
    if old.kind == REPORT:
        (old_item,) = old.items.values()
        (new_item,) = new.items.values()
        same_name = old_path.name == new_path.name
        key = (
            new_item.nodeid
            or old_item.nodeid
            or (new_path.name if same_name else f"{old_path.name} → {new_path.name}")
        )
        old = Side(REPORT, old.path, {key: replace(old_item, key=key)})
        new = Side(REPORT, new.path, {key: replace(new_item, key=key)})
    return old, new
