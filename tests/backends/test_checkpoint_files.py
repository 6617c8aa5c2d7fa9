"""Checkpoint files before anything is loaded: the one pin rule of every format, the one
"unsupported checkpoint type" message, and the plain-data entries of a Lightning checkpoint
(docs/REFERENCE.md §3, §7 "Checkpoint trust"). Small crafted files; no anomalib."""

from __future__ import annotations

import hashlib
import io
import pickle
import pickletools
import zipfile
from pathlib import Path

import pytest

from pyimgano.backends.checkpoint import load_checkpoint, read_checkpoint, read_plain_entries
from pyimgano.errors import CheckpointError, ConfigError
from pyimgano.models.formats import check_checkpoint_input, format_of

WRONG = "0" * 64


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifact_digest(*paths: Path) -> str:
    """The artifact pin as documented: ``sha256sum`` of the sorted names, hashed again."""
    listing = "".join(f"{sha256_of(p)}  {p.name}\n" for p in sorted(paths, key=lambda p: p.name))
    return hashlib.sha256(listing.encode()).hexdigest()


def lightning_ckpt(path: Path) -> Path:
    """A tiny Lightning-style checkpoint that ``torch.load(weights_only=True)`` reads."""
    torch = pytest.importorskip("torch")
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 0,
                "pytorch-lightning_version": "2.5.0"}, path)
    return path


def mismatch_text(path: Path, actual: str, digest: str = "the file's sha256",
                  flag: str = "--checkpoint-sha256", key: str = "sha256") -> str:
    """The mismatch message of docs/ERRORS.md (checkpoint.pin_mismatch), written out."""
    return (f"{path}: sha256 mismatch, refusing to load it: {digest} is {actual} but the pin "
            f"is {WRONG}; if the file changed on purpose, pin it again with {flag} {actual} "
            f"(CLI) or {key}: {actual} (suite model entry)")


# ------------------------------------------------------------------------------------------
# point 2: a pin is checked for every format, before loading


def test_a_ckpt_pin_is_checked_although_weights_only_needs_none(tmp_path):
    path = lightning_ckpt(tmp_path / "model.ckpt")
    calls: list[bool] = []

    def loader(stream, weights_only):
        calls.append(weights_only)
        import torch

        return torch.load(stream, map_location="cpu", weights_only=weights_only)

    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, sha256=WRONG, lightning_loader=loader)
    assert str(info.value) == mismatch_text(path, sha256_of(path))
    assert calls == []  # refused before anything was deserialised
    # also with trust: a pin is an explicit statement about the file
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        load_checkpoint(path, sha256=WRONG, trust=True, lightning_loader=loader)
    assert calls == []
    loaded = load_checkpoint(path, sha256=sha256_of(path).upper(), lightning_loader=loader)
    assert (loaded.allowed_by, calls) == ("weights_only", [True])
    assert loaded.payload["epoch"] == 0


def test_a_ckpt_pin_is_checked_by_the_default_loader_too(tmp_path):
    path = lightning_ckpt(tmp_path / "model.ckpt")
    with pytest.raises(CheckpointError, match="sha256 mismatch, refusing to load it"):
        load_checkpoint(path, sha256=WRONG)
    with pytest.raises(ConfigError, match="not a sha256 hex digest"):
        load_checkpoint(path, sha256="abc")


def _openvino_ir(tmp_path: Path) -> tuple[Path, list[Path]]:
    xml, weights = tmp_path / "model.xml", tmp_path / "model.bin"
    xml.write_text("<net/>")
    weights.write_bytes(b"\x00\x01weights")
    return xml, [xml, weights]


def _onnx_graph(tmp_path: Path) -> tuple[Path, list[Path]]:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["input"], ["pred_score"])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("pred_score", TensorProto.FLOAT, [1])])
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph), str(path))
    return path, [path]


def _torch_file(name: str):
    def make(tmp_path: Path) -> tuple[Path, list[Path]]:
        path = tmp_path / name
        path.write_bytes(b"PK\x03\x04 not even read: only hashed")
        return path, []

    return make


@pytest.mark.parametrize("make", [_torch_file("model.pt"), _torch_file("model.ckpt"),
                                  _onnx_graph, _openvino_ir],
                         ids=["pt", "ckpt", "onnx", "openvino"])
@pytest.mark.parametrize("role", ["checkpoint", "reference"])
def test_the_input_check_applies_one_pin_rule_to_every_format(tmp_path, make, role):
    path, artifact = make(tmp_path)
    flag, key = {"checkpoint": ("--checkpoint-sha256", "sha256"),
                 "reference": ("--reference-sha256", "reference_sha256")}[role]
    if artifact:
        actual = artifact_digest(*artifact)
        listed = ", ".join(f"{p.name} {sha256_of(p)}" for p in sorted(artifact))
        digest = f"the artifact's combined sha256 (files: {listed})"
    else:
        actual, digest = sha256_of(path), "the file's sha256"
    with pytest.raises(CheckpointError) as info:
        check_checkpoint_input(path, sha256=WRONG, role=role)
    assert str(info.value) == mismatch_text(path, actual, digest, flag, key)
    check_checkpoint_input(path, sha256=actual, role=role)  # the right pin passes
    check_checkpoint_input(path)  # no pin: only the files are checked
    with pytest.raises(ConfigError, match="'xyz' is not a sha256 hex digest"):
        check_checkpoint_input(path, sha256="xyz", role=role)


def test_the_input_check_finds_missing_and_empty_files(tmp_path):
    with pytest.raises(CheckpointError, match=f"{tmp_path / 'gone.pt'}: checkpoint file not "
                                              "found"):
        check_checkpoint_input(tmp_path / "gone.pt")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.ckpt: checkpoint file is empty"):
        check_checkpoint_input(tmp_path / "empty.ckpt")
    xml = tmp_path / "model.xml"
    xml.write_text("<net/>")
    with pytest.raises(CheckpointError, match=r"model.xml: its weights file model.bin is "
                                              "missing"):
        check_checkpoint_input(xml)


# ------------------------------------------------------------------------------------------
# point 9: one "unsupported checkpoint type" message


@pytest.mark.parametrize("name", ["model.safetensors", "model.tflite", "model"])
def test_one_unsupported_type_message_for_every_entry_point(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x08\x07weights")
    with pytest.raises(CheckpointError) as by_suffix:
        format_of(path)
    with pytest.raises(CheckpointError) as by_reader:
        read_checkpoint(path)
    with pytest.raises(CheckpointError) as by_input_check:
        check_checkpoint_input(path)
    assert str(by_reader.value) == str(by_suffix.value) == str(by_input_check.value)
    # every format of the table is named, with its suffixes
    for suffixes in (".pt/.pth", ".ckpt", ".onnx", ".xml"):
        assert f"({suffixes})" in str(by_reader.value)


def test_the_torch_reader_names_the_runtime_of_an_exported_graph(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"graph")
    with pytest.raises(CheckpointError, match=r"model.onnx: an ONNX export \(.onnx\) is run "
                                              "with onnxruntime, not loaded as a torch"):
        read_checkpoint(path)


# ------------------------------------------------------------------------------------------
# point 9: the plain-data entries of a .ckpt are read, or refused, never silently defaulted


def _torch_zip(path: Path, pickled: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/version", "3\n")
    return path


def test_unreadable_plain_entries_are_a_checkpoint_error(tmp_path):
    key = b"anomalib_pre_processor_config"
    # {key: <extension code 255>}: the opcodes parse, but the unpickler cannot rebuild it
    pickled = (b"\x80\x02}q\x00(X" + len(key).to_bytes(4, "little") + key + b"\x82\xffu.")
    assert [op.name for op, _, _ in pickletools.genops(pickled)][-3:] == ["EXT1", "SETITEMS",
                                                                          "STOP"]
    with pytest.raises(ValueError, match="extension code"):
        pickle.loads(pickled)  # control: the pickle really cannot be rebuilt
    path = _torch_zip(tmp_path / "model.ckpt", pickled)
    with pytest.raises(CheckpointError) as info:
        read_plain_entries(read_checkpoint(path), ("anomalib_pre_processor_config",))
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read the entries anomalib_pre_processor_config")
    assert "extension code" in message and "\n" not in message


def test_absent_or_non_plain_entries_are_left_out(tmp_path):
    buffer = io.BytesIO()
    pickle.dump({"hyper_parameters": {"backbone": "resnet18"}, "other": Path("x")}, buffer,
                protocol=2)
    path = _torch_zip(tmp_path / "model.ckpt", buffer.getvalue())
    entries = read_plain_entries(read_checkpoint(path),
                                 ("hyper_parameters", "other", "anomalib_pre_processor_config"))
    assert entries == {"hyper_parameters": {"backbone": "resnet18"}}
