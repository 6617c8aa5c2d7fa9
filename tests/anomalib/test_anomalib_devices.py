"""Device strings (docs/REFERENCE.md §7/§8): auto, cpu, cuda, cuda:N; cuda never falls back."""

from __future__ import annotations

import pytest

from pyimgano.backends.device import device_facts, resolve_device
from pyimgano.errors import DeviceError

pytestmark = pytest.mark.anomalib

torch = pytest.importorskip("torch")


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def _one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_cpu_and_auto_without_cuda(no_cuda):
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(" CPU ") == "cpu"
    assert resolve_device("auto") == "cpu"


def test_auto_and_cuda_with_a_gpu(one_gpu):
    assert resolve_device("auto") == "cuda:0"
    assert resolve_device("cuda") == "cuda:0"
    assert resolve_device("cuda:0") == "cuda:0"


@pytest.mark.parametrize("spec", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_never_falls_back(no_cuda, spec):
    with pytest.raises(DeviceError) as info:
        resolve_device(spec)
    message = _one_line(info)
    assert repr(spec) in message and "CUDA is not available" in message


def test_cuda_index_beyond_the_visible_gpus(one_gpu):
    with pytest.raises(DeviceError) as info:
        resolve_device("cuda:7")
    assert _one_line(info) == "cuda:7 requested but only 1 GPU visible"


@pytest.mark.parametrize("spec", ["bogus", "gpu", "cuda:", "cuda:-1", "cuda:x", "mps", "", 0])
def test_unknown_forms_list_the_accepted_ones(no_cuda, spec):
    with pytest.raises(DeviceError) as info:
        resolve_device(spec)
    message = _one_line(info)
    assert repr(spec) in message
    assert "auto, cpu, cuda, cuda:N" in message


def test_device_facts_on_cpu():
    facts = device_facts("cpu")
    assert facts == {"gpu": None, "cuda": None, "threads": torch.get_num_threads()}


@pytest.mark.parametrize("spec", ["cuda", "cuda:7", "bogus"])
def test_detector_device_errors_are_one_line(padim, no_cuda, spec):
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    with pytest.raises(DeviceError) as info:
        VisionAnomalibCheckpoint(padim.pt_path, device=spec, checkpoint_sha256=padim.pt_sha256)
    assert spec in _one_line(info)


def test_describe_reports_the_device(padim_detector):
    description = padim_detector.describe()
    assert description.device == "cpu"
    assert description.gpu is None and description.cuda is None
    assert description.threads == torch.get_num_threads()


def test_gpu_saved_checkpoint_loads_on_cpu(padim, tmp_path, monkeypatch, test_images):
    """A .pt whose tensors are tagged as saved on ``cuda:0`` loads with map_location=cpu.

    torch.save records each storage's location from ``torch.serialization.location_tag``;
    patching it while saving writes the tags a GPU-saved checkpoint carries.
    """
    import hashlib

    import numpy as np

    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint
    from tests.anomalib._helpers import run_predictions

    original = VisionAnomalibCheckpoint(padim.pt_path, device="cpu", trust_checkpoint=True)
    path = tmp_path / "saved-on-gpu.pt"
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save({"model": original.module}, path)
    if not torch.cuda.is_available():  # the tags are real: plain loading fails here
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    moved = VisionAnomalibCheckpoint(path, device="cpu", checkpoint_sha256=digest)
    assert next(moved.module.parameters()).device.type == "cpu"
    expected = run_predictions(original, test_images[:4], batch_size=4)
    got = run_predictions(moved, test_images[:4], batch_size=4)
    for i in expected:
        assert got[i].score == expected[i].score
        np.testing.assert_array_equal(got[i].anomaly_map, expected[i].anomaly_map)
