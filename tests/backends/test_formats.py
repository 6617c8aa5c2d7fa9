"""Checkpoint formats chosen by suffix, registry metadata, and kwargs through the alias path."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from pyimgano.errors import CheckpointError, ConfigError
from pyimgano.models import get_entry, model_info, resolve_model_kwargs
from pyimgano.models.formats import FORMATS, SUFFIXES, format_of, open_checkpoint
from pyimgano.models.kwargs import constructor_parameters


@pytest.mark.parametrize("name, fmt", [("m.pt", "torch"), ("m.PTH", "torch"),
                                       ("m.ckpt", "lightning"), ("m.onnx", "onnx"),
                                       ("dir/model.xml", "openvino")])
def test_format_by_suffix(name, fmt):
    assert format_of(name).name == fmt


@pytest.mark.parametrize("name", ["model.safetensors", "model", "model.bin", "model.onnx.data"])
def test_unsupported_suffix(name):
    with pytest.raises(CheckpointError, match=f"{name}: unsupported checkpoint type"):
        format_of(name)


@pytest.mark.parametrize("model", ["vision_anomalib_checkpoint", "vision_padim_anomalib"])
def test_registry_names_the_formats(model):
    assert model_info(model)["metadata"]["formats"] == [".pt", ".pth", ".ckpt", ".onnx", ".xml"]
    assert list(SUFFIXES) == [".pt", ".pth", ".ckpt", ".onnx", ".xml"]


def test_every_backend_class_takes_the_runner_keys():
    """The keys the runner may inject are accepted by every runtime class (trust too: it is a
    permission, and an artifact has nothing to unpickle), except ``cache_dir``, which only the
    runtime that keeps a cache takes (OpenVINO)."""
    for fmt in FORMATS:
        params = inspect.signature(fmt.resolve().__init__).parameters
        for key in ("checkpoint_path", "device", "checkpoint_sha256", "trust_checkpoint",
                    "precision", "decode_workers", "anomalib_model", "maps_on_device"):
            assert key in params, (fmt.name, key)
        assert ("cache_dir" in params) == (fmt.name == "openvino"), fmt.name


def test_alias_signature_is_the_union_and_defaults_are_injected(tmp_path):
    entry = get_entry("vision_padim_anomalib")
    accepted, var_keyword = constructor_parameters(entry)
    assert not var_keyword
    assert {"precision", "cache_dir", "device", "inferencer", "maps_on_device"} <= set(accepted)
    defaults = {"device": "cpu", "precision": "f32", "cache_dir": str(tmp_path)}
    kwargs = resolve_model_kwargs(entry, {}, checkpoint_path=tmp_path / "m.xml",
                                  defaults=defaults)
    assert kwargs == {"checkpoint_path": str(tmp_path / "m.xml"), "device": "cpu",
                      "precision": "f32", "cache_dir": str(tmp_path)}
    # the cache directory goes only to the backend that keeps a cache
    for name in ("m.onnx", "m.pt", "m.ckpt"):
        kwargs = resolve_model_kwargs(entry, {}, checkpoint_path=tmp_path / name,
                                      defaults=defaults)
        assert kwargs == {"checkpoint_path": str(tmp_path / name), "device": "cpu",
                          "precision": "f32"}, name
    with pytest.raises(ConfigError, match="does not accept 'cache_size'"):
        resolve_model_kwargs(entry, {"cache_size": 1}, checkpoint_path=tmp_path / "m.onnx")


def test_a_key_of_another_backend_is_refused_before_loading(tmp_path):
    with pytest.raises(ConfigError, match="'inferencer' not accepted for onnx checkpoints"):
        open_checkpoint(tmp_path / "missing.onnx", inferencer=object())


@pytest.mark.parametrize(("name", "fmt"), [("model.onnx", "onnx"), ("model.pt", "torch"),
                                           ("model.ckpt", "lightning")])
def test_a_cache_dir_is_refused_where_the_runtime_keeps_no_cache(tmp_path, name, fmt):
    """A user who gives ``cache_dir`` expects a cache: a format without one says so instead of
    ignoring it (the check comes before the file is looked at)."""
    with pytest.raises(ConfigError) as info:
        open_checkpoint(tmp_path / name, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert f"'cache_dir' not accepted for {fmt} checkpoints" in message
    assert "OpenVINO's compiled-model cache" in message
    assert not (tmp_path / "cache").exists()


def test_missing_artifact_files(tmp_path):
    with pytest.raises(CheckpointError, match="model.onnx: ONNX graph .* not found"):
        open_checkpoint(tmp_path / "model.onnx")
    with pytest.raises(CheckpointError, match="model.xml: OpenVINO IR .* not found"):
        open_checkpoint(tmp_path / "model.xml")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.onnx: ONNX graph .* is empty"):
        open_checkpoint(tmp_path / "empty.onnx")


def test_bad_precision_is_refused_before_the_file_is_read(tmp_path):
    with pytest.raises(ConfigError, match="precision='fp32': expected one of f32, bf16, f16"):
        open_checkpoint(tmp_path / "m.onnx", precision="fp32")


def test_import_stays_light():
    code = (
        "import sys, pyimgano, pyimgano.models, pyimgano.models.formats as f\n"
        "from pyimgano.models import get_entry, model_info\n"
        "from pyimgano.models.kwargs import constructor_parameters\n"
        "model_info('vision_padim_anomalib')\n"
        "constructor_parameters(get_entry('vision_padim_anomalib'))\n"
        "heavy = [m for m in ('torch', 'anomalib', 'onnxruntime', 'openvino', 'onnx')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
