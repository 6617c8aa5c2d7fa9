"""Train tiny real anomalib checkpoints offline (tests, demo, benchmarks).

:func:`train_checkpoint` fits a small anomalib model (PaDiM, PatchCore, ... with randomly
initialised backbones: ``pre_trained=False``, so nothing is downloaded) on one MVTec-layout
category and writes both files pyimgano reads:

- ``<out_dir>/<model>/<category>/model.pt`` — anomalib's exported torch model
  (``Engine.export(..., export_type=ExportType.TORCH)``: a pickled ``{"model": AnomalibModule}``);
- ``<out_dir>/<model>/<category>/model.ckpt`` — the Lightning checkpoint of the same fitted model
  (``Trainer.save_checkpoint``: state_dict, hyper_parameters and anomalib's safe component
  configuration).

Both come from one fit, so they hold the same weights, memory bank / Gaussian and normalisation
statistics. The checkpoint's threshold and normalisation statistics are fitted on a validation
set: with ``val_root`` the ``test`` split of ``<val_root>/<category>`` (a dataset disjoint from
the one evaluated later, so no test image sits exactly on the threshold), otherwise anomalib's
default, the test split itself.

A ``manifest.json`` beside them records the parameters, both files' sha256 and the
anomalib/Lightning/torch versions that wrote them (``written_with``: the loader names the writing
release when a checkpoint cannot be loaded by another one); a second call with the same parameters
returns the cached files without training, whichever anomalib asks. Training is
deterministic on one machine: the same parameters and ``out_dir`` give byte-identical files.

Only models that can be trained from scratch offline work here: those whose constructor takes
``pre_trained`` (PaDiM, PatchCore, DFM, ...). Models that always fetch weights (STFPM's
ImageNet teacher, EfficientAd, WinCLIP, ...) try to download them and fail without network.

:func:`export_checkpoint` writes the deployment artifacts of a trained checkpoint, cached the same
way: ONNX with anomalib's ``Engine.export``, and OpenVINO IR (FP32, FP16 or INT8 weights-only)
converted from that ONNX graph as anomalib's own OpenVINO export does.

torch, lightning, anomalib and openvino are imported inside :func:`train_checkpoint` and
:func:`export_checkpoint` only.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyimgano.digests import file_sha256
from pyimgano.errors import ConfigError, DatasetError
from pyimgano.report import dumps, write_text_atomic

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

#: Feature layers that suit each backbone when nothing else is asked for.
_DEFAULT_LAYERS: dict[str, tuple[str, ...]] = {
    "padim": ("layer1", "layer2", "layer3"),
    "patchcore": ("layer2", "layer3"),
}

_NOISY_LOGGERS = ("lightning", "lightning_fabric", "pytorch_lightning", "anomalib")


@dataclass(frozen=True)
class TrainedCheckpoint:
    """Files written by :func:`train_checkpoint`.

    Attributes
    ----------
    pt_path : Path
        The exported torch model (``model.pt``).
    ckpt_path : Path
        The Lightning checkpoint (``model.ckpt``).
    manifest_path : Path
    model : str
        anomalib model name (``"padim"``, ``"patchcore"``, ...).
    category : str
    pt_sha256, ckpt_sha256 : str
        Hex sha256 of the two files.
    cached : bool
        True when the files were already there and nothing was trained.
    params : dict
        The parameters recorded in the manifest.
    """

    pt_path: Path
    ckpt_path: Path
    manifest_path: Path
    model: str
    category: str
    pt_sha256: str
    ckpt_sha256: str
    cached: bool
    params: dict[str, Any]


def _model_kwargs(
    model_class: type,
    model: str,
    *,
    backbone: str,
    layers: tuple[str, ...] | None,
    coreset_sampling_ratio: float,
) -> dict[str, Any]:
    """Constructor kwargs for ``model_class``: only the ones its ``__init__`` names.

    ``pre_trained`` is always False where the model has it (nothing may be downloaded).
    """
    accepted = inspect.signature(model_class.__init__).parameters
    wanted: dict[str, Any] = {"backbone": backbone, "pre_trained": False}
    chosen = layers if layers is not None else _DEFAULT_LAYERS.get(model)
    if chosen is not None:
        wanted["layers"] = list(chosen)
    if model == "patchcore":
        wanted["coreset_sampling_ratio"] = coreset_sampling_ratio
    return {key: value for key, value in wanted.items() if key in accepted}


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Silence Lightning/anomalib chatter while training.

    Their loggers are set to ERROR, warnings are ignored, and stderr and stdout (tqdm bars
    such as PatchCore's coreset selection, Lightning's tips, the ONNX exporter's progress
    lines) are captured; they are written back to stderr when training or exporting fails, so
    nothing that explains a failure is lost.
    """
    loggers = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in _NOISY_LOGGERS
    ]
    saved = [(log, log.level) for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    captured = io.StringIO()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stderr(captured),
            contextlib.redirect_stdout(captured),
        ):
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        sys.stderr.write(captured.getvalue())
        raise
    finally:
        for log, level in saved:
            log.setLevel(level)


def _with_validation_dir(base: type, val_root: str | os.PathLike[str]) -> type:
    """``base`` (anomalib's ``MVTecAD`` datamodule) whose validation set is the test split of
    ``<val_root>/<category>`` (``val_split_mode="from_dir"``: anomalib then leaves ``val_data``
    to the datamodule's own ``_setup``)."""
    from anomalib.data.datasets.image.mvtecad import MVTecADDataset
    from anomalib.data.utils import Split

    class MVTecADWithValidation(base):  # type: ignore[misc, valid-type]
        def _setup(self, _stage: str | None = None) -> None:
            super()._setup(_stage)
            self.val_data = MVTecADDataset(root=val_root, category=self.category, split=Split.TEST)

    return MVTecADWithValidation


@contextlib.contextmanager
def _removed_after(path: Path) -> Iterator[None]:
    try:
        yield
    finally:
        shutil.rmtree(path, ignore_errors=True)


def train_checkpoint(
    model: str,
    data_root: str | os.PathLike[str],
    category: str,
    out_dir: str | os.PathLike[str],
    *,
    image_size: int = 64,
    seed: int = 0,
    max_epochs: int = 1,
    backbone: str = "resnet18",
    layers: tuple[str, ...] | None = None,
    coreset_sampling_ratio: float = 0.05,
    batch_size: int = 32,
    val_root: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> TrainedCheckpoint:
    """Train ``model`` on ``data_root/category`` and write ``model.pt`` and ``model.ckpt``.

    Parameters
    ----------
    model : str
        anomalib model name as in ``anomalib.models`` module names (``"padim"``,
        ``"patchcore"``, ...).
    data_root : path
        MVTec AD layout root: ``<data_root>/<category>/{train/good,test/...,ground_truth/...}``.
    category : str
    out_dir : path
        Files go to ``<out_dir>/<model>/<category>/``.
    image_size : int, default 64
        Side of the square the model's pre-processor resizes to.
    seed : int, default 0
        Seeds Python, NumPy and torch before the model is built (PaDiM's random feature
        subset, backbone initialisation, PatchCore's coreset start).
    max_epochs : int, default 1
    backbone : str, default "resnet18"
        A timm backbone; it is randomly initialised (``pre_trained=False``).
    layers : tuple of str, optional
        Feature layers; defaults suit resnet18 (PaDiM layer1-3, PatchCore layer2-3).
    coreset_sampling_ratio : float, default 0.05
        PatchCore only.
    batch_size : int, default 32
    val_root : path, optional
        MVTec-layout root whose ``<val_root>/<category>/test`` split (normal and anomalous
        images) is the validation set the threshold and normalisation statistics are fitted
        on. Use a dataset disjoint from the one the checkpoint is evaluated on; without it the
        validation set is anomalib's default, ``data_root``'s test split itself.
    force : bool, default False
        Retrain even when cached files with the same parameters exist.

    Returns
    -------
    TrainedCheckpoint

    Raises
    ------
    ConfigError
        Unknown anomalib model name.
    DatasetError
        ``data_root/category`` (or ``val_root/category``) is not a directory.
    """
    data_root = Path(data_root)
    target = Path(out_dir) / model / category
    pt_path, ckpt_path = target / "model.pt", target / "model.ckpt"
    manifest_path = target / MANIFEST_NAME
    if not (data_root / category).is_dir():
        raise DatasetError(f"{data_root / category}: category directory not found")
    if val_root is not None and not (Path(val_root) / category / "test").is_dir():
        raise DatasetError(
            f"{Path(val_root) / category / 'test'}: validation split not found (val_root must "
            "be an MVTec-layout root holding the category's test split)"
        )

    params: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "model": model,
        "data_root": str(data_root.resolve()),
        "category": category,
        "image_size": int(image_size),
        "seed": int(seed),
        "max_epochs": int(max_epochs),
        "backbone": backbone,
        "layers": list(layers) if layers is not None else None,
        "coreset_sampling_ratio": float(coreset_sampling_ratio),
        "batch_size": int(batch_size),
    }
    if val_root is not None:
        # Only recorded when given, so checkpoints cached before the key existed stay valid.
        params["val_root"] = str(Path(val_root).resolve())

    if not force and pt_path.is_file() and ckpt_path.is_file():
        manifest = _read_manifest(manifest_path)
        if (
            manifest is not None
            and manifest.get("params") == params
            and manifest.get("pt_sha256") == file_sha256(pt_path)
            and manifest.get("ckpt_sha256") == file_sha256(ckpt_path)
        ):
            return TrainedCheckpoint(
                pt_path=pt_path,
                ckpt_path=ckpt_path,
                manifest_path=manifest_path,
                model=model,
                category=category,
                pt_sha256=manifest["pt_sha256"],
                ckpt_sha256=manifest["ckpt_sha256"],
                cached=True,
                params=params,
            )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # timm / dinov2 deprecation shims on import
        import anomalib.models as anomalib_models
        from anomalib.data import MVTecAD
        from anomalib.deploy import ExportType
        from anomalib.engine import Engine
        from lightning.pytorch import seed_everything

    from pyimgano.models.anomalib_entries import ANOMALIB_IMAGE_MODELS

    class_name = ANOMALIB_IMAGE_MODELS.get(model)
    model_class = getattr(anomalib_models, class_name, None) if class_name else None
    if model_class is None:
        raise ConfigError(
            f"unknown anomalib model {model!r}; known: {', '.join(sorted(ANOMALIB_IMAGE_MODELS))}"
        )

    target.mkdir(parents=True, exist_ok=True)
    # A fixed work dir (not a random temporary one): the ModelCheckpoint state inside the .ckpt
    # records it, so the same parameters and out_dir give a byte-identical .ckpt.
    work = target / ".work"
    shutil.rmtree(work, ignore_errors=True)
    with _quiet_lightning(), _removed_after(work):
        seed_everything(seed, workers=True, verbose=False)
        kwargs = _model_kwargs(
            model_class,
            model,
            backbone=backbone,
            layers=layers,
            coreset_sampling_ratio=coreset_sampling_ratio,
        )
        kwargs["pre_processor"] = model_class.configure_pre_processor(
            image_size=(image_size, image_size)
        )
        module = model_class(**kwargs)
        datamodule_class = MVTecAD if val_root is None else _with_validation_dir(MVTecAD, val_root)
        datamodule = datamodule_class(
            root=data_root,
            category=category,
            train_batch_size=batch_size,
            eval_batch_size=batch_size,
            num_workers=0,
            seed=seed,
            **({} if val_root is None else {"val_split_mode": "from_dir"}),
        )
        engine = Engine(
            default_root_dir=work,
            logger=False,
            accelerator="cpu",
            devices=1,
            max_epochs=max_epochs,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        engine.fit(model=module, datamodule=datamodule)
        # Both files come from the same fitted module; write to temporaries, then rename.
        ckpt_tmp = work / "model.ckpt"
        engine.trainer.save_checkpoint(ckpt_tmp)
        exported = engine.export(
            model=module,
            export_type=ExportType.TORCH,
            export_root=work / "export",
            model_file_name="model",
        )
        if exported is None or not Path(exported).is_file():
            raise RuntimeError(f"anomalib export wrote no torch model for {model}/{category}")
        shutil.move(str(exported), pt_path)
        shutil.move(str(ckpt_tmp), ckpt_path)

    from pyimgano.environment import package_version

    manifest = {
        "params": params,
        "pt_sha256": file_sha256(pt_path),
        "ckpt_sha256": file_sha256(ckpt_path),
        "written_with": {
            name: package_version(name) for name in ("anomalib", "lightning", "torch")
        },
    }
    write_text_atomic(manifest_path, dumps(manifest))
    return TrainedCheckpoint(
        pt_path=pt_path,
        ckpt_path=ckpt_path,
        manifest_path=manifest_path,
        model=model,
        category=category,
        pt_sha256=manifest["pt_sha256"],
        ckpt_sha256=manifest["ckpt_sha256"],
        cached=False,
        params=params,
    )


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
    manifest = _read_manifest(_manifest_path(trained, kind))
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
    """Export a :func:`train_checkpoint` result to ONNX / OpenVINO offline, cached.

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
    with _quiet_lightning(), _removed_after(work):
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


__all__ = [
    "EXPORT_KINDS",
    "ExportedArtifact",
    "TrainedCheckpoint",
    "export_checkpoint",
    "train_checkpoint",
]
