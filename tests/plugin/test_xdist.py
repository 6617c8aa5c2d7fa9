"""pytest-xdist: items on workers, reports per item, one summary written by the controller."""

from __future__ import annotations

import json

import pytest

from pyimgano.report import read_report
from tests.plugin.conftest import suite_text, write_suite

pytest.importorskip("xdist")


def test_two_workers_write_every_report_and_one_summary(suite_dir):
    text = suite_text(defaults="thresholds: {image_auroc: 0.0, ms_per_image: 100000}") + (
        "  - id: fake-noisy\n"
        "    model: test_fake_detector\n"
        "    dataset: syn\n"
        "    categories: all\n"
        "    model_kwargs: {noise: 0.05}\n"
    )
    write_suite(suite_dir, text)
    # cpu: with auto/cuda each worker asks torch for the GPU count (seconds to import here)
    args = ["-n", "2", "--pyimgano-no-plots", "--pyimgano-device", "cpu"]
    result = suite_dir.runpytest_subprocess(*args, "--snapshot-update")
    result.assert_outcomes(passed=4)
    out = suite_dir.path / "pyimgano-reports"
    reports = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")
                     if not p.name.startswith("."))  # not the manifest (test_manifest.py)
    assert reports == [
        "suites/release/fake-noisy/disk.json", "suites/release/fake-noisy/tiles.json",
        "suites/release/fake/disk.json", "suites/release/fake/tiles.json", "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert [i["nodeid"] for i in summary["items"]] == [
        "suites/release.yaml::fake-noisy[disk]", "suites/release.yaml::fake-noisy[tiles]",
        "suites/release.yaml::fake[disk]", "suites/release.yaml::fake[tiles]",
    ]
    assert all(i["outcome"] == "passed" and i["report"] for i in summary["items"])
    noisy = read_report(out / "suites/release/fake-noisy/tiles.json")
    plain = read_report(out / "suites/release/fake/tiles.json")
    assert noisy["model"]["kwargs"]["noise"] == 0.05  # distinct items, distinct files
    assert "noise" not in plain["model"]["kwargs"]
    assert plain["environment"]["workers"] == 2
    assert items_summary_line(result.stdout.lines) == 1
    result.stdout.fnmatch_lines(["*SpeedGateWarning: fake[[]disk[]]: speed gate(s) ms_per_image "
                                 "checked with 2 xdist workers*"])
    # the snapshots written on the workers are complete and a second run matches them
    again = suite_dir.runpytest_subprocess(*args)
    again.assert_outcomes(passed=4)


def items_summary_line(lines: list[str]) -> int:
    return sum(line.startswith("pyimgano: 4 items (4 passed)") for line in lines)
