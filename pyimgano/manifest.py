"""The manifest of a report dir: every file pyimgano wrote there (docs/REFERENCE.md §8).

``<report-dir>/.pyimgano-manifest.json`` lists, by path relative to the report dir (POSIX), each
report, JSONL and plot that an item wrote, with its size and sha256 when written::

    {"kind": "pyimgano-manifest", "schema_version": "1.0",
     "files": {"suites/release/fake/tiles.json": {"sha256": "…", "size": 1234}, …}}

It is what makes a report dir safe to point anywhere (``.`` included):

- stale-report cleanup deletes a file only when it is listed *and unchanged* since
  (:func:`owned`); a file pyimgano did not write, or one changed since, is never deleted;
- an item never overwrites a file it did not write (:func:`check_writable`).

Every item records its files right after writing them (:func:`record_files`), under an
exclusive lock on ``<report-dir>/.pyimgano-manifest.lock``: xdist workers and concurrent
sessions sharing a report dir each add their own files, and a run that is killed keeps the
records of what it wrote. Entries whose file is gone are dropped at each update. A report dir
from before manifests has none: its files are unknown, so none is deleted (see
:func:`check_writable` for how an item takes over its own earlier report).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pyimgano.errors import ReportError

MANIFEST_NAME = ".pyimgano-manifest.json"
MANIFEST_LOCK = ".pyimgano-manifest.lock"
MANIFEST_KIND = "pyimgano-manifest"
MANIFEST_VERSION = "1.0"

Entries = dict[str, dict[str, Any]]


def manifest_path(report_dir: Path) -> Path:
    return Path(report_dir) / MANIFEST_NAME


def file_entry(path: Path) -> dict[str, Any]:
    """``{"sha256": hex, "size": bytes}`` of a file."""
    from pyimgano.digests import file_sha256

    return {"sha256": file_sha256(path), "size": Path(path).stat().st_size}


def relative_key(report_dir: Path, path: Path) -> str | None:
    """``path`` relative to ``report_dir`` (POSIX), or None when it lies outside."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(report_dir)).as_posix()
    except ValueError:
        return None


def read_manifest(report_dir: Path) -> Entries:
    """The manifest's files (empty when there is none).

    An unreadable or foreign file at the manifest's path counts as none (nothing is then
    deleted, and it is replaced at the next record).
    """
    try:
        data = json.loads(manifest_path(report_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("kind") != MANIFEST_KIND:
        return {}
    files = data.get("files")
    if not isinstance(files, dict):
        return {}
    return {
        str(key): dict(value)
        for key, value in files.items()
        if isinstance(value, dict) and isinstance(value.get("sha256"), str)
    }


def owned(report_dir: Path, path: Path, entries: Mapping[str, Mapping[str, Any]]) -> bool:
    """Did pyimgano write ``path`` (listed in ``entries``) and is it unchanged since?"""
    key = relative_key(report_dir, path)
    entry = entries.get(key) if key is not None else None
    if entry is None:
        return False
    try:
        return file_entry(path) == {"sha256": entry.get("sha256"), "size": entry.get("size")}
    except OSError:
        return False


@contextlib.contextmanager
def locked(report_dir: Path) -> Iterator[None]:
    """An exclusive ``fcntl.flock`` on ``<report-dir>/.pyimgano-manifest.lock`` (no locking
    where fcntl does not exist)."""
    Path(report_dir).mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(Path(report_dir) / MANIFEST_LOCK, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write(report_dir: Path, entries: Mapping[str, Mapping[str, Any]]) -> None:
    from pyimgano.report import dumps, write_text_atomic

    data = {"kind": MANIFEST_KIND, "schema_version": MANIFEST_VERSION,
            "files": {key: dict(entries[key]) for key in sorted(entries)}}
    write_text_atomic(manifest_path(report_dir), dumps(data))


def record_files(report_dir: Path, written: Iterable[Path] = ()) -> None:
    """Record the files pyimgano has just written (as they are now) and drop the entries
    whose file is gone.

    Files outside ``report_dir`` are not recorded. Read-modify-write under :func:`locked`.
    """
    report_dir = Path(report_dir)
    with locked(report_dir):
        entries = read_manifest(report_dir)
        for path in written:
            key = relative_key(report_dir, path)
            if key is not None and Path(path).is_file():
                entries[key] = file_entry(Path(path))
        entries = {k: v for k, v in entries.items() if (report_dir / k).is_file()}
        _write(report_dir, entries)


def _is_report_of(path: Path, nodeid: str) -> bool:
    """Is ``path`` a pyimgano report (JSON object with ``schema_version``) of item ``nodeid``?"""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and "schema_version" in data
        and isinstance(data.get("item"), dict)
        and data["item"].get("nodeid") == nodeid
    )


def check_writable(report_dir: Path, report: Path, companions: Iterable[Path], *,
                   nodeid: str) -> None:
    """Refuse to overwrite a file pyimgano did not write.

    ``report`` is the item's report path, ``companions`` the other files the item writes
    beside it (JSONL, plots). An existing one may be replaced when the manifest lists it
    unchanged, or when the report there is a pyimgano report of this very item (``item.nodeid``
    equal: a report dir from before manifests, a run killed before it recorded) — the
    companions then go with it. Anything else raises :class:`ReportError` naming the file and
    what to do.
    """
    entries = read_manifest(report_dir)
    report_is_ours = report.exists() and (
        owned(report_dir, report, entries) or _is_report_of(report, nodeid)
    )
    for path in (report, *companions):
        if not path.exists() or path == report and report_is_ours:
            continue
        if owned(report_dir, path, entries) or report_is_ours:
            continue
        raise ReportError(
            f"{path}: exists and was not written by pyimgano (not in "
            f"{manifest_path(report_dir)}, or changed since); pyimgano never overwrites such a "
            "file: move or delete it, or choose another --pyimgano-report-dir"
        )


def foreign_summaries(report_dir: Path) -> list[Path]:
    """``summary.json`` / ``summary.md`` in ``report_dir`` that pyimgano did not write.

    A file is pyimgano's when the report dir's manifest lists it unchanged, or (a report dir
    from before manifests) when ``summary.json`` is a pyimgano summary (its ``kind``) — the
    ``summary.md`` beside such a one is taken as its pair. Anything else is never overwritten.
    """
    from pyimgano.summary import SUMMARY_JSON, SUMMARY_MD

    entries = read_manifest(report_dir)
    json_path, md_path = report_dir / SUMMARY_JSON, report_dir / SUMMARY_MD
    ours_json = json_path.exists() and (
        owned(report_dir, json_path, entries) or _is_summary(json_path)
    )
    foreign = []
    if json_path.exists() and not ours_json:
        foreign.append(json_path)
    if md_path.exists() and not (owned(report_dir, md_path, entries) or ours_json):
        foreign.append(md_path)
    return foreign


def _is_summary(path: Path) -> bool:
    from pyimgano.summary import SUMMARY_KIND

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == SUMMARY_KIND
