"""Deprecated: the trainer moved to :mod:`pyimgano.demo.training` (and the exporter to
:mod:`pyimgano.demo.export`); it serves the demo, the tests and the benchmarks, not the library.

Importing this module warns (:class:`DeprecationWarning`) and gives the same objects as before.
"""

from __future__ import annotations

import warnings

from pyimgano.demo.export import (
    EXPORT_KINDS,
    EXPORT_MANIFEST_NAME,
    ExportedArtifact,
    export_checkpoint,
)
from pyimgano.demo.training import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    TrainedCheckpoint,
    train_checkpoint,
)

warnings.warn(
    "pyimgano.training is deprecated: import train_checkpoint / TrainedCheckpoint from "
    "pyimgano.demo.training and export_checkpoint / EXPORT_KINDS / ExportedArtifact from "
    "pyimgano.demo.export",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "EXPORT_KINDS",
    "EXPORT_MANIFEST_NAME",
    "MANIFEST_NAME",
    "MANIFEST_VERSION",
    "ExportedArtifact",
    "TrainedCheckpoint",
    "export_checkpoint",
    "train_checkpoint",
]
