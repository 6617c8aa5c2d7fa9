"""Export parity end to end on real artifacts (docs/REFERENCE.md §11): anomalib's own exports of
the session's PaDiM, and a degenerate graph made here, each against the PaDiM's ``.ckpt``,
through ``pyimgano-benchmark`` (exit code, table) and a suite item (pass/fail).

The reference's scores are checked against anomalib's module forward run by the test itself
(not pyimgano code), so the pairing is checked, not only the verdict.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from pyimgano.cli.benchmark import main
from pyimgano.report import records_path
from tests.export._artifacts import constant_onnx
from tests.trained import CATEGORY

pytestmark = pytest.mark.anomalib

MODEL = "vision_padim_anomalib"


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _cli(capsys, anomalib_data, artifact, reference, *extra):
    code = main([os.fspath(a) for a in (
        "--dataset", "mvtec", "--root", anomalib_data, "--category", CATEGORY, "--model", MODEL,
        "--checkpoint-path", artifact, "--reference-checkpoint", reference, "--device", "cpu",
        "--no-progress", "--no-plots", *extra)])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def module_scores(padim):
    """``{image path: score}`` of the .pt through anomalib's module forward, one image at a
    time (anomalib's ``read_image`` decoding)."""
    import torch
    from anomalib.data.utils import read_image

    module = torch.load(padim.pt_path, weights_only=False, map_location="cpu")["model"].eval()

    def score(path) -> float:
        with torch.inference_mode():
            out = module(read_image(path, as_tensor=True)[None])
        return float(out.pred_score.reshape(()))

    return score


def test_a_bound_too_tight_fails_the_cli_with_the_parity_table(
    capsys, exported, padim, anomalib_data, module_scores, tmp_path
):
    """OpenVINO FP16 weights move the scores a little: a bound of 0 on the score must fail."""
    out = tmp_path / "r.json"
    code, err = _cli(capsys, anomalib_data, exported["openvino_fp16"], padim.ckpt_path,
                     "--parity", "score=0,map=1", "--output", out)
    assert code == 1, err
    parity = json.loads(out.read_text("utf-8"))["parity"]
    records = [json.loads(line) for line in records_path(out).read_text().splitlines()]
    assert len(records) == 20
    for record in records:  # each reference score is the .ckpt's own, for that image
        assert record["reference_score"] == pytest.approx(module_scores(record["path"]),
                                                          abs=1e-5)
    deltas = np.array([abs(r["score"] - r["reference_score"]) for r in records])
    assert 0 < deltas.max() < 5e-3
    assert parity["score_max_abs"] == pytest.approx(deltas.max(), rel=1e-6)
    assert parity["passed"] is False and parity["degenerate"] is None
    table = err.splitlines()
    check = next(line for line in table if line.startswith("score_max_abs"))
    assert check.split()[2:] == ["<=", "0", "FAIL"]
    assert next(line for line in table if line.startswith("map_max_abs")).endswith("ok")
    assert "worst images (by score |Δ|):" in err
    worst = records[int(np.argmax(deltas))]["path"]
    assert worst in err
    assert "gate failed (parity" in err and "→ exit 1" in err


def test_an_f32_artifact_within_its_bound_passes(capsys, exported, padim, anomalib_data):
    code, err = _cli(capsys, anomalib_data, exported["onnx"], padim.ckpt_path,
                     "--parity", "score=1e-4,map=1e-3")
    assert code == 0, err
    assert "parity passed" in err


@pytest.fixture
def degenerate(tmp_path):
    """A graph following anomalib's contract whose every image scores 0.5."""
    pytest.importorskip("onnx")
    return constant_onnx(tmp_path / "constant.onnx", score=0.5)


def test_a_degenerate_graph_fails_the_cli_whatever_the_bounds(
    capsys, degenerate, padim, anomalib_data, tmp_path
):
    out = tmp_path / "r.json"
    code, err = _cli(capsys, anomalib_data, degenerate, padim.ckpt_path, "--parity",
                     "score=100,map=100", "--output", out)
    assert code == 1, err
    assert "degenerate artifact: every image scores 0.5: the artifact outputs a constant" in err
    parity = json.loads(out.read_text("utf-8"))["parity"]
    assert [c["passed"] for c in parity["checks"]] == [True, True]
    assert parity["passed"] is False


def test_a_degenerate_graph_fails_its_suite_item(pytester, degenerate, padim, anomalib_data):
    from tests.plugin.conftest import INI

    pytester.makeini(INI)
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "parity.yaml").write_text(
        "pyimgano_suite: 1\n"
        "datasets:\n"
        f"  syn: {{format: mvtec, root: '{anomalib_data}'}}\n"
        "models:\n"
        "  - id: constant\n"
        f"    model: {MODEL}\n"
        "    dataset: syn\n"
        f"    categories: [{CATEGORY}]\n"
        f"    checkpoint: '{degenerate}'\n"
        f"    reference: '{padim.ckpt_path}'\n"
        "    parity: {score: 100}\n"
        "  - id: same\n"
        f"    model: {MODEL}\n"
        "    dataset: syn\n"
        f"    categories: [{CATEGORY}]\n"
        f"    checkpoint: '{padim.ckpt_path}'\n"
        f"    reference: '{padim.ckpt_path}'\n"
        "    parity: {score: 0}\n",
        encoding="utf-8",
    )
    result = pytester.runpytest_inprocess("--pyimgano-no-plots", "--snapshot-update",
                                          "--pyimgano-device", "cpu")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*_ constant[[]tiles[]] _*",
        "parity: degenerate artifact: every image scores 0.5: the artifact outputs a constant",
    ])
