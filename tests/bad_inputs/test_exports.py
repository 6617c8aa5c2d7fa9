"""Catalogue: exported artifacts (ONNX with onnxruntime, OpenVINO IR), on small graphs made here
that follow anomalib's export contract (``tests/export/_artifacts.py``), each broken one way,
through the CLI and the API."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

from tests.bad_inputs.catalogue import covers
from tests.bad_inputs.helpers import cli_args, expect_cli, expect_raise, run_argv, run_cli
from tests.bad_inputs.scenarios import images_dir

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

MODEL = "vision_padim_anomalib"


@pytest.fixture(scope="module")
def graphs(tmp_path_factory) -> dict[str, Path]:
    """``onnx``: ``model.onnx`` + ``model.onnx.data``; ``openvino``: ``model.xml`` + ``.bin``."""
    from tests.export._artifacts import constant_onnx, openvino_ir, with_external_data

    root = tmp_path_factory.mktemp("graphs")
    plain = constant_onnx(root / "plain.onnx")
    (root / "onnx").mkdir()
    made = {"onnx": with_external_data(plain, root / "onnx" / "model.onnx")}
    if pytest.importorskip("openvino"):
        (root / "openvino").mkdir()
        made["openvino"] = openvino_ir(plain, root / "openvino" / "model.xml")
    return made


def copy(artifact: Path, into: Path) -> Path:
    """A private copy of the artifact's folder; returns its main file."""
    shutil.copytree(artifact.parent, into)
    return into / artifact.name


def argv(root: Path, path: Path, *extra: object) -> list[object]:
    return [*cli_args(root, model=MODEL), "--checkpoint-path", path, "--device", "cpu", *extra]


def both(case_id: str, root: Path, artifact: Path, *extra: object, **values: object) -> None:
    """The CLI exits 2 with the case's line; the API raises the case's type."""
    args = argv(root, artifact, *extra)
    expect_raise(case_id, lambda: run_argv(args), **values)
    expect_cli(case_id, args, **values)


def test_the_graphs_are_fine(base_data, graphs):
    """Control: unbroken, both artifacts score every image (here: a constant)."""
    for path in graphs.values():
        result = run_cli(argv(base_data, path))
        assert result.code == 0, result.err


@covers("export.file_missing")
def test_missing_artifact_or_a_directory(base_data, tmp_path):
    both("export.file_missing", base_data, tmp_path / "model.onnx", path=tmp_path / "model.onnx")
    folder = tmp_path / "folder.onnx"
    folder.mkdir()
    message = expect_cli("export.file_missing", argv(base_data, folder), path=folder)
    assert "is a directory; give the ONNX graph (.onnx) file itself" in message


@covers("export.file_empty")
def test_empty_artifact(base_data, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"")
    expect_cli("export.file_empty", argv(base_data, path), path=path)


@covers("export.wrong_suffix")
def test_backend_class_given_another_format(graphs):
    from pyimgano.backends.onnx import OnnxCheckpoint

    xml = graphs.get("openvino") or graphs["onnx"].with_suffix(".xml")
    expect_raise("export.wrong_suffix", lambda: OnnxCheckpoint(xml, device="cpu"), path=xml)


@covers("export.no_file")
def test_backend_without_a_file():
    from pyimgano.backends.onnx import OnnxCheckpoint
    from pyimgano.backends.openvino import OpenVINOCheckpoint

    for cls in (OnnxCheckpoint, OpenVINOCheckpoint):
        expect_raise("export.no_file", lambda c=cls: c(), what=cls.what, suffix=cls.suffix)


@covers("export.unreadable")
def test_unreadable_artifact_file(base_data, graphs, monkeypatch):
    import builtins

    import pyimgano.digests as digests

    data = graphs["onnx"].with_name("model.onnx.data")

    def refusing(file, *args, **kwargs):
        if Path(file) == data:
            raise PermissionError(13, "Permission denied", str(file))
        return builtins.open(file, *args, **kwargs)

    monkeypatch.setattr(digests, "open", refusing, raising=False)
    both("export.unreadable", base_data, graphs["onnx"], path=data, reason="Permission denied")


@covers("export.onnx_data_missing")
def test_onnx_without_its_data_file(base_data, graphs, tmp_path):
    path = copy(graphs["onnx"], tmp_path / "a")
    data = path.with_name("model.onnx.data")
    data.unlink()
    both("export.onnx_data_missing", base_data, path, onnx=path, data=data)


@covers("export.onnx_data_truncated")
def test_onnx_data_file_truncated(base_data, graphs, tmp_path):
    path = copy(graphs["onnx"], tmp_path / "a")
    data = path.with_name("model.onnx.data")
    data.write_bytes(data.read_bytes()[:3])
    both("export.onnx_data_truncated", base_data, path, onnx=path, size=3, end=8)


@covers("export.onnx_external_unreadable")
def test_onnx_data_missing_without_the_onnx_package(base_data, graphs, tmp_path, monkeypatch):
    path = copy(graphs["onnx"], tmp_path / "a")
    path.with_name("model.onnx.data").unlink()
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    both("export.onnx_external_unreadable", base_data, path, onnx=path)


@covers("export.onnx_corrupt")
def test_onnx_truncated(base_data, graphs, tmp_path):
    path = copy(graphs["onnx"], tmp_path / "a")
    path.write_bytes(path.read_bytes()[:40])
    both("export.onnx_corrupt", base_data, path, onnx=path)


@covers("export.onnx_unloadable")
def test_onnx_that_onnxruntime_cannot_load(base_data, tmp_path):
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("NoSuchOperator", ["input"], ["pred_score"])], "unknown",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", 3, "H", "W"])],
        [helper.make_tensor_value_info("pred_score", TensorProto.FLOAT, ["B", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    path = tmp_path / "model.onnx"
    onnx.save(model, str(path))
    both("export.onnx_unloadable", base_data, path, onnx=path, version=onnxruntime.__version__)


@covers("export.contract")
def test_graphs_outside_the_contract(base_data, tmp_path):
    from onnx import TensorProto as T

    from tests.export._artifacts import ports_onnx

    image = ("input", T.FLOAT, ["B", 3, "H", "W"])
    score = ("pred_score", T.FLOAT, ["B"], [1, 2, 3])
    variants = {
        "the graph has no pred_score output": (
            [image], [("anomaly_map", T.FLOAT, ["B", "H", "W"], [1])]),
        "the graph has 2 inputs": ([image, ("other", T.FLOAT, ["B", 3, "H", "W"])], [score]),
        "input 'input' has dtype int64": ([("input", T.INT64, ["B", 3, "H", "W"])], [score]),
        "input 'input' is not [B, 3, H, W]": (
            [("input", T.FLOAT, [3, "H", "W"])], [("pred_score", T.FLOAT, [], [0, 1, 2])]),
        "output 'anomaly_map' has rank 2": (
            [image], [score, ("anomaly_map", T.FLOAT, ["H", "W"], [0, 1])]),
        "output 'pred_label' has dtype float32": (
            [image], [score, ("pred_label", T.FLOAT, ["B"], [1, 2, 3])]),
        "input 'input' fixes one of H, W only": (
            [("input", T.FLOAT, ["B", 3, 32, "W"])], [score]),
    }
    for k, (why, ports) in enumerate(variants.items()):
        path = ports_onnx(tmp_path / f"odd{k}.onnx", *ports)
        args = argv(base_data, path)
        expect_raise("export.contract", lambda a=args: run_argv(a), path=path, why=why)
        if k == 0:
            expect_cli("export.contract", args, path=path, why=why)


@covers("export.bin_missing")
def test_openvino_without_its_bin(base_data, graphs, tmp_path):
    path = copy(graphs["openvino"], tmp_path / "a")
    weights = path.with_suffix(".bin")
    weights.unlink()
    both("export.bin_missing", base_data, path, xml=path, bin=weights)


@covers("export.ir_corrupt")
def test_openvino_corrupt_or_bin_too_short(base_data, graphs, tmp_path):
    from pyimgano.environment import package_version

    version = package_version("openvino")
    path = copy(graphs["openvino"], tmp_path / "a")
    path.write_text("<net>", "utf-8")
    both("export.ir_corrupt", base_data, path, xml=path, version=version)
    path = copy(graphs["openvino"], tmp_path / "b")
    weights = path.with_suffix(".bin")
    weights.write_bytes(weights.read_bytes()[:10])
    both("export.ir_corrupt", base_data, path, xml=path, version=version)


@covers("export.ir_compile")
def test_openvino_that_does_not_compile(graphs, monkeypatch):
    import openvino

    from pyimgano.models import create_model

    class Failing(openvino.Core):
        def compile_model(self, *args, **kwargs):
            raise RuntimeError("Exception from src/inference.cpp:1:\nweights do not fit")

    monkeypatch.setattr(openvino, "Core", Failing)
    message = expect_raise(
        "export.ir_compile",
        lambda: create_model(MODEL, checkpoint_path=graphs["openvino"], device="cpu"),
        xml=graphs["openvino"])
    assert message.endswith(": weights do not fit")


@covers("export.precision_onnx")
def test_onnx_precision_other_than_the_graphs(base_data, graphs):
    for precision in ("bf16", "f16"):
        both("export.precision_onnx", base_data, graphs["onnx"], "--precision", precision,
             precision=repr(precision), file="model.onnx")


@covers("export.precision_openvino")
def test_openvino_precision_the_cpu_would_not_run(base_data, graphs):
    for precision in ("bf16", "f16"):
        args = argv(base_data, graphs["openvino"], "--precision", precision)
        if run_cli(args).code == 0:
            continue  # this CPU runs it: honoured (and recorded), not an error
        expect_cli("export.precision_openvino", args, precision=repr(precision),
                   file="model.xml", effective="f32")
        return
    pytest.skip("this CPU runs both bf16 and f16: nothing is refused here")


@covers("export.precision_unknown")
def test_unknown_precision(graphs):
    from pyimgano.models import create_model

    expect_raise("export.precision_unknown",
                 lambda: create_model(MODEL, checkpoint_path=graphs["onnx"], precision="f64"),
                 precision="'f64'")


def test_artifact_pin_mismatch(base_data, graphs):
    """The pin rule of every format (case ``checkpoint.pin_mismatch``) on a multi-file ONNX
    artifact: the combined digest is sha256sum's listing of its files, hashed again."""
    folder = graphs["onnx"].parent
    listing = "".join(
        f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n"
        for name in ("model.onnx", "model.onnx.data"))
    actual = hashlib.sha256(listing.encode()).hexdigest()  # sha256sum of the sorted files
    both("checkpoint.pin_mismatch", base_data, graphs["onnx"], "--checkpoint-sha256", "0" * 64,
         ckpt=graphs["onnx"], actual=actual, pinned="0" * 64)


@covers("export.runtime_missing")
def test_runtime_not_installed(base_data, graphs, monkeypatch):
    for key, runtime, extra in (("onnx", "onnxruntime", "onnx"),
                                ("openvino", "openvino", "openvino")):
        with monkeypatch.context() as patch:
            patch.setitem(sys.modules, runtime, None)  # import -> ImportError
            both("export.runtime_missing", base_data, graphs[key], package=runtime,
                 extra=extra)


@covers("export.model_kwargs")
def test_kwargs_the_exported_runtimes_refuse(base_data, graphs):
    for kwargs, kwarg in (('{"maps_on_device": true}', "maps_on_device"),
                          ('{"decode_workers": -1}', "decode_workers")):
        both("export.model_kwargs", base_data, graphs["onnx"], "--model-kwargs", kwargs,
             kwarg=kwarg)


@covers("export.cuda_onnx")
def test_cuda_without_the_cuda_provider(base_data, graphs):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    both("export.cuda_onnx", base_data, graphs["onnx"], "--device", "cuda", device="'cuda'")


@pytest.mark.filterwarnings("ignore:Specified provider")  # onnxruntime's own fallback warning
@covers("export.cuda_fallback")
def test_cuda_provider_that_does_not_start(graphs, monkeypatch):
    """onnxruntime listing the CUDA provider but running the session on the CPU (what it does
    when the CUDA libraries are missing) is refused, not a silent CPU run."""
    import onnxruntime

    from pyimgano.models import create_model

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider: the fallback is not simulated")
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    expect_raise("export.cuda_fallback",
                 lambda: create_model(MODEL, checkpoint_path=graphs["onnx"], device="cuda"),
                 device="'cuda'")


@covers("export.cuda_openvino")
def test_cuda_for_openvino(base_data, graphs):
    both("export.cuda_openvino", base_data, graphs["openvino"], "--device", "cuda",
         device="'cuda'")


@covers("export.runtime_failure")
def test_graph_that_fails_on_the_images(base_data, tmp_path):
    """A reshape into rows of 5 values: 3 x 32 x 32 pixels per image do not divide."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "rows"], ["flat"]),
         helper.make_node("ReduceMean", ["flat", "axes"], ["pred_score"], keepdims=1)],
        "rows",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", 3, "H", "W"])],
        [helper.make_tensor_value_info("pred_score", TensorProto.FLOAT, ["B", 1])],
        initializer=[numpy_helper.from_array(np.array([-1, 5], np.int64), "rows"),
                     numpy_helper.from_array(np.array([1], np.int64), "axes")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    path = tmp_path / "rows.onnx"
    onnx.save(model, str(path))
    first = images_dir(base_data) / "good" / "000.png"  # the first image in dataset order
    both("export.runtime_failure", base_data, path, "--batch-size", "4", image=first, n=4,
         shape=(3, 32, 32), file="rows.onnx")
