"""Plain-data entries of a Lightning checkpoint, read by a restricted unpickler that runs nothing.

:func:`read_plain_entries` reads anomalib >= 2.7's ``anomalib_pre_processor_config`` and the
``hyper_parameters`` before the model is built (:mod:`pyimgano.backends.ckpt_rebuild`): every
class or function the pickle names becomes an opaque placeholder and no tensor is loaded.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

from pyimgano.backends.ckpt_files import CheckpointBytes
from pyimgano.backends.pickle_scan import ZIP_MAGIC, zip_pickle
from pyimgano.errors import CheckpointError, first_line


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
    if not ckpt.data.startswith(ZIP_MAGIC):
        return {}
    pickled = zip_pickle(ckpt)
    try:
        top = _PlainUnpickler(io.BytesIO(pickled)).load()
    except Exception as exc:  # noqa: BLE001 - any failure: one line naming the file
        first = first_line(exc, limit=200, empty="")
        raise CheckpointError(
            f"{ckpt.name}: cannot read the entries {', '.join(keys)} of this checkpoint "
            f"({type(exc).__name__}: {first}); its pickle is damaged or uses constructs a "
            "torch checkpoint does not; re-copy or re-save the file"
        ) from None
    if not isinstance(top, dict):
        return {}
    return {key: top[key] for key in keys if key in top and _is_plain(top[key])}


__all__ = ["read_plain_entries"]
