"""Checkpoint trust and loading (docs/REFERENCE.md §3, §7 "Checkpoint trust").

The rules, for the CLI and the plugin alike:

- A checkpoint file is read **once**; its sha256 is computed from those bytes, and those same
  bytes are what gets deserialised (``torch.load(io.BytesIO(data))``) — the file is never
  reopened, so what was hashed is what is loaded.
- A pin, when given, is checked first, for every format, before the contents are even looked
  at: a mismatch is refused whatever the format and whatever trust says. Loading safely
  (``weights_only``) never skips a given pin.
- A torch ``.pt``/``.pth`` (anomalib's ``Engine.export(export_type=TORCH)``: a pickled
  ``{"model": AnomalibModule}``) is unpickled only when its sha256 equals the given pin or the
  caller trusts it (``--trust-checkpoint`` / ``--pyimgano-trust-checkpoints``). A pin that does
  not match is refused — also together with trust, since a pin is an explicit statement about
  the file — before any unpickling happens.
- A Lightning ``.ckpt`` is loaded with ``weights_only=True`` (torch's restricted unpickler, which
  only rebuilds tensors, containers and allow-listed types) and needs neither pin nor trust. If it
  cannot be loaded that way (it pickles other objects), the pin/trust rule above applies before
  it is loaded with ``weights_only=False``.
- Tensors are mapped to the target device while loading (``map_location``), so a checkpoint
  saved on a GPU loads on a CPU-only machine.
- pyimgano never reads or sets anomalib's ``TRUST_REMOTE_CODE`` environment switch: it does not
  call anomalib's ``TorchInferencer`` loader but verifies and loads the bytes itself.

Before anything is unpickled, the bytes are checked for a torch container (a zip archive, or the
legacy pickle format); the zip's ``data.pkl`` is *parsed* (``pickletools.genops``, which executes
nothing) to tell an exported model from a Lightning checkpoint, so a file with the wrong
extension gets a message with the fix instead of a trust prompt or a traceback.

Across anomalib releases (docs/UPGRADES.md): the same parse records the *layout* of an anomalib
Lightning checkpoint — anomalib >= 2.7 stores the pre-/post-processor as plain data
(``anomalib_pre_processor_config``), older releases pickle the pre-processor object into
``hyper_parameters`` — and the Lightning version it names. Files written by pyimgano's trainer have
a ``manifest.json`` beside them recording the anomalib release that wrote them
(:func:`written_by`). Load failures caused by code the installed anomalib lacks name the format,
the installed release and, where known, the writing release.

Every failure is a :class:`~pyimgano.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyimgano.digests import SHA256_HEX, bytes_sha256, file_sha256
from pyimgano.errors import CheckpointError, ConfigError

TORCH_SUFFIXES = (".pt", ".pth")
LIGHTNING_SUFFIXES = (".ckpt",)
SUPPORTED_SUFFIXES = TORCH_SUFFIXES + LIGHTNING_SUFFIXES

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

TRUST_HINT = "--trust-checkpoint (CLI) / --pyimgano-trust-checkpoints (pytest)"

#: The file pyimgano's trainer writes beside ``model.pt`` / ``model.ckpt`` (:func:`written_by`);
#: :mod:`pyimgano.training` writes it under this name.
MANIFEST_NAME = "manifest.json"


#: Which file a pin is for -> (command-line flag, suite model-entry key) that pins it.
PIN_OPTIONS = {
    "checkpoint": ("--checkpoint-sha256", "sha256"),
    "reference": ("--reference-sha256", "reference_sha256"),
    "baseline": ("--baseline-sha256", "baseline_sha256"),
}


def pin_hint(sha256: str, role: str = "checkpoint") -> str:
    """How to pin ``sha256``, for the CLI and for a suite; ``role`` is a :data:`PIN_OPTIONS`
    key (the evaluated checkpoint or the parity reference)."""
    flag, key = PIN_OPTIONS[role]
    return f"{flag} {sha256} (CLI) or {key}: {sha256} (suite model entry)"


def verify_pin(
    path: str | os.PathLike[str],
    actual: str,
    pin: str | None,
    *,
    digest: str = "the file's sha256",
    role: str = "checkpoint",
) -> bool:
    """Check a pin against the sha256 ``actual`` of the bytes about to be loaded.

    The one pin rule of every format (``.pt``, ``.ckpt``, ``.onnx``, ``.xml``/``.bin``).

    Parameters
    ----------
    path : path
        The file named in the message.
    actual : str
        Lower-case hex sha256 of what will be loaded (for a multi-file artifact, its combined
        digest, described by ``digest``).
    pin : str or None
        The pin as given (normalised by :func:`normalize_pin`); None: nothing to check.
    digest : str
        What ``actual`` is, in words, for the message.
    role : str
        ``"checkpoint"`` or ``"reference"``: which option the message says to re-pin with.

    Returns
    -------
    bool
        True when a pin was given and matches, False when none was given.

    Raises
    ------
    CheckpointError
        The pin does not match; the message names the file, the actual and the pinned sha256.
    ConfigError
        A malformed pin.
    """
    expected = normalize_pin(pin)
    if expected is None:
        return False
    if expected == actual:
        return True
    raise CheckpointError(
        f"{path}: sha256 mismatch, refusing to load it: {digest} is {actual} but the pin is "
        f"{expected}; if the file changed on purpose, pin it again with {pin_hint(actual, role)}"
    )


#: The pin form (64 lower-case hex digits); the suite parser checks pins with it.
_HEX64 = SHA256_HEX
#: An AttributeError raised while rebuilding a pickled object's state (not a missing class).
_OBJECT_ATTRIBUTE = re.compile(r"^'(\w+)' object has no attribute '(\w+)'")
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


@dataclass(frozen=True)
class CheckpointBytes:
    """A checkpoint file's bytes, read once, with their sha256.

    Attributes
    ----------
    path : Path
    data : bytes
    sha256 : str
        Lower-case hex digest of ``data``.
    """

    path: Path = field()
    data: bytes = field(repr=False)
    sha256: str = field()

    @property
    def name(self) -> str:
        return os.fspath(self.path)

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


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


@dataclass
class LoadedCheckpoint:
    """The result of :func:`load_checkpoint`.

    Attributes
    ----------
    path : Path
    sha256 : str
    payload : Any
        What the loader returned (for an exported model the ``{"model": ...}`` dict; for a
        Lightning checkpoint whatever the ``lightning_loader`` built).
    allowed_by : str
        ``"weights_only"`` (restricted unpickler, no trust needed), ``"pin"`` or ``"trust"``.
    contents : Contents
    written_by : str or None
        The anomalib release that wrote the file, where known (:func:`written_by`).
    """

    path: Path
    sha256: str
    payload: Any
    allowed_by: str
    contents: Contents
    written_by: str | None = None


def normalize_pin(pin: str | None) -> str | None:
    """Return a pin as 64 lower-case hex digits (a ``sha256:`` prefix is accepted).

    Raises :class:`ConfigError` for anything that is not a sha256 hex digest.
    """
    if pin is None:
        return None
    if not isinstance(pin, str):
        raise ConfigError(f"checkpoint sha256 pin {pin!r} is not a string of 64 hex digits")
    value = pin.strip().lower()
    value = value.removeprefix("sha256:")
    if not _HEX64.match(value):
        raise ConfigError(
            f"checkpoint sha256 pin {pin!r} is not a sha256 hex digest (64 hex digits expected)"
        )
    return value


def check_checkpoint_file(path: str | os.PathLike[str]) -> Path:
    """The checks of a torch checkpoint path that need no reading: a file, of a torch format.

    Raises :class:`CheckpointError` for a missing file, a directory, an empty file, a suffix
    no format has (the one message of :func:`pyimgano.backends.formats.format_of`) and a
    suffix of a format that torch does not load (``.onnx``, ``.xml``).
    """
    from pyimgano.backends.formats import format_of

    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path}: is a directory; give the checkpoint file itself (model.pt or model.ckpt)"
        )
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint file not found")
    fmt = format_of(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise CheckpointError(
            f"{path}: {fmt.noun} ({path.suffix}) is run with {fmt.runtime}, not loaded as a "
            "torch checkpoint (.pt/.pth/.ckpt)"
        )
    try:
        empty = path.stat().st_size == 0
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from None
    if empty:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    return path


def check_checkpoint(
    path: str | os.PathLike[str], *, sha256: str | None = None, role: str = "checkpoint"
) -> None:
    """Input checks of a torch checkpoint before anything heavy is imported.

    :func:`check_checkpoint_file`, and with a pin the file's sha256 (streamed, nothing kept)
    against it (:func:`verify_pin`). :func:`load_checkpoint` checks the pin again on the bytes
    it loads.
    """
    path = check_checkpoint_file(path)
    pin = normalize_pin(sha256)
    if pin is None:
        return
    try:
        actual = file_sha256(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from None
    verify_pin(path, actual, pin, role=role)


def read_checkpoint(path: str | os.PathLike[str]) -> CheckpointBytes:
    """Read a checkpoint file's bytes once and hash them.

    Raises :class:`CheckpointError` as :func:`check_checkpoint_file` does, and for an
    unreadable or empty file.
    """
    path = check_checkpoint_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc.strerror or exc}") from None
    if not data:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    return CheckpointBytes(path=path, data=data, sha256=bytes_sha256(data))


def _zip_pickle(ckpt: CheckpointBytes) -> bytes:
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
    if data.startswith(_ZIP_MAGIC):
        pickled = _zip_pickle(ckpt)
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


class _Opaque(dict):
    """Stands for every object a pickle builds in :func:`read_plain_entries` (nothing runs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass


class _PlainUnpickler(pickle.Unpickler):
    """Rebuilds containers and plain values; every class or function becomes :class:`_Opaque`.

    ``find_class`` imports nothing and ``persistent_load`` (tensor storages) returns None, so
    unpickling runs no code of the file and reads no tensor data.
    """

    def find_class(self, module: str, name: str) -> Any:
        return _Opaque

    def persistent_load(self, pid: Any) -> None:
        return None


def _is_plain(value: Any) -> bool:
    if isinstance(value, _Opaque):
        return False
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def read_plain_entries(ckpt: CheckpointBytes, keys: tuple[str, ...]) -> dict[str, Any]:
    """The top-level entries ``keys`` of a Lightning checkpoint that hold only plain data.

    For a torch zip checkpoint the ``data.pkl`` is unpickled by a restricted unpickler that
    imports no class and loads no tensor (each becomes an opaque placeholder), so reading the
    anomalib >= 2.7 ``anomalib_pre_processor_config`` or ``hyper_parameters`` costs a parse of
    the small pickle, not a second load of the weights. An entry that is missing, or that holds
    anything but strings, numbers, booleans, None, lists and str-keyed dicts, is left out.

    Returns
    -------
    dict
        ``{key: value}`` for the plain entries found; ``{}`` for the legacy (non-zip) format
        and for a pickle whose top level is not a mapping.

    Raises
    ------
    CheckpointError
        The pickle cannot be read back even with every object replaced by a placeholder: the
        entries cannot be told, so the model is not built with default ones in their place
        (that would score with a default pre-processor, silently other numbers).
    """
    if not ckpt.data.startswith(_ZIP_MAGIC):
        return {}
    pickled = _zip_pickle(ckpt)
    try:
        top = _PlainUnpickler(io.BytesIO(pickled)).load()
    except Exception as exc:  # noqa: BLE001 - any failure: one line naming the file
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"{ckpt.name}: cannot read the entries {', '.join(keys)} of this checkpoint "
            f"({type(exc).__name__}: {first}); its pickle is damaged or uses constructs a "
            "torch checkpoint does not; re-copy or re-save the file"
        ) from None
    if not isinstance(top, dict):
        return {}
    return {key: top[key] for key in keys if key in top and _is_plain(top[key])}


def written_by(ckpt: CheckpointBytes) -> str | None:
    """The anomalib release that wrote ``ckpt``, from pyimgano's training manifest, or None.

    :func:`pyimgano.training.train_checkpoint` writes ``manifest.json`` beside ``model.pt`` and
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


def check_trust(ckpt: CheckpointBytes, *, sha256: str | None, trust: bool, why: str) -> str:
    """Apply the pin/trust rule before unpickling; return ``"pin"`` or ``"trust"``.

    ``why`` says why unpickling is needed (it goes into the refusal message).

    Raises :class:`CheckpointError` when the pin does not match (whatever ``trust`` says) or when
    there is neither a pin nor trust.
    """
    if verify_pin(ckpt.name, ckpt.sha256, sha256):
        return "pin"
    if trust:
        return "trust"
    raise CheckpointError(
        f"{ckpt.name}: refusing to unpickle an untrusted checkpoint ({why}; unpickling can run "
        f"arbitrary code); pin it with {pin_hint(ckpt.sha256)}, or pass {TRUST_HINT}"
    )


def _describe_load_error(
    ckpt: CheckpointBytes, exc: BaseException, contents: Contents | None = None
) -> CheckpointError:
    """A one-line CheckpointError for an exception raised while deserialising ``ckpt``."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if isinstance(exc, ModuleNotFoundError | AttributeError | ImportError):
        installed = installed_anomalib()
        writer = written_by(ckpt)
        fix = (
            "re-export it (Engine.export(export_type=TORCH)) under the installed release"
            if ckpt.suffix in TORCH_SUFFIXES
            else "retrain or re-save it under the installed release"
        )
        kind = (contents or Contents(UNKNOWN_CONTENTS)).describe(ckpt.suffix)
        cause = (
            f"cannot load this {kind} with the installed {installed}: the checkpoint refers to "
            f"code that cannot be imported ({type(exc).__name__}: {first})"
        )
        missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
        if missing and missing.split(".")[0] not in ("anomalib", "torch", "lightning", "pyimgano"):
            return CheckpointError(
                f"{ckpt.name}: loading this {kind} needs the Python package "
                f"{missing.split('.')[0]!r}, which is not installed ({type(exc).__name__}: "
                f"{first}): install it beside {installed}"
            )
        state = _OBJECT_ATTRIBUTE.match(first) if isinstance(exc, AttributeError) else None
        if state is not None:
            other = (
                "the Lightning .ckpt of the same training run"
                if ckpt.suffix in TORCH_SUFFIXES
                else "the exported model (.pt) of the same training run"
            )
            origin = (
                f"; {writer} wrote it (manifest.json)"
                if writer and writer != installed
                else " (the installed release wrote it, manifest.json)"
                if writer
                else ""
            )
            return CheckpointError(
                f"{ckpt.name}: cannot unpickle this {kind} with the installed {installed}: "
                f"rebuilding a pickled {state.group(1)} object failed ({type(exc).__name__}: "
                f"{first}): the file refers to an attribute {state.group(2)!r} that the "
                f"installed class does not have{origin}; evaluate {other} instead"
            )
        if writer == installed:
            other = (
                "the Lightning .ckpt of the same training run"
                if ckpt.suffix in TORCH_SUFFIXES
                else "the exported model (.pt) of the same training run"
            )
            return CheckpointError(
                f"{ckpt.name}: {cause}, although the installed release wrote it "
                "(manifest.json): not a version mismatch, this anomalib cannot read back what it "
                f"saved for this model (an anomalib bug); evaluate {other} instead"
            )
        if writer:
            return CheckpointError(
                f"{ckpt.name}: {cause}; it was saved with another anomalib version (it was "
                f"written by {writer} (manifest.json)): evaluate it under {writer}, or {fix}"
            )
        return CheckpointError(
            f"{ckpt.name}: {cause}; the file does not record which release wrote it: if another "
            f"anomalib version saved it, evaluate it under that release, or {fix}"
        )
    if isinstance(exc, EOFError) or "zip archive" in first or "PytorchStreamReader" in first:
        return CheckpointError(
            f"{ckpt.name}: truncated or corrupt checkpoint ({type(exc).__name__}: {first}); "
            "re-copy or re-export the file"
        )
    return CheckpointError(f"{ckpt.name}: cannot load checkpoint ({type(exc).__name__}: {first})")


def _unsupported_global(exc: BaseException) -> str:
    """The 'Unsupported global: GLOBAL x.y' phrase of a weights_only failure, if any."""
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
    return f"it pickles {match.group(1)}" if match else "it pickles objects other than tensors"


def _torch_load(map_location: str) -> Callable[[io.BytesIO, bool], Any]:
    def load(stream: io.BytesIO, weights_only: bool) -> Any:
        import torch

        return torch.load(stream, map_location=map_location, weights_only=weights_only)

    return load


def load_checkpoint(
    path: str | os.PathLike[str] | CheckpointBytes,
    *,
    map_location: str = "cpu",
    sha256: str | None = None,
    trust: bool = False,
    lightning_loader: Callable[[io.BytesIO, bool], Any] | None = None,
    check_contents: Callable[[CheckpointBytes, Contents], None] | None = None,
) -> LoadedCheckpoint:
    """Read, verify and deserialise a checkpoint per the trust rules of this module.

    Parameters
    ----------
    path : path or CheckpointBytes
        ``.pt``/``.pth`` (exported torch model) or ``.ckpt`` (Lightning checkpoint), or its
        bytes already read by :func:`read_checkpoint` (the bytes that were hashed are loaded).
    map_location : str, default "cpu"
        Device the tensors are loaded onto.
    sha256 : str, optional
        Pin: the expected hex sha256 of the file. Checked first, for both formats, before the
        contents are looked at (a ``.ckpt`` that loads ``weights_only`` is still refused when it
        does not match).
    trust : bool, default False
        Allow unpickling without a pin.
    lightning_loader : callable, optional
        ``loader(stream, weights_only)`` used for ``.ckpt`` files (the anomalib backend passes
        the model class's ``load_from_checkpoint``); defaults to ``torch.load``.
    check_contents : callable, optional
        ``check(ckpt, contents)``, called after the file is read and its contents told, before
        anything is unpickled; it raises :class:`CheckpointError` to refuse the file (the anomalib
        backend refuses a checkpoint layout the installed release would misread).

    Returns
    -------
    LoadedCheckpoint

    Raises
    ------
    CheckpointError
        Missing/unreadable/corrupt file, wrong extension for its contents, untrusted or
        mismatching pin, or a load failure; the message names the file.
    ConfigError
        A malformed pin.
    """
    ckpt = path if isinstance(path, CheckpointBytes) else read_checkpoint(path)
    verify_pin(ckpt.name, ckpt.sha256, sha256)  # every format, before anything else
    contents = sniff_contents(ckpt)
    writer = written_by(ckpt)

    if ckpt.suffix in TORCH_SUFFIXES:
        if contents.kind == LIGHTNING_CHECKPOINT:
            raise CheckpointError(
                f"{ckpt.name}: this is a Lightning checkpoint (it holds state_dict and "
                "pytorch-lightning_version), not an exported torch model: rename it to .ckpt and "
                "give anomalib_model (or use a vision_<name>_anomalib model)"
            )
        if check_contents is not None:
            check_contents(ckpt, contents)
        allowed_by = check_trust(
            ckpt, sha256=sha256, trust=trust, why="a .pt/.pth is a pickled Python object"
        )
        try:
            payload = _torch_load(map_location)(io.BytesIO(ckpt.data), False)
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear line
            raise _describe_load_error(ckpt, exc, contents) from None
        return LoadedCheckpoint(ckpt.path, ckpt.sha256, payload, allowed_by, contents, writer)

    # .ckpt
    if contents.kind == EXPORTED_MODEL:
        raise CheckpointError(
            f"{ckpt.name}: this is an exported torch model (Engine.export(export_type=TORCH) of "
            f"{contents.model_class}), not a Lightning checkpoint: rename it to .pt"
        )
    if check_contents is not None:
        check_contents(ckpt, contents)
    loader = lightning_loader or _torch_load(map_location)
    try:
        payload = loader(io.BytesIO(ckpt.data), True)
        return LoadedCheckpoint(ckpt.path, ckpt.sha256, payload, "weights_only", contents, writer)
    except CheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():
            raise _describe_load_error(ckpt, exc, contents) from None
        why = f"it cannot be loaded with weights_only=True: {_unsupported_global(exc)}"
        if contents.layout == PICKLED_COMPONENTS_LAYOUT:
            why += (
                "; it is a Lightning checkpoint in the anomalib < 2.7 layout, whose "
                "hyper_parameters pickle the pre-processor object"
            )
    except Exception as exc:  # noqa: BLE001
        raise _describe_load_error(ckpt, exc, contents) from None
    allowed_by = check_trust(ckpt, sha256=sha256, trust=trust, why=why)
    try:
        payload = loader(io.BytesIO(ckpt.data), False)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _describe_load_error(ckpt, exc, contents) from None
    return LoadedCheckpoint(ckpt.path, ckpt.sha256, payload, allowed_by, contents, writer)


__all__ = [
    "COMPONENT_CONFIG_LAYOUT",
    "EXPORTED_MODEL",
    "LIGHTNING_CHECKPOINT",
    "MANIFEST_NAME",
    "PICKLED_COMPONENTS_LAYOUT",
    "PIN_OPTIONS",
    "SUPPORTED_SUFFIXES",
    "CheckpointBytes",
    "Contents",
    "LoadedCheckpoint",
    "check_checkpoint",
    "check_checkpoint_file",
    "check_trust",
    "installed_anomalib",
    "load_checkpoint",
    "normalize_pin",
    "pin_hint",
    "read_checkpoint",
    "read_plain_entries",
    "sniff_contents",
    "verify_pin",
    "written_by",
]
