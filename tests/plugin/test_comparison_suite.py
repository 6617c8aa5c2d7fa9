"""Release decisions in a suite, end to end (docs/REFERENCE.md §12): a truly worse candidate
(``constant``: every image scores 0.5) fails its item with the comparison table, an equal one
passes, the session summary shows Δ and p, and a bad ``compare`` key is a collection error
naming the file and key. The pair is :class:`tests.fakes.CheckpointFakeDetector`."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from pyimgano.metrics.stats import delong_test
from pyimgano.report import read_report, records_path
from tests.plugin.conftest import suite_text, write_suite
from tests.plugin.test_parity_failure import BASE, CONFTEST


def _entry(name: str, compare: str) -> str:
    return textwrap.indent(textwrap.dedent(f"""\
        - id: {name}
          model: test_checkpoint_fake
          dataset: syn
          categories: [tiles]
          checkpoint: {name}.txt
          baseline: baseline.txt
          compare: {compare}
        """), "  ")


def test_worse_candidate_fails_and_equal_passes(suite_dir):
    suite_dir.makeconftest(CONFTEST)
    folder = suite_dir.path / "suites"
    folder.mkdir(exist_ok=True)
    for name, text in {"baseline": "0", "worse": "constant", "equal": "0"}.items():
        (folder / f"{name}.txt").write_text(text, "utf-8")
    bounds = "{image_auroc: {max_drop: 0.005}}"
    write_suite(suite_dir, suite_text(categories="[tiles]")
                + _entry("worse", bounds) + _entry("equal", bounds))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(passed=2, failed=1)  # fake (no baseline) and equal pass
    result.stdout.fnmatch_lines([
        "*_ worse[[]tiles[]] _*",
        "comparison image_auroc: Δ -0.* against the baseline [[]*[]], p *; 1 of 1 checks "
        "failed: comparison.image_auroc",
        "metric * candidate * baseline * Δ * interval * p * bound * verdict",
        "image_auroc * 0.5000 *drop <= 0.005 (regression, alpha 0.05)*FAIL (delong)",
    ])
    result.stdout.fnmatch_lines(["*item*Δ baseline*p*result*",
                                 "*worse*image_auroc -0.*FAILED*"])
    reports = suite_dir.path / "pyimgano-reports" / "suites" / "release"
    for name, passed in (("worse", False), ("equal", True)):
        path = reports / name / "tiles.json"
        report = read_report(path)
        records = [json.loads(line) for line in records_path(path).read_text().splitlines()]
        labels = np.array([r["label"] for r in records])
        expected = delong_test(labels, [r["baseline_score"] for r in records],
                               [r["score"] for r in records], max_drop=0.005)
        entry = report["comparison"]["image_auroc"]
        assert entry["passed"] is passed is expected.passed
        for key in ("candidate", "baseline", "delta", "ci_low", "ci_high", "p_value"):
            assert entry[key] == pytest.approx(getattr(expected, key), rel=1e-9, abs=1e-12)
    summary = json.loads((suite_dir.path / "pyimgano-reports" / "summary.json").read_text())
    causes = {item["id"]: item["failure_cause"] for item in summary["items"]}
    assert causes == {"fake": None, "worse": "comparison", "equal": None}
    worse = next(item for item in summary["items"] if item["id"] == "worse")
    assert worse["comparison"]["image_auroc"]["passed"] is False


@pytest.mark.parametrize(
    ("compare", "message"),
    [
        ("{image_auroc: {max_dorp: 0.01}}",
         "*release.yaml: models[[]1[]].compare.image_auroc: unknown key 'max_dorp'*"),
        ("{image_aroc: {max_drop: 0.01}}",
         "*release.yaml: models[[]1[]].compare.image_aroc: unknown metric 'image_aroc'*"),
        ("{aupro: {max_drop: 0.01, mode: lenient}}",
         "*models[[]1[]].compare.aupro.mode is 'lenient'; expected regression or non_inferior*"),
    ],
)
def test_bad_compare_is_a_collection_error(suite_dir, compare, message):
    suite_dir.makeconftest(CONFTEST)
    write_suite(suite_dir, suite_text(categories="[tiles]") + _entry("bad", compare))
    result = suite_dir.runpytest(*BASE)
    result.stdout.fnmatch_lines([message])
    assert result.ret != 0


def test_compare_needs_a_baseline(suite_dir):
    suite_dir.makeconftest(CONFTEST)
    entry = _entry("bad", "{image_auroc: {max_drop: 0.01}}").replace(
        "    baseline: baseline.txt\n", "")
    write_suite(suite_dir, suite_text(categories="[tiles]") + entry)
    result = suite_dir.runpytest(*BASE)
    result.stdout.fnmatch_lines(
        ["*models[[]1[]].compare: compare needs a baseline: checkpoint in the same model entry*"])
