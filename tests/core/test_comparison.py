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


# ----------------------------------------------------------------------------- more metrics


GRID = {"pixel_ap": {"max_drop": 0.01}, "pixel_f1_max": {"max_drop": 0.01},
        "aupro_0.05": {"max_drop": 0.01}}


def _grid_expected(evaluation, name, bound):
    """The paired bootstrap recomputed from both models' maps: their exact metrics
    (scikit-learn / MVTec's AU-PRO, written in the tests) and per-image statistics."""
    from pyimgano.metrics import pixel_ap_metric, pixel_f1_max_metric, pixel_statistics
    from pyimgano.metrics.stats import aupro_metric
    from tests.metrics._reference import ref_aupro, ref_pixel_metrics

    masks = evaluation.pixel.masks
    cand = [np.asarray(m, dtype=np.float32) for m in evaluation.pixel.maps]
    base = [np.asarray(p.anomaly_map, dtype=np.float32).squeeze()
            for p in evaluation.baseline_predictions]
    exact = []
    for maps in (base, cand):
        if name == "aupro_0.05":
            exact.append(ref_aupro(maps, masks, 0.05))
        else:
            exact.append(ref_pixel_metrics(maps, masks)[name])
    metric = {"pixel_ap": pixel_ap_metric(), "pixel_f1_max": pixel_f1_max_metric(),
              "aupro_0.05": aupro_metric(0.05)}[name]
    labels = np.array([r["label"] for r in evaluation.report.records])
    return paired_bootstrap(labels, metric, pixel_statistics(base, masks),
                            pixel_statistics(cand, masks), exact=tuple(exact),
                            max_drop=bound["max_drop"]).as_dict()


@pytest.mark.parametrize("worse", [True, False])
def test_pixel_ap_f1_and_aupro_limits_compared_end_to_end(make_case, worse):
    """pixel_ap, pixel_f1_max and aupro_<limit>: the report's comparison equals the bootstrap
    recomputed from the maps with exact values from the reference implementations; a truly
    worse candidate fails each, an equal one passes each; every one carries the grid note."""
    evaluation = run_case(make_case("constant" if worse else "0.01", "0", pixel=True,
                                    aupro_limits=(0.05,), compare=GRID))
    report = evaluation.report.to_dict()
    validate_report(report)
    for name, bound in GRID.items():
        entry = report["comparison"][name]
        assert entry == pytest.approx(_grid_expected(evaluation, name, bound), abs=1e-6), name
        assert entry["passed"] is (not worse), (name, entry)
        assert entry["candidate"] == pytest.approx(report["metrics"][name], abs=1e-12)
        assert "threshold grid" in report["metric_notes"][f"comparison.{name}"]
        if not worse:
            assert entry["delta"] == pytest.approx(0.0, abs=1e-6)


def test_aupimo_std_compared_and_every_comparable_metric_in_metrics_ci(make_case):
    evaluation = run_case(make_case("0", "0", pixel=True, aupimo_fpr_bounds=(1e-3, 1e-2),
                                    aupro_limits=(0.05,), ci=0.95,
                                    compare={"aupimo_std": {"max_drop": 0.01}}))
    report = evaluation.report.to_dict()
    validate_report(report)
    entry = report["comparison"]["aupimo_std"]
    assert entry["method"] == "bootstrap" and entry["passed"] is True
    assert entry["delta"] == 0.0
    values = np.array([r["aupimo"] for r in evaluation.report.records if r["aupimo"] is not None])
    assert entry["candidate"] == pytest.approx(np.std(values), abs=1e-12)
    expected = {"image_auroc", "image_ap", "image_f1_max", "pixel_auroc", "pixel_ap",
                "pixel_f1_max", "aupro", "aupro_0.05", "aupimo_mean", "aupimo_std"}
    assert set(report["metrics_ci"]) == expected
    for name in expected:
        low, high = report["metrics_ci"][name]
        assert low <= report["metrics"][name] + 1e-9 and report["metrics"][name] <= high + 1e-9


def _fake(tmp_path, text):
    from tests.fakes import CheckpointFakeDetector

    path = tmp_path / f"{text}.txt"
    path.write_text(text, "utf-8")
    return CheckpointFakeDetector(str(path))


@pytest.mark.parametrize("worse", [True, False])
def test_seg_f1_compared_at_each_models_calibrated_threshold(tmp_path, worse):
    """MVTec AD 2: seg_f1 from per-image TP/FP/FN at each model's own validation/good
    threshold; the baseline's value equals SegF1 counted here from its maps and threshold."""
    from pyimgano.datasets import load_dataset
    from pyimgano.evaluation import evaluate
    from tests.core.ad2_layout import write_ad2
    from tests.core.test_mvtec_ad2 import _expected

    root = tmp_path / "ad2"
    write_ad2(root, "can")
    evaluation = evaluate(
        _fake(tmp_path, "constant" if worse else "0"), load_dataset("mvtec_ad2", root, "can"),
        pixel=True, batch_size=2, baseline=_fake(tmp_path, "0"),
        compare=parse_compare({"seg_f1": {"max_drop": 0.01}, "aupro_0.05": {"max_drop": 0.01}}),
    )
    report = evaluation.report.to_dict()
    validate_report(report)
    threshold, expected_f1, _, _, _ = _expected(root, "can",
                                                lambda px: np.mean(px) + 3 * np.std(px))
    entry = report["comparison"]["seg_f1"]
    assert entry["baseline"] == pytest.approx(expected_f1, abs=1e-12)
    assert entry["candidate"] == pytest.approx(report["metrics"]["seg_f1"], abs=1e-12)
    assert entry["passed"] is (not worse), entry
    assert report["comparison"]["aupro_0.05"]["passed"] is (not worse)
    note = report["metric_notes"]["comparison.seg_f1"]
    assert "exact, no grid" in note and f"baseline {threshold:.6g}" in note
    if not worse:
        assert entry["delta"] == 0.0


def test_sample_metrics_compared_over_samples(tmp_path):
    """Real-IAD: the bootstrap unit is the sample (max over its views), grouped here from the
    JSONL's per-view records; metrics_ci has the sample metrics too."""
    from collections import defaultdict

    from pyimgano.datasets import load_dataset
    from pyimgano.evaluation import evaluate
    from tests.core.test_realiad_samples import write_multiview

    write_multiview(tmp_path)
    bounds = {n: {"max_drop": 0.01} for n in ("sample_auroc", "sample_ap", "sample_f1_max")}
    evaluation = evaluate(_fake(tmp_path, "0.01"), load_dataset("realiad", tmp_path, "toy"),
                          baseline=_fake(tmp_path, "0"), compare=parse_compare(bounds), ci=0.9)
    report = evaluation.report.to_dict()
    validate_report(report)
    label, cand, base = defaultdict(int), defaultdict(float), defaultdict(float)
    for r in evaluation.report.records:
        label[r["sample"]] = max(label[r["sample"]], r["label"])
        cand[r["sample"]] = max(cand[r["sample"]], r["score"])
        base[r["sample"]] = max(base[r["sample"]], r["baseline_score"])
    keys = sorted(label)
    y = np.array([label[k] for k in keys])
    for name in bounds:
        metric = image_bootstrap_metric("image_" + name.removeprefix("sample_"))
        expected = paired_bootstrap(y, metric, np.array([base[k] for k in keys]),
                                    np.array([cand[k] for k in keys]), max_drop=0.01)
        assert report["comparison"][name] == pytest.approx(expected.as_dict(), abs=1e-6), name
        assert report["comparison"][name]["passed"] is True
        interval = bootstrap_ci(y, metric, np.array([cand[k] for k in keys]), level=0.9)
        assert report["metrics_ci"][name] == pytest.approx([interval.low, interval.high])


@pytest.mark.parametrize(
    ("compare", "fields", "message"),
    [
        ({"seg_f1": {"max_drop": 0.01}}, {"pixel": True},
         "compares 'seg_f1', which this item does not compute .*mvtec_ad2"),
        ({"sample_auroc": {"max_drop": 0.01}}, {},
         "compares 'sample_auroc', which this item does not compute .*realiad"),
        ({"aupro_0.05": {"max_drop": 0.01}}, {"pixel": True},
         "compares 'aupro_0.05', which this item does not compute"),
        ({"pixel_ap": {"max_drop": 0.01}}, {}, "'pixel_ap', a pixel metric this item does not "
                                               "compute"),
        ({"auspro_0.05": {"max_drop": 0.01}}, {}, "'auspro_0.05', a pixel metric this item "
                                                  "does not compute"),
        ({"auspro_0.05": {"max_drop": 0.01}}, {"pixel": True},
         "compares 'auspro_0.05', which this item does not compute .*mvtec_loco"),
    ],
)
def test_a_compared_metric_the_item_does_not_compute_is_named(make_case, compare, fields,
                                                              message):
    with pytest.raises(ConfigError, match=message):
        run_case(make_case("0", "0", compare=compare, **fields))


def test_cli_pixel_compare_gives_the_plugin_numbers(capsys, make_case, tmp_path):
    out = tmp_path / "cli.json"
    code, stderr = _cli(capsys, *_cli_args(make_case, "constant", "0"), "--pixel",
                        "--compare", "pixel_ap=0.01,pixel_f1_max=0.01,aupro=0.01",
                        "--output", out)
    assert code == 1, stderr
    assert "FAIL (bootstrap)" in next(line for line in stderr.splitlines()
                                      if line.startswith("pixel_ap"))
    cli = json.loads(out.read_text("utf-8"))
    bounds = {n: {"max_drop": 0.01} for n in ("pixel_ap", "pixel_f1_max", "aupro")}
    runner = run_case(make_case("constant", "0", pixel=True, compare=bounds)).report.to_dict()
    assert_same_comparison(cli["comparison"], runner["comparison"])


def test_auspro_compared_on_mvtec_loco(tmp_path):
    """MVTec LOCO: auspro_0.05 compared from per-image sPRO statistics (both models' defects
    from defects_config.json), the point estimates the report's exact metric; in metrics_ci."""
    from pyimgano.datasets import load_dataset
    from pyimgano.evaluation import evaluate
    from pyimgano.metrics.spro_stats import auspro_bootstrap_metric, spro_statistics
    from tests.core.test_loco_evaluation import MapDetector, _write

    _write(tmp_path)
    dataset = load_dataset("mvtec_loco", tmp_path, "box")
    evaluation = evaluate(MapDetector(), dataset, pixel=True, baseline=MapDetector(), ci=0.9,
                          compare=parse_compare({"auspro_0.05": {"max_drop": 0.01}}))
    report = evaluation.report.to_dict()
    validate_report(report)
    entry = report["comparison"]["auspro_0.05"]
    exact = report["metrics"]["auspro_0.05"]
    assert entry["candidate"] == entry["baseline"] == pytest.approx(exact, abs=1e-12)
    assert entry["delta"] == 0.0 and entry["passed"] is True
    assert "threshold grid" in report["metric_notes"]["comparison.auspro_0.05"]
    labels = np.array([r["label"] for r in evaluation.report.records])
    stats = spro_statistics(evaluation.pixel.maps, evaluation.pixel.defects,
                            groups=evaluation.pixel.defect_groups)
    interval = bootstrap_ci(labels, auspro_bootstrap_metric(0.05), stats, level=0.9,
                            exact=exact)
    assert report["metrics_ci"]["auspro_0.05"] == pytest.approx([interval.low, interval.high])
    assert evaluation.pixel.defect_groups == [None if s.defect_type == "good" else
                                              s.defect_type for s in dataset]


def test_suite_schema_accepts_every_comparable_name_and_parse_compare_agrees():
    """The suite schema's compare keys and parse_compare accept the same names."""
    import json
    from importlib import resources

    import jsonschema

    schema = json.loads(resources.files("pyimgano.schemas").joinpath("suite.schema.json")
                        .read_text(encoding="utf-8"))
    compare = {"$defs": schema["$defs"], **schema["$defs"]["compare"]}
    good = ["image_auroc", "image_ap", "image_f1_max", "image_tpr_at_fpr_0.01", "pixel_auroc",
            "pixel_ap", "pixel_f1_max", "aupro", "aupro_0.05", "auspro_0.05", "seg_f1",
            "aupimo_mean", "aupimo_std", "sample_auroc", "sample_ap", "sample_f1_max"]
    for name in good:
        jsonschema.validate({name: {"max_drop": 0.01}}, compare)
        assert name in parse_compare({name: {"max_drop": 0.01}})
    for name in ("image_aroc", "pixel_aupro", "aupimo"):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({name: {"max_drop": 0.01}}, compare)
        with pytest.raises(ConfigError, match=f"unknown metric '{name}'"):
            parse_compare({name: {"max_drop": 0.01}})
