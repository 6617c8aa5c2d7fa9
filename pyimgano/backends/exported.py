"""What the ONNX and OpenVINO backends share: artifact files, their hashes, anomalib's graph
contract, and batched inference of a graph (docs/REFERENCE.md §3).

An anomalib export (``Engine.export(model, ExportType.ONNX | OPENVINO)``) is a graph that holds
the whole module — pre-processor (resize, normalisation), model, post-processor (normalisation,
threshold) — with

- one input, ``input``: float32 ``[B, 3, H, W]``, RGB in [0, 1] (``read_image`` decoding); the
  batch axis is dynamic; H and W are dynamic unless the export fixed ``input_size``;
- outputs ``pred_score`` ``[B, 1]`` float32, ``pred_label`` ``[B, 1]`` bool,
  ``anomaly_map`` ``[B, 1, h, w]`` float32 and ``pred_mask`` (not read).

:class:`ExportedGraphDetector` checks that contract when the artifact is loaded (a graph that
breaks it is a :class:`~pyimgano.errors.CheckpointError` naming the file and what was expected),
feeds decoded images batched by size, and reads the graph's own outputs through the one
normalisation path (:func:`pyimgano.outputs.split_batch_output`). A runtime module only
implements :meth:`ExportedGraphDetector._open` (load, compile, describe the graph's ports) and
:meth:`ExportedGraphDetector._run` (one forward pass).

Fixed input size: anomalib gives no resize for it (its ``OpenVINOInferencer`` feeds the image as
decoded, and fails on another size). The graph's own first step is the pre-processor's
``export_transform``, ``Resize(image_size, antialias=False)`` (anomalib drops antialiasing for
export; the torch module's ``forward`` uses the same transform), which is the identity when the
graph's input size is the model's image size (how ``Engine.export(input_size=...)`` is meant to
be used). So each image is resized to the graph's input size with that same operation
(:func:`pyimgano.decoding.resize_image`: bilinear, ``align_corners=False``, no
antialiasing) on the decoding threads — the result equals the dynamic graph's and
``TorchInferencer``'s to ~1e-7 — and the description's ``preprocessing`` says so.

Provenance: every file of the artifact is hashed (sha256, streamed). The artifact's pin is
:func:`combined_sha256`: the sha256 of the text ``"<sha256>  <name>\\n"`` per file, files sorted
by name — the output of ``sha256sum`` run on the sorted file names inside the artifact's folder,
so ``(cd weights/onnx && sha256sum model.onnx model.onnx.data | sha256sum)`` computes it too.
Nothing is unpickled, so no pin or trust is needed to load; a given pin must match, checked with
the same rule and message as a torch checkpoint's
(:func:`pyimgano.backends.trust.verify_pin`) before the runtime is imported.
``trust_checkpoint`` is accepted (the runner and the plugin's ``--pyimgano-trust-checkpoints``
pass it to every backend) and has no effect: there is nothing to trust.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.decoding import DecodedBatch, resize_image
from pyimgano.digests import combined_sha256
from pyimgano.digests import file_sha256 as _file_sha256
from pyimgano.errors import CheckpointError, ConfigError, ModelOutputError
from pyimgano.models.base import Batch, Detector, ModelDescription
from pyimgano.models.kwargs import check_backend_options
from pyimgano.outputs import split_batch_output

#: Inference precisions (docs/REFERENCE.md §3).
PRECISIONS = ("f32", "bf16", "f16")

#: The graph's output names pyimgano reads (anomalib's contract).
SCORE_OUTPUT = "pred_score"
MAP_OUTPUT = "anomaly_map"
LABEL_OUTPUT = "pred_label"

_FLOATS = ("float32", "float16", "float64", "bfloat16")
_LABEL_TYPES = ("bool", "int8", "uint8", "int32", "int64")
_CONTRACT = (
    "anomalib's export contract: one input float32 [B, 3, H, W] and outputs pred_score "
    "[B, 1] float, optional anomaly_map [B, 1, h, w] float and pred_label [B, 1] bool"
)


def check_precision(precision: Any) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else :class:`ConfigError`."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
    return precision


def file_sha256(path: Path) -> str:
    """:func:`pyimgano.digests.file_sha256` of an artifact file; CheckpointError if unreadable."""
    try:
        return _file_sha256(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read artifact file: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class ArtifactFiles:
    """The files of one exported artifact and their hashes.

    Attributes
    ----------
    path : Path
        The file given (``model.onnx``, ``model.xml``).
    files : dict
        File name (relative to ``path.parent``) -> sha256, sorted by name.
    sha256 : str
        :func:`combined_sha256` of ``files``.
    """

    path: Path
    files: dict[str, str] = field(default_factory=dict)
    sha256: str = ""

    @classmethod
    def hash(cls, path: Path, companions: Iterable[Path]) -> ArtifactFiles:
        """Hash ``path`` and its ``companions`` (which must exist; the caller checked)."""
        files = {p.name if p.parent == path.parent else os.path.relpath(p, path.parent):
                 file_sha256(p) for p in (path, *companions)}
        ordered = dict(sorted(files.items()))
        return cls(path=path, files=ordered, sha256=combined_sha256(ordered))

    def check_pin(self, pin: str | None, role: str = "checkpoint") -> None:
        """Raise :class:`CheckpointError` when ``pin`` is given and differs from the sha256
        (:func:`pyimgano.backends.trust.verify_pin`, the rule of every format)."""
        from pyimgano.backends.trust import verify_pin

        listed = ", ".join(f"{name} {digest}" for name, digest in self.files.items())
        verify_pin(self.path, self.sha256, pin, role=role,
                   digest=f"the artifact's combined sha256 (files: {listed})")


def check_artifact_path(path: str | os.PathLike[str], suffix: str, what: str) -> Path:
    """The artifact's main file as a Path; :class:`CheckpointError` when missing or empty."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory; give the {what} file itself")
    if not path.exists():
        raise CheckpointError(f"{path}: {what} file not found")
    if path.suffix.lower() != suffix:
        raise CheckpointError(f"{path}: expected a {suffix} file for {what}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: {what} file is empty")
    return path


@dataclass(frozen=True)
class Port:
    """One input or output of a graph: name, shape (int, or None for a dynamic axis), dtype."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name} {self.dtype} [{dims}]"


@dataclass(frozen=True)
class GraphContract:
    """What :func:`check_contract` found: the input port, its fixed size, the outputs to read."""

    input: Port
    fixed_size: tuple[int, int] | None
    fixed_batch: int | None
    outputs: tuple[str, ...]


def check_contract(path: Path, inputs: Sequence[Port], outputs: Sequence[Port]) -> GraphContract:
    """Check a graph's ports against anomalib's export contract.

    Raises
    ------
    CheckpointError
        Not exactly one input; an input that is not a float32 (float16) rank-4 tensor with 3
        channels; no ``pred_score`` output, or one of the read outputs with the wrong rank or
        dtype. The message names the file, what was found and what was expected.
    """
    found = (
        f"inputs: {', '.join(p.describe() for p in inputs) or 'none'}; outputs: "
        f"{', '.join(p.describe() for p in outputs) or 'none'}"
    )

    def refuse(why: str) -> CheckpointError:
        return CheckpointError(f"{path}: {why} ({found}); expected {_CONTRACT}")

    if len(inputs) != 1:
        raise refuse(f"the graph has {len(inputs)} inputs")
    port = inputs[0]
    if len(port.shape) != 4 or port.shape[1] not in (3, None):
        raise refuse(f"input {port.name!r} is not [B, 3, H, W]")
    if port.dtype not in ("float32", "float16"):
        raise refuse(f"input {port.name!r} has dtype {port.dtype}")
    by_name = {p.name: p for p in outputs}
    if SCORE_OUTPUT not in by_name:
        raise refuse("the graph has no pred_score output")
    ranks = {SCORE_OUTPUT: (1, 2), MAP_OUTPUT: (3, 4), LABEL_OUTPUT: (1, 2)}
    kinds = {SCORE_OUTPUT: _FLOATS, MAP_OUTPUT: _FLOATS, LABEL_OUTPUT: _LABEL_TYPES}
    read = []
    for name in (SCORE_OUTPUT, MAP_OUTPUT, LABEL_OUTPUT):
        out = by_name.get(name)
        if out is None:
            continue
        if len(out.shape) not in ranks[name]:
            raise refuse(f"output {name!r} has rank {len(out.shape)}")
        if out.dtype not in kinds[name]:
            raise refuse(f"output {name!r} has dtype {out.dtype}")
        read.append(name)
    height, width = port.shape[2], port.shape[3]
    fixed = (height, width) if height is not None and width is not None else None
    if (height is None) != (width is None):
        raise refuse(f"input {port.name!r} fixes one of H, W only")
    return GraphContract(
        input=port, fixed_size=fixed, fixed_batch=port.shape[0], outputs=tuple(read)
    )


_RUNTIME_PREFIX = re.compile(r"\[ONNXRuntimeError\] : \d+ : \w+ : ")
_SOURCE_LOCATION = re.compile(r"^\S+\.(?:cc|cpp|h|hpp):\d+:?\s+(?:\S+\s+)?")


def runtime_message(exc: BaseException) -> str:
    """The informative part of a runtime's exception message, on one line.

    onnxruntime nests ``[ONNXRuntimeError] : 1 : FAIL : ...`` messages: the innermost one is
    kept, without its C++ source location. OpenVINO prefixes ``Exception from <file>:<line>:``
    and ``Check '...' failed at ...`` lines: the last other line is kept.
    """
    text = str(exc)
    if _RUNTIME_PREFIX.search(text):
        inner = _RUNTIME_PREFIX.split(" ".join(text.split()))[-1]
        return _SOURCE_LOCATION.sub("", inner).strip()[:400] or type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines
              if not line.startswith(("Exception from ", "Check '"))] or lines
    return useful[-1][:400] if useful else type(exc).__name__


class ExportedGraphDetector(Detector):
    """Shared base of the ONNX and OpenVINO detectors (see the module docstring).

    Subclasses set :attr:`runtime`, :attr:`suffix` and :attr:`what`, and implement
    :meth:`_open` and :meth:`_run`. Constructor arguments are those of
    :class:`pyimgano.backends.openvino.OpenVINOCheckpoint` (``cache_dir`` included; the ONNX
    class, whose runtime keeps no cache, does not take it).
    """

    runtime = ""
    suffix = ""
    what = ""

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
        cache_dir: str | os.PathLike[str] | None = None,
        maps_on_device: bool | None = None,
    ) -> None:
        if checkpoint_path is None:
            raise ConfigError(
                f"an {self.what} needs its file: pass --checkpoint-path FILE{self.suffix} "
                "(or checkpoint_path in the model kwargs)"
            )
        check_backend_options(decode_workers=decode_workers, maps_on_device=maps_on_device,
                              trust_checkpoint=trust_checkpoint)
        if maps_on_device:
            raise ConfigError(
                f"maps_on_device={maps_on_device!r}: the {self.runtime} backend returns maps on "
                "the host; leave it unset or false"
            )
        started = time.perf_counter()
        self.precision = check_precision(precision)
        self.anomalib_model = anomalib_model
        self.decode_workers = decode_workers
        self.trust_checkpoint = trust_checkpoint  # nothing is unpickled: it changes nothing
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.maps_on_device = False
        self.artifact = self.verify_artifact(checkpoint_path, sha256=checkpoint_sha256)
        self.checkpoint_path = self.artifact.path
        self.device = "cpu"
        self.execution_device = ""
        self.runtime_version = ""
        self.threads: int | None = None
        self.extra: dict[str, Any] = {}
        inputs, outputs = self._open(device)
        self.contract = check_contract(self.checkpoint_path, inputs, outputs)
        self._check_precision()
        self.load_seconds = time.perf_counter() - started

    # -- the files -------------------------------------------------------------------------

    @classmethod
    def verify_artifact(
        cls, path: str | os.PathLike[str], *, sha256: str | None = None,
        role: str = "checkpoint",
    ) -> ArtifactFiles:
        """Check the artifact's files, hash them and check a given pin; no runtime imported.

        Raises :class:`CheckpointError` for a missing, empty or misnamed main file, a missing
        companion file, and a pin mismatch (``role`` as in
        :func:`pyimgano.backends.trust.verify_pin`); :class:`ConfigError` for a malformed
        pin.
        """
        from pyimgano.backends.trust import normalize_pin

        normalize_pin(sha256)  # a malformed pin is refused before any file is read
        main = check_artifact_path(path, cls.suffix, cls.what)
        artifact = ArtifactFiles.hash(main, cls._companions(main))
        artifact.check_pin(sha256, role)
        return artifact

    @classmethod
    def check_file(
        cls, path: str | os.PathLike[str], *, sha256: str | None = None,
        role: str = "checkpoint",
    ) -> None:
        """The input check of :func:`pyimgano.models.formats.check_checkpoint_input`: the
        files exist and are not empty; with a pin, it matches (:meth:`verify_artifact`)."""
        if sha256 is None:
            main = check_artifact_path(path, cls.suffix, cls.what)
            cls._companions(main)
        else:
            cls.verify_artifact(path, sha256=sha256, role=role)

    # -- what a runtime implements -----------------------------------------------------------

    @classmethod
    def _companions(cls, path: Path) -> list[Path]:
        """The artifact's other files (checked to exist); override per format."""
        return []

    def _open(self, device: str) -> tuple[list[Port], list[Port]]:
        """Load and compile the graph on ``device``; set :attr:`device`,
        :attr:`execution_device`, :attr:`runtime_version`; return its input and output ports.
        Every failure must be a :class:`CheckpointError` / :class:`DeviceError`."""
        raise NotImplementedError

    def _run(self, array: np.ndarray) -> dict[str, np.ndarray]:
        """One forward pass of a ``(B, 3, H, W)`` array; the :attr:`contract` outputs by name."""
        raise NotImplementedError

    def _check_precision(self) -> None:
        """Raise :class:`ConfigError` when :attr:`precision` cannot be honoured exactly."""

    # -- inference --------------------------------------------------------------------------

    def prepare_image(self, image: np.ndarray) -> np.ndarray:
        """Resize to the graph's fixed input size (a no-op for a dynamic graph)."""
        size = self.contract.fixed_size
        return image if size is None else resize_image(image, size)

    def infer(self, batch: DecodedBatch) -> Batch:
        """Run the graph on one decoded batch (images of one size), ``Batch.seconds`` = runs."""
        images = [self.prepare_image(image) for image in batch.images]
        array = np.stack(images) if images else np.zeros((0, 3, 1, 1), np.float32)
        if self.contract.input.dtype == "float16":
            array = array.astype(np.float16)
        step = self.contract.fixed_batch or len(images) or 1
        pieces: dict[str, list[np.ndarray]] = {}
        seconds = 0.0
        for start in range(0, len(images), step):
            chunk = array[start : start + step]
            n = len(chunk)
            if n < step:  # a graph with a fixed batch: pad with the last image, drop after
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], step - n, axis=0)])
            began = time.perf_counter()
            try:
                outputs = self._run(np.ascontiguousarray(chunk))
            except (CheckpointError, ModelOutputError):
                raise
            except Exception as exc:  # noqa: BLE001 - a runtime error becomes one line
                raise ModelOutputError(
                    f"{batch.names[start]}: {self.runtime} failed on a batch of {n} image(s) "
                    f"of shape {tuple(chunk.shape[1:])} with {self.checkpoint_path.name}: "
                    f"{runtime_message(exc)}"
                ) from None
            seconds += time.perf_counter() - began
            for name in self.contract.outputs:
                pieces.setdefault(name, []).append(np.asarray(outputs[name])[:n])
        fields = {name: np.concatenate(values) for name, values in pieces.items()}
        predictions = split_batch_output(fields, batch.names)
        return Batch(indices=batch.indices, predictions=tuple(predictions), seconds=seconds)

    # -- description ------------------------------------------------------------------------

    @property
    def batch_independent(self) -> bool | None:
        """As the torch backend's: the exported graph computes what the model's forward does,
        so the zoo table's fact for ``anomalib_model`` holds for it (None where unknown)."""
        from pyimgano.models.anomalib_zoo import model_facts

        facts = model_facts(self.anomalib_model)
        return None if facts is None else facts.batch_independent

    def describe(self) -> ModelDescription:
        """The artifact, its files' hashes, runtime, version, execution device and precision."""
        size = self.contract.fixed_size
        preprocessing = None
        if size is not None:
            preprocessing = (
                f"resized to the graph's fixed input size {size[0]}x{size[1]} (H x W) before the "
                "graph: bilinear, align_corners=False, no antialiasing (anomalib's export "
                "transform)"
            )
        extra: dict[str, Any] = {
            "anomalib_model": self.anomalib_model,
            "checkpoint_format": self.runtime,
            "graph_input": self.contract.input.describe(),
            "graph_outputs": list(self.contract.outputs),
            **self.extra,
        }
        return ModelDescription(
            checkpoint=os.fspath(self.checkpoint_path),
            checkpoint_sha256=self.artifact.sha256,
            outputs_normalized=None,
            device=self.device,
            threads=self.threads,
            runtime=self.runtime,
            runtime_version=self.runtime_version,
            execution_device=self.execution_device,
            precision=self.precision,
            artifact_files=dict(self.artifact.files),
            preprocessing=preprocessing,
            extra=extra,
        )


__all__ = [
    "PRECISIONS",
    "ArtifactFiles",
    "ExportedGraphDetector",
    "GraphContract",
    "Port",
    "check_contract",
    "check_precision",
    "check_artifact_path",
    "combined_sha256",
    "file_sha256",
]
