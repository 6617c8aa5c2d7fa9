"""Device strings (docs/REFERENCE.md §7, §8): ``auto``, ``cpu``, ``cuda``, ``cuda:N``.

``auto`` means ``cuda:0`` when CUDA is available, else ``cpu``. An explicit ``cuda``/``cuda:N``
never falls back to the CPU: it is a :class:`~pyimgano.errors.DeviceError` (one line naming the
value) when that device is not there. torch is imported inside the functions only.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from pyimgano.errors import DeviceError

ACCEPTED_FORMS = "auto, cpu, cuda, cuda:N"

_CUDA_INDEX = re.compile(r"^cuda:(\d+)$")
_DEVICE_FORM = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def parse_device(spec: object) -> str:
    """The canonical (stripped, lower-case) form of a device option; no torch, no availability.

    The one place that knows the accepted forms. Raises :class:`DeviceError` naming the value
    for anything but ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
    """
    text = spec.strip().lower() if isinstance(spec, str) else None
    if text is None or not _DEVICE_FORM.match(text):
        raise DeviceError(f"unknown device {spec!r}; expected one of {ACCEPTED_FORMS}")
    return text


def cuda_device_count() -> int:
    """Number of visible CUDA devices; 0 when CUDA or torch is unavailable (no warning)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return 0
    return _cuda_device_count()


def _cuda_device_count() -> int:
    """Number of visible CUDA devices; 0 when CUDA is unavailable (no warning printed)."""
    import torch

    with warnings.catch_warnings():
        # A CUDA build of torch on a machine without a driver warns on is_available().
        warnings.simplefilter("ignore")
        if not torch.cuda.is_available():
            return 0
        return int(torch.cuda.device_count())


def resolve_device(spec: str) -> str:
    """Turn a device option into a concrete torch device string.

    Parameters
    ----------
    spec : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (case and surrounding blanks ignored).

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda:N"``.

    Raises
    ------
    DeviceError
        An unknown form, CUDA asked for but unavailable, or an index beyond the visible GPUs.
    """
    value = parse_device(spec)
    if value == "cpu":
        return "cpu"
    if value == "auto":
        return "cuda:0" if _cuda_device_count() > 0 else "cpu"
    if value == "cuda":
        index = 0
    else:
        match = _CUDA_INDEX.match(value)
        assert match is not None  # parse_device accepted it
        index = int(match.group(1))
    count = _cuda_device_count()
    if count == 0:
        raise DeviceError(
            f"device {spec!r} requested but CUDA is not available on this machine "
            "(use cpu, or auto for CUDA when available; an explicit cuda never falls back)"
        )
    if index >= count:
        plural = "GPU" if count == 1 else "GPUs"
        raise DeviceError(f"{value} requested but only {count} {plural} visible")
    return f"cuda:{index}"


def device_facts(device: str) -> dict[str, Any]:
    """Facts about a resolved device for reports.

    Returns
    -------
    dict
        ``gpu``: the GPU's name on a CUDA device, else None; ``cuda``: torch's CUDA version on a
        CUDA device, else None; ``threads``: ``torch.get_num_threads()``.
    """
    import torch

    gpu = None
    cuda = None
    if device.startswith("cuda"):
        gpu = torch.cuda.get_device_name(torch.device(device))
        cuda = torch.version.cuda
    return {"gpu": gpu, "cuda": cuda, "threads": int(torch.get_num_threads())}


def synchronize(device: str) -> None:
    """Wait for queued work on a CUDA device; no-op on the CPU."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(torch.device(device))
