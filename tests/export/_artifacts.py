"""Making anomalib export artifacts in the test session (shared by tests/export and the
export benchmark).

:func:`export_artifacts` exports one trained model (a
:class:`~pyimgano.demo.training.TrainedCheckpoint`) with anomalib's own ``Engine().export`` — the
call users make — to:

- ``onnx``: ONNX, dynamic H/W (``model.onnx`` + ``model.onnx.data``);
- ``onnx_fixed``: ONNX with ``input_size`` = the model's image size;
- ``openvino``: OpenVINO IR, FP32 (``model.xml`` + ``model.bin``);
- ``openvino_fp16``: OpenVINO IR with ``CompressionType.FP16``;
- ``openvino_int8``: ``CompressionType.INT8`` (weights-only, NNCF), only where ``nncf`` is
  installed.

:func:`constant_onnx` writes a degenerate graph made here (every image scores the same) that
still follows anomalib's output contract; :func:`ports_onnx` a graph with the ports asked for
(graphs outside the contract); :func:`with_external_data` re-saves a graph with its weights in
``<name>.data`` beside it, as anomalib's dynamo export does; :func:`openvino_ir` converts a
graph to an OpenVINO IR (``.xml`` + ``.bin``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import warnings
from pathlib import Path


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's chatter (torch.onnx progress lines, Lightning, warnings)."""
    loggers = [logging.getLogger(n) for n in ("lightning", "lightning.pytorch", "anomalib",
                                               "torch.onnx", "torch._dynamo", "nncf")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    out, err = io.StringIO(), io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(err):
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        print(out.getvalue(), err.getvalue())
        raise
    finally:
        for lg, level in saved:
            lg.setLevel(level)


def export_artifacts(trained, out: Path, image_size: int) -> dict[str, Path]:
    """Export ``trained`` (its ``.pt``) into ``out``; returns ``{kind: main file}``."""
    import torch
    from anomalib.deploy import CompressionType, ExportType
    from anomalib.engine import Engine

    model = torch.load(trained.pt_path, weights_only=False, map_location="cpu")["model"]
    wanted = {
        "onnx": {"export_type": ExportType.ONNX},
        "onnx_fixed": {"export_type": ExportType.ONNX, "input_size": (image_size, image_size)},
        "openvino": {"export_type": ExportType.OPENVINO},
        "openvino_fp16": {"export_type": ExportType.OPENVINO,
                          "compression_type": CompressionType.FP16},
    }
    if importlib.util.find_spec("nncf") is not None:
        wanted["openvino_int8"] = {"export_type": ExportType.OPENVINO,
                                   "compression_type": CompressionType.INT8}
    paths: dict[str, Path] = {}
    cwd = os.getcwd()
    os.chdir(out)  # whatever the exporter writes by itself lands here, not in the repo
    try:
        with _quiet():
            engine = Engine(default_root_dir=out / "engine", logger=False)
            for kind, kwargs in wanted.items():
                paths[kind] = Path(engine.export(model, export_root=out / kind, **kwargs))
    finally:
        os.chdir(cwd)
    return paths


def constant_onnx(path: Path, score: float = 0.5, map_size: int = 8) -> Path:
    """A graph following anomalib's contract whose every image scores ``score`` (degenerate).

    ``pred_score`` [B, 1] = ``score``, ``anomaly_map`` [B, 1, map_size, map_size] = 0,
    ``pred_label`` [B, 1] = True; input ``input`` float32 [B, 3, H, W] (dynamic).
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name, value):
        return numpy_helper.from_array(np.asarray(value), name)

    nodes = [
        # one zero per image: ReduceMean over C, H, W, times 0 -> [B, 1, 1, 1]
        helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["zeros"]),
        helper.make_node("Reshape", ["zeros", "flat"], ["z1"]),  # [B, 1]
        helper.make_node("Add", ["z1", "score"], ["pred_score"]),
        helper.make_node("Expand", ["zeros", "map_shape_tail"], ["anomaly_map_raw"]),
        helper.make_node("Identity", ["anomaly_map_raw"], ["anomaly_map"]),
        helper.make_node("Greater", ["pred_score", "zero"], ["pred_label"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", 3, "H", "W"])],
        [
            helper.make_tensor_value_info("pred_score", TensorProto.FLOAT, ["B", 1]),
            helper.make_tensor_value_info("pred_label", TensorProto.BOOL, ["B", 1]),
            helper.make_tensor_value_info("anomaly_map", TensorProto.FLOAT,
                                          ["B", 1, map_size, map_size]),
        ],
        initializer=[
            const("axes", np.array([1, 2, 3], dtype=np.int64)),
            const("zero", np.array(0.0, dtype=np.float32)),
            const("score", np.array(score, dtype=np.float32)),
            const("flat", np.array([-1, 1], dtype=np.int64)),
            const("map_shape_tail", np.array([1, 1, map_size, map_size], dtype=np.int64)),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def ports_onnx(path: Path, inputs, outputs) -> Path:
    """An ONNX graph with the given ports; each output is the first input cast to float and
    averaged over ``axes`` (``(name, element type, shape, axes)``), then cast to its type.
    ``inputs`` are ``(name, element type, shape)``."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, declared, initializers = [], [], []
    source = inputs[0][0]
    if inputs[0][1] != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [source], ["as_float"], to=TensorProto.FLOAT))
        source = "as_float"
    for k, (name, elem, shape, axes) in enumerate(outputs):
        value = source
        if axes:
            initializers.append(numpy_helper.from_array(np.array(axes, np.int64), f"axes{k}"))
            nodes.append(helper.make_node("ReduceMean", [value, f"axes{k}"], [f"mean{k}"],
                                          keepdims=0))
            value = f"mean{k}"
        if elem != TensorProto.FLOAT:
            nodes.append(helper.make_node("Cast", [value], [name], to=elem))
        else:
            nodes.append(helper.make_node("Identity", [value], [name]))
        declared.append(helper.make_tensor_value_info(name, elem, shape))
    graph = helper.make_graph(
        nodes, "odd", [helper.make_tensor_value_info(n, e, s) for n, e, s in inputs], declared,
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def with_external_data(source: Path, path: Path, names: tuple[str, ...] = ("score", "zero")
                       ) -> Path:
    """``source`` re-saved as ``path`` with the initializers ``names`` in ``<path name>.data``
    (shape inputs such as ``axes`` stay in the graph: onnxruntime reads those at load time)."""
    import onnx
    from onnx.external_data_helper import set_external_data

    model = onnx.load(str(source))
    location = path.name + ".data"
    for tensor in model.graph.initializer:
        if tensor.name in names:
            set_external_data(tensor, location)
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=location, size_threshold=1 << 30)
    return path


def openvino_ir(source: Path, path: Path) -> Path:
    """``source`` (an ONNX graph) converted to an FP32 OpenVINO IR ``path`` (+ ``.bin``)."""
    import openvino

    openvino.save_model(openvino.convert_model(str(source)), str(path), compress_to_fp16=False)
    return path
