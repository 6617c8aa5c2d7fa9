"""A suite over a REAL anomalib checkpoint trained in this test session (offline, CPU)."""

from __future__ import annotations

import json

import pytest

from pyimgano.report import read_report, validate_report
from tests.plugin.conftest import write_suite

pytestmark = pytest.mark.anomalib


@pytest.fixture(scope="session")
def trained_padim(tmp_path_factory: pytest.TempPathFactory):
    """PaDiM (random resnet18, 64 px) trained on one small synthetic category."""
    pytest.importorskip("anomalib")
    from pyimgano.datasets.synthetic import generate
    from pyimgano.demo.training import train_checkpoint

    data = generate(tmp_path_factory.mktemp("anomalib-suite-data"), categories=("tiles",),
                    seed=0, size=64, n_train=8, n_test_good=4, n_test_bad_per_defect=2)
    out = tmp_path_factory.mktemp("anomalib-suite-ckpts")
    return data, train_checkpoint("padim", data, "tiles", out, image_size=64, seed=0)


def test_real_checkpoint_suite(suite_dir, trained_padim):
    data, checkpoint = trained_padim
    ckpt_dir = checkpoint.ckpt_path.parent.parent  # <out>/padim
    write_suite(suite_dir, f"""
        pyimgano_suite: 1
        defaults:
          pixel: true
          batch_size: 4
          thresholds: {{image_auroc: 0.0, aupro: 0.0}}
          snapshot: {{tolerance: 0.000001}}
        datasets:
          syn: {{format: mvtec, root: "{data}"}}
        models:
          - id: padim-ckpt
            model: vision_padim_anomalib
            checkpoint: "{ckpt_dir}/{{category}}/model.ckpt"
            dataset: syn
            categories: all
          - id: padim-pt
            model: vision_padim_anomalib
            checkpoint: "{ckpt_dir}/{{category}}/model.pt"
            sha256: {{tiles: "{checkpoint.pt_sha256}"}}
            dataset: syn
            categories: [tiles]
          - id: padim-pt-unpinned
            model: vision_padim_anomalib
            checkpoint: "{ckpt_dir}/{{category}}/model.pt"
            dataset: syn
            categories: [tiles]
    """)
    first = suite_dir.runpytest_subprocess("--snapshot-update", "--pyimgano-no-plots")
    first.assert_outcomes(passed=2, failed=1)
    first.stdout.fnmatch_lines([
        "*_ padim-pt-unpinned[[]tiles[]] _*",
        "*model.pt: refusing to unpickle an untrusted checkpoint*sha256: *"
        "--pyimgano-trust-checkpoints*",
    ])
    out = suite_dir.path / "pyimgano-reports" / "suites" / "release"
    reports = {}
    for model_id in ("padim-ckpt", "padim-pt"):
        report = read_report(out / model_id / "tiles.json")
        validate_report(report)
        reports[model_id] = report
        assert report["environment"]["device"] == "cpu"
        assert report["metrics"]["aupro"] is not None
        assert report["thresholds"]["image_auroc"]["passed"] is True
    # one fit, two files: the exported .pt and the Lightning .ckpt score alike
    assert reports["padim-pt"]["model"]["checkpoint_sha256"] == checkpoint.pt_sha256
    assert reports["padim-ckpt"]["metrics"]["image_auroc"] == pytest.approx(
        reports["padim-pt"]["metrics"]["image_auroc"], abs=1e-6)

    snaps = suite_dir.path / "suites" / "__pyimgano_snapshots__" / "release"
    stored = {p: p.read_bytes() for p in snaps.rglob("*.json")}
    assert {p.parent.name for p in stored} == {"padim-ckpt", "padim-pt"}

    # CPU inference is deterministic: a second run (now trusting the unpinned .pt, which gets
    # its first snapshot) matches the stored snapshots to 1e-6 and leaves them untouched
    second = suite_dir.runpytest_subprocess("--snapshot-update", "--pyimgano-no-plots",
                                            "--pyimgano-trust-checkpoints")
    second.assert_outcomes(passed=3)
    assert all(p.read_bytes() == data_ for p, data_ in stored.items())
    summary = json.loads((suite_dir.path / "pyimgano-reports" / "summary.json").read_text())
    assert [i["outcome"] for i in summary["items"]] == ["passed"] * 3

