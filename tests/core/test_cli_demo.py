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
