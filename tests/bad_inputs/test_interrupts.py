"""Catalogue: interruptions and crashes leave no partial report, JSONL, temporary file or
snapshot for the item they hit (and keep what earlier runs or items wrote)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import cli_args, run_child, run_cli
from tests.bad_inputs.scenarios import fake_suite

SUITE = "suites/run.yaml"


def files_of(report_dir: Path, item_id: str) -> list[str]:
    """Every file (reports, JSONL, temp files, plots) an item left in the report dir."""
    folder = report_dir / "suites" / "run" / item_id
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def snapshot_of(child, item_id: str) -> Path:
    return child.path / "suites" / "__pyimgano_snapshots__" / "run" / item_id / "tiles.json"


def two_items(root: Path, fault: str) -> str:
    """``fake`` (behaves) first, then ``bad`` with ``fault``."""
    return fake_suite(root) + (
        "  - id: bad\n    model: bad_fake\n    dataset: syn\n    categories: [tiles]\n"
        f"    model_kwargs: {{fault: {fault}}}\n"
    )


def write(child, text: str) -> None:
    (child.path / "suites").mkdir(exist_ok=True)
    (child.path / SUITE).write_text(text, encoding="utf-8")


@covers("interrupt.keyboard")
def test_keyboard_interrupt_mid_category(base_data, child, tmp_path):
    case = CASES["interrupt.keyboard"]
    # CLI: exit 130, one line, nothing written
    out = tmp_path / "out" / "r.json"
    result = run_cli([*cli_args(base_data, "--model-kwargs", '{"fault": "interrupt"}'),
                      "--output", out])
    assert result.code == 130
    case.check(result.err.strip())
    assert not out.parent.exists()
    # pytest (a real subprocess: Ctrl-C ends its session): the earlier item keeps its files,
    # the interrupted one has none, and its existing snapshot is untouched
    write(child, two_items(base_data, "interrupt"))
    snapshot = snapshot_of(child, "bad")
    snapshot.parent.mkdir(parents=True)
    snapshot.write_text('{"metrics": {}, "kind": "pyimgano-snapshot"}\n', encoding="utf-8")
    before = snapshot.read_bytes()
    run, outcomes = run_child(child, SUITE, "--snapshot-update", subprocess=True)
    assert run.ret == pytest.ExitCode.INTERRUPTED
    assert "KeyboardInterrupt" in run.stdout.str()
    reports = child.path / "pyimgano-reports"
    assert files_of(reports, "fake") == ["tiles.json", "tiles.jsonl"]
    assert files_of(reports, "bad") == []
    assert snapshot.read_bytes() == before
    assert snapshot_of(child, "fake").is_file()
    assert not [p for p in reports.rglob("*") if p.name.endswith(".tmp")]
    # the summary never counts the interrupted item as passed
    summary = json.loads((reports / "summary.json").read_text("utf-8"))
    outcomes = {i["id"]: (i["outcome"], i["message"]) for i in summary["items"]}
    assert outcomes == {"fake": ("passed", None),
                        "bad": ("error", "the item did not finish (session interrupted)")}
    assert "bad[tiles]" in run.stdout.str() and "ERROR" in run.stdout.str()


@covers("interrupt.model_crash")
def test_model_crash_mid_category(plugin_batch, base_data, tmp_path):
    crash = plugin_batch.outcome("interrupt.model_crash", "crash[tiles]")
    assert crash.kind == "failed"
    assert "RuntimeError: simulated crash of the model on" in crash.text  # shown in full
    assert plugin_batch.outcome("interrupt.model_crash", "fake[tiles]").kind == "passed"
    reports = plugin_batch.path / "pyimgano-reports" / "suites" / "interrupt_model_crash"
    assert sorted(p.name for p in (reports / "fake").iterdir()) == ["tiles.json", "tiles.jsonl"]
    assert not (reports / "crash").exists()
    snapshots = plugin_batch.path / "suites" / "__pyimgano_snapshots__" / "interrupt_model_crash"
    assert (snapshots / "fake" / "tiles.json").is_file()
    assert not (snapshots / "crash").exists()
    # the CLI shows the crash as it is (a bug, not bad input) and writes nothing
    out = tmp_path / "out" / "r.json"
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_cli([*cli_args(base_data, "--model-kwargs", '{"fault": "crash"}'), "--output", out])
    assert not out.parent.exists()


@pytest.fixture
def disk_full_on(monkeypatch: pytest.MonkeyPatch):
    """``disk_full_on(name)``: fsync of a temporary file for ``name`` fails with ENOSPC — i.e.
    the disk fills up while that file is written (the JSONL beside it was written fine)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which file is being written")
    original = os.fsync

    def arm(name: str) -> None:
        def fsync(fd: int) -> None:
            if Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(f".{name}."):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            original(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    return arm


@covers("interrupt.write_failure")
def test_failure_while_writing_the_report(base_data, child, tmp_path, disk_full_on):
    # CLI: exit 2 naming the file; neither the report nor its JSONL appears
    out = tmp_path / "out" / "r.json"
    disk_full_on("r.json")
    result = run_cli([*cli_args(base_data), "--output", out])
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1
    CASES["interrupt.write_failure"].check(result.err.strip(), report=out)
    assert sorted(os.listdir(out.parent)) == []
    # pytest: a first, good run writes report, JSONL and snapshot; a second run whose metrics
    # differ (constant scores) fails while writing: all three stay exactly as they were
    write(child, fake_suite(base_data))
    first, _ = run_child(child, SUITE, "--snapshot-update")
    first.assert_outcomes(passed=1)
    folder = child.path / "pyimgano-reports" / "suites" / "run" / "fake"
    kept = {p.name: p.read_bytes() for p in folder.iterdir()}
    snapshot = snapshot_of(child, "fake")
    stored = snapshot.read_bytes()
    write(child, fake_suite(base_data, model="model_kwargs: {fault: constant}"))
    disk_full_on("tiles.json")
    second, outcomes = run_child(child, SUITE, "--snapshot-update")
    second.assert_outcomes(failed=1)
    (outcome,) = outcomes.values()
    assert "No space left on device" in outcome.text and str(folder / "tiles.json") in outcome.text
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == kept  # no temp file either
    assert snapshot.read_bytes() == stored
    assert json.loads(kept["tiles.json"])["metrics"]["image_auroc"] != 0.5
