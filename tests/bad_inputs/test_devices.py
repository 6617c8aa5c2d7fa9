"""Catalogue: devices (docs/REFERENCE.md §7, §8), through the CLI and through a suite item. The GPU
count
is faked (``torch.cuda``), so the cases run the same on a CPU machine and on a GPU one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import cli_args, expect_cli, expect_raise, run_argv, run_child


def argv_for(root: Path, padim, device: str) -> list[object]:
    return [*cli_args(root, model="vision_padim_anomalib"), "--checkpoint-path", padim.pt_path,
            "--checkpoint-sha256", padim.pt_sha256, "--device", device]


def gpus(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def item_text(child, root: Path, padim, *args: str, device: str = "") -> str:
    """A one-item suite over the real PaDiM, in-process (so the faked GPU count holds)."""
    (child.path / "suites").mkdir(exist_ok=True)
    (child.path / "suites" / "dev.yaml").write_text(
        "pyimgano_suite: 1\n"
        f"datasets:\n  syn: {{format: mvtec, root: '{root}'}}\n"
        "models:\n  - id: padim\n    model: vision_padim_anomalib\n    dataset: syn\n"
        f"    categories: [tiles]\n    checkpoint: '{padim.pt_path}'\n"
        f"    sha256: '{padim.pt_sha256}'\n" + (f"    device: '{device}'\n" if device else ""),
        encoding="utf-8")
    _, outcomes = run_child(child, "suites", "--snapshot-update", *args)
    (outcome,) = outcomes.values()
    assert outcome.kind == "failed", outcome.text
    assert "Traceback" not in outcome.text
    return outcome.text


@pytest.mark.anomalib
@covers("device.cuda_unavailable")
def test_cuda_without_cuda_never_falls_back(base_data, padim, child, monkeypatch):
    gpus(monkeypatch, 0)
    case = CASES["device.cuda_unavailable"]
    for device in ("cuda", "cuda:0"):
        argv = argv_for(base_data, padim, device)
        expect_raise(case, lambda a=argv: run_argv(a), device=repr(device))
        expect_cli(case, argv, device=repr(device))
    case.check(item_text(child, base_data, padim, "--pyimgano-device", "cuda"),
               device="'cuda'")


@pytest.mark.anomalib
@covers("device.index_out_of_range")
def test_cuda_index_beyond_the_gpus(base_data, padim, child, monkeypatch):
    gpus(monkeypatch, 1)
    case = CASES["device.index_out_of_range"]
    argv = argv_for(base_data, padim, "cuda:7")
    expect_raise(case, lambda: run_argv(argv), device="cuda:7")
    expect_cli(case, argv, device="cuda:7")
    case.check(item_text(child, base_data, padim, device="cuda:7"), device="cuda:7")


@covers("device.unknown")
def test_unknown_device_string(base_data, plugin_batch, child):
    """Refused before anything is loaded, whatever the model (the fake ignores devices)."""
    case = CASES["device.unknown"]
    for device in ("gpu", "cuda:", "cuda:-1", "mps", "cdua"):
        argv = cli_args(base_data, "--device", device)
        expect_raise(case, lambda a=argv: run_argv(a), device=repr(device))
        expect_cli(case, argv, device=repr(device))
    plugin_batch.expect(case, "error", device="'gpu'")  # a suite's device: collection error
    result = child.runpytest_inprocess("--pyimgano-device", "gpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    case.check(result.stderr.str(), device="'gpu'")
