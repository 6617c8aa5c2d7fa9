"""Registry entries of the anomalib backend (metadata only; nothing heavy is imported here)."""

from __future__ import annotations

from pyimgano.models.registry import register_model

ANOMALIB_FACTORY = "pyimgano.backends.anomalib:VisionAnomalibCheckpoint"

#: anomalib 2.7 image models (the modules of ``anomalib.models.image``) -> class name in
#: ``anomalib.models``. A test checks this table against the installed anomalib.
ANOMALIB_IMAGE_MODELS: dict[str, str] = {
    "anomaly_dino": "AnomalyDINO",
    "anomalyvfm": "AnomalyVFM",
    "cfa": "Cfa",
    "cflow": "Cflow",
    "cfm": "CFM",
    "csflow": "Csflow",
    "dfkde": "Dfkde",
    "dfm": "Dfm",
    "dinomaly": "Dinomaly",
    "draem": "Draem",
    "dsr": "Dsr",
    "efficient_ad": "EfficientAd",
    "fastflow": "Fastflow",
    "foundad": "FoundAD",
    "fre": "Fre",
    "ganomaly": "Ganomaly",
    "general_ad": "GeneralAD",
    "glass": "Glass",
    "inp_former": "InpFormer",
    "l2bt": "L2BT",
    "mh_patchcore": "MHPatchcore",
    "padim": "Padim",
    "patchcore": "Patchcore",
    "patchflow": "Patchflow",
    "rad": "Rad",
    "reverse_distillation": "ReverseDistillation",
    "stfpm": "Stfpm",
    "super_add": "SuperADD",
    "supersimplenet": "Supersimplenet",
    "uflow": "Uflow",
    "uninet": "UniNet",
    "vlm_ad": "VlmAd",
    "winclip": "WinClip",
}

register_model(
    "vision_anomalib_checkpoint",
    ANOMALIB_FACTORY,
    tags=("vision", "anomalib", "checkpoint"),
    metadata={"backend": "anomalib", "requires_checkpoint": True},
    description=(
        "Any anomalib image model from a checkpoint: exported torch .pt/.pth, or Lightning .ckpt "
        "(give anomalib_model for .ckpt)."
    ),
)

for _name, _class_name in ANOMALIB_IMAGE_MODELS.items():
    register_model(
        f"vision_{_name}_anomalib",
        ANOMALIB_FACTORY,
        tags=("vision", "anomalib", "checkpoint", _name),
        metadata={
            "backend": "anomalib",
            "requires_checkpoint": True,
            "anomalib_model": _name,
            "anomalib_class": _class_name,
        },
        preset={"anomalib_model": _name},
        description=f"anomalib {_class_name} from an exported .pt or a Lightning .ckpt.",
    )
