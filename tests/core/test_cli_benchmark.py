"""``pyimgano-benchmark`` end to end on synthetic data, fake detector (docs/REFERENCE.md §7)."""

from __future__ import annotations

import json

import pytest

from pyimgano.cli.benchmark import main
from pyimgano.report import records_path, validate_report


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    """Every run starts in its own temp dir: a stray write can never land in the checkout."""
    monkeypatch.chdir(tmp_path)


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


def test_stdout_mode_writes_nothing_into_the_working_directory(capsys, base_args, tmp_path,
                                                             monkeypatch):
    """docs/REFERENCE.md §6: with the report on stdout the per-image records go only where
    ``--jsonl PATH`` says; without it no file at all appears in the working directory."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    code, stdout, stderr = run(capsys, *base_args)
    assert code == 0, stderr
    data = json.loads(stdout)
    assert list(cwd.rglob("*")) == []
    assert "per-image records not written (no --jsonl PATH)" in stderr

    chosen = tmp_path / "elsewhere" / "records.jsonl"
    code, _, stderr = run(capsys, *base_args, "--jsonl", chosen)
    assert code == 0, stderr
    records = [json.loads(line) for line in chosen.read_text("utf-8").splitlines()]
    assert len(records) == data["dataset"]["n_test"]
    assert {"path", "label", "defect", "score", "pred_label"} <= set(records[0])
    assert f"per-image records in {chosen}" in stderr
    assert list(cwd.rglob("*")) == []


def test_jsonl_with_output_is_refused(capsys, base_args, tmp_path):
    code, stdout, stderr = run(capsys, *base_args, "--output", tmp_path / "r.json",
                               "--jsonl", tmp_path / "x.jsonl")
    assert code == 2 and stdout == ""
    assert "--jsonl" in stderr and "beside the report" in stderr
    assert not (tmp_path / "r.json").exists()


def test_headline_metrics_are_printed_after_a_run(capsys, base_args, tmp_path):
    out = tmp_path / "report.json"
    code, _, stderr = run(capsys, *base_args, "--pixel", "--output", out, "--no-plots")
    assert code == 0, stderr
    data = json.loads(out.read_text("utf-8"))
    metrics, dataset = data["metrics"], data["dataset"]
    lines = stderr.splitlines()
    metric_line = next(line for line in lines if "image_auroc" in line)
    for name in ("image_auroc", "image_ap", "pixel_auroc", "aupro"):
        assert f"{name} {metrics[name]:.4g}" in metric_line, name
    assert f"({dataset['n_test']} images, {dataset['n_anomalous']} anomalous)" in lines[0]
    assert lines[-1] == f"pyimgano-benchmark: report written to {out}"


def test_list_models_prints_name_backend_and_formats(capsys):
    code = main(["--list-models"])
    out = capsys.readouterr().out
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["name", "backend", "formats"]
    padim = next(row for row in rows if row.split()[0] == "vision_padim_anomalib")
    assert padim.split()[1] == "anomalib"
    from pyimgano.models import list_models, model_info

    assert len(rows) == len(list_models())
    # the registry's own facts are shown: formats, and limitations where it states them
    for name in list_models():
        meta = model_info(name)["metadata"]
        row = next(r for r in rows if r.split()[0] == name)
        for fmt in meta.get("formats") or ():
            assert f" {fmt}" in row, (name, fmt)
        for limitation in meta.get("limitations") or ():
            assert limitation in row, (name, limitation)


def test_list_models_refuses_a_run_and_runs_need_their_arguments(capsys):
    assert main(["--list-models", "--dataset", "mvtec"]) == 2
    assert "--list-models takes no" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", "mvtec"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--root" in err and "--category" in err and "--model" in err


def test_new_flags_reach_the_runner_case(base_args, tmp_path):
    from pyimgano.cli.benchmark import parse_options

    reference = tmp_path / "model.ckpt"
    options = parse_options([*map(str, base_args), "--precision", "bf16",
                             "--aupro-limits", "0.05, 0.3",
                             "--reference-checkpoint", str(reference),
                             "--reference-sha256", "AB" * 32,
                             "--parity", "score=1e-3,map=1e-2,decisions=0"])
    case = options.case
    assert case.precision == "bf16"
    assert case.aupro_limits == (0.05, 0.3)
    assert case.reference == reference
    assert case.reference_sha256 == "AB" * 32
    assert dict(case.parity) == {"score": 0.001, "map": 0.01, "decisions": 0}
    defaults = parse_options(list(map(str, base_args))).case
    assert (defaults.precision, defaults.aupro_limits, defaults.reference, defaults.parity) == (
        "f32", (), None, None)
    # a reference alone is reported, not bounded
    assert parse_options([*map(str, base_args), "--reference-checkpoint",
                          str(reference)]).case.parity is None
    assert parse_options([*map(str, base_args), "--fpr-limits", "0.01,0.1"]).case.fpr_limits == (
        0.01, 0.1)
    assert defaults.fpr_limits == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--aupro-limits", "0,0.3"], "--aupro-limits '0,0.3': 0 is not in (0, 1]"),
        (["--aupro-limits", "0.05,x"], "--aupro-limits '0.05,x': 'x' is not a number"),
        (["--aupro-limits", "0.3,0.3"], "0.3 is given twice"),
        (["--aupro-limits", "1.5"], "1.5 is not in (0, 1]"),
        (["--fpr-limits", "0.01,0"], "--fpr-limits '0.01,0': 0 is not in (0, 1]"),
        (["--parity", "score=1e-3"], "--parity needs --reference-checkpoint"),
        (["--reference-sha256", "ab"], "--reference-sha256 needs --reference-checkpoint"),
        (["--reference-checkpoint", "r.ckpt", "--parity", "scor=1e-3"], "scor"),
        (["--reference-checkpoint", "r.ckpt", "--parity", "score=abc"], "--parity"),
    ],
)
def test_bad_new_flags_exit_2_with_one_line(capsys, base_args, extra, message):
    code, stdout, stderr = run(capsys, *base_args, *extra)
    assert code == 2
    assert stdout == ""
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr


def test_bad_precision_is_a_usage_error(capsys, base_args):
    with pytest.raises(SystemExit) as exit_info:
        main([*map(str, base_args), "--precision", "fp32"])
    assert exit_info.value.code == 2
    assert "f32" in capsys.readouterr().err


CHECKPOINT_FAKE = "test_checkpoint_fake_detector"


@pytest.fixture
def parity_args(synthetic_root, tmp_path):
    """CLI arguments of an artifact/reference pair of :class:`tests.fakes.CheckpointFakeDetector`:
    ``parity_args(artifact_text, reference_text)`` writes both checkpoint files."""
    from pyimgano.models import register_model, unregister_model

    register_model(CHECKPOINT_FAKE, "tests.fakes:CheckpointFakeDetector",
                   metadata={"backend": "test", "requires_checkpoint": True}, overwrite=True)

    def make(artifact: str, reference: str) -> list:
        (tmp_path / "artifact.txt").write_text(artifact, "utf-8")
        (tmp_path / "reference.txt").write_text(reference, "utf-8")
        return ["--dataset", "mvtec", "--root", synthetic_root, "--category", "tiles",
                "--model", CHECKPOINT_FAKE, "--checkpoint-path", tmp_path / "artifact.txt",
                "--reference-checkpoint", tmp_path / "reference.txt", "--no-progress",
                "--no-plots"]

    yield make
    unregister_model(CHECKPOINT_FAKE)


def test_failed_parity_exits_1_with_its_table(capsys, parity_args, tmp_path):
    """Pairing, the bound and the exit code, end to end: the artifact scores 0.01 above its
    reference on every image, against a bound of 1e-3."""
    out = tmp_path / "r.json"
    code, _, stderr = run(capsys, *parity_args("0.01", "0"), "--parity", "score=1e-3",
                          "--output", out)
    assert code == 1, stderr
    parity = json.loads(out.read_text("utf-8"))["parity"]
    assert parity["passed"] is False and parity["degenerate"] is None
    assert parity["score_max_abs"] == pytest.approx(0.01, abs=1e-6)
    assert parity["map_max_abs"] == pytest.approx(0.01, abs=1e-6)  # reported, not bounded
    records = [json.loads(line) for line in records_path(out).read_text().splitlines()]
    for record in records:
        assert record["score"] - record["reference_score"] == pytest.approx(0.01, abs=1e-6)
    lines = stderr.splitlines()
    check = next(line for line in lines if line.startswith("score_max_abs"))
    name, value, op, bound, verdict = check.split()
    assert (name, op, bound, verdict) == ("score_max_abs", "<=", "0.001", "FAIL")
    assert float(value) == pytest.approx(0.01, abs=1e-6)
    assert "worst images (by score |Δ|):" in stderr
    assert "gate failed (parity" in stderr and "→ exit 1" in stderr


def test_passed_parity_exits_0(capsys, parity_args, tmp_path):
    out = tmp_path / "r.json"
    code, _, stderr = run(capsys, *parity_args("1e-6", "0"), "--parity", "score=1e-3",
                          "--output", out)
    assert code == 0, stderr
    assert "parity passed" in stderr
    parity = json.loads(out.read_text("utf-8"))["parity"]
    assert parity["passed"] is True
    assert parity["score_max_abs"] == pytest.approx(1e-6, abs=1e-7)


def test_a_degenerate_artifact_fails_whatever_the_bounds(capsys, parity_args, tmp_path):
    out = tmp_path / "r.json"
    code, _, stderr = run(capsys, *parity_args("constant", "0"), "--parity", "score=100",
                          "--output", out)
    assert code == 1, stderr
    assert "degenerate artifact: every image scores 0.5: the artifact outputs a constant" in (
        stderr)
    assert json.loads(out.read_text("utf-8"))["parity"]["checks"][0]["passed"] is True


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
                 "--checkpoint-sha256", "--trust-checkpoint", "--no-plots", "--list-models",
                 "--precision", "--aupro-limits", "--reference-checkpoint", "--reference-sha256",
                 "--parity", "--jsonl"):
        assert flag in text


def test_sha_and_trust_are_mutually_exclusive(capsys, base_args):
    with pytest.raises(SystemExit) as exit_info:
        main([*map(str, base_args), "--trust-checkpoint", "--checkpoint-sha256", "ab"])
    assert exit_info.value.code == 2
