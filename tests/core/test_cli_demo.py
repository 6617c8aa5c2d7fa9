"""``pyimgano-demo`` argument handling (the full demo runs in .ci/run via `make demo`)."""

from __future__ import annotations

from pathlib import Path

import pyimgano.demo
from pyimgano.cli.demo import main
from pyimgano.demo import DemoLayout


def test_missing_suite_exits_2_before_training(tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("must not train when the suite is missing")

    monkeypatch.setattr(pyimgano.demo, "prepare_demo", fail)
    code = main(["--root", str(tmp_path), "--suite", str(tmp_path / "nope.yaml")])
    assert code == 2
    assert "nope.yaml not found" in capsys.readouterr().err


def test_prepare_only_prepares_and_runs_nothing(tmp_path, capsys, monkeypatch):
    calls = []

    def fake_prepare(root, **kwargs):
        calls.append(Path(root))
        return DemoLayout(Path(root), Path(root) / "data", Path(root) / "checkpoints", ("a",),
                          ("padim",))

    monkeypatch.setattr(pyimgano.demo, "prepare_demo", fake_prepare)
    assert main(["--root", str(tmp_path), "--prepare-only"]) == 0
    assert calls == [tmp_path]
    assert "checkpoints in" in capsys.readouterr().err


def _fake_layout(calls):
    def fake_prepare(root, **kwargs):
        calls.append(Path(root))
        return DemoLayout(Path(root), Path(root) / "data", Path(root) / "checkpoints", ("a",),
                          ("padim",))

    return fake_prepare


def _run_capturing_pytest(tmp_path, monkeypatch, suite):
    import subprocess

    commands = []

    class Done:
        returncode = 0

    def fake_run(command, check=False):
        commands.append(command)
        return Done()

    monkeypatch.setattr(pyimgano.demo, "prepare_demo", _fake_layout([]))
    monkeypatch.setattr(subprocess, "run", fake_run)
    assert main(["--root", str(tmp_path / "demo"), "--suite", str(suite), "--", "-q"]) == 0
    (command,) = commands
    return command


def test_committed_snapshots_are_compared_not_rewritten(tmp_path, monkeypatch, capsys):
    suite = tmp_path / "suites" / "demo.yaml"
    suite.parent.mkdir()
    suite.write_text("pyimgano_suite: 1\n", "utf-8")
    command = _run_capturing_pytest(tmp_path, monkeypatch, suite)
    assert command[1:3] == ["-m", "pytest"] and command[3] == str(suite)
    assert "--snapshot-update" in command  # nothing committed: the first run records them
    assert "recording them" in capsys.readouterr().err

    (suite.parent / "__pyimgano_snapshots__" / "demo" / "padim").mkdir(parents=True)
    command = _run_capturing_pytest(tmp_path, monkeypatch, suite)
    assert "--snapshot-update" not in command
    assert command[-1] == "-q"


def test_snapshots_at_the_old_place_count_as_committed(tmp_path, monkeypatch):
    suite = tmp_path / "demo.yaml"
    suite.write_text("pyimgano_suite: 1\n", "utf-8")
    (tmp_path / "__snapshots__" / "demo").mkdir(parents=True)
    assert "--snapshot-update" not in _run_capturing_pytest(tmp_path, monkeypatch, suite)


def test_the_demo_cli_does_not_import_the_plugin():
    import subprocess
    import sys

    code = ("import sys, pyimgano.cli.demo, pyimgano.demo; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pytest_pyimgano'))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_export_jobs_take_the_subset_asked_for():
    from pyimgano.demo import DEMO_EXPORTS, export_jobs

    kinds = ("onnx", "openvino_fp32")
    exports = {"padim": (None, kinds), "patchcore": (("tiles",), ("onnx",))}
    assert export_jobs(("padim", "patchcore"), ("disk", "tiles"), exports) == [
        ("padim", "disk", kinds), ("padim", "tiles", kinds), ("patchcore", "tiles", ("onnx",))]
    assert export_jobs(("patchcore",), ("disk",), exports) == []
    assert export_jobs(("padim",), ("tiles",), {}) == []
    from pyimgano.demo.export import EXPORT_KINDS

    for _, kinds_asked in DEMO_EXPORTS.values():
        assert set(kinds_asked) <= set(EXPORT_KINDS)


def test_training_and_export_inputs_are_checked_before_anything_heavy(tmp_path):
    import pytest

    from pyimgano.demo.export import export_checkpoint
    from pyimgano.demo.training import TrainedCheckpoint, train_checkpoint
    from pyimgano.errors import ConfigError, DatasetError

    (tmp_path / "data" / "tiles").mkdir(parents=True)
    with pytest.raises(DatasetError, match="validation split not found"):
        train_checkpoint("padim", tmp_path / "data", "tiles", tmp_path / "out",
                         val_root=tmp_path / "nowhere")
    trained = TrainedCheckpoint(
        pt_path=tmp_path / "model.pt", ckpt_path=tmp_path / "model.ckpt",
        manifest_path=tmp_path / "manifest.json", model="padim", category="tiles",
        pt_sha256="0" * 64, ckpt_sha256="0" * 64, cached=True, params={})
    with pytest.raises(ConfigError, match="unknown export kind.*'tflite'.*known: onnx"):
        export_checkpoint(trained, ("onnx", "tflite"))


def test_no_export_prepares_without_exports(tmp_path, monkeypatch):
    seen = []

    def fake_prepare(root, **kwargs):
        seen.append(kwargs)
        return DemoLayout(Path(root), Path(root) / "data", Path(root) / "checkpoints", ("a",),
                          ("padim",))

    monkeypatch.setattr(pyimgano.demo, "prepare_demo", fake_prepare)
    assert main(["--root", str(tmp_path), "--prepare-only", "--no-export"]) == 0
    assert main(["--root", str(tmp_path), "--prepare-only"]) == 0
    assert seen == [{"exports": {}}, {}]
