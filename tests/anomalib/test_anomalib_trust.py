"""Checkpoint trust (docs/REFERENCE.md §7): pins, --trust-checkpoint, weights_only .ckpt, no
unpickling
before the decision, and TRUST_REMOTE_CODE left alone."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from fractions import Fraction

import pytest

from pyimgano.errors import CheckpointError, ConfigError

pytestmark = pytest.mark.anomalib


def _create(path, **kwargs):
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    return VisionAnomalibCheckpoint(path, device="cpu", **kwargs)


class _Plant:
    """Unpickling this creates a directory: proof that a file was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def planted(tmp_path):
    """A .pt whose unpickling creates ``marker`` (a stand-in for a malicious checkpoint)."""
    import torch

    marker = tmp_path / "unpickled-marker"
    path = tmp_path / "planted.pt"
    torch.save({"model": _Plant(marker)}, path)
    return path, marker


@pytest.fixture
def load_calls(monkeypatch):
    """Records every torch.load call (its weights_only flag) and passes it through."""
    import torch

    calls: list[object] = []
    original = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return original(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    return calls


def test_unpinned_pt_is_refused_with_the_fix(padim, load_calls):
    with pytest.raises(CheckpointError) as info:
        _create(padim.pt_path)
    message = str(info.value)
    assert str(padim.pt_path) in message
    assert f"--checkpoint-sha256 {padim.pt_sha256}" in message
    assert "--trust-checkpoint" in message and "--pyimgano-trust-checkpoints" in message
    assert "\n" not in message
    assert load_calls == []


def test_correct_pin_loads(padim):
    detector = _create(padim.pt_path, checkpoint_sha256=padim.pt_sha256.upper())
    assert detector.describe().extra["loaded_with"] == "pin"
    assert detector.checkpoint_sha256 == padim.pt_sha256


def test_trust_loads_without_a_pin(padim):
    detector = _create(padim.pt_path, trust_checkpoint=True)
    assert detector.describe().extra["loaded_with"] == "trust"


def test_wrong_pin_is_refused_before_unpickling(planted, load_calls):
    path, marker = planted
    wrong = "0" * 64
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    for trust in (False, True):  # a pin that does not match wins over trust
        with pytest.raises(CheckpointError) as info:
            _create(path, checkpoint_sha256=wrong, trust_checkpoint=trust)
        assert "sha256 mismatch" in str(info.value)
        assert actual in str(info.value) and wrong in str(info.value)
        assert str(path) in str(info.value)
    assert not marker.exists()
    assert load_calls == []


def test_unpinned_untrusted_pt_is_not_unpickled(planted, load_calls):
    path, marker = planted
    with pytest.raises(CheckpointError, match="refusing to unpickle"):
        _create(path)
    assert not marker.exists()
    assert load_calls == []


def test_the_planted_file_really_runs_code_when_trusted(planted):
    """Control for the two tests above: trusting the file unpickles it (and it is no model)."""
    path, marker = planted
    with pytest.raises(CheckpointError, match="NoneType"):
        _create(path, trust_checkpoint=True)
    assert marker.is_dir()


def test_ckpt_loads_weights_only_without_pin_or_trust(padim, load_calls):
    detector = _create(padim.ckpt_path, anomalib_model="padim")
    assert detector.describe().extra["loaded_with"] == "weights_only"
    assert load_calls == [True]


def test_a_wrong_pin_refuses_a_ckpt_that_needs_no_pin(padim, load_calls):
    """A .ckpt loads weights_only without pin or trust, but a given pin is always checked,
    before anything is deserialised."""
    wrong = "0" * 64
    actual = hashlib.sha256(padim.ckpt_path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError) as info:
        _create(padim.ckpt_path, anomalib_model="padim", checkpoint_sha256=wrong)
    message = str(info.value)
    assert message.startswith(f"{padim.ckpt_path}: sha256 mismatch, refusing to load it")
    assert f"sha256 is {actual} but the pin is {wrong}" in message
    assert load_calls == []
    detector = _create(padim.ckpt_path, anomalib_model="padim", checkpoint_sha256=actual)
    assert detector.describe().extra["loaded_with"] == "weights_only"
    assert load_calls == [True]


def _ckpt_needing_pickle(source, target):
    """The .ckpt plus a top-level object the weights_only unpickler does not allow."""
    import torch
    from anomalib.utils.serialization import anomalib_safe_globals

    with anomalib_safe_globals():
        checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    checkpoint["note"] = Fraction(1, 3)
    torch.save(checkpoint, target)
    return hashlib.sha256(target.read_bytes()).hexdigest()


def test_ckpt_that_needs_pickle_follows_the_pin_rule(padim, tmp_path, load_calls):
    target = tmp_path / "with-note.ckpt"
    digest = _ckpt_needing_pickle(padim.ckpt_path, target)
    load_calls.clear()
    with pytest.raises(CheckpointError) as info:
        _create(target, anomalib_model="padim")
    assert "fractions.Fraction" in str(info.value)
    assert f"--checkpoint-sha256 {digest}" in str(info.value)
    assert load_calls == [True]  # only the restricted attempt ran
    detector = _create(target, anomalib_model="padim", checkpoint_sha256=digest)
    assert detector.describe().extra["loaded_with"] == "pin"
    assert load_calls == [True, True, False]
    assert _create(target, anomalib_model="padim", trust_checkpoint=True).module is not None


@pytest.mark.parametrize("initial", [None, "0", "1"])
def test_trust_remote_code_is_never_read_or_set(padim, monkeypatch, initial):
    if initial is None:
        monkeypatch.delenv("TRUST_REMOTE_CODE", raising=False)
    else:
        monkeypatch.setenv("TRUST_REMOTE_CODE", initial)
    before = dict(os.environ)
    if initial == "1":
        # anomalib's switch does not replace pyimgano's own pin/trust rule
        with pytest.raises(CheckpointError, match="refusing to unpickle"):
            _create(padim.pt_path)
    _create(padim.pt_path, checkpoint_sha256=padim.pt_sha256)
    _create(padim.ckpt_path, anomalib_model="padim")
    assert os.environ.get("TRUST_REMOTE_CODE") == initial
    assert dict(os.environ) == before


@pytest.mark.parametrize("pin", ["abc", "z" * 64, 123])
def test_malformed_pin_is_a_config_error(padim, pin):
    with pytest.raises(ConfigError, match="sha256"):
        _create(padim.pt_path, checkpoint_sha256=pin)


def test_sniffing_reads_opcodes_without_running_them(planted):
    """sniff_contents parses the pickle of the planted file and never executes it."""
    from pyimgano.backends.checkpoint import read_checkpoint, sniff_contents

    path, marker = planted
    contents = sniff_contents(read_checkpoint(path))
    assert contents.kind == "unknown"
    assert not marker.exists()
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        assert any(name.endswith("data.pkl") for name in archive.namelist())


def test_ckpt_saved_with_pre_trained_true_loads_without_downloading(
    padim, tmp_path, monkeypatch, test_images
):
    """Rebuilding the class from hyper_parameters must not ask timm for ImageNet weights:
    the state_dict overwrites them anyway, and release machines may be offline."""
    import numpy as np
    import timm
    import torch

    from tests.anomalib._helpers import run_predictions

    checkpoint = torch.load(padim.ckpt_path, map_location="cpu", weights_only=True)
    checkpoint["hyper_parameters"]["pre_trained"] = True
    path = tmp_path / "pretrained.ckpt"
    torch.save(checkpoint, path)

    asked: list[object] = []
    original = timm.create_model

    def recording_create_model(*args, **kwargs):
        asked.append(kwargs.get("pretrained"))
        return original(*args, **kwargs)

    monkeypatch.setattr(timm, "create_model", recording_create_model)
    detector = _create(path, anomalib_model="padim")
    assert asked and not any(asked)
    reference = _create(padim.ckpt_path, anomalib_model="padim")
    got = run_predictions(detector, test_images[:2], 2)
    want = run_predictions(reference, test_images[:2], 2)
    for i in got:
        assert got[i].score == want[i].score
        np.testing.assert_array_equal(got[i].anomaly_map, want[i].anomaly_map)


def test_legacy_torch_format_follows_the_same_rules(padim_detector, tmp_path, load_calls):
    """torch.save(..., _use_new_zipfile_serialization=False): a pickle stream, not a zip."""
    import torch

    path = tmp_path / "legacy.pt"
    torch.save({"model": padim_detector.module}, path, _use_new_zipfile_serialization=False)
    assert not path.read_bytes().startswith(b"PK")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    load_calls.clear()
    with pytest.raises(CheckpointError, match="refusing to unpickle"):
        _create(path)
    assert load_calls == []
    assert _create(path, checkpoint_sha256=digest).describe().checkpoint_sha256 == digest


def test_plain_entries_are_read_without_running_or_loading_anything(planted, padim, load_calls):
    """The saved pre-processor config is read from the pickle before the model is built:
    no class is imported, no tensor loaded, nothing the file names is run."""
    from pyimgano.backends.checkpoint import read_checkpoint, read_plain_entries
    from tests.trained import MODEL_SIZE

    path, marker = planted
    assert read_plain_entries(read_checkpoint(path), ("model",)) == {}  # an object: not plain
    assert not marker.exists()
    keys = ("anomalib_pre_processor_config", "hyper_parameters", "state_dict", "missing")
    entries = read_plain_entries(read_checkpoint(padim.ckpt_path), keys)
    assert sorted(entries) == ["anomalib_pre_processor_config", "hyper_parameters"]
    assert entries["hyper_parameters"]["backbone"] == "resnet18"
    transforms = entries["anomalib_pre_processor_config"]["transform"]["init_args"]["transforms"]
    assert transforms[0]["init_args"]["size"] == [MODEL_SIZE, MODEL_SIZE]
    assert load_calls == []
