"""Catalogue: checkpoints (docs/REFERENCE.md §3, §7 "Checkpoint trust"), with the tiny real PaDiM
trained
once per session (tests/anomalib/conftest.py) and crafted files. CLI cases: exit 2, one line;
API: exact type; trust cases also through a suite item and with proof that nothing was
unpickled."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import (
    cli_args,
    expect_cli,
    expect_raise,
    item_failure,
    run_argv,
)

pytestmark = pytest.mark.anomalib

PADIM = "vision_padim_anomalib"


def argv_for(root: Path, checkpoint: Path, *extra: object) -> list[object]:
    return [*cli_args(root, model=PADIM), "--checkpoint-path", checkpoint, "--device", "cpu",
            *extra]


def both(case_id: str, argv: list, **values: object) -> str:
    expect_raise(case_id, lambda: run_argv(argv), **values)
    return expect_cli(case_id, argv, **values)


class _Plant:
    """Unpickling this creates a directory: the proof that a file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, Path]:
    """A torch .pt whose unpickling creates ``marker`` (a malicious checkpoint's stand-in)."""
    import torch

    marker = tmp_path / "unpickled"
    path = tmp_path / "planted.pt"
    torch.save({"model": _Plant(marker)}, path)
    return path, marker


@pytest.fixture
def torch_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every ``torch.load`` call (its weights_only flag); passed through."""
    import torch

    calls: list[object] = []
    original = torch.load

    def recording(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording)
    return calls


def suite_for(root: Path, checkpoint: Path, extra: str = "") -> str:
    return (
        "pyimgano_suite: 1\n"
        f"datasets:\n  syn: {{format: mvtec, root: '{root}'}}\n"
        "models:\n"
        f"  - id: padim\n    model: {PADIM}\n    dataset: syn\n    categories: [tiles]\n"
        f"    checkpoint: '{checkpoint}'\n    device: cpu\n{extra}"
    )


@covers("checkpoint.missing")
def test_missing_checkpoint(base_data, plugin_batch, tmp_path):
    path = tmp_path / "nope.pt"
    both("checkpoint.missing", argv_for(base_data, path, "--trust-checkpoint"), ckpt=path)
    # a suite checks its paths before loading anything: the item fails naming path and text
    text = plugin_batch.outcome("checkpoint.missing", "fake[tiles]").text
    expected = plugin_batch.data("checkpoint.missing") / "tiles" / "model.pt"
    assert f"{expected} does not exist" in text and "{category}/model.pt" in text


@covers("checkpoint.directory")
def test_directory_as_checkpoint(base_data, tmp_path):
    folder = tmp_path / "model.pt"
    folder.mkdir()
    both("checkpoint.directory", argv_for(base_data, folder, "--trust-checkpoint"), ckpt=folder)


@covers("checkpoint.truncated")
def test_truncated_checkpoint(base_data, padim, tmp_path, torch_loads):
    for source, cut in ((padim.pt_path, 0.5), (padim.pt_path, 0.98), (padim.ckpt_path, 0.5)):
        path = tmp_path / f"cut{cut}{source.suffix}"
        path.write_bytes(source.read_bytes()[: int(source.stat().st_size * cut)])
        both("checkpoint.truncated", argv_for(base_data, path), ckpt=path)  # before trust
        both("checkpoint.truncated", argv_for(base_data, path, "--trust-checkpoint"), ckpt=path)
    assert False not in torch_loads  # nothing went to the full unpickler


@covers("checkpoint.ckpt_as_pt")
def test_lightning_checkpoint_named_pt(base_data, padim, tmp_path, torch_loads):
    path = tmp_path / "model.pt"
    shutil.copy(padim.ckpt_path, path)
    both("checkpoint.ckpt_as_pt", argv_for(base_data, path), ckpt=path)
    assert torch_loads == []  # told from the bytes


@covers("checkpoint.pt_as_ckpt")
def test_exported_model_named_ckpt(base_data, padim, tmp_path, torch_loads):
    path = tmp_path / "model.ckpt"
    shutil.copy(padim.pt_path, path)
    both("checkpoint.pt_as_ckpt", argv_for(base_data, path), ckpt=path,
         cls="anomalib.models.image.padim.lightning_model.Padim")
    assert torch_loads == []


@covers("checkpoint.unsupported")
def test_unsupported_checkpoint_type(base_data, tmp_path):
    for name, suffix in (("model.tflite", "'.tflite'"), ("model.safetensors", "'.safetensors'"),
                         ("model", "'(no extension)'")):
        path = tmp_path / name
        path.write_bytes(b"\x08\x07weights")
        both("checkpoint.unsupported", argv_for(base_data, path, "--trust-checkpoint"),
             ckpt=path, suffix=suffix)


@covers("checkpoint.pin_mismatch")
def test_pin_mismatch_is_refused_before_unpickling(base_data, padim, planted, child,
                                                   torch_loads, tmp_path):
    path, marker = planted
    import hashlib

    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    wrong = "0" * 64
    values = {"ckpt": path, "actual": actual, "pinned": wrong}
    both("checkpoint.pin_mismatch", argv_for(base_data, path, "--checkpoint-sha256", wrong),
         **values)
    # trust does not override a pin (API: both at once)
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    expect_raise("checkpoint.pin_mismatch", lambda: VisionAnomalibCheckpoint(
        path, anomalib_model="padim", device="cpu", checkpoint_sha256=wrong,
        trust_checkpoint=True), **values)
    # a suite's sha256 pin, with --pyimgano-trust-checkpoints on the command line
    text = item_failure(child, suite_for(base_data, path, f"    sha256: '{wrong}'\n"),
                        "--pyimgano-trust-checkpoints")
    CASES["checkpoint.pin_mismatch"].check(text, **values)
    assert not marker.exists()
    assert torch_loads == []  # the real PaDiM's bytes were never handed to torch either
    both("checkpoint.pin_mismatch", argv_for(base_data, padim.pt_path, "--checkpoint-sha256",
                                            wrong), ckpt=padim.pt_path, actual=padim.pt_sha256,
         pinned=wrong)
    assert torch_loads == []
    # a .ckpt loads weights_only without pin or trust, but a given pin is still checked first
    ckpt_sha = hashlib.sha256(padim.ckpt_path.read_bytes()).hexdigest()
    both("checkpoint.pin_mismatch", argv_for(base_data, padim.ckpt_path, "--checkpoint-sha256",
                                            wrong), ckpt=padim.ckpt_path, actual=ckpt_sha,
         pinned=wrong)
    expect_raise("checkpoint.pin_mismatch", lambda: VisionAnomalibCheckpoint(
        padim.ckpt_path, anomalib_model="padim", device="cpu", checkpoint_sha256=wrong),
        ckpt=padim.ckpt_path, actual=ckpt_sha, pinned=wrong)
    text = item_failure(child, suite_for(base_data, padim.ckpt_path, f"    sha256: '{wrong}'\n"))
    CASES["checkpoint.pin_mismatch"].check(text, ckpt=padim.ckpt_path, actual=ckpt_sha,
                                           pinned=wrong)
    assert torch_loads == []
    # an OpenVINO IR: the combined sha256 of .xml and .bin (sha256sum of both, hashed again)
    xml, weights = tmp_path / "ir" / "model.xml", tmp_path / "ir" / "model.bin"
    xml.parent.mkdir()
    xml.write_text("<net/>")
    weights.write_bytes(b"weights")
    listing = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
                      for p in (weights, xml))
    combined = hashlib.sha256(listing.encode()).hexdigest()
    message = both("checkpoint.pin_mismatch", argv_for(base_data, xml, "--checkpoint-sha256",
                                                      wrong), ckpt=xml, actual=combined,
                   pinned=wrong)
    assert "the artifact's combined sha256 (files: model.bin " in message


@covers("checkpoint.unpinned")
def test_unpinned_pt_without_trust(base_data, padim, planted, child, torch_loads):
    path, marker = planted
    import hashlib

    values = {"ckpt": path, "sha": hashlib.sha256(path.read_bytes()).hexdigest()}
    both("checkpoint.unpinned", argv_for(base_data, path), **values)
    CASES["checkpoint.unpinned"].check(item_failure(child, suite_for(base_data, path)), **values)
    both("checkpoint.unpinned", argv_for(base_data, padim.pt_path), ckpt=padim.pt_path,
         sha=padim.pt_sha256)
    assert not marker.exists()
    assert torch_loads == []


@covers("checkpoint.bad_pin")
def test_malformed_pin(base_data, padim):
    both("checkpoint.bad_pin", argv_for(base_data, padim.pt_path, "--checkpoint-sha256",
                                        "abc123"), pin="'abc123'")


@covers("checkpoint.unreadable_entries")
def test_unreadable_plain_entries_are_refused(base_data, tmp_path):
    """A .ckpt whose pickle cannot be rebuilt even with placeholders: refused, never built with
    a default pre-processor in place of the saved one."""
    import zipfile

    key = b"anomalib_pre_processor_config"
    # {key: <extension code 255>}: parses as opcodes, cannot be unpickled
    pickled = b"\x80\x02}q\x00(X" + len(key).to_bytes(4, "little") + key + b"\x82\xffu."
    path = tmp_path / "model.ckpt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
    message = both("checkpoint.unreadable_entries", argv_for(base_data, path), ckpt=path)
    assert "unregistered extension code" in message
