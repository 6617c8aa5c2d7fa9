"""Bad checkpoints give one-line CheckpointError/ConfigError messages naming the file, with the
fix where there is one — never a pickle, zip or torch traceback."""

from __future__ import annotations

import shutil

import pytest

from pyimgano.errors import CheckpointError, ConfigError, PyImganoError

pytestmark = pytest.mark.anomalib


def _create(path, **kwargs):
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    return VisionAnomalibCheckpoint(path, device="cpu", **kwargs)


def _error(path, error=CheckpointError, **kwargs) -> str:
    with pytest.raises(error) as info:
        _create(path, **kwargs)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    assert "Traceback" not in message
    # no chained pickle/zip/torch exception is shown under it
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__
    return message


def test_missing_file(tmp_path):
    assert "not found" in _error(tmp_path / "nope.pt", trust_checkpoint=True)


def test_directory(tmp_path):
    folder = tmp_path / "weights.pt"
    folder.mkdir()
    assert "directory" in _error(folder, trust_checkpoint=True)


def test_unsupported_extension(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07onnx")
    message = _error(path, trust_checkpoint=True)
    assert ".pt" in message and ".ckpt" in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    assert "empty" in _error(path, trust_checkpoint=True)


@pytest.mark.parametrize("cut", [0.5, 0.98])
def test_truncated_pt(padim, tmp_path, cut):
    data = padim.pt_path.read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: int(len(data) * cut)])
    assert "truncated or corrupt" in _error(path, trust_checkpoint=True)
    assert "truncated or corrupt" in _error(path)  # found before the trust question


@pytest.mark.parametrize("cut", [0.5, 0.98])
def test_truncated_ckpt(padim, tmp_path, cut):
    data = padim.ckpt_path.read_bytes()
    path = tmp_path / "truncated.ckpt"
    path.write_bytes(data[: int(len(data) * cut)])
    assert "truncated or corrupt" in _error(path, anomalib_model="padim")


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])
def test_random_bytes(tmp_path, suffix):
    import numpy as np

    path = tmp_path / f"random{suffix}"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    message = _error(path, trust_checkpoint=True, anomalib_model="padim")
    assert "not a torch checkpoint" in message


def test_zip_that_is_not_a_torch_checkpoint(tmp_path):
    import zipfile

    path = tmp_path / "archive.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "not a torch checkpoint" in _error(path, trust_checkpoint=True)


def test_ckpt_without_anomalib_model(padim):
    message = _error(padim.ckpt_path, error=ConfigError)
    assert "vision_<name>_anomalib" in message and "anomalib_model" in message


def test_unknown_anomalib_model(padim):
    with pytest.raises(ConfigError, match="unknown anomalib_model 'padin'"):
        _create(padim.ckpt_path, anomalib_model="padin")


def test_lightning_ckpt_renamed_pt_is_recognised_before_trust(padim, tmp_path):
    path = tmp_path / "model.pt"
    shutil.copy(padim.ckpt_path, path)
    message = _error(path)  # no pin, no trust: the contents are told without unpickling
    assert "Lightning checkpoint" in message and "rename it to .ckpt" in message


def test_exported_pt_renamed_ckpt_is_recognised(padim, tmp_path):
    path = tmp_path / "model.ckpt"
    shutil.copy(padim.pt_path, path)
    message = _error(path, anomalib_model="padim")
    assert "exported torch model" in message and "rename it to .pt" in message
    assert "Padim" in message


def test_ckpt_of_another_model(padim):
    message = _error(padim.ckpt_path, anomalib_model="patchcore")
    assert "Patchcore" in message and "another model" in message


def test_pt_of_another_model(padim):
    message = _error(padim.pt_path, anomalib_model="patchcore", trust_checkpoint=True)
    assert "Padim" in message and "patchcore" in message


def test_pt_without_a_model_entry(tmp_path):
    import torch

    path = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    message = _error(path, trust_checkpoint=True)
    assert "Engine.export" in message


def test_pt_that_refers_to_missing_code(tmp_path):
    """A .pt whose pickle names a class that is not importable (e.g. another anomalib)."""
    import torch

    path = tmp_path / "moved.pt"
    torch.save({"model": torch.nn.Identity()}, path)
    import zipfile

    # Rename the pickled class's module (torch.nn.modules.linear.Identity) inside data.pkl.
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    entries = {
        name: body.replace(b"torch.nn.modules.linear", b"torch.nn.modules.lineax")
        for name, body in entries.items()
    }
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)
    message = _error(path, trust_checkpoint=True)
    assert "another anomalib version" in message


def test_every_error_is_a_pyimgano_error(tmp_path):
    assert issubclass(CheckpointError, PyImganoError)
    assert issubclass(ConfigError, PyImganoError)
