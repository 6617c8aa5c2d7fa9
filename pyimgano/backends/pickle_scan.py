"""What a torch checkpoint's pickle holds, told without executing it.

Before anything is unpickled, the bytes are checked for a torch container (a zip archive, or the
legacy pickle format); the zip's ``data.pkl`` is *parsed* (``pickletools.genops``, which executes
nothing) to tell an exported model from a Lightning checkpoint (:func:`sniff_contents`), so a
file with the wrong extension gets a message with the fix instead of a trust prompt or a
traceback.

Across anomalib releases (docs/UPGRADES.md): the same parse records the *layout* of an anomalib
Lightning checkpoint — anomalib >= 2.7 stores the pre-/post-processor as plain data
(``anomalib_pre_processor_config``), older releases pickle the pre-processor object into
``hyper_parameters`` — and the Lightning version it names (:class:`Contents`).
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from dataclasses import dataclass

from pyimgano.backends.ckpt_files import TORCH_SUFFIXES, CheckpointBytes
from pyimgano.errors import CheckpointError

#: Contents recognised by :func:`sniff_contents`.
EXPORTED_MODEL = "exported_model"
LIGHTNING_CHECKPOINT = "lightning_checkpoint"
UNKNOWN_CONTENTS = "unknown"

#: Layouts of an anomalib Lightning checkpoint (:attr:`Contents.layout`).
#: anomalib >= 2.7: ``anomalib_pre_processor_config`` / ``anomalib_post_processor_config`` /
#: ``anomalib_components_enabled`` entries of plain data; ``hyper_parameters`` hold no modules.
COMPONENT_CONFIG_LAYOUT = "component_config"
#: anomalib < 2.7: ``hyper_parameters`` pickle the ``PreProcessor`` object itself.
PICKLED_COMPONENTS_LAYOUT = "pickled_components"
_COMPONENT_CONFIG_KEYS = frozenset(
    {"anomalib_pre_processor_config", "anomalib_post_processor_config",
     "anomalib_components_enabled"}
)
_PRE_PROCESSOR_MODULE = "anomalib.pre_processing.pre_processor"
_LIGHTNING_VERSION_KEY = "pytorch-lightning_version"
#: A torch zip checkpoint starts with it (:mod:`pyimgano.backends.plain_entries` checks it too).
ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


@dataclass(frozen=True)
class Contents:
    """What a checkpoint's pickle refers to, found without executing it.

    Attributes
    ----------
    kind : str
        :data:`EXPORTED_MODEL`, :data:`LIGHTNING_CHECKPOINT` or :data:`UNKNOWN_CONTENTS`.
    model_class : str or None
        ``"module.Class"`` of the pickled anomalib model of an exported model.
    layout : str or None
        For a Lightning checkpoint: :data:`COMPONENT_CONFIG_LAYOUT` (written by anomalib >= 2.7),
        :data:`PICKLED_COMPONENTS_LAYOUT` (anomalib < 2.7 with a pickled pre-processor), or None.
    lightning_version : str or None
        The ``pytorch-lightning_version`` a Lightning checkpoint records.
    """

    kind: str
    model_class: str | None = None
    layout: str | None = None
    lightning_version: str | None = None

    def describe(self, suffix: str) -> str:
        """The format in words (``Lightning checkpoint (.ckpt) in the anomalib >= 2.7 layout…``)."""
        if suffix in TORCH_SUFFIXES:
            return f"exported torch model ({suffix}, a pickled anomalib module)"
        saved_by = f", Lightning {self.lightning_version}" if self.lightning_version else ""
        text = f"Lightning checkpoint ({suffix}{saved_by})"
        if self.layout == COMPONENT_CONFIG_LAYOUT:
            text += " in the anomalib >= 2.7 layout (pre-/post-processor saved as plain data)"
        elif self.layout == PICKLED_COMPONENTS_LAYOUT:
            text += " in the anomalib < 2.7 layout (pre-processor pickled in hyper_parameters)"
        return text


def zip_pickle(ckpt: CheckpointBytes) -> bytes:
    """The ``data.pkl`` of a torch zip checkpoint; CheckpointError when the archive is broken."""
    try:
        with zipfile.ZipFile(io.BytesIO(ckpt.data)) as archive:
            names = [n for n in archive.namelist() if n.endswith("data.pkl")]
            if not names:
                raise CheckpointError(
                    f"{ckpt.name}: zip archive without data.pkl: not a torch checkpoint"
                )
            return archive.read(min(names, key=len))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"{ckpt.name}: truncated or corrupt checkpoint (the torch zip archive cannot be "
            f"read: {exc}); re-copy or re-export the file"
        ) from None


def sniff_contents(ckpt: CheckpointBytes) -> Contents:
    """Tell an exported model from a Lightning checkpoint without unpickling anything.

    The bytes must be a torch container: a zip archive (torch >= 1.6) or the legacy pickle
    format. The zip's ``data.pkl`` is parsed with :func:`pickletools.genops` (which only reads
    opcodes) for the classes it names and its leading string keys.

    Raises :class:`CheckpointError` for bytes that are neither, or a broken archive.
    """
    data = ckpt.data
    if data.startswith(ZIP_MAGIC):
        pickled = zip_pickle(ckpt)
    elif data.startswith(_EMPTY_ZIP_MAGIC):
        raise CheckpointError(f"{ckpt.name}: empty zip archive: not a torch checkpoint")
    elif data[:1] == b"\x80" and len(data) > 2 and data[1] in range(2, 6):
        return Contents(UNKNOWN_CONTENTS)  # legacy torch.save format: a stream of pickles
    elif data.startswith(b"PK"):
        raise CheckpointError(
            f"{ckpt.name}: truncated or corrupt checkpoint (damaged zip header); re-copy or "
            "re-export the file"
        )
    else:
        raise CheckpointError(
            f"{ckpt.name}: not a torch checkpoint (neither a torch zip archive nor a pickle; "
            f"starts with {data[:8]!r})"
        )
    globals_seen: list[str] = []
    strings: list[str] = []
    component_config = pickled_pre_processor = False
    lightning_version: str | None = None
    after_version_key = False
    try:
        for opcode, arg, _ in pickletools.genops(pickled):
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                globals_seen.append(arg.replace(" ", "."))
                pickled_pre_processor |= arg.startswith(_PRE_PROCESSOR_MODULE + " ")
            elif opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                if len(strings) < 8:
                    strings.append(arg)
                if after_version_key:
                    lightning_version, after_version_key = arg, False
                after_version_key |= arg == _LIGHTNING_VERSION_KEY and lightning_version is None
                component_config |= arg in _COMPONENT_CONFIG_KEYS
                pickled_pre_processor |= arg == _PRE_PROCESSOR_MODULE  # protocol 4 STACK_GLOBAL
    except (ValueError, EOFError) as exc:
        raise CheckpointError(
            f"{ckpt.name}: truncated or corrupt checkpoint (its pickle cannot be parsed: {exc})"
        ) from None
    if _LIGHTNING_VERSION_KEY in strings or ("state_dict" in strings and "epoch" in strings):
        layout = None
        if component_config:
            layout = COMPONENT_CONFIG_LAYOUT
        elif pickled_pre_processor:
            layout = PICKLED_COMPONENTS_LAYOUT
        return Contents(LIGHTNING_CHECKPOINT, layout=layout, lightning_version=lightning_version)
    model_class = next(
        (g for g in globals_seen if g.startswith("anomalib.models.") and ".lightning_model." in g),
        None,
    )
    if strings[:1] == ["model"] and model_class is not None:
        return Contents(EXPORTED_MODEL, model_class=model_class)
    return Contents(UNKNOWN_CONTENTS)


__all__ = [
    "COMPONENT_CONFIG_LAYOUT",
    "EXPORTED_MODEL",
    "LIGHTNING_CHECKPOINT",
    "PICKLED_COMPONENTS_LAYOUT",
    "UNKNOWN_CONTENTS",
    "ZIP_MAGIC",
    "Contents",
    "sniff_contents",
    "zip_pickle",
]
