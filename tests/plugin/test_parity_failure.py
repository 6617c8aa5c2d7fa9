"""Export parity in a suite, end to end: an artifact that scores off its reference, or outputs a
constant, fails its item with the parity table (docs/REFERENCE.md §11); one within its bound
passes. The pair is :class:`tests.fakes.CheckpointFakeDetector` (outputs set by the checkpoint
file), so the pairing, the bound check and the item's verdict all run for real."""

from __future__ import annotations

import json
import textwrap

from pyimgano.report import read_report
from tests.plugin.conftest import CHILD_CONFTEST, suite_text, write_suite

BASE = ["-p", "no:cacheprovider", "--pyimgano-no-plots", "--snapshot-update", "-rA"]

CONFTEST = CHILD_CONFTEST + textwrap.dedent("""
    register_model(
        "test_checkpoint_fake",
        "tests.fakes:CheckpointFakeDetector",
        metadata={"backend": "test", "requires_checkpoint": True},
        overwrite=True,
    )
""")


def _entry(name: str, artifact: str, parity: str) -> str:
    return textwrap.indent(textwrap.dedent(f"""\
        - id: {name}
          model: test_checkpoint_fake
          dataset: syn
          categories: [tiles]
          checkpoint: {name}.txt
          reference: reference.txt
          parity: {parity}
        """), "  ")


def test_parity_failures_fail_their_items_with_the_table(suite_dir):
    suite_dir.makeconftest(CONFTEST)
    folder = suite_dir.path / "suites"
    folder.mkdir(exist_ok=True)
    for name, text in {"reference": "0", "offset": "0.01", "close": "1e-6",
                       "constant": "constant"}.items():
        (folder / f"{name}.txt").write_text(text, "utf-8")
    write_suite(suite_dir, suite_text(categories="[tiles]")
                + _entry("offset", "0.01", "{score: 1.0e-3}")
                + _entry("close", "1e-6", "{score: 1.0e-3}")
                + _entry("constant", "constant", "{score: 100}"))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(passed=2, failed=2)  # fake (no reference) and close pass
    result.stdout.fnmatch_lines([
        "*_ offset[[]tiles[]] _*",
        "parity score_max_abs=0.0* (<= 0.001); 1 of 1 checks failed: parity.score_max_abs",
        "score_max_abs  0.0*  <= 0.001  FAIL",
        "worst images (by score |Δ|):",
        "*_ constant[[]tiles[]] _*",
        "parity: degenerate artifact: every image scores 0.5: the artifact outputs a constant",
    ])
    reports = suite_dir.path / "pyimgano-reports" / "suites" / "release"
    offset = read_report(reports / "offset" / "tiles.json")["parity"]
    assert offset["passed"] is False and abs(offset["score_max_abs"] - 0.01) < 1e-6
    close = read_report(reports / "close" / "tiles.json")["parity"]
    assert close["passed"] is True and abs(close["score_max_abs"] - 1e-6) < 1e-7
    constant = read_report(reports / "constant" / "tiles.json")["parity"]
    assert constant["passed"] is False and constant["degenerate"]
    summary = json.loads((suite_dir.path / "pyimgano-reports" / "summary.json").read_text())
    verdicts = {item["id"]: item["parity"]["passed"] for item in summary["items"]
                if "parity" in item}
    assert verdicts == {"offset": False, "close": True, "constant": False}
