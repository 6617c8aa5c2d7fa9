"""What is known about each anomalib 2.7 image model (docs/REFERENCE.md §3; docs/MODELS.md).

One row per model of ``anomalib.models.image``: its class name in ``anomalib.models``, whether
pyimgano's zoo test verified it (which checkpoint formats scored exactly as anomalib's own
per-image inference), whether its forward pass is batch-independent, and the known limitations
a user would otherwise discover through a traceback.

The facts are established by ``tests/zoo/`` (``PYIMGANO_ZOO=1 pytest tests/zoo -m zoo``): each
model that anomalib can build offline is trained tiny (1 epoch, 56-256 px inputs, randomly
initialised backbones; files that DSR's and EfficientAD's training downloads replaced by
stand-ins), its exported ``.pt`` and its ``.ckpt`` are evaluated through pyimgano against
``TorchInferencer`` / ``load_from_checkpoint`` + forward one image at a time, and the model is
run at batch 1 and at batch 4 to tell batch independence; the test asserts every row.

This module is a leaf: it imports nothing from pyimgano, torch or anomalib.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Formats the zoo test evaluates against anomalib's own per-image inference.
ZOO_FORMATS = (".pt", ".ckpt")

# Limitations, in the words the registry and ``--list-models`` show.
NO_MAP = "no anomaly map: pixel metrics are null with that reason"
BATCH_DEPENDENT_MAP = (
    "batch-dependent forward (the anomaly map is normalised by the batch maximum): evaluated "
    "one image at a time"
)
NEEDS_DOWNLOAD_TO_TRAIN = "training downloads files (anomalib fetches them in on_train_start)"
PT_UNPICKLABLE = (
    "anomalib 2.7 bug: its exported .pt cannot be unpickled (evaluate the .ckpt of the same run)"
)


@dataclass(frozen=True)
class ModelFacts:
    """The zoo's record of one anomalib image model.

    Attributes
    ----------
    class_name : str
        The class in ``anomalib.models`` (``"Patchcore"``).
    verified : tuple of str
        Checkpoint formats (of :data:`ZOO_FORMATS`) the zoo test found to score exactly as
        anomalib's own per-image inference; empty when the model is not verified.
    batch_independent : bool or None
        Whether an image's scores and map do not depend on the other images of its batch;
        None where the zoo could not run the model (unknown).
    limitations : tuple of str
        Known limits (downloads, extra packages, anomalib bugs, data it needs).
    """

    class_name: str
    verified: tuple[str, ...] = ()
    batch_independent: bool | None = None
    limitations: tuple[str, ...] = ()


_BOTH = ZOO_FORMATS

#: anomalib 2.7 image models (the modules of ``anomalib.models.image``), by snake-case name.
ANOMALIB_ZOO: dict[str, ModelFacts] = {
    "anomaly_dino": ModelFacts("AnomalyDINO", verified=_BOTH, batch_independent=True,
                               limitations=(
        "constructor downloads DINOv2 weights (timm); pyimgano builds a .ckpt offline",
    )),
    "anomalyvfm": ModelFacts("AnomalyVFM", limitations=(
        "constructor downloads MaticFuc/anomalyvfm_radio model.safetensors from the Hugging "
        "Face hub: cannot be built offline",
    )),
    "cfa": ModelFacts("Cfa", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads torchvision weights; pyimgano builds a .ckpt offline",
    )),
    "cflow": ModelFacts("Cflow", verified=_BOTH, batch_independent=False,
                        limitations=(BATCH_DEPENDENT_MAP,)),
    "cfm": ModelFacts("CFM", limitations=(
        "needs 3-D (depth / point cloud) data and downloads Point-MAE weights "
        "(pointmae_pretrain.pth): not an image-only model",
    )),
    "csflow": ModelFacts("Csflow", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads EfficientNet-B5 weights (torchvision); pyimgano builds a .ckpt "
        "offline",
    )),
    "dfkde": ModelFacts("Dfkde", verified=_BOTH, batch_independent=True, limitations=(NO_MAP,)),
    "dfm": ModelFacts("Dfm", verified=_BOTH, batch_independent=True),
    "dinomaly": ModelFacts("Dinomaly", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads DINOv2 weights (timm); pyimgano builds a .ckpt offline",
    )),
    "draem": ModelFacts("Draem", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads the DTD texture dataset unless dtd_dir exists (training "
        "augmentation only); pyimgano builds a .ckpt offline",
    )),
    "dsr": ModelFacts("Dsr", verified=_BOTH, batch_independent=False, limitations=(
        "batch-dependent numbers (the zoo's model: batched anomaly maps differ from per-image "
        "ones by up to 1.4e-4, far above float rounding): evaluated one image at a time",
        NEEDS_DOWNLOAD_TO_TRAIN + ": the pretrained VQ model vq_model_pretrained_128_4096.pckl; "
        "its .pt and .ckpt load offline",
    )),
    "efficient_ad": ModelFacts("EfficientAd", verified=_BOTH, batch_independent=True,
                               limitations=(
        NEEDS_DOWNLOAD_TO_TRAIN + ": the pretrained teacher and the Imagenette dataset; its .pt "
        "and .ckpt load offline",
    )),
    "fastflow": ModelFacts("Fastflow", verified=_BOTH, batch_independent=True),
    "foundad": ModelFacts("FoundAD", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads DINOv2 weights (timm); pyimgano builds a .ckpt offline",
    )),
    "fre": ModelFacts("Fre", verified=_BOTH, batch_independent=True),
    "ganomaly": ModelFacts("Ganomaly", verified=_BOTH, batch_independent=True,
                           limitations=(NO_MAP,)),
    "general_ad": ModelFacts("GeneralAD", verified=(".ckpt",), batch_independent=True,
                             limitations=(PT_UNPICKLABLE,)),
    "glass": ModelFacts("Glass", verified=_BOTH, batch_independent=True, limitations=(
        "anomalib bug: fails to train with pre_trained=False (AttributeError: 'str' object has "
        "no attribute 'parameters')",
        "constructor downloads the DTD texture dataset unless anomaly_source_path exists, and "
        "ImageNet weights (timm); pyimgano builds a .ckpt offline",
    )),
    "inp_former": ModelFacts("InpFormer", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads DINOv2 weights (timm); pyimgano builds a .ckpt offline",
    )),
    "l2bt": ModelFacts("L2BT", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads ViT weights (timm); pyimgano builds a .ckpt offline",
    )),
    "mh_patchcore": ModelFacts("MHPatchcore", verified=_BOTH, batch_independent=True,
                               limitations=(
        "input size at least 224x224 (fixed 224 center crop)",
    )),
    "padim": ModelFacts("Padim", verified=_BOTH, batch_independent=True),
    "patchcore": ModelFacts("Patchcore", verified=_BOTH, batch_independent=True),
    "patchflow": ModelFacts("Patchflow", verified=_BOTH, batch_independent=True),
    "rad": ModelFacts("Rad", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads DINOv3 weights (timm); pyimgano builds a .ckpt offline",
    )),
    "reverse_distillation": ModelFacts("ReverseDistillation", verified=_BOTH,
                                       batch_independent=True),
    "stfpm": ModelFacts("Stfpm", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads ImageNet weights (timm); pyimgano builds a .ckpt offline",
    )),
    "super_add": ModelFacts("SuperADD", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads DINOv3 weights (timm; the default vit_huge_plus is ~840M "
        "parameters); pyimgano builds a .ckpt offline",
    )),
    "supersimplenet": ModelFacts("Supersimplenet", verified=_BOTH, batch_independent=True,
                                 limitations=(
        "constructor downloads ImageNet weights (timm); pyimgano builds a .ckpt offline",
    )),
    "uflow": ModelFacts("Uflow", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads CaiT weights (timm); pyimgano builds a .ckpt offline",
    )),
    "uninet": ModelFacts("UniNet", verified=_BOTH, batch_independent=True, limitations=(
        "constructor downloads torchvision weights; pyimgano builds a .ckpt offline",
    )),
    "vlm_ad": ModelFacts("VlmAd", limitations=(
        "needs a vision-language model backend (extra packages, a model service or an API "
        "key): not a checkpoint model",
    )),
    "winclip": ModelFacts("WinClip", limitations=(
        "needs the open_clip package (extra) and downloads CLIP weights",
    )),
}

#: anomalib snake-case model name -> class name in ``anomalib.models``.
ANOMALIB_IMAGE_MODELS: dict[str, str] = {
    name: facts.class_name for name, facts in ANOMALIB_ZOO.items()
}


def model_facts(anomalib_model: str | None) -> ModelFacts | None:
    """The zoo's row of ``anomalib_model`` (``"cflow"``), or None for an unknown name."""
    return ANOMALIB_ZOO.get(anomalib_model) if anomalib_model else None


def anomalib_name(class_name: str) -> str | None:
    """The snake-case model name of an anomalib class name (``"Padim"`` -> ``"padim"``)."""
    return next((k for k, v in ANOMALIB_ZOO.items() if v.class_name == class_name), None)


__all__ = [
    "ANOMALIB_IMAGE_MODELS",
    "ANOMALIB_ZOO",
    "ZOO_FORMATS",
    "ModelFacts",
    "anomalib_name",
    "model_facts",
]
