"""Catalogue: export parity (``reference``, ``parity``; docs/REFERENCE.md §11). The pair is the
checkpoint-driven fake (``tests.fakes.CheckpointFakeDetector``: the reference's file says 0, the
artifact's an offset or ``constant``), so pairing, bounds and verdicts run for real."""

from __future__ import annotations

import pytest

from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.fakes import PARITY_NAME
from tests.bad_inputs.helpers import (
    cli_args,
    expect_cli,
    expect_raise,
    run_argv,
    run_cli,
    run_scenario_item,
)

ITEM = "fake[tiles]"


def pair_args(root, data, *extra: object) -> list[object]:
    """CLI arguments for the scenario's artifact and reference files under ``data``."""
    return [*cli_args(root, model=PARITY_NAME), "--checkpoint-path", data / "artifact.txt",
            "--reference-checkpoint", data / "reference.txt", *extra]


def failed_item(case_id: str, base_data, plugin_batch, tmp_path, cli_extra: tuple,
                **values: object) -> str:
    """The item fails (GateFailure in this process, a failure in the child); the CLI on the same
    pair exits 1 with the parity table. Returns the child's and the CLI's texts."""
    expect_raise(case_id, lambda: run_scenario_item(plugin_batch, case_id, tmp_path), **values)
    text = plugin_batch.expect(case_id, "failed", ITEM, **values)
    out = run_cli([*pair_args(base_data, plugin_batch.data(case_id)), *cli_extra])
    assert out.code == 1, out.err
    assert "gate failed (parity" in out.err and "→ exit 1" in out.err and "Traceback" not in out.err
    return text + "\n" + out.err


@covers("parity.bound_exceeded")
def test_artifact_beyond_its_bound(base_data, plugin_batch, tmp_path):
    text = failed_item("parity.bound_exceeded", base_data, plugin_batch, tmp_path,
                       ("--parity", "score=1e-3"), bound="0.001")
    assert "worst images (by score |Δ|):" in text
    assert "score_max_abs" in text and "FAIL" in text


@covers("parity.degenerate")
def test_degenerate_artifact(base_data, plugin_batch, tmp_path):
    text = failed_item("parity.degenerate", base_data, plugin_batch, tmp_path,
                       ("--parity", "score=100"), score=0.5)
    assert "degenerate artifact: every image scores 0.5" in text


@covers("parity.null_bound")
def test_bound_on_what_the_pair_does_not_give(base_data, plugin_batch, tmp_path):
    text = failed_item("parity.null_bound", base_data, plugin_batch, tmp_path,
                       ("--parity", "decisions=0"), bound="0")
    assert "the artifact or the reference gives no pred_label" in text


@covers("parity.bad_text")
def test_parity_text_not_pairs_or_not_numbers(base_data, tmp_path):
    for text in ("score", "score=x"):
        expect_cli("parity.bad_text", [*cli_args(base_data), "--reference-checkpoint",
                                       tmp_path / "r.ckpt", "--parity", text], text=repr(text))


@covers("parity.unknown_bound")
def test_unknown_parity_bound(base_data, plugin_batch, tmp_path):
    expect_cli("parity.unknown_bound", [*cli_args(base_data), "--reference-checkpoint",
                                        tmp_path / "r.ckpt", "--parity", "scor=1e-3"],
               where="--parity", key="'scor'")
    suite = plugin_batch.suite("parity.unknown_bound")
    plugin_batch.expect("parity.unknown_bound", "error", where=f"{suite}: models[0].parity",
                        key="'scor'")


@covers("parity.bad_bound")
def test_negative_parity_bound(base_data, plugin_batch, tmp_path):
    expect_cli("parity.bad_bound", [*cli_args(base_data), "--reference-checkpoint",
                                    tmp_path / "r.ckpt", "--parity", "score=-1"],
               where="--parity", key="score", value="-1.0")
    suite = plugin_batch.suite("parity.bad_bound")
    plugin_batch.expect("parity.bad_bound", "error", where=f"{suite}: models[0].parity",
                        key="score", value="-1")


@covers("parity.not_mapping")
def test_parity_bounds_not_a_mapping():
    from pyimgano.parity import parse_parity

    expect_raise("parity.not_mapping", lambda: parse_parity(0.5, where="bounds"),
                 where="bounds", spec="0.5")


@covers("parity.needs_reference")
def test_parity_flags_without_a_reference(base_data):
    for flag, value in (("--parity", "score=1e-3"), ("--reference-sha256", "0" * 64)):
        expect_cli("parity.needs_reference", [*cli_args(base_data), flag, value], flag=flag)


@covers("parity.suite_needs_reference")
def test_suite_parity_without_a_reference(plugin_batch):
    plugin_batch.expect("parity.suite_needs_reference", "error",
                        suite=plugin_batch.suite("parity.suite_needs_reference"),
                        key="models[0]")


@covers("parity.api_needs_reference")
def test_run_case_parity_without_a_reference(base_data):
    from pyimgano.runner import Case, run_case

    case = Case(model="bad_fake", dataset_format="mvtec", root=base_data, category="tiles",
                parity={"score": 1e-3})
    expect_raise("parity.api_needs_reference", lambda: run_case(case))


@covers("parity.reference_missing")
def test_reference_checkpoint_missing(base_data, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tests.export._artifacts import constant_onnx

    artifact = constant_onnx(tmp_path / "model.onnx")
    missing = tmp_path / "model.ckpt"
    argv = [*cli_args(base_data, model="vision_padim_anomalib"), "--checkpoint-path", artifact,
            "--reference-checkpoint", missing, "--device", "cpu"]
    expect_raise("parity.reference_missing", lambda: run_argv(argv), ckpt=missing)
    expect_cli("parity.reference_missing", argv, ckpt=missing)


@covers("parity.other_map_size")
def test_reference_maps_of_another_size_are_compared_at_its_size(base_data):
    """Half-size artifact maps are aligned to the reference's before the max |Δ|: the result is
    the max over images of |bilinear-resized coarse map - full map|, written here with torch."""
    torch = pytest.importorskip("torch")
    import numpy as np

    from pyimgano.datasets import load_dataset
    from pyimgano.evaluation import evaluate
    from tests.fakes import FakeDetector

    dataset = load_dataset("mvtec", base_data, "tiles")
    coarse, full = FakeDetector(downsample=2), FakeDetector()
    parity = evaluate(coarse, dataset, reference=full, parity={"map": 1.0}).report.parity
    expected = 0.0
    for sample in dataset:
        small = coarse._output(sample.image_path)["anomaly_map"][0]
        big = full._output(sample.image_path)["anomaly_map"][0]
        resized = torch.nn.functional.interpolate(
            torch.from_numpy(small)[None, None], size=big.shape, mode="bilinear",
            align_corners=False, antialias=False)[0, 0].numpy()
        expected = max(expected, float(np.abs(resized.astype(np.float64) - big).max()))
    assert parity["map_max_abs"] == pytest.approx(expected, abs=1e-7)
    assert parity["passed"] is True
    CASES["parity.other_map_size"].check("accepted: the artifact's map is aligned to the "
                                         "reference map's size (the one bilinear alignment "
                                         "routine) before `map_max_abs` is taken")
