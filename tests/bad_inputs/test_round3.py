"""Catalogue: memory budget, report-dir manifest, protocols and operating points (the options
of docs/REFERENCE.md §5, §7, §9 added this round)."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.errors import MetricInputError
from pyimgano.memory import parse_budget
from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import (
    cli_args,
    expect_cli,
    expect_raise,
    item_failure,
    run_argv,
    run_child,
    run_cli,
)
from tests.bad_inputs.scenarios import fake_suite
from tests.core.ad2_layout import write_ad2


@pytest.fixture(scope="module", autouse=True)
def _warm(base_data):
    """One full CLI run first, so that every extension module (numpy.fft, scipy, PIL) is
    imported before an in-process child session, which drops what it imported when done."""
    assert run_cli(cli_args(base_data, "--pixel", "--no-plots")).code == 0


def collection_error(child, text: str) -> str:
    """Run a one-suite child session in-process; the file fails to collect; its error text."""
    (child.path / "suites").mkdir(exist_ok=True)
    (child.path / "suites" / "bad.yaml").write_text(text, encoding="utf-8")
    _, outcomes = run_child(child, "suites")
    (outcome,) = outcomes.values()
    assert outcome.kind == "error", outcome.text
    assert "Traceback" not in outcome.text
    return outcome.text


# ------------------------------------------------------------------ memory budget


@covers("memory.bad_value")
def test_malformed_memory_budget(base_data, child):
    for text in ("lots", "4 parsecs", "0", "-1GiB"):
        expect_cli("memory.bad_value", cli_args(base_data, f"--memory-budget={text}"),
                   name="--memory-budget", value=repr(text))
    expect_raise("memory.bad_value", lambda: parse_budget(True), name="memory_budget",
                 value="True")
    found = collection_error(child, fake_suite(base_data, model="memory_budget: 12 apples"))
    CASES["memory.bad_value"].check(found, name="models[0].memory_budget",
                                    value="'12 apples'")
    # the command-line option is a pytest usage error (exit 4), naming the option
    (child.path / "suites" / "bad.yaml").write_text(fake_suite(base_data), encoding="utf-8")
    result, outcomes = run_child(child, "suites", "--pyimgano-memory-budget=lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and outcomes == {}
    errors = "\n".join(result.errlines)
    assert "Traceback" not in errors
    CASES["memory.bad_value"].check(errors, name="--pyimgano-memory-budget", value="'lots'")


@covers("memory.too_small")
def test_budget_too_small_to_stream(base_data):
    # 6 images of 32x32 = 6144 pixels; 1 KiB cannot hold even one image's keys (1024 x 8 B)
    argv = cli_args(base_data, "--pixel", "--memory-budget", "1KiB")
    values = {"budget": 1024, "pixels": 6144}
    expect_raise("memory.too_small", lambda: run_argv(argv), **values)
    expect_cli("memory.too_small", argv, **values)


@covers("memory.not_float32")
def test_float64_maps_over_the_budget():
    from pyimgano.metrics._spill import in_memory_need
    from pyimgano.metrics.pixel import evaluate_pixels

    rng = np.random.default_rng(0)
    maps = [rng.random((32, 32)) for _ in range(8)]  # float64
    masks = [np.zeros((32, 32), bool) for _ in range(8)]
    for index in (5, 6, 7):
        masks[index][4:12, 4:12] = True
    n_pixels = 8 * 32 * 32
    budget = in_memory_need([32 * 32] * 8) - 1  # just over the in-memory path: must stream
    expect_raise("memory.not_float32",
                 lambda: evaluate_pixels(maps, masks, memory_budget=budget),
                 budget=budget, pixels=n_pixels)
    # the same budget streams float32 maps (the refusal is about the dtype, not the size)
    evaluate_pixels([m.astype(np.float32) for m in maps], masks, memory_budget=budget)


# ------------------------------------------------------------------ report dir manifest


@covers("report.not_written_by_pyimgano")
def test_foreign_file_at_the_report_path(base_data, child):
    report_dir = child.path / "reports"
    foreign = report_dir / "suites" / "ckpt" / "fake" / "tiles.json"
    foreign.parent.mkdir(parents=True)
    foreign.write_text('{"mine": true}\n', encoding="utf-8")
    text = item_failure(child, fake_suite(base_data), f"--pyimgano-report-dir={report_dir}")
    CASES["report.not_written_by_pyimgano"].check(text, path=foreign, report_dir=report_dir)
    assert foreign.read_text(encoding="utf-8") == '{"mine": true}\n'  # never overwritten
    # a foreign JSONL beside a report pyimgano never wrote is refused alike
    foreign.unlink()
    records = foreign.with_suffix(".jsonl")
    records.write_text("{}\n", encoding="utf-8")
    text = item_failure(child, fake_suite(base_data), f"--pyimgano-report-dir={report_dir}")
    CASES["report.not_written_by_pyimgano"].check(text, path=records, report_dir=report_dir)
    assert records.read_text(encoding="utf-8") == "{}\n"


# ------------------------------------------------------------------ protocols


@covers("protocol.unknown")
def test_unknown_protocol(base_data, child):
    found = collection_error(child, fake_suite(base_data, model="protocol: mvtec"))
    CASES["protocol.unknown"].check(found, key="models[0].protocol", value="'mvtec'")
    from pyimgano.protocols import check_protocol

    expect_raise("protocol.unknown", lambda: check_protocol("Anomalib"), key="protocol",
                 value="'Anomalib'")


@covers("protocol.anomalib_not_torch")
def test_anomalib_protocol_on_a_model_without_torch_module(base_data, tmp_path):
    argv = cli_args(base_data, "--protocol", "anomalib")
    expect_raise("protocol.anomalib_not_torch", lambda: run_argv(argv), runtime="FaultyDetector")
    expect_cli("protocol.anomalib_not_torch", argv, runtime="FaultyDetector")
    # an exported ONNX graph (onnxruntime) of an anomalib model has no torch module either
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tests.export._artifacts import constant_onnx

    graph = constant_onnx(tmp_path / "model.onnx")
    argv = [*cli_args(base_data, "--protocol", "anomalib", model="vision_padim_anomalib"),
            "--checkpoint-path", graph, "--device", "cpu"]
    expect_cli("protocol.anomalib_not_torch", argv, runtime=f"onnxruntime from {graph}")


@covers("protocol.calibration_format")
def test_calibration_on_another_format(base_data):
    argv = cli_args(base_data, "--calibration", '{"rule": "quantile"}')
    expect_raise("protocol.calibration_format", lambda: run_argv(argv), fmt="'mvtec'")
    expect_cli("protocol.calibration_format", argv, fmt="'mvtec'")


@covers("protocol.calibration_malformed")
def test_malformed_calibration(tmp_path, child):
    root = tmp_path / "ad2"
    write_ad2(root, "can")
    for spec, key, value in (('{"rule": "max"}', "calibration.rule", "'max'"),
                             ('{"rule": "quantile", "q": 1.5}', "calibration.q", "1.5"),
                             ('{"rule": "mean_std", "k": "3"}', "calibration.k", "'3'")):
        argv = cli_args(root, "--pixel", "--calibration", spec, category="can", fmt="mvtec_ad2")
        expect_raise("protocol.calibration_malformed", lambda a=argv: run_argv(a), key=key,
                     value=value)
        expect_cli("protocol.calibration_malformed", argv, key=key, value=value)
    suite = (fake_suite(root, categories="[can]", model="calibration: {rule: max}")
             .replace("format: mvtec", "format: mvtec_ad2"))
    found = collection_error(child, suite)
    CASES["protocol.calibration_malformed"].check(found, key="models[0].calibration.rule",
                                                  value="'max'")


@covers("protocol.submission_format")
def test_submission_on_another_format(base_data, tmp_path):
    argv = cli_args(base_data, "--pixel", "--export-submission", tmp_path / "sub")
    expect_raise("protocol.submission_format", lambda: run_argv(argv), fmt="'mvtec'")
    expect_cli("protocol.submission_format", argv, fmt="'mvtec'")
    assert not (tmp_path / "sub").exists()


@covers("protocol.submission_needs_pixel")
def test_submission_without_pixel(tmp_path):
    root = tmp_path / "ad2"
    write_ad2(root, "can")
    argv = cli_args(root, "--export-submission", tmp_path / "sub", category="can",
                    fmt="mvtec_ad2")
    expect_raise("protocol.submission_needs_pixel", lambda: run_argv(argv))
    expect_cli("protocol.submission_needs_pixel", argv)
    assert not (tmp_path / "sub").exists()


# ------------------------------------------------------------------ operating points


@covers("metrics.fpr_limits")
def test_bad_fpr_limits(base_data, child):
    for text, part, problem in (("0.1,abc", "'abc'", "is not a number"),
                                ("2", "2", "is not in (0, 1]"),
                                ("0.1,0.1", "0.1", "is given twice")):
        expect_cli("metrics.fpr_limits", cli_args(base_data, "--fpr-limits", text),
                   key="--fpr-limits", value=repr(text), part=part, problem=problem)
    found = collection_error(child, fake_suite(base_data, model="fpr_limits: [0.01, 0]"))
    assert "suites/bad.yaml: models[0].fpr_limits[1]: must be in (0, 1], got 0" in found, found


# ------------------------------------------------------------------ pytest fixture, syrupy


@covers("suite.evaluate_entry")
def test_bad_pyimgano_evaluate_call(base_data, child):
    calls = {
        "typo": ("pixle=True", "unknown key 'pixle'; allowed keys: id, model, "),
        "several": ("categories=['tiles']", "categories: pyimgano_evaluate() evaluates one "
                    "category: give category='name'"),
        "snapshot": ("snapshot={'tolerance': 0.1}", "snapshot: not a key of "
                     "pyimgano_evaluate(); the tolerance is the snapshot extension's"),
    }
    lines = []
    for name, (extra, _) in calls.items():
        lines += [f"def test_{name}(pyimgano_evaluate):",
                  f"    pyimgano_evaluate(model='bad_fake', category='tiles', dataset={{"
                  f"'format': 'mvtec', 'root': {str(base_data)!r}}}, {extra})", ""]
    lines += ["def test_no_category(pyimgano_evaluate):",
              f"    pyimgano_evaluate(model='bad_fake', dataset={{'format': 'mvtec', "
              f"'root': {str(base_data)!r}}})", ""]
    (child.path / "test_calls.py").write_text("\n".join(lines), encoding="utf-8")
    _, outcomes = run_child(child, "test_calls.py", "-p", "no:xdist")
    calls["no_category"] = ("", "missing required key 'category'")
    assert len(outcomes) == len(calls), outcomes
    for name, (_, problem) in calls.items():
        (outcome,) = [o for key, o in outcomes.items() if key.endswith(f"::test_{name}")]
        assert outcome.kind == "failed", outcome.text
        assert "Traceback" not in outcome.text
        CASES["suite.evaluate_entry"].check(outcome.text, test=f"test_calls.py::test_{name}",
                                            problem=problem)


@covers("suite.snapshot_tolerance")
def test_bad_snapshot_extension_tolerance():
    from pyimgano.testing import MetricsSnapshotExtension

    for bad, problem in [
        ({"aupr": 0.1}, "aupr: unknown metric 'aupr'; allowed keys: "),
        ({"ms_per_image": 1}, "ms_per_image: speed metrics are never snapshotted"),
        (-0.1, "a tolerance cannot be negative"),
        ("0.1", "expected a finite number, got '0.1'"),
        (float("inf"), "expected a finite number, got inf"),
    ]:
        expect_raise("suite.snapshot_tolerance",
                     lambda b=bad: MetricsSnapshotExtension.with_tolerance(b), problem=problem)


@covers("metrics.calibration_nonfinite")
def test_calibration_over_nonfinite_maps():
    from pyimgano.protocols.mvtec_ad2 import calibration_threshold

    maps = [np.zeros((4, 4), np.float32) for _ in range(3)]
    maps[2][1, 1], maps[2][3, 0] = np.nan, np.inf
    expect_raise("metrics.calibration_nonfinite", lambda: calibration_threshold(maps),
                 index=2, bad=2)
    with pytest.raises(MetricInputError) as info:
        calibration_threshold([np.zeros((0, 0))])
    assert "needs at least one validation map pixel; got none" in str(info.value)
