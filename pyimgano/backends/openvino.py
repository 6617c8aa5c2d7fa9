"""OpenVINO IR artifacts (``Engine.export(model, ExportType.OPENVINO)``) run with openvino
(docs/REFERENCE.md §3).

``pip install pyimgano[openvino]``. openvino is imported when an artifact is loaded; anomalib
and torch are not needed. No pickle is involved; the sha256 of both files is recorded.

- Files: ``model.xml`` (the graph) and ``model.bin`` (its weights) beside it, both needed.
  FP32, FP16-compressed (``CompressionType.FP16``) and INT8-compressed IRs load the same way;
  the element types of the weights are recorded (``weight_types``).
- Device: ``cpu`` and ``auto`` → OpenVINO's ``CPU`` plugin. ``cuda``/``cuda:N`` are refused
  (a DeviceError): OpenVINO's ``GPU`` plugin drives Intel GPUs, not CUDA devices.
- Precision is explicit: the CPU plugin's default on CPUs with AMX/AVX512-BF16 is bfloat16
  (scores move by ~1e-2). The model is compiled with ``INFERENCE_PRECISION_HINT`` set from
  ``precision`` (``f32`` default, ``bf16``, ``f16``), and the precision the compiled model
  reports is checked: where the device cannot run the requested one (OpenVINO then silently
  runs f32), it is a :class:`~pyimgano.errors.ConfigError`, never a silent substitute.
- Cache: none by default (anomalib's ``OpenVINOInferencer`` writes ``openvino_cache/`` into the
  current directory); with ``cache_dir`` the compiled blob is cached there (``CACHE_DIR``).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.backends.exported import ExportedGraphDetector, Port, runtime_message
from pyimgano.errors import CheckpointError, ConfigError, DeviceError

#: pyimgano precision -> OpenVINO ``INFERENCE_PRECISION_HINT`` value.
_HINTS = {"f32": "f32", "bf16": "bf16", "f16": "f16"}
#: OpenVINO element type names -> NumPy dtype names.
_OV_TYPES = {
    "f32": "float32",
    "f16": "float16",
    "f64": "float64",
    "bf16": "bfloat16",
    "boolean": "bool",
    "i8": "int8",
    "u8": "uint8",
    "i32": "int32",
    "i64": "int64",
}


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise ConfigError(
            "an OpenVINO .xml checkpoint needs openvino: pip install 'pyimgano[openvino]'"
        ) from None
    return openvino


def _port(node: Any) -> Port:
    partial = node.get_partial_shape()
    shape: tuple[int | None, ...] = ()
    if partial.rank.is_static:
        shape = tuple(d.get_length() if d.is_static else None for d in partial)
    names = sorted(node.get_names())
    element = node.get_element_type().get_type_name()
    return Port(name=names[0] if names else "", shape=shape,
                dtype=_OV_TYPES.get(element, element))


def _precision_name(value: Any) -> str:
    """``f32``/``bf16``/``f16`` of an OpenVINO element type (``<Type: 'float32'>``)."""
    name = value.get_type_name() if hasattr(value, "get_type_name") else str(value)
    return {"f32": "f32", "bf16": "bf16", "f16": "f16"}.get(name, name)


class OpenVINOCheckpoint(ExportedGraphDetector):
    """An anomalib OpenVINO IR export scored with openvino.

    Parameters
    ----------
    checkpoint_path : path
        The ``.xml`` file (its ``.bin`` beside it).
    anomalib_model : str, optional
        Recorded in the description.
    device : str, default "auto"
        ``auto``/``cpu`` (OpenVINO ``CPU``); CUDA devices are refused.
    checkpoint_sha256 : str, optional
        Pin on the combined sha256 of ``.xml`` + ``.bin``.
    trust_checkpoint : bool, default False
        Accepted and without effect: the graph holds no pickle, so there is nothing to trust
        (the runner, and ``--pyimgano-trust-checkpoints`` in a suite, pass it to every backend).
    decode_workers : int, default 2
        Threads decoding images ahead of inference; 0 decodes inline.
    precision : {"f32", "bf16", "f16"}, default "f32"
        ``INFERENCE_PRECISION_HINT``; refused where the device cannot run it.
    cache_dir : path, optional
        OpenVINO's model cache; None (default) writes no cache.
    maps_on_device : bool, optional
        Only false/None: maps come back on the host.
    """

    runtime = "openvino"
    suffix = ".xml"
    what = "OpenVINO IR (.xml + .bin)"

    @classmethod
    def _companions(cls, path: Path) -> list[Path]:
        weights = path.with_suffix(".bin")
        if not weights.is_file():
            raise CheckpointError(
                f"{path}: its weights file {weights.name} is missing ({weights} not found); an "
                "OpenVINO IR is the .xml and the .bin beside it: copy both"
            )
        return [weights]

    def _open(self, device: str) -> tuple[list[Port], list[Port]]:
        from pyimgano.backends.device import parse_device
        from pyimgano.environment import package_version

        ov = _import_openvino()
        self.runtime_version = package_version("openvino") or ov.get_version()
        spec = parse_device(device)
        if spec.startswith("cuda"):
            raise DeviceError(
                f"device {device!r}: OpenVINO runs on the CPU here (its GPU plugin is for Intel "
                "GPUs, not CUDA); use cpu or auto, or the ONNX export with onnxruntime on CUDA"
            )
        core = ov.Core()
        xml = self.checkpoint_path
        try:
            model = core.read_model(str(xml), str(xml.with_suffix(".bin")))
        except Exception as exc:  # noqa: BLE001 - openvino raises RuntimeError with C++ text
            raise CheckpointError(
                f"{xml}: truncated or corrupt OpenVINO IR, or one openvino {self.runtime_version} "
                f"cannot read (with {xml.with_suffix('.bin').name}): {runtime_message(exc)}"
            ) from None
        inputs, outputs = [_port(n) for n in model.inputs], [_port(n) for n in model.outputs]
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": _HINTS[self.precision]}
        if self.cache_dir is not None:
            os.makedirs(self.cache_dir, exist_ok=True)
            config["CACHE_DIR"] = os.fspath(self.cache_dir)
        try:
            compiled = core.compile_model(model, "CPU", config)
        except Exception as exc:  # noqa: BLE001 - a truncated .bin fails here
            raise CheckpointError(
                f"{xml}: OpenVINO cannot compile this IR (is {xml.with_suffix('.bin').name} "
                f"truncated or from another export?): {runtime_message(exc)}"
            ) from None
        self._core = core
        self._compiled = compiled
        self._ports = {_port(n).name: n for n in compiled.outputs}
        self._effective = _precision_name(compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.device = "cpu"
        self.execution_device = "CPU"
        try:
            self.threads = int(compiled.get_property("INFERENCE_NUM_THREADS")) or None
        except Exception:  # noqa: BLE001 - an optional property
            self.threads = None
        weights = Counter(
            _OV_TYPES.get(t, t)
            for t in (
                op.get_element_type().get_type_name()
                for op in model.get_ops()
                if op.get_type_name() == "Constant"
            )
            if t in ("f32", "f16", "bf16", "i8", "u8", "i4", "u4", "nf4")
        )
        self.extra = {"weight_types": dict(sorted(weights.items())),
                      "openvino_build": ov.get_version()}
        return inputs, outputs

    def _check_precision(self) -> None:
        if self._effective != self.precision:
            try:
                capabilities = ", ".join(
                    self._core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
                )
            except Exception:  # noqa: BLE001 - only for the message
                capabilities = "unknown"
            raise ConfigError(
                f"precision={self.precision!r}: OpenVINO's CPU plugin would run "
                f"{self.checkpoint_path.name} at {self._effective} on this CPU (it supports: "
                f"{capabilities}); use precision {self._effective}"
            )

    def _run(self, array: np.ndarray) -> dict[str, np.ndarray]:
        result = self._compiled({0: array})
        return {name: result[self._ports[name]] for name in self.contract.outputs}


__all__ = ["OpenVINOCheckpoint"]
