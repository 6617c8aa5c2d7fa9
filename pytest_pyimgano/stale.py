"""Stale reports: files an earlier run left in the report folder of a suite this run runs.

A report dir reused across runs would otherwise keep the reports of model entries and
categories the suite no longer has, and a diff of two report dirs would compare them. At the
end of collection, for every suite with at least one selected item, the files of its report
folder ``<report-dir>/<suite path, suffix dropped>/<id>/`` that belong to no item the suite
defines now (selected or not) are candidates: ``<category>.json``, ``.jsonl`` and the plots
beside them. A candidate is removed only when pyimgano wrote it and it is unchanged since: the
report dir's manifest (:mod:`pyimgano.manifest`) lists it with the same size and sha256. A file
pyimgano did not write is never deleted (the report dir may be ``.``); one it wrote that was
changed since is kept, with a warning. A report dir from before manifests has no records, so
nothing in it is deleted. Nothing else is touched: not other suites' folders, not
``summary.*``, not the reports of deselected items (they are current items; ``summary.json``
says which items ran).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from pyimgano.manifest import owned, read_manifest, record_files, relative_key

#: the files an item writes beside (and as) its report.
REPORT_SUFFIXES = (".json", ".jsonl", ".png", ".svg", ".jpg", ".jpeg")
_SUITE_SUFFIXES = (".yaml", ".yml")


def _belongs_to(name: str, category: str) -> bool:
    """Is the file ``name`` one that the item of ``category`` writes?"""
    if name in (f"{category}.json", f"{category}.jsonl"):
        return True
    return Path(name).suffix.lower() in REPORT_SUFFIXES[2:] and name.startswith(
        (f"{category}.", f"{category}_", f"{category}-")
    )


def stale_reports(
    suite_report_dir: Path, items: Iterable[tuple[str, str]], suite_dir: Path
) -> list[Path]:
    """Files in ``suite_report_dir`` that no current ``(id, category)`` item wrote.

    ``suite_dir`` is the folder whose name the suite file has without suffix (``suites/release``
    for ``suites/release.yaml``): a sub-folder that is the report folder of another suite
    (``suites/release/smoke.yaml``) is never looked into.
    """
    current: dict[str, set[str]] = {}
    for item_id, category in items:
        current.setdefault(item_id, set()).add(category)
    if not suite_report_dir.is_dir():
        return []
    found = []
    for folder in sorted(p for p in suite_report_dir.iterdir() if p.is_dir()):
        if any((suite_dir / f"{folder.name}{suffix}").exists() for suffix in _SUITE_SUFFIXES):
            continue  # another suite's report folder
        categories = current.get(folder.name, set())
        for file in sorted(folder.iterdir()):
            if not file.is_file() or file.suffix.lower() not in REPORT_SUFFIXES:
                continue
            if not any(_belongs_to(file.name, c) for c in categories):
                found.append(file)
    return found


def remove_stale_reports(
    suite_report_dir: Path, items: Iterable[tuple[str, str]], suite_dir: Path,
    report_dir: Path,
) -> tuple[list[Path], list[Path]]:
    """Remove the :func:`stale_reports` that ``report_dir``'s manifest lists unchanged (and id
    folders left empty); returns ``(removed, kept)``, ``kept`` being listed files changed
    since pyimgano wrote them. Unlisted files are neither removed nor returned."""
    entries = read_manifest(report_dir)
    removed: list[Path] = []
    kept: list[Path] = []
    for file in stale_reports(suite_report_dir, items, suite_dir):
        if relative_key(report_dir, file) not in entries:
            continue
        if not owned(report_dir, file, entries):
            if file.exists():
                kept.append(file)
            continue
        with contextlib.suppress(FileNotFoundError):  # an xdist worker removed it first
            file.unlink()
            removed.append(file)
        with contextlib.suppress(OSError):
            file.parent.rmdir()
    if removed:
        record_files(report_dir)  # drop the removed files' entries
    return removed, kept
