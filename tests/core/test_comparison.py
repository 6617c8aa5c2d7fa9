"""Release decisions (docs/REFERENCE.md §12): a candidate against a baseline on the same images.

:class:`tests.fakes.CheckpointFakeDetector` reads a number from its checkpoint file and adds it
to every score and map value (the same ranking, so the same metrics: an *equal* candidate), or
``constant``: every image scores 0.5 with an all-zero map (a *truly worse* candidate). The
expected numbers are recomputed here from the written per-image records with the statistics
of :mod:`pyimgano.metrics.stats`, never read from the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pyimgano.comparison import Bound, parse_compare, parse_compare_flag
from pyimgano.errors import ConfigError
from pyimgano.metrics.stats import (
    bootstrap_ci,
    delong_test,
    image_bootstrap_metric,
    paired_bootstrap,
)
from pyimgano.report import read_report, records_path, validate_report, write_report
from pyimgano.runner import Case, run_case

CHECKPOINT_FAKE = "test_checkpoint_fake_compare"


@pytest.fixture
def make_case(synthetic_root, tmp_path):
    """``make_case(candidate_text, baseline_text, **case_fields)``: a Case of the checkpoint fake
    on synthetic ``tiles`` with both checkpoint files written."""
    from pyimgano.models import register_model, unregister_model

    register_model(CHECKPOINT_FAKE, "tests.fakes:CheckpointFakeDetector",
                   metadata={"backend": "test", "requires_checkpoint": True}, overwrite=True)

    def make(candidate: str, baseline: str | None, **fields) -> Case:
        (tmp_path / "candidate.txt").write_text(candidate, "utf-8")
        base = None
        if baseline is not None:
            base = tmp_path / "baseline.txt"
            base.write_text(baseline, "utf-8")
        return Case(model=CHECKPOINT_FAKE, dataset_format="mvtec", root=synthetic_root,
                    category="tiles", checkpoint=tmp_path / "candidate.txt", baseline=base,
                    batch_size=4, **fields)

    yield make
    unregister_model(CHECKPOINT_FAKE)


def assert_same_comparison(a, b):
    """Two reports' ``comparison`` agree: the same metrics, numbers to rounding, verdicts."""
    assert set(a) == set(b)
    for metric in a:
        assert set(a[metric]) == set(b[metric])
        for key, value in a[metric].items():
            if isinstance(value, float):
                assert value == pytest.approx(b[metric][key], rel=1e-9, abs=1e-12), (metric, key)
            else:
                assert value == b[metric][key], (metric, key)


def _written(evaluation, tmp_path):
    path = write_report(evaluation.report, tmp_path / "report.json")
    records = [json.loads(line) for line in records_path(path).read_text("utf-8").splitlines()]
    return read_report(path), records


def _columns(records):
    labels = np.array([r["label"] for r in records])
    return (labels, np.array([r["score"] for r in records], dtype=np.float64),
            np.array([r["baseline_score"] for r in records], dtype=np.float64))


BOUNDS = {"image_auroc": {"max_drop": 0.005}, "image_ap": {"max_drop": 0.01}}


def test_worse_candidate_fails_with_the_recomputed_numbers(make_case, tmp_path):
    evaluation = run_case(make_case("constant", "0", compare=BOUNDS))
    report, records = _written(evaluation, tmp_path)
    validate_report(report)
    labels, cand, base = _columns(records)
    assert np.all(cand == 0.5) and len(set(base)) > 2  # the candidate really is worse
    expected = delong_test(labels, base, cand, max_drop=0.005, alpha=0.05).as_dict()
    assert report["comparison"]["image_auroc"] == pytest.approx(expected)
    assert report["comparison"]["image_auroc"]["passed"] is False
    assert report["comparison"]["image_auroc"]["method"] == "delong"
    ap = paired_bootstrap(labels, image_bootstrap_metric("image_ap"), base, cand,
                          max_drop=0.01).as_dict()
    assert report["comparison"]["image_ap"] == pytest.approx(ap)
    assert report["comparison"]["image_ap"]["passed"] is False
    # The candidate's point estimate is the report's own metric.
    assert report["comparison"]["image_auroc"]["candidate"] == pytest.approx(
        report["metrics"]["image_auroc"])
    assert report["model"]["baseline"]["checkpoint"].endswith("baseline.txt")

    from pyimgano.gates import recorded_failures

    failed = [f for f in recorded_failures(report) if f.cause == "comparison"]
    assert len(failed) == 2


def test_equal_candidate_passes(make_case, tmp_path):
    evaluation = run_case(make_case("0.01", "0", compare=BOUNDS))
    report, records = _written(evaluation, tmp_path)
    labels, cand, base = _columns(records)
    assert np.allclose(cand - base, 0.01, atol=1e-6)
    for name in BOUNDS:
        entry = report["comparison"][name]
        assert entry["passed"] is True, entry
        assert entry["delta"] == pytest.approx(0.0, abs=1e-12)
    expected = delong_test(labels, base, cand, max_drop=0.005).as_dict()
    assert report["comparison"]["image_auroc"] == pytest.approx(expected)


def test_non_inferiority_needs_evidence(make_case, tmp_path):
    """Equal models with a margin of 0: a drop > 0 can never be ruled out, so it fails."""
    evaluation = run_case(make_case(
        "0", "0", compare={"image_ap": {"max_drop": 0.0, "mode": "non_inferior"}}))
    entry = evaluation.report.comparison["image_ap"]
    assert entry["passed"] is False and entry["p_value"] >= 0.05


def test_pixel_metrics_compared_from_per_image_statistics(make_case, tmp_path):
    evaluation = run_case(make_case(
        "constant", "0", pixel=True,
        compare={"aupro": {"max_drop": 0.01}, "pixel_auroc": {"max_drop": 0.01}}))
    report, records = _written(evaluation, tmp_path)
    validate_report(report)
    comparison = report["comparison"]
    assert {comparison[n]["passed"] for n in comparison} == {False}
    assert comparison["pixel_auroc"]["candidate"] == pytest.approx(0.5)
    assert comparison["aupro"]["candidate"] == pytest.approx(report["metrics"]["aupro"])
    assert "threshold grid" in report["metric_notes"]["comparison.aupro"]

    # 64 px images: AUPIMO needs FPR bounds a few normal pixels can reach.
    equal = run_case(make_case("0", "0", pixel=True, aupimo_fpr_bounds=(1e-3, 1e-2), compare={
        "aupro": {"max_drop": 0.01}, "aupimo_mean": {"max_drop": 0.01}}))
    report, records = _written(equal, tmp_path)
    for name in ("aupro", "aupimo_mean"):
        entry = report["comparison"][name]
        assert entry["passed"] is True and entry["delta"] == pytest.approx(0.0, abs=1e-6)
    assert report["comparison"]["aupimo_mean"]["method"] == "wilcoxon"
    assert report["comparison"]["aupimo_mean"]["candidate"] == pytest.approx(
        report["metrics"]["aupimo_mean"])
    cand = np.array([math.nan if r["aupimo"] is None else r["aupimo"] for r in records])
    assert np.isfinite(cand).sum() >= 5


def test_metrics_ci_without_a_baseline(make_case, tmp_path):
    evaluation = run_case(make_case("0", None, ci=0.9))
    report, records = _written(evaluation, tmp_path)
    validate_report(report)
    labels = np.array([r["label"] for r in records])
    scores = np.array([r["score"] for r in records], dtype=np.float64)
    interval = bootstrap_ci(labels, image_bootstrap_metric("image_auroc"), scores, level=0.9)
    assert report["metrics_ci"]["image_auroc"] == pytest.approx([interval.low, interval.high])
    assert "comparison" not in report
    assert "baseline_score" not in records[0]


def test_pixel_comparison_without_pixel_is_refused_before_loading(make_case):
    with pytest.raises(ConfigError, match="'aupro'.*pixel"):
        run_case(make_case("0", "0", compare={"aupro": {"max_drop": 0.01}}))


def test_compare_without_baseline_is_refused(make_case):
    with pytest.raises(ConfigError, match="without a baseline"):
        run_case(make_case("0", None, compare=BOUNDS))


@pytest.mark.parametrize(
    ("compare", "message"),
    [
        ({"image_aroc": {"max_drop": 0.1}}, "compare.image_aroc: unknown metric 'image_aroc'"),
        ({"image_auroc": {"max_dorp": 0.1}}, "compare.image_auroc: unknown key 'max_dorp'"),
        ({"image_auroc": {}}, "compare.image_auroc: max_drop is missing"),
        ({"image_auroc": {"max_drop": -0.1}}, r"compare.image_auroc.max_drop is -0.1"),
        ({"image_auroc": {"max_drop": 0.1, "mode": "strict"}}, "mode is 'strict'"),
        ({"image_auroc": {"max_drop": 0.1, "alpha": 0.5}}, r"alpha is 0.5; expected .*\(0, 0.5\)"),
        ({"image_auroc": 0.1}, "compare.image_auroc is 0.1"),
        ([], "expected a mapping"),
    ],
)
def test_bad_compare_names_key(compare, message):
    with pytest.raises(ConfigError, match=message):
        parse_compare(compare)


def test_compare_flag():
    bounds = parse_compare_flag("image_auroc=0.005, aupro=0.01", alpha=0.1)
    assert bounds == {"image_auroc": Bound(0.005, "regression", 0.1),
                      "aupro": Bound(0.01, "regression", 0.1)}
    with pytest.raises(ConfigError, match="--compare: 'image_auroc' is not <metric>=<max_drop>"):
        parse_compare_flag("image_auroc")
    with pytest.raises(ConfigError, match="--compare.image_ap.max_drop is -1.0"):
        parse_compare_flag("image_ap=-1")
    assert math.isclose(parse_compare({"image_ap": {"max_drop": 0}})["image_ap"].alpha, 0.05)


def test_baseline_gets_the_batch_independence_policy(synthetic_root):
    """A batch-dependent baseline runs one image at a time, named in the batch note, and its
    scores are those of per-image inference."""
    from pyimgano.inference import run_inference
    from tests.fakes import FakeDetector

    paths = sorted((synthetic_root / "tiles" / "test").rglob("*.png"))[:6]
    model, baseline = FakeDetector(), FakeDetector(noise=0.01)
    baseline.batch_independent = False
    result = run_inference(model, paths, batch_size=3, baseline=baseline)
    assert result.reference is None and len(result.baseline) == len(paths)
    assert "baseline FakeDetector is batch-dependent" in result.batch_note
    alone = [FakeDetector(noise=0.01)._output(p)["pred_score"] for p in paths]
    assert [p.score for p in result.baseline] == pytest.approx([float(s) for s in alone])


# ----------------------------------------------------------------------------- the CLI


def _cli(capsys, *argv):
    from pyimgano.cli.benchmark import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


def _cli_args(make_case, candidate, baseline):
    case = make_case(candidate, baseline)
    return ["--dataset", "mvtec", "--root", case.root, "--category", "tiles",
            "--model", CHECKPOINT_FAKE, "--checkpoint-path", case.checkpoint,
            "--baseline-checkpoint", case.baseline, "--batch-size", "4",
            "--no-progress", "--no-plots"]


def test_cli_worse_candidate_exits_1_with_the_table_and_the_plugin_numbers(
    capsys, make_case, tmp_path
):
    out = tmp_path / "cli.json"
    code, stderr = _cli(capsys, *_cli_args(make_case, "constant", "0"),
                        "--compare", "image_auroc=0.005,image_ap=0.01", "--output", out)
    assert code == 1, stderr
    header = next(line for line in stderr.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "candidate", "baseline", "Δ", "interval", "p", "bound",
                              "verdict"]
    row = next(line for line in stderr.splitlines() if line.startswith("image_auroc"))
    assert "FAIL (delong)" in row and "drop <= 0.005" in row
    assert "gate failed (comparison image_ap" in stderr
    cli = json.loads(out.read_text("utf-8"))
    # The same case through the runner (the plugin's path) gives the same numbers.
    runner = run_case(make_case("constant", "0", compare=BOUNDS)).report.to_dict()
    assert_same_comparison(cli["comparison"], runner["comparison"])
    assert cli["settings"]["compare"]["image_auroc"] == {
        "max_drop": 0.005, "mode": "regression", "alpha": 0.05}


def test_cli_equal_candidate_exits_0(capsys, make_case, tmp_path):
    code, stderr = _cli(capsys, *_cli_args(make_case, "0", "0"),
                        "--compare", "image_auroc=0.005", "--alpha", "0.1", "--ci", "0.95",
                        "--output", tmp_path / "r.json")
    assert code == 0, stderr
    assert "pass (delong)" in stderr and "alpha 0.1" in stderr
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert set(report["metrics_ci"]) >= {"image_auroc", "image_ap"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--compare", "image_aroc=0.1"], "unknown metric 'image_aroc'"),
        (["--compare", "aupro=0.01"], "'aupro', a pixel metric this item does not compute"),
        (["--alpha", "0.7", "--compare", "image_auroc=0.1"], r"alpha is 0.7"),
        (["--ci", "1.5"], r"--ci must be a confidence level in \(0, 1\)"),
    ],
)
def test_cli_bad_compare_exits_2(capsys, make_case, extra, message):
    import re

    code, stderr = _cli(capsys, *_cli_args(make_case, "0", "0"), *extra)
    assert code == 2 and re.search(message, stderr), stderr
    assert "Traceback" not in stderr


def test_cli_compare_needs_a_baseline(capsys, make_case):
    args = _cli_args(make_case, "0", "0")
    i = args.index("--baseline-checkpoint")
    del args[i:i + 2]
    code, stderr = _cli(capsys, *args, "--compare", "image_auroc=0.1")
    assert code == 2 and "--compare needs --baseline-checkpoint FILE" in stderr


def test_cli_baseline_pin_checked_before_loading(capsys, synthetic_root, tmp_path):
    """The baseline's sha256 pin fails before any model is loaded (an anomalib entry, whose
    files are checked up front), naming the baseline."""
    candidate, baseline = tmp_path / "v2.ckpt", tmp_path / "v1.ckpt"
    candidate.write_bytes(b"candidate")
    baseline.write_bytes(b"baseline")
    code, stderr = _cli(capsys, "--dataset", "mvtec", "--root", synthetic_root, "--category",
                        "tiles", "--model", "vision_patchcore_anomalib", "--checkpoint-path",
                        candidate, "--trust-checkpoint", "--baseline-checkpoint", baseline,
                        "--baseline-sha256", "0" * 64, "--compare", "image_auroc=0.01",
                        "--no-progress")
    assert code == 2, stderr
    assert "baseline" in stderr and "0" * 64 in stderr and "Traceback" not in stderr


# ----------------------------------------------------------------------------- pyimgano-diff


def test_diff_paired_gives_the_plugin_numbers(capsys, make_case, tmp_path):
    """Two separate runs (baseline, then candidate) diffed with --paired give the numbers of
    one run with baseline + compare (the plugin's and the CLI's path), the tolerance being
    the margin."""
    from pyimgano.cli.diff import main as diff_main

    old = write_report(run_case(make_case("0", None)).report, tmp_path / "old" / "r.json")
    new = write_report(run_case(make_case("constant", None)).report, tmp_path / "new" / "r.json")
    code = diff_main([str(old), str(new), "--paired", "--tolerance", "0.01",
                      "--tolerance", "image_auroc=0.005", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1  # the tolerance verdict is unchanged: AUROC fell by far more than 0.005
    paired = out["items"][0]["paired"]
    assert {"image_auroc", "image_ap"} <= set(paired)
    bounds = {name: {"max_drop": 0.005 if name == "image_auroc" else 0.01} for name in paired}
    together = run_case(make_case("constant", "0", compare=bounds)).report.to_dict()
    assert_same_comparison(paired, together["comparison"])
    assert paired["image_auroc"]["passed"] is False

    code = diff_main([str(old), str(new), "--paired", "--tolerance", "image_auroc=0.005"])
    table = capsys.readouterr().out
    assert "paired tests, new against old (same images):" in table
    row = next(line for line in table.splitlines() if line.strip().startswith("image_auroc")
               and "delong" in line)
    entry = paired["image_auroc"]
    assert f"{entry['delta']:+.4f}" in row and f"{entry['p_value']:.3g}" in row


def test_diff_paired_needs_the_same_images(make_case, tmp_path):
    from pyimgano.diff import diff_paths

    old_report = run_case(make_case("0", None)).report
    old_report.records = old_report.records[1:]  # one image fewer
    old = write_report(old_report, tmp_path / "old" / "r.json")
    new = write_report(run_case(make_case("0", None)).report, tmp_path / "new" / "r.json")
    item = diff_paths(old, new, paired=True).items[0]
    assert item.paired is None
    assert "paired tests skipped: the two runs did not score the same images" in item.notes


def test_metrics_ci_of_pixel_metrics(make_case, tmp_path):
    """With pixel metrics, ``metrics_ci`` covers pixel_auroc and aupro: an interval that holds
    the exact value, from the same resampling as ``bootstrap_ci`` on per-image statistics."""
    from pyimgano.metrics.stats import pixel_auroc_metric, pixel_statistics

    evaluation = run_case(make_case("0", None, pixel=True, ci=0.95))
    report = evaluation.report.to_dict()
    validate_report(report)
    for name in ("pixel_auroc", "aupro", "image_auroc"):
        low, high = report["metrics_ci"][name]
        assert low <= report["metrics"][name] <= high, name
    labels = np.array([r["label"] for r in evaluation.report.records])
    stats = pixel_statistics(evaluation.pixel.maps, evaluation.pixel.masks)
    interval = bootstrap_ci(labels, pixel_auroc_metric(), stats, level=0.95,
                            exact=report["metrics"]["pixel_auroc"])
    assert report["metrics_ci"]["pixel_auroc"] == pytest.approx([interval.low, interval.high])
