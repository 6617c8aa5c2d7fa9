"""Export a trained demo checkpoint to ONNX / OpenVINO offline, cached (tests, demo, benchmarks).

:func:`export_checkpoint` writes the deployment artifacts of a
:func:`pyimgano.demo.training.train_checkpoint` result: ONNX with anomalib's ``Engine.export``,
and OpenVINO IR (FP32, FP16 or INT8 weights-only) converted from that ONNX graph as anomalib's
own OpenVINO export does. Each artifact has a manifest of its parameters and files, so a second
call with the same parameters returns at once.

torch, anomalib and openvino are imported inside :func:`export_checkpoint` only.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyimgano.demo.quiet import quiet_lightning
from pyimgano.demo.training import TrainedCheckpoint, read_manifest, removed_after
from pyimgano.digests import file_sha256
from pyimgano.errors import ConfigError
from pyimgano.report import dumps, write_text_atomic

#: Deployment artifacts :func:`export_checkpoint` writes: kind -> (sub-directory of the
#: checkpoint's directory, graph file name, OpenVINO compression or None).
EXPORT_KINDS: dict[str, tuple[str, str, str | None]] = {
    "onnx": ("", "model.onnx", None),
    "openvino_fp32": ("openvino_fp32", "model.xml", None),
    "openvino_fp16": ("openvino_fp16", "model.xml", "fp16"),
    "openvino_int8": ("openvino_int8", "model.xml", "int8"),
}
EXPORT_MANIFEST_NAME = "export.json"


@dataclass(frozen=True)
class ExportedArtifact:
    """One artifact written by :func:`export_checkpoint`.

    Attributes
    ----------
    kind : str
        A key of :data:`EXPORT_KINDS` (``"onnx"``, ``"openvino_fp16"``, ...).
    path : Path
        The graph file a suite names as ``checkpoint`` (``model.onnx`` / ``model.xml``).
    files : dict of str to str
        Every file of the artifact (graph and weights: ``model.onnx`` + ``model.onnx.data``,
        ``model.xml`` + ``model.bin``) -> its hex sha256.
    cached : bool
        True when the artifact was already there and nothing was exported.
    """

    kind: str
    path: Path
    files: dict[str, str]
    cached: bool


def _artifact_dir(trained: TrainedCheckpoint, kind: str) -> Path:
    return trained.ckpt_path.parent / EXPORT_KINDS[kind][0]


def _artifact_files(directory: Path, graph: str) -> dict[str, str]:
    """``graph`` and the weight files anomalib writes beside it, with their sha256."""
    stem = graph.rsplit(".", 1)[0]
    names = [graph, f"{graph}.data"] if graph.endswith(".onnx") else [graph, f"{stem}.bin"]
    return {
        name: file_sha256(directory / name) for name in names if (directory / name).is_file()
    }


def _cached_artifact(
    trained: TrainedCheckpoint, kind: str, params: dict[str, Any]
) -> ExportedArtifact | None:
    directory = _artifact_dir(trained, kind)
    graph = EXPORT_KINDS[kind][1]
    manifest = read_manifest(_manifest_path(trained, kind))
    if manifest is None or manifest.get("params") != params:
        return None
    files = _artifact_files(directory, graph)
    if not files or files != manifest.get("files"):
        return None
    return ExportedArtifact(kind, directory / graph, files, cached=True)


def _manifest_path(trained: TrainedCheckpoint, kind: str) -> Path:
    name = f"onnx.{EXPORT_MANIFEST_NAME}" if kind == "onnx" else EXPORT_MANIFEST_NAME
    return _artifact_dir(trained, kind) / name


def export_checkpoint(
    trained: TrainedCheckpoint,
    kinds: tuple[str, ...] = tuple(EXPORT_KINDS),
    *,
    force: bool = False,
) -> dict[str, ExportedArtifact]:
    """Export a :class:`TrainedCheckpoint` to ONNX / OpenVINO offline, cached.

    The module is restored from ``trained.ckpt_path`` (``load_from_checkpoint``) and exported
    once with anomalib's ``Engine.export(export_type=ONNX)``, with a dynamic input size (the
    graph holds anomalib's resize, normalisation and post-processing). The OpenVINO IRs are
    converted from that ONNX graph exactly as anomalib's ``to_openvino`` (what
    ``Engine.export(export_type=OPENVINO, compression_type=...)`` calls) does it:
    ``openvino.convert_model`` on the ONNX file, ``nncf.compress_weights`` for INT8, then
    ``openvino.save_model(..., compress_to_fp16=<FP16>)``. This gives the same weights
    (``model.bin`` byte for byte; ``model.xml`` differs only in the recorded source path) and
    saves the second and third ``torch.export`` tracing, the slow part (~10-20 s each on
    2 CPU cores). Files go beside the checkpoint::

        <ckpt dir>/model.onnx (+ model.onnx.data)             kind "onnx"
        <ckpt dir>/openvino_fp32/model.xml + model.bin         kind "openvino_fp32"
        <ckpt dir>/openvino_fp16/model.xml + model.bin         FP16 weights
        <ckpt dir>/openvino_int8/model.xml + model.bin         INT8 weights-only (needs nncf)

    Each artifact's manifest (``onnx.export.json`` / ``<dir>/export.json``) records the
    checkpoint's sha256, the kind, every file's sha256 and the writing versions; an artifact
    whose manifest matches is returned without exporting again.

    Parameters
    ----------
    trained : TrainedCheckpoint
    kinds : tuple of str, default every kind of :data:`EXPORT_KINDS`
    force : bool, default False
        Export again even when a matching artifact exists.

    Returns
    -------
    dict of str to ExportedArtifact
        By kind, in the order asked.

    Raises
    ------
    ConfigError
        An unknown kind; or ``openvino_int8`` without the ``nncf`` package (anomalib compresses
        weights with it).
    """
    unknown = [kind for kind in kinds if kind not in EXPORT_KINDS]
    if unknown:
        raise ConfigError(
            f"unknown export kind(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(EXPORT_KINDS)}"
        )
    wanted = {kind: _export_params(trained, kind) for kind in dict.fromkeys(kinds)}
    results: dict[str, ExportedArtifact] = {}
    for kind, params in wanted.items():
        cached = None if force else _cached_artifact(trained, kind, params)
        if cached is not None:
            results[kind] = cached
    todo = [kind for kind in wanted if kind not in results]
    if not todo:
        return {kind: results[kind] for kind in kinds}
    if "openvino_int8" in todo:
        import importlib.util

        if importlib.util.find_spec("nncf") is None:
            raise ConfigError(
                "openvino_int8 export needs the 'nncf' package (anomalib compresses the "
                "weights with nncf.compress_weights); install nncf or leave openvino_int8 out"
            )

    work = trained.ckpt_path.parent / ".export-work"
    shutil.rmtree(work, ignore_errors=True)
    with quiet_lightning(), removed_after(work):
        onnx_cached = results.get("onnx")
        if onnx_cached is None and not force:
            onnx_cached = _cached_artifact(trained, "onnx", _export_params(trained, "onnx"))
        onnx_path = _onnx_source(trained, onnx_cached, work)
        for kind in todo:
            _, graph, compression = EXPORT_KINDS[kind]
            directory = _artifact_dir(trained, kind)
            directory.mkdir(parents=True, exist_ok=True)
            if kind == "onnx":
                for name in _artifact_files(onnx_path.parent, graph):
                    shutil.copyfile(onnx_path.parent / name, directory / name)
            else:
                _onnx_to_openvino(onnx_path, work / kind / graph, compression)
                for name in _artifact_files(work / kind, graph):
                    shutil.move(str(work / kind / name), directory / name)
            results[kind] = _record_artifact(trained, kind, wanted[kind])
    return {kind: results[kind] for kind in kinds}


def _export_params(trained: TrainedCheckpoint, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "ckpt_sha256": trained.ckpt_sha256,
        "model": trained.model,
        "input_size": None,
    }


def _onnx_source(
    trained: TrainedCheckpoint, cached: ExportedArtifact | None, work: Path
) -> Path:
    """The ONNX graph the OpenVINO IRs are converted from: the cached ``model.onnx`` of this
    checkpoint, else a fresh ``Engine.export(export_type=ONNX)`` into ``work``."""
    if cached is not None:
        return cached.path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import anomalib.models as anomalib_models
        from anomalib.deploy import ExportType
        from anomalib.engine import Engine

    from pyimgano.models.anomalib_entries import ANOMALIB_IMAGE_MODELS

    model_class = getattr(anomalib_models, ANOMALIB_IMAGE_MODELS[trained.model])
    module = model_class.load_from_checkpoint(trained.ckpt_path, weights_only=False)
    module.eval()
    engine = Engine(
        default_root_dir=work,
        logger=False,
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    exported = engine.export(
        model=module, export_type=ExportType.ONNX, export_root=work, model_file_name="model"
    )
    if exported is None or not Path(exported).is_file():
        raise RuntimeError(f"anomalib export wrote no ONNX model for {trained.ckpt_path}")
    return Path(exported)


def _onnx_to_openvino(onnx_path: Path, xml_path: Path, compression: str | None) -> None:
    """anomalib's ``to_openvino`` after its ONNX step (see :func:`export_checkpoint`)."""
    import openvino as ov

    xml_path.parent.mkdir(parents=True, exist_ok=True)
    model = ov.convert_model(str(onnx_path))
    if compression == "int8":
        import nncf

        model = nncf.compress_weights(model)
    ov.save_model(model, str(xml_path), compress_to_fp16=compression == "fp16")


def _record_artifact(
    trained: TrainedCheckpoint, kind: str, params: dict[str, Any]
) -> ExportedArtifact:
    from pyimgano.environment import package_version

    directory = _artifact_dir(trained, kind)
    graph = EXPORT_KINDS[kind][1]
    files = _artifact_files(directory, graph)
    manifest = {
        "params": params,
        "files": files,
        "written_with": {
            name: package_version(name)
            for name in ("anomalib", "torch", "onnx", "openvino", "nncf")
        },
    }
    write_text_atomic(_manifest_path(trained, kind), dumps(manifest))
    return ExportedArtifact(kind, directory / graph, files, cached=False)


__all__ = ["EXPORT_KINDS", "EXPORT_MANIFEST_NAME", "ExportedArtifact", "export_checkpoint"]
