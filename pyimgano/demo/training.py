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

:func:`pyimgano.demo.export.export_checkpoint` writes the deployment artifacts of a trained
checkpoint, cached the same way.

torch, lightning and anomalib are imported inside :func:`train_checkpoint` only. Formerly
``pyimgano.training`` (still importable, deprecated).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyimgano.backends.releases import MANIFEST_NAME
from pyimgano.demo.quiet import quiet_lightning
from pyimgano.digests import file_sha256
from pyimgano.errors import ConfigError, DatasetError
from pyimgano.report import dumps, write_text_atomic

MANIFEST_VERSION = 1

#: Feature layers that suit each backbone when nothing else is asked for.
_DEFAULT_LAYERS: dict[str, tuple[str, ...]] = {
    "padim": ("layer1", "layer2", "layer3"),
    "patchcore": ("layer2", "layer3"),
}


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


def _trained(
    target: Path, model: str, category: str, manifest: dict[str, Any], *, cached: bool,
    params: dict[str, Any],
) -> TrainedCheckpoint:
    """The :class:`TrainedCheckpoint` of the files in ``target`` that ``manifest`` describes."""
    return TrainedCheckpoint(
        pt_path=target / "model.pt",
        ckpt_path=target / "model.ckpt",
        manifest_path=target / MANIFEST_NAME,
        model=model,
        category=category,
        pt_sha256=manifest["pt_sha256"],
        ckpt_sha256=manifest["ckpt_sha256"],
        cached=cached,
        params=params,
    )


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


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The JSON object of a manifest file, or None when it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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
def removed_after(path: Path) -> Iterator[None]:
    """Remove the work directory ``path`` when the block ends, however it ends."""
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
        manifest = read_manifest(manifest_path)
        if (
            manifest is not None
            and manifest.get("params") == params
            and manifest.get("pt_sha256") == file_sha256(pt_path)
            and manifest.get("ckpt_sha256") == file_sha256(ckpt_path)
        ):
            return _trained(target, model, category, manifest, cached=True, params=params)

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
    with quiet_lightning(), removed_after(work):
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
    return _trained(target, model, category, manifest, cached=False, params=params)


__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "TrainedCheckpoint",
    "read_manifest",
    "removed_after",
    "train_checkpoint",
]
