"""Which anomalib release wrote a checkpoint, which one is installed, and whether it can read it.

Files written by pyimgano's trainer (:mod:`pyimgano.demo.training`) have a ``manifest.json``
beside them recording the anomalib release that wrote them (:func:`written_by`). Load failures
caused by code the installed anomalib lacks name the installed release and, where known, the
writing release (:mod:`pyimgano.backends.load_errors`); a ``.ckpt`` in the anomalib >= 2.7 layout
is refused under an older anomalib before anything is unpickled (:func:`check_release`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyimgano.backends.ckpt_files import CheckpointBytes
from pyimgano.backends.pickle_scan import COMPONENT_CONFIG_LAYOUT
from pyimgano.errors import CheckpointError

#: The file pyimgano's trainer writes beside ``model.pt`` / ``model.ckpt`` (:func:`written_by`);
#: :mod:`pyimgano.demo.training` writes it under this name.
MANIFEST_NAME = "manifest.json"


def written_by(ckpt: CheckpointBytes) -> str | None:
    """The anomalib release that wrote ``ckpt``, from pyimgano's training manifest, or None.

    :func:`pyimgano.demo.training.train_checkpoint` writes ``manifest.json`` beside ``model.pt`` and
    ``model.ckpt``, with both files' sha256 and the anomalib version it trained with. The manifest
    counts only when it names this file's sha256 (a copied or replaced file is not misattributed).
    Checkpoints from elsewhere have no manifest; their release is not recorded in the file.
    """
    try:
        manifest = json.loads((ckpt.path.parent / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    if ckpt.sha256 not in (manifest.get("pt_sha256"), manifest.get("ckpt_sha256")):
        return None
    versions = manifest.get("written_with")
    version = versions.get("anomalib") if isinstance(versions, dict) else None
    return f"anomalib {version}" if isinstance(version, str) and version else None


def installed_anomalib() -> str:
    """``anomalib X.Y.Z`` of the anomalib this process imports (read without importing it)."""
    from pyimgano.environment import package_version

    version = package_version("anomalib")
    return f"anomalib {version}" if version else "no anomalib installed"


@contextmanager
def quiet_imports() -> Iterator[None]:
    """Hide the Future/Deprecation warnings anomalib's imports print (timm, dinov2 shims)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def restores_component_config() -> bool:
    """Whether the installed anomalib reads the plain-data component config of a >= 2.7 .ckpt."""
    with quiet_imports():
        from anomalib.pre_processing import PreProcessor
    return callable(getattr(PreProcessor, "load_checkpoint_config", None))


def check_release(ckpt: CheckpointBytes, contents: Any) -> None:
    """Refuse a Lightning checkpoint whose layout the installed anomalib would misread.

    anomalib 2.7 saves the pre-/post-processor as plain data (``anomalib_pre_processor_config``
    …) instead of pickling them into ``hyper_parameters``. An older anomalib loads such a file
    without complaint but ignores those entries: it rebuilds a *default* pre-processor (resize
    and normalisation) and default post-processor switches. PaDiM then fails in its first forward
    pass (a shape mismatch) and PatchCore scores images at the wrong size — both far from the
    load. Called by :func:`~pyimgano.backends.checkpoint.load_checkpoint` before unpickling.
    """
    if contents.layout != COMPONENT_CONFIG_LAYOUT or restores_component_config():
        return
    writer = written_by(ckpt) or "anomalib >= 2.7"
    installed = installed_anomalib()
    raise CheckpointError(
        f"{ckpt.name}: this {contents.describe(ckpt.suffix)} was written by {writer}, and "
        f"the installed {installed} cannot read that layout (it would ignore the saved "
        "anomalib_pre_processor_config / anomalib_post_processor_config and rebuild default ones, "
        "so the scores would not be the trained model's): evaluate the exported model (.pt) of "
        f"the same training run under {installed}, or this .ckpt under anomalib >= 2.7"
    )


__all__ = [
    "MANIFEST_NAME",
    "check_release",
    "installed_anomalib",
    "quiet_imports",
    "restores_component_config",
    "written_by",
]
