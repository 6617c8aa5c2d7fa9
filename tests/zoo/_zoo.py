"""The zoo's machinery: tiny offline training, anomalib's own per-image inference, no network.

Independent of the code under test where it serves as the reference: the expected outputs come
from anomalib itself (``TorchInferencer`` for the ``.pt``; ``load_from_checkpoint`` + forward
for the ``.ckpt``), one image at a time, on anomalib's ``read_image`` decoding.

Training (not under test) builds models whose constructors download weights with randomly
initialised backbones instead (pyimgano's offline construction), for one epoch on a few 64 px
synthetic images.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import shutil
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CATEGORY = "tiles"
DATA_SIZE = 72  # the models resize to their own input size: a real resize
IMAGE_SIZE = 64  # anomalib's default is 256 (fastflow, reverse_distillation, ... size layers)
BATCH = 4  # batch N of the batch-independence check (7 test images: batches of 4 and 3)

#: Constructor kwargs that make each model tiny (small backbones; nothing downloaded).
#: ``image_size`` overrides :data:`IMAGE_SIZE` (ViT encoders need multiples of 14; CS-Flow's and
#: SuperSimpleNet's feature maps need 256 px: three EfficientNet scales, Perlin masks of up to
#: 32 cells); ``pre_processor`` holds extra ``configure_pre_processor`` arguments.
RECIPES: dict[str, dict[str, Any]] = {
    "padim": {"backbone": "resnet18", "layers": ["layer1", "layer2", "layer3"]},
    "patchcore": {"backbone": "resnet18", "layers": ["layer2", "layer3"],
                  "coreset_sampling_ratio": 0.1},
    "mh_patchcore": {"backbone": "resnet18", "layers": ["layer2", "layer3"], "image_size": 224,
                     "memory_bank_size": 200, "local_coreset_size": 64},
    "dfm": {"backbone": "resnet18", "layer": "layer3"},
    "dfkde": {"backbone": "resnet18", "layers": ["layer4"], "n_pca_components": 4},
    "fre": {"backbone": "resnet18", "layer": "layer3", "input_dim": 1024, "latent_dim": 32},
    "draem": {},
    "cflow": {"backbone": "resnet18", "layers": ["layer2", "layer3"], "coupling_blocks": 2,
              "fiber_batch_size": 64},
    "fastflow": {"backbone": "resnet18", "flow_steps": 2},
    "reverse_distillation": {"backbone": "resnet18", "layers": ["layer1", "layer2", "layer3"]},
    "patchflow": {"backbone": "resnet18"},
    "ganomaly": {"n_features": 16, "latent_vec_size": 16},
    "general_ad": {"backbone": "vit_small_patch14_dinov2.lvd142m", "layers": [12],
                   "image_size": 56},
    "stfpm": {"backbone": "resnet18", "layers": ["layer1", "layer2", "layer3"]},
    "supersimplenet": {"backbone": "resnet18", "layers": ["layer2", "layer3"],
                       "image_size": 256},
    "cfa": {"backbone": "resnet18"},
    "uflow": {"backbone": "resnet18", "flow_steps": 2},
    "csflow": {"n_coupling_blocks": 1, "num_channels": 3, "image_size": 256},
    # RAD's and SuperADD's own pre-processors centre-crop to 448 px (padding a small image)
    # k_image = all 8 training images: a random ViT gives every image the same CLS token, so a
    # top-4 retrieval would break exact ties by float noise (batched matmuls differ in the ulp)
    "rad": {"backbone": "vit_small_patch16_dinov3", "layers": [3, 6], "k_image": 8,
            "pre_processor": {"center_crop_size": (64, 64)}},
    # UniNet's bottleneck takes ResNet-50 widths (256 channels at layer1)
    "uninet": {"student_backbone": "resnet50", "teacher_backbone": "resnet50"},
    "anomaly_dino": {"image_size": 56},
    "dinomaly": {"encoder_name": "vit_small_patch14_reg4_dinov2", "image_size": 56,
                 "pre_processor": {"crop_size": 56}},
    "inp_former": {"encoder_name": "vit_small_patch14_reg4_dinov2", "image_size": 56,
                   "pre_processor": {"crop_size": 56}},
    "foundad": {"image_size": 56},
    "l2bt": {"image_size": 56},
    "super_add": {"backbone": "vit_small_patch16_dinov3", "patch_size": 64, "patch_overlap": 16,
                  "pre_processor": {"center_crop_size": (64, 64)}},
    "dsr": {},
    "efficient_ad": {"model_size": "small", "train_batch_size": 1, "image_size": 256},
    # GLASS cannot train with pre_trained=False (anomalib 2.7 bug); with True its pretrained
    # weights are skipped offline all the same (random backbone, frozen as when pretrained)
    "glass": {"backbone": "resnet18", "layers": ["layer2", "layer3"], "pre_trained": True,
              "input_shape": (64, 64)},
}


@dataclass(frozen=True)
class Trained:
    """Files of one tiny training run."""

    model: str
    pt_path: Path
    ckpt_path: Path
    image_size: int
    seconds: float
    notes: list[str] = field(default_factory=list)


class TrainingFailed(RuntimeError):
    """The model cannot be trained offline here (the zoo records why)."""


#: Models whose *training* fetches files (anomalib's ``on_train_start``) and the stand-in the
#: zoo trains them with: the pretrained part keeps its random initialisation, EfficientAD's
#: ImageNette penalty images are the category's own training images.
STAND_INS: dict[str, str] = {
    "dsr": "the VQ model vq_model_pretrained_128_4096.pckl left randomly initialised",
    "efficient_ad": "the pretrained teacher left randomly initialised; ImageNette replaced by "
                    "the training images",
}


@contextlib.contextmanager
def _stand_ins(model: str, kwargs: dict[str, Any], data_root: Path) -> Iterator[None]:
    """Patch out the downloads of :data:`STAND_INS` training (undone on exit)."""
    if model == "dsr":
        from anomalib.models.image.dsr import lightning_model, torch_model

        saved = (lightning_model.Dsr.prepare_pretrained_model,
                 torch_model.DsrModel.load_pretrained_discrete_model_weights)
        lightning_model.Dsr.prepare_pretrained_model = staticmethod(lambda: Path("random"))
        torch_model.DsrModel.load_pretrained_discrete_model_weights = lambda *a, **k: None
        try:
            yield
        finally:
            (lightning_model.Dsr.prepare_pretrained_model,
             torch_model.DsrModel.load_pretrained_discrete_model_weights) = saved
    elif model == "efficient_ad":
        from anomalib.models.image.efficient_ad import lightning_model

        saved_prepare = lightning_model.EfficientAd.prepare_pretrained_model
        lightning_model.EfficientAd.prepare_pretrained_model = lambda self: None
        kwargs["imagenet_dir"] = str(data_root / CATEGORY / "train")  # an ImageFolder: good/
        try:
            yield
        finally:
            lightning_model.EfficientAd.prepare_pretrained_model = saved_prepare
    else:
        yield


def model_class(model: str) -> type:
    import anomalib.models

    from pyimgano.models.anomalib_zoo import ANOMALIB_IMAGE_MODELS

    return getattr(anomalib.models, ANOMALIB_IMAGE_MODELS[model])


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    saved = []
    for name in list(logging.root.manager.loggerDict):
        if name.split(".")[0] in ("lightning", "lightning_fabric", "pytorch_lightning", "anomalib"):
            log = logging.getLogger(name)
            saved.append((log, log.level))
            log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in saved:
            log.setLevel(level)


def generate_data(root: Path) -> Path:
    """A small MVTec-layout category: 8 train, 4 good + 3 defective test images (72 px)."""
    from pyimgano.datasets.synthetic import generate

    generate(root, categories=(CATEGORY,), seed=0, size=DATA_SIZE, n_train=8, n_test_good=4,
             n_test_bad_per_defect=1)
    return root


def train_tiny(model: str, data_root: Path, out: Path, *, stand_ins: bool = True,
               **extra: Any) -> Trained:
    """Train ``model`` for one epoch offline and write ``model.pt`` and ``model.ckpt``.

    With ``stand_ins`` the files a model's training downloads are replaced as
    :data:`STAND_INS` says. Raises :class:`TrainingFailed` (with anomalib's error) when the
    model cannot be trained offline.
    """
    import time

    with _quiet():
        import torch
        from anomalib.data import MVTecAD
        from anomalib.deploy import ExportType
        from anomalib.engine import Engine
        from lightning.pytorch import seed_everything

        from pyimgano.backends.offline import NetworkRequested, offline_construction

    started = time.perf_counter()
    recipe = {**RECIPES.get(model, {}), **extra}
    image_size = int(recipe.pop("image_size", IMAGE_SIZE))
    train_batch_size = int(recipe.pop("train_batch_size", 8))
    pre_processor_kwargs = dict(recipe.pop("pre_processor", {}))
    cls = model_class(model)
    accepted = inspect.signature(cls.__init__).parameters
    target = out / model
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    empty = target / "empty-dtd"
    empty.mkdir()
    kwargs = {k: v for k, v in recipe.items() if k in accepted}
    if "pre_trained" in accepted:
        kwargs.setdefault("pre_trained", False)
    for key in ("dtd_dir", "anomaly_source_path"):
        if key in accepted:
            kwargs[key] = str(empty)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    patched = _stand_ins(model, kwargs, data_root) if stand_ins else contextlib.nullcontext()
    try:
        with _quiet(), offline_construction(), patched:
            seed_everything(0, workers=True, verbose=False)
            if "pre_processor" in accepted:  # VlmAd takes none: it is no trainable network
                kwargs["pre_processor"] = cls.configure_pre_processor(
                    image_size=(image_size, image_size), **pre_processor_kwargs
                )
            module = cls(**kwargs)
            datamodule = MVTecAD(root=data_root, category=CATEGORY,
                                 train_batch_size=train_batch_size,
                                 eval_batch_size=8, num_workers=0, seed=0)
            engine = Engine(default_root_dir=target / "work", logger=False, accelerator="cpu",
                            devices=1, max_epochs=1, enable_progress_bar=False,
                            enable_model_summary=False, num_sanity_val_steps=0)
            engine.fit(model=module, datamodule=datamodule)
            engine.trainer.save_checkpoint(target / "model.ckpt")
            exported = engine.export(model=module, export_type=ExportType.TORCH,
                                     export_root=target / "export", model_file_name="model")
    except NetworkRequested as exc:
        raise TrainingFailed(f"{model}: training asks for a download: {exc.what}") from None
    except Exception as exc:  # noqa: BLE001 - anomalib's own failure, recorded by the zoo
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise TrainingFailed(f"{model}: {type(exc).__name__}: {first}") from exc
    pt_path = target / "model.pt"
    shutil.move(str(exported), pt_path)
    shutil.rmtree(target / "work", ignore_errors=True)
    return Trained(model, pt_path, target / "model.ckpt", image_size,
                   time.perf_counter() - started)


# -- no network ---------------------------------------------------------------------------


class NetworkUsed(AssertionError):
    """A download or connection was attempted inside :func:`network_blocked`."""


@contextlib.contextmanager
def network_blocked(monkeypatch: Any) -> Iterator[list[str]]:
    """Every way to reach the network raises :class:`NetworkUsed` at once (and is recorded).

    Sockets (connect, DNS), ``urllib.request``, ``torch.hub`` downloads, timm's hub helpers and
    ``huggingface_hub``; ``HF_HUB_OFFLINE=1``.
    """
    import importlib

    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def raising(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args[:1]!r}")
            raise NetworkUsed(f"network used: {what}{args[:1]!r}")

        return raising

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    for module_name, attribute in (
        ("urllib.request", "urlopen"),
        ("urllib.request", "urlretrieve"),
        ("torch.hub", "load_state_dict_from_url"),
        ("torch.hub", "download_url_to_file"),
        ("timm.models._hub", "download_cached_file"),
        ("timm.models._hub", "load_state_dict_from_hf"),
        ("huggingface_hub", "hf_hub_download"),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, attribute):
            monkeypatch.setattr(module, attribute, refuse(f"{module_name}.{attribute}"))
    yield attempts


# -- anomalib's own per-image inference (the reference) ----------------------------------


@dataclass(frozen=True)
class Output:
    """One image's outputs as numpy (map squeezed to 2-D, or None)."""

    score: float
    anomaly_map: Any
    label: Any


def _output(batch: Any) -> Output:
    import numpy as np

    def get(key: str) -> Any:
        value = getattr(batch, key, None)
        if value is None and isinstance(batch, dict):
            value = batch.get(key)
        return None if value is None else value.detach().cpu().float().numpy()

    score = get("pred_score")
    amap = get("anomaly_map")
    label = get("pred_label")
    return Output(float(np.asarray(score).reshape(-1)[0]),
                  None if amap is None else np.squeeze(amap),
                  None if label is None else bool(np.asarray(label).reshape(-1)[0]))


def reference_pt(path: Path, images: list[Path], monkeypatch: Any) -> list[Output]:
    """``TorchInferencer(path).predict(image)`` per image (anomalib's own .pt inference)."""
    with _quiet():
        from anomalib.deploy import TorchInferencer

        monkeypatch.setenv("TRUST_REMOTE_CODE", "1")
        inferencer = TorchInferencer(path=path, device="cpu")
        monkeypatch.delenv("TRUST_REMOTE_CODE")
        return [_output(inferencer.predict(image)) for image in images]


def saved_pre_processor(model: str, ckpt_path: Path) -> Any:
    """The pre-processor saved in the .ckpt, rebuilt with anomalib's own API."""
    import torch
    from anomalib.utils.serialization import anomalib_safe_globals

    cls = model_class(model)
    with anomalib_safe_globals(extra=cls.checkpoint_safe_globals()):
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    pre_processor = cls.configure_pre_processor()
    pre_processor.load_checkpoint_config(checkpoint["anomalib_pre_processor_config"])
    return pre_processor


@contextlib.contextmanager
def random_init_downloads() -> Iterator[None]:
    """timm / torchvision pretrained loads skipped (the test's own stub, for the reference)."""
    import timm.models._builder as builder
    import torchvision.models._api as api

    saved_timm = builder.load_pretrained
    saved_tv = api.WeightsEnum.get_state_dict
    import torch

    saved_load = torch.nn.Module.load_state_dict

    class Skip(dict):
        pass

    def load(self: Any, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(state_dict, Skip):
            return None
        return saved_load(self, state_dict, *args, **kwargs)

    builder.load_pretrained = lambda *a, **k: None
    api.WeightsEnum.get_state_dict = lambda *a, **k: Skip()
    torch.nn.Module.load_state_dict = load
    try:
        yield
    finally:
        builder.load_pretrained = saved_timm
        api.WeightsEnum.get_state_dict = saved_tv
        torch.nn.Module.load_state_dict = saved_load


def reference_ckpt(model: str, ckpt_path: Path, images: list[Path], empty_dir: Path,
                   *, with_saved_pre_processor: bool = True) -> list[Output]:
    """``load_from_checkpoint`` + forward per image (anomalib's own .ckpt inference).

    With ``with_saved_pre_processor`` the checkpoint's saved pre-processor is passed to the
    constructor (what the issue found makes anomalib rebuild the model as trained); without it,
    anomalib's plain ``load_from_checkpoint``.
    """
    import torch
    from anomalib.data.utils import read_image

    cls = model_class(model)
    accepted = inspect.signature(cls.__init__).parameters
    overrides: dict[str, Any] = {}
    if "pre_trained" in accepted:
        overrides["pre_trained"] = RECIPES.get(model, {}).get("pre_trained", False)
    for key in ("dtd_dir", "anomaly_source_path"):
        if key in accepted:
            overrides[key] = str(empty_dir)
    if with_saved_pre_processor:
        overrides["pre_processor"] = saved_pre_processor(model, ckpt_path)
    with _quiet(), random_init_downloads():
        module = cls.load_from_checkpoint(ckpt_path, map_location="cpu", **overrides).eval()
    outputs = []
    with torch.inference_mode():
        for image in images:
            outputs.append(_output(module(read_image(image, as_tensor=True).unsqueeze(0))))
    return outputs


def pyimgano_outputs(detector: Any, images: list[Path], batch_size: int) -> list[Output]:
    """pyimgano's predictions in image order (maps as numpy)."""
    import numpy as np

    found: dict[int, Output] = {}
    for batch in detector.predict(images, batch_size=batch_size):
        for index, prediction in zip(batch.indices, batch.predictions, strict=True):
            amap = prediction.anomaly_map
            if amap is not None and hasattr(amap, "detach"):
                amap = amap.detach().cpu().numpy()
            found[index] = Output(float(prediction.score),
                                  None if amap is None else np.asarray(amap),
                                  prediction.pred_label)
    return [found[i] for i in range(len(images))]


def noise_scales(ckpt_path: Path) -> tuple[float, float]:
    """(image, pixel) factors that turn normalised differences into float-noise units.

    Normalised outputs are ``(raw - threshold) / (max - min) + 0.5`` with the post-processor's
    min-max range: a normalised difference times ``max - min`` is the raw difference. A
    random-weight model whose raw scores span 1e-6 (DSR) turns raw float noise into large
    normalised differences, so where the range is below 1 the comparison is in raw units;
    otherwise (or without a min-max normalisation) in normalised units (factor 1).
    """
    import math

    import torch

    state = torch.load(ckpt_path, map_location="cpu", weights_only=False)["state_dict"]

    def scale(low: str, high: str) -> float:
        lo, hi = state.get(f"post_processor.{low}"), state.get(f"post_processor.{high}")
        if lo is None or hi is None:
            return 1.0
        span = float(hi) - float(lo)
        return min(span, 1.0) if math.isfinite(span) and span > 0 else 1.0

    return scale("image_min", "image_max"), scale("pixel_min", "pixel_max")


def max_differences(got: list[Output], want: list[Output]) -> tuple[float, float]:
    """Largest |Δ| over the images of scores and of maps (maps: 0.0 when neither has one)."""
    import numpy as np

    score = max(abs(g.score - w.score) for g, w in zip(got, want, strict=True))
    maps = 0.0
    for g, w in zip(got, want, strict=True):
        assert (g.anomaly_map is None) == (w.anomaly_map is None)
        if g.anomaly_map is not None:
            assert g.anomaly_map.shape == w.anomaly_map.shape
            maps = max(maps, float(np.max(np.abs(g.anomaly_map - w.anomaly_map))))
    return score, maps
