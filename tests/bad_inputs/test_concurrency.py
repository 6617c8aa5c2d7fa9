"""Catalogue: concurrent writers of one report dir — pytest-xdist workers, and two pytest
sessions at the same time — lose nothing: every report valid, one summary listing all."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyimgano.report import read_report, records_path, validate_report
from tests.bad_inputs.catalogue import covers
from tests.bad_inputs.helpers import child_env
from tests.bad_inputs.scenarios import fake_suite

#: Appended to the child conftest: sessions started with PYIMGANO_BARRIER=<name> announce
#: themselves when they start and, before the summary is written, wait until every session
#: named in PYIMGANO_BARRIER_ALL has started — so the two sessions surely overlap.
BARRIER = '''
import os
import time
from pathlib import Path

import pytest


def pytest_sessionstart(session):
    name = os.environ.get("PYIMGANO_BARRIER")
    if name:
        Path(f"started-{name}").touch()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    names = os.environ.get("PYIMGANO_BARRIER_ALL", "").split()
    deadline = time.monotonic() + 120
    while not all(Path(f"started-{n}").exists() for n in names):
        assert time.monotonic() < deadline, "the other session never started"
        time.sleep(0.02)
'''


def suite_with(root: Path, ids: list[str]) -> str:
    text = fake_suite(root).replace("  - id: fake\n", f"  - id: {ids[0]}\n")
    for item_id in ids[1:]:
        text += f"  - id: {item_id}\n    model: bad_fake\n    dataset: syn\n    categories: all\n"
    return text


def check_reports(report_dir: Path, expected: dict[str, int]) -> dict:
    """Every expected report is valid JSON following the schema, with a complete JSONL;
    returns summary.json, which must list exactly the expected items."""
    for rel, n_test in expected.items():
        report = read_report(report_dir / rel)
        validate_report(report)
        assert report["dataset"]["n_test"] == n_test
        lines = records_path(report_dir / rel).read_text("utf-8").splitlines()
        assert len(lines) == n_test and all(json.loads(line)["score"] >= 0 for line in lines)
    leftovers = [p for p in report_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    summary = json.loads((report_dir / "summary.json").read_text("utf-8"))
    assert sorted(i["report"] for i in summary["items"]) == sorted(expected)
    assert all(i["outcome"] == "passed" for i in summary["items"])
    return summary


@covers("concurrency.xdist")
def test_two_xdist_workers(base_data, child):
    pytest.importorskip("xdist")
    (child.path / "suites").mkdir()
    (child.path / "suites" / "a.yaml").write_text(suite_with(base_data, ["a1", "a2", "a3"]))
    (child.path / "suites" / "b.yaml").write_text(suite_with(base_data, ["b1", "b2"]))
    result = child.runpytest_subprocess("suites", "-n", "2", "--pyimgano-no-plots",
                                        "--pyimgano-device", "cpu", "--snapshot-update",
                                        timeout=300)
    result.assert_outcomes(passed=5)
    expected = {f"suites/{s}/{i}/tiles.json": 6
                for s, ids in (("a", ["a1", "a2", "a3"]), ("b", ["b1", "b2"])) for i in ids}
    summary = check_reports(child.path / "pyimgano-reports", expected)
    assert len({i["nodeid"] for i in summary["items"]}) == 5


@covers("concurrency.two_sessions")
def test_two_sessions_share_a_report_dir(base_data, child):
    (child.path / "conftest.py").write_text(
        (child.path / "conftest.py").read_text("utf-8") + BARRIER, encoding="utf-8")
    (child.path / "suites").mkdir()
    for name, ids in (("a", ["a1", "a2"]), ("b", ["b1", "b2"]), ("c", ["c1"])):
        (child.path / "suites" / f"{name}.yaml").write_text(suite_with(base_data, ids))
    reports = child.path / "shared-reports"
    command = [sys.executable, "-m", "pytest", "--pyimgano-no-plots", "--snapshot-update",
               "--pyimgano-device", "cpu", f"--pyimgano-report-dir={reports}", "-q"]

    def start(name: str, barrier: bool) -> subprocess.Popen:
        env = child_env()
        if barrier:
            env.update(PYIMGANO_BARRIER=name, PYIMGANO_BARRIER_ALL="a b")
        return subprocess.Popen([*command, f"suites/{name}.yaml"], cwd=child.path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    sessions = [start("a", True), start("b", True)]
    for session in sessions:
        out, _ = session.communicate(timeout=300)
        assert session.returncode == 0, out
    both = {f"suites/{s}/{i}/tiles.json": 6 for s in "ab" for i in (f"{s}1", f"{s}2")}
    summary = check_reports(reports, both)
    markdown = (reports / "summary.md").read_text("utf-8")
    assert all(f"suites/{s}.yaml::{s}{n}[tiles]" in markdown for s in "ab" for n in "12")
    # a later session (not overlapping) replaces the summary with its own items; the reports
    # of the earlier sessions stay
    time.sleep(0.1)
    later = start("c", False)
    out, _ = later.communicate(timeout=300)
    assert later.returncode == 0, out
    summary = check_reports(reports, {"suites/c/c1/tiles.json": 6})
    assert [i["nodeid"] for i in summary["items"]] == ["suites/c.yaml::c1[tiles]"]
    assert all((reports / rel).is_file() for rel in both)
