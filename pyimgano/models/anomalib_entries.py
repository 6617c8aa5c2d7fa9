"""Registry entries of the anomalib backend (metadata only; nothing heavy is imported here).

Imported by :mod:`pyimgano.models` when the package loads, so every import of the registry sees
them; the per-model facts (``verified``, ``batch_independent``, ``limitations``) come from the
zoo table :mod:`pyimgano.models.anomalib_zoo`.
"""

from __future__ import annotations

from pyimgano.models.anomalib_zoo import ANOMALIB_IMAGE_MODELS, ANOMALIB_ZOO
from pyimgano.models.formats import SUFFIXES
from pyimgano.models.registry import register_model

#: The backend is chosen by the checkpoint's suffix (``pyimgano.models.formats``): torch for
#: .pt/.pth/.ckpt, onnxruntime for .onnx, openvino for .xml.
ANOMALIB_FACTORY = "pyimgano.models.formats:open_checkpoint"

#: anomalib 2.7 image models -> class name in ``anomalib.models`` (the table lives in
#: :mod:`pyimgano.models.anomalib_zoo`). A test checks it against the installed anomalib.
__all__ = ["ANOMALIB_FACTORY", "ANOMALIB_IMAGE_MODELS"]

register_model(
    "vision_anomalib_checkpoint",
    ANOMALIB_FACTORY,
    tags=("vision", "anomalib", "checkpoint"),
    metadata={"backend": "anomalib", "requires_checkpoint": True,
              "formats": list(SUFFIXES)},
    description=(
        "Any anomalib image model from a checkpoint: exported torch .pt/.pth, Lightning .ckpt "
        "(give anomalib_model for .ckpt), ONNX .onnx or OpenVINO .xml."
    ),
)

for _name, _facts in ANOMALIB_ZOO.items():
    register_model(
        f"vision_{_name}_anomalib",
        ANOMALIB_FACTORY,
        tags=("vision", "anomalib", "checkpoint", _name),
        metadata={
            "backend": "anomalib",
            "requires_checkpoint": True,
            "anomalib_model": _name,
            "anomalib_class": _facts.class_name,
            "formats": list(SUFFIXES),
            "verified": _facts.verified,
            "batch_independent": _facts.batch_independent,
            "limitations": _facts.limitations,
        },
        preset={"anomalib_model": _name},
        description=f"anomalib {_facts.class_name} from an exported .pt, a Lightning .ckpt, or its "
        "ONNX (.onnx) / OpenVINO (.xml) export.",
    )
