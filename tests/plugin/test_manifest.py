"""The report dir's manifest (docs/REFERENCE.md §8): stale reports are removed only when
pyimgano wrote and recorded them, and a file pyimgano did not write is never deleted or
overwritten, wherever the report dir points (``.`` included)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pyimgano.manifest import MANIFEST_NAME
from tests.plugin.conftest import suite_text, write_suite

BASE = ["--pyimgano-no-plots", "--snapshot-update"]
TWO_MODELS = suite_text() + (
    "  - id: gone\n"
    "    model: test_fake_detector\n"
    "    dataset: syn\n"
    "    categories: [disk, tiles]\n"
)
#: files the session itself keeps in a report dir (not item outputs).
SESSION_FILES = {"summary.json", "summary.md", ".summary.lock", MANIFEST_NAME,
                 ".pyimgano-manifest.lock"}


def manifest(report_dir: Path) -> dict[str, dict]:
    data = json.loads((report_dir / MANIFEST_NAME).read_text("utf-8"))
    assert data["kind"] == "pyimgano-manifest"
    return data["files"]


def item_entries(report_dir: Path) -> set[str]:
    """The manifest's entries of item outputs (the session's summary files left out)."""
    return set(manifest(report_dir)) - SESSION_FILES


def item_files(report_dir: Path, under: str = "suites") -> set[str]:
    """Every file under ``report_dir/under`` (relative POSIX paths)."""
    return {p.relative_to(report_dir).as_posix()
            for p in (report_dir / under).rglob("*") if p.is_file()}


def test_the_manifest_lists_every_written_file_with_its_digest(suite_dir):
    write_suite(suite_dir, suite_text())
    suite_dir.runpytest(*BASE).assert_outcomes(passed=2)
    out = suite_dir.path / "pyimgano-reports"
    files = manifest(out)
    expected = {f"suites/release/fake/{c}.{ext}" for c in ("disk", "tiles")
                for ext in ("json", "jsonl")}
    assert set(files) == expected | {"summary.json", "summary.md"}
    assert expected == item_files(out)
    for key, entry in files.items():
        data = (out / key).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_user_files_survive_in_a_report_dir_at_the_rootdir(suite_dir):
    """``--pyimgano-report-dir .``: the suite's folder ``suites/release/`` becomes its report
    folder. A removed entry's and a removed category's pyimgano files go; the user's files —
    even ones named like reports — stay, byte for byte."""
    write_suite(suite_dir, TWO_MODELS)
    args = [*BASE, "--pyimgano-report-dir", "."]
    suite_dir.runpytest(*args).assert_outcomes(passed=4)
    root = suite_dir.path
    release = root / "suites/release"
    assert (release / "gone/disk.json").is_file() and (release / "fake/disk.json").is_file()
    user = {
        release / "golden.json": b'{"image_auroc": 0.99}',
        release / "fake/notes.json": b'{"note": "mine"}',
        release / "fake/diagram.png": b"\x89PNG mine",
        release / "fake/cable.json": b"{}",  # named like a report of a category never run
        release / "gone/golden.json": b'{"mine": true}',
        release / "gone/disk.roc.png": b"\x89PNG mine too",
    }
    for path, data in user.items():
        path.write_bytes(data)

    write_suite(suite_dir, suite_text(categories="[tiles]"))  # `gone` and `disk` removed
    result = suite_dir.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["pyimgano: removed 6 stale report file(s) of the suites run"])
    for path, data in user.items():
        assert path.read_bytes() == data, path
    assert sorted(p.name for p in (release / "gone").iterdir()) == ["disk.roc.png",
                                                                   "golden.json"]
    assert sorted(p.name for p in (release / "fake").iterdir()) == [
        "cable.json", "diagram.png", "notes.json", "tiles.json", "tiles.jsonl"]
    assert item_entries(root) == {"suites/release/fake/tiles.json",
                                   "suites/release/fake/tiles.jsonl"}
    assert (root / "suites/release.yaml").is_file()


def test_a_removed_entry_folder_goes_when_only_pyimgano_files_were_in_it(suite_dir):
    write_suite(suite_dir, TWO_MODELS)
    suite_dir.runpytest(*BASE).assert_outcomes(passed=4)
    write_suite(suite_dir, suite_text())
    suite_dir.runpytest(*BASE).assert_outcomes(passed=2)
    release = suite_dir.path / "pyimgano-reports/suites/release"
    assert sorted(p.name for p in release.iterdir()) == ["fake"]


def test_a_changed_stale_file_is_kept_with_a_warning(suite_dir):
    write_suite(suite_dir, suite_text())
    suite_dir.runpytest(*BASE).assert_outcomes(passed=2)
    fake = suite_dir.path / "pyimgano-reports/suites/release/fake"
    edited = fake / "disk.jsonl"
    edited.write_text(edited.read_text("utf-8") + '{"mine": 1}\n', "utf-8")
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*suites/release.yaml:1: StaleReportWarning: kept 1 stale "
                                 f"report file(s) changed since pyimgano wrote them*{edited}*",
                                 "pyimgano: removed 1 stale report file(s) of the suites run"])
    assert not (fake / "disk.json").exists() and edited.is_file()


def test_a_file_pyimgano_did_not_write_is_never_overwritten(suite_dir):
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    fake = suite_dir.path / "pyimgano-reports/suites/release/fake"
    fake.mkdir(parents=True)
    mine = fake / "tiles.json"
    mine.write_text('{"golden": true}', "utf-8")
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{mine}: exists and was not written by pyimgano*never "
                                 "overwrites such a file: move or delete it*"])
    assert mine.read_text("utf-8") == '{"golden": true}'
    assert not (fake / "tiles.jsonl").exists()
    mine.unlink()  # what the message says to do
    suite_dir.runpytest(*BASE).assert_outcomes(passed=1)


def test_a_report_dir_from_before_manifests(suite_dir):
    """Upgrade: no manifest, so no file is known to be pyimgano's and none is deleted; an item
    replaces its own earlier report (``item.nodeid`` matches) and records it from then on."""
    write_suite(suite_dir, suite_text())
    suite_dir.runpytest(*BASE).assert_outcomes(passed=2)
    out = suite_dir.path / "pyimgano-reports"
    (out / MANIFEST_NAME).unlink()
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(passed=1)
    assert "stale report file" not in result.stdout.str()
    assert (out / "suites/release/fake/disk.json").is_file()  # unknown: kept
    assert item_entries(out) == {"suites/release/fake/tiles.json",
                                  "suites/release/fake/tiles.jsonl"}


def test_xdist_workers_keep_the_manifest_complete(suite_dir):
    pytest.importorskip("xdist")
    text = TWO_MODELS + "    model_kwargs: {noise: 0.05}\n"
    write_suite(suite_dir, text)
    args = ["-n", "2", "--pyimgano-device", "cpu", *BASE]
    suite_dir.runpytest_subprocess(*args).assert_outcomes(passed=4)
    out = suite_dir.path / "pyimgano-reports"
    assert item_entries(out) == item_files(out) and len(item_files(out)) == 8
    write_suite(suite_dir, suite_text())
    result = suite_dir.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2)
    assert item_entries(out) == item_files(out) == {
        f"suites/release/fake/{c}.{ext}" for c in ("disk", "tiles") for ext in ("json", "jsonl")}
    assert not (out / "suites/release/gone").exists()


def test_a_users_summary_files_are_never_overwritten(suite_dir):
    """``summary.json`` / ``summary.md`` that pyimgano did not write stay as they are (with a
    warning); pyimgano's own summary of an earlier run is replaced and recorded."""
    write_suite(suite_dir, suite_text())
    args = [*BASE, "--pyimgano-report-dir", "."]
    root = suite_dir.path
    mine = {root / "summary.json": b'{"my": "summary"}', root / "summary.md": b"# my notes\n"}
    for path, data in mine.items():
        path.write_bytes(data)
    result = suite_dir.runpytest(*args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*ReportDirWarning*summary.json: exists and was not written "
                                 "by pyimgano*"])
    for path, data in mine.items():
        assert path.read_bytes() == data, path
    assert "summary.json" not in manifest(root)

    for path in mine:  # the user moves them away: pyimgano's summary is written, then replaced
        path.unlink()
    suite_dir.runpytest(*args).assert_outcomes(passed=2)
    first = json.loads((root / "summary.json").read_text("utf-8"))
    assert first["kind"] == "pyimgano-summary" and len(first["items"]) == 2
    assert {"summary.json", "summary.md"} <= set(manifest(root))
    suite_dir.runpytest(*args, "-k", "tiles").assert_outcomes(passed=1)
    assert json.loads((root / "summary.json").read_text("utf-8"))["items"] != first["items"]
