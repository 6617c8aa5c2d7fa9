"""ONNX artifacts (``Engine.export(model, ExportType.ONNX)``) run with onnxruntime
(docs/REFERENCE.md §3).

``pip install pyimgano[onnx]``. onnxruntime is imported when an artifact is loaded; anomalib and
torch are not needed (torch, where installed, only counts CUDA devices for ``device="auto"``).
No pickle is involved, so no pin or trust is needed; the sha256 of every file is recorded.

- Files: ``model.onnx`` and the external-data files it names (anomalib's dynamo export writes
  the weights to ``model.onnx.data`` beside it). With the ``onnx`` package installed the names
  are read from the graph (without loading the weights); otherwise ``<file>.data`` is taken
  when present, and onnxruntime's own check names a missing one.
- Device → execution provider: ``cpu`` → ``CPUExecutionProvider``; ``cuda``/``cuda:N`` →
  ``CUDAExecutionProvider`` with ``device_id`` N (a DeviceError when this onnxruntime build has
  no CUDA provider, or when it falls back to the CPU); ``auto`` → CUDA when the provider is
  there and a GPU is visible, else the CPU. The provider used is recorded
  (``execution_device``).
- Precision: onnxruntime runs the graph at the precision it was exported in (anomalib exports
  float32). ``precision="f32"`` (default) for a float32 graph; ``"f16"`` only for a graph whose
  input is float16; anything else is a :class:`~pyimgano.errors.ConfigError` — onnxruntime
  has no switch to lower a float32 graph's precision (use the OpenVINO IR for that).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.backends.exported import ExportedGraphDetector, Port, runtime_message
from pyimgano.errors import CheckpointError, ConfigError, DeviceError

#: onnxruntime's type strings -> NumPy dtype names.
_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(bfloat16)": "bfloat16",
    "tensor(bool)": "bool",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
}
_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "an .onnx checkpoint needs onnxruntime: pip install 'pyimgano[onnx]'"
        ) from None
    return onnxruntime


def _port(arg: Any) -> Port:
    shape = tuple(d if isinstance(d, int) else None for d in (arg.shape or ()))
    return Port(name=arg.name, shape=shape, dtype=_ORT_TYPES.get(arg.type, arg.type))


def external_data_files(path: Path) -> list[Path] | None:
    """The external-data files ``path`` names, read with the ``onnx`` package; None without it.

    Raises :class:`CheckpointError` for a graph the ``onnx`` parser cannot read.
    """
    try:
        import onnx
    except ImportError:
        return None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf errors: truncated or not ONNX
        raise CheckpointError(
            f"{path}: truncated or corrupt ONNX graph (cannot be parsed: {runtime_message(exc)}); "
            "re-copy or re-export it"
        ) from None
    needed: dict[str, int] = {}  # file -> bytes the graph reads from it
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                tensors.append(attribute.t)
    for tensor in tensors:
        entries = {entry.key: entry.value for entry in tensor.external_data}
        if "location" not in entries:
            continue
        try:
            end = int(entries.get("offset", 0)) + int(entries.get("length", 0))
        except ValueError:
            end = 0
        needed[entries["location"]] = max(needed.get(entries["location"], 0), end)
    files = [path.parent / name for name in needed]
    for file, end in zip(files, needed.values(), strict=True):
        size = file.stat().st_size if file.is_file() else None
        if size is not None and size < end:
            raise CheckpointError(
                f"{path}: its weights file {file.name} is truncated ({size} bytes; the graph "
                f"reads up to byte {end}); re-copy or re-export both files"
            )
    return files


class OnnxCheckpoint(ExportedGraphDetector):
    """An anomalib ONNX export scored with onnxruntime.

    Parameters
    ----------
    checkpoint_path : path
        The ``.onnx`` file (its ``.onnx.data`` beside it).
    anomalib_model : str, optional
        Recorded in the description (the graph does not say which model it is).
    device : str, default "auto"
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (see the module docstring).
    checkpoint_sha256 : str, optional
        Pin on the artifact's combined sha256 (:func:`pyimgano.backends.exported.combined_sha256`).
    trust_checkpoint : bool, default False
        Accepted and without effect: the graph holds no pickle, so there is nothing to trust
        (the runner, and ``--pyimgano-trust-checkpoints`` in a suite, pass it to every backend).
    decode_workers : int, default 2
        Threads decoding images ahead of inference; 0 decodes inline.
    precision : {"f32", "f16"}, default "f32"
        See the module docstring; ``bf16`` is refused.
    maps_on_device : bool, optional
        Only false/None: maps come back on the host.

    There is no ``cache_dir``: onnxruntime keeps no compiled-model cache, so one given is
    refused by :data:`pyimgano.models.formats.open_checkpoint` rather than silently unused
    (the plugin passes its cache directory only to a backend that takes it: OpenVINO).

    Every loading error is a :class:`~pyimgano.errors.CheckpointError` naming the file (missing
    ``.onnx.data``, truncated or corrupt graph, ports not anomalib's contract).
    """

    runtime = "onnxruntime"
    suffix = ".onnx"
    what = "ONNX graph (.onnx)"

    def __init__(
        self,
        checkpoint_path: str | os.PathLike[str] | None = None,
        *,
        anomalib_model: str | None = None,
        device: str = "auto",
        checkpoint_sha256: str | None = None,
        trust_checkpoint: bool = False,
        decode_workers: int = 2,
        precision: str = "f32",
        maps_on_device: bool | None = None,
    ) -> None:
        super().__init__(
            checkpoint_path, anomalib_model=anomalib_model, device=device,
            checkpoint_sha256=checkpoint_sha256, trust_checkpoint=trust_checkpoint,
            decode_workers=decode_workers, precision=precision, maps_on_device=maps_on_device,
        )

    @classmethod
    def _companions(cls, path: Path) -> list[Path]:
        named = external_data_files(path)
        if named is None:
            beside = path.with_name(path.name + ".data")
            return [beside] if beside.exists() else []
        for companion in named:
            if not companion.is_file():
                raise CheckpointError(
                    f"{path}: its weights are stored in {companion.name} beside it, which is "
                    f"missing ({companion} not found); copy both files of the ONNX export"
                )
        return named

    def _providers(self, ort: Any, device: str) -> tuple[str, list[Any]]:
        from pyimgano.backends.device import cuda_device_count, parse_device, resolve_device

        available = ort.get_available_providers()
        spec = parse_device(device)
        if spec == "auto":
            spec = "cuda" if _CUDA in available and cuda_device_count() > 0 else "cpu"
        if spec == "cpu":
            return "cpu", [_CPU]
        if _CUDA not in available:
            raise DeviceError(
                f"device {device!r}: this onnxruntime ({ort.__version__}) has no "
                f"CUDAExecutionProvider (available: {', '.join(available)}); install "
                "onnxruntime-gpu, or use cpu"
            )
        # torch (where installed) checks the index against the visible GPUs
        resolved = resolve_device(spec) if cuda_device_count() > 0 else spec
        index = int(resolved.partition(":")[2] or 0)
        return f"cuda:{index}", [(_CUDA, {"device_id": index}), _CPU]

    def _open(self, device: str) -> tuple[list[Port], list[Port]]:
        ort = _import_onnxruntime()
        self.runtime_version = ort.__version__
        resolved, providers = self._providers(ort, device)
        options = ort.SessionOptions()
        options.log_severity_level = 4  # fatal only: errors are raised as exceptions
        try:
            session = ort.InferenceSession(
                str(self.checkpoint_path), sess_options=options, providers=providers
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own Fail/InvalidGraph
            text = runtime_message(exc)
            if "external data" in text.lower():
                expected = self.checkpoint_path.name + ".data"
                raise CheckpointError(
                    f"{self.checkpoint_path}: its external weights file cannot be read "
                    f"(expected {expected} beside it as Engine.export writes it): {text}"
                ) from None
            raise CheckpointError(
                f"{self.checkpoint_path}: truncated or corrupt ONNX graph, or one onnxruntime "
                f"{ort.__version__} cannot load: {text}"
            ) from None
        used = session.get_providers()
        if resolved.startswith("cuda") and (not used or used[0] != _CUDA):
            raise DeviceError(
                f"device {device!r}: onnxruntime could not start the CUDAExecutionProvider "
                f"(session runs on {', '.join(used)}); check the CUDA/cuDNN libraries, or use cpu"
            )
        self._session = session
        self.device = resolved
        self.execution_device = used[0] if resolved == "cpu" else f"{_CUDA}:{resolved[5:]}"
        threads = options.intra_op_num_threads
        self.threads = threads if threads > 0 else None
        self._output_names: list[str] = []
        return [_port(a) for a in session.get_inputs()], [_port(a) for a in session.get_outputs()]

    def _check_precision(self) -> None:
        graph = "f16" if self.contract.input.dtype == "float16" else "f32"
        if self.precision != graph:
            raise ConfigError(
                f"precision={self.precision!r}: onnxruntime runs {self.checkpoint_path.name} at "
                f"the precision it was exported in ({graph}; its input is "
                f"{self.contract.input.dtype}) and has no switch to change it; use precision "
                f"{graph}, or the OpenVINO IR of the same model (INFERENCE_PRECISION_HINT) for "
                "bf16/f16"
            )

    def _run(self, array: np.ndarray) -> dict[str, np.ndarray]:
        names = list(self.contract.outputs)
        values = self._session.run(names, {self.contract.input.name: array})
        return dict(zip(names, values, strict=True))


__all__ = ["OnnxCheckpoint", "external_data_files"]
