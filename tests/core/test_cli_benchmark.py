"""``pyimgano-benchmark`` end to end on synthetic data with the fake detector (SPEC §7)."""

from __future__ import annotations

import json

import pytest

from pyimgano.cli.benchmark import main
from pyimgano.report import records_path, validate_report


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def base_args(synthetic_root, fake_model_name):
    return ["--dataset", "mvtec", "--root", synthetic_root, "--category", "tiles",
            "--model", fake_model_name, "--no-progress"]


def test_writes_valid_report_jsonl_and_metrics(tmp_path, capsys, base_args, synthetic_root):
    out = tmp_path / "r" / "report.json"
    code, stdout, stderr = run(capsys, *base_args, "--pixel", "--batch-size", "3",
                               "--output", out, "--no-plots")
    assert code == 0, stderr
    assert stdout == ""
    assert "report written to" in stderr
    data = json.loads(out.read_text("utf-8"))
    validate_report(data)
    assert data["item"] is None
    assert data["dataset"]["category"] == "tiles"
    assert data["dataset"]["n_test"] == len(records_path(out).read_text().splitlines())
    for name in ("image_auroc", "image_ap", "image_f1_max", "pixel_auroc", "pixel_ap",
                 "pixel_f1_max", "aupro"):
        assert isinstance(data["metrics"][name], float), name
    assert data["metrics"]["image_miss_rate"] is None
    assert "image_miss_rate" in data["metric_notes"]
    assert data["environment"]["batch_size"] == 3
    # more than one batch: the median speed after the first batch is reported
    assert data["timing"]["ms_per_image"] > 0
    assert set(data["metrics_by_defect"]) == {"color", "hole", "scratch"}


def test_report_to_stdout(capsys, base_args):
    code, stdout, stderr = run(capsys, *base_args)
    assert code == 0, stderr
    data = json.loads(stdout)
    validate_report(data)
    assert data["model"]["kwargs"] == {"device": "auto"}


def test_pred_labels_feed_decision_metrics(capsys, base_args):
    code, stdout, _ = run(capsys, *base_args, "--model-kwargs", '{"labels": true}')
    assert code == 0
    metrics = json.loads(stdout)["metrics"]
    assert 0.0 <= metrics["image_miss_rate"] <= 1.0
    assert 0.0 <= metrics["image_false_reject_rate"] <= 1.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model-kwargs", "[1]"], "--model-kwargs: expected a JSON object"),
        (["--model-kwargs", "{nope"], "--model-kwargs: not valid JSON"),
        (["--model-kwargs", '{"noize": 1}'], "does not accept 'noize'; accepted keys: "
                                              "checkpoint_path, device, noise"),
        (["--checkpoint-path", "a.pt", "--model-kwargs", '{"checkpoint_path": "b.pt"}'],
         "--checkpoint-path 'a.pt' and model kwargs checkpoint_path 'b.pt'"),
        (["--model-kwargs", '{"trust_checkpoint": true}'], "use --trust-checkpoint"),
        (["--batch-size", "0"], "--batch-size must be a positive integer"),
        (["--category", "all"], "--category all is not supported"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, base_args, extra, message):
    args = list(base_args)
    if extra[0] == "--category":
        args[args.index("--category") + 1] = extra[1]
        extra = []
    code, stdout, stderr = run(capsys, *args, *extra)
    assert code == 2
    assert stdout == ""
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr


def test_unknown_model_and_category_and_root(capsys, base_args, tmp_path):
    args = list(base_args)
    args[args.index("--model") + 1] = "vision_padim_anomlib"
    code, _, stderr = run(capsys, *args)
    assert code == 2 and "unknown model 'vision_padim_anomlib'" in stderr
    args = list(base_args)
    args[args.index("--category") + 1] = "nope"
    code, _, stderr = run(capsys, *args)
    assert code == 2 and "nope" in stderr and "tiles" in stderr
    args = list(base_args)
    args[args.index("--root") + 1] = str(tmp_path / "missing")
    code, _, stderr = run(capsys, *args)
    assert code == 2 and "missing" in stderr


def test_checkpoint_required_for_anomalib_models(capsys, synthetic_root):
    code, _, stderr = run(capsys, "--dataset", "mvtec", "--root", synthetic_root, "--category",
                          "tiles", "--model", "vision_padim_anomalib")
    assert code == 2
    assert "requires a checkpoint" in stderr and "--checkpoint-path" in stderr


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--dataset", "--root", "--category", "--model", "--checkpoint-path",
                 "--model-kwargs", "--device", "--pixel", "--batch-size", "--output",
                 "--checkpoint-sha256", "--trust-checkpoint", "--no-plots"):
        assert flag in text


def test_sha_and_trust_are_mutually_exclusive(capsys, base_args):
    with pytest.raises(SystemExit) as exit_info:
        main([*map(str, base_args), "--trust-checkpoint", "--checkpoint-sha256", "ab"])
    assert exit_info.value.code == 2
