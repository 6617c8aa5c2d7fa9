"""What an item costs (docs/REFERENCE.md §6 ``resources``): peak memory, parameters, FLOPs.

- ``peak_rss_mb``: the process's peak resident memory during the item, in MiB (2**20 bytes).
  Linux keeps that peak as ``VmHWM`` in ``/proc/self/status`` and resets it to the current
  resident size when ``5`` is written to ``/proc/self/clear_refs``: :meth:`PeakMemory.start`
  resets it, :meth:`PeakMemory.host_mb` reads it, so each item gets its own peak. Where the
  reset is not possible, ``resource.getrusage`` ``ru_maxrss`` is read instead: the peak of
  the whole process so far (earlier items included; it never goes down), said in a note.
- ``peak_device_mb``: torch's CUDA allocator peak (``torch.cuda.max_memory_allocated``) since
  the start, in MiB, when a torch model ran on a CUDA device; null with a reason otherwise.
- ``params``: ``sum(p.numel() for p in module.parameters())`` of a torch model (buffers such as
  PatchCore's memory bank or PaDiM's Gaussian statistics are not parameters).
- ``flops_per_image``: the FLOPs of one forward pass of one image of the first test image's
  size, counted by torch's own ``torch.utils.flop_counter.FlopCounterMode`` (operators that
  counter does not know, such as a nearest-neighbour search's sort, count zero). One extra
  forward pass of a zero image, after the timed inference: never part of ``timing``, and no
  test image is decoded or inferred twice. The count is kept per module and input shape, so a
  module evaluated again is not run again for it.

ONNX and OpenVINO graphs have neither count (null with a reason). Every null has its reason in
``resources.notes``; so has a value read from ``ru_maxrss``.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyimgano.errors import first_line

#: Bytes per MiB: every ``*_mb`` value of a report.
MIB = 1024 * 1024
#: The keys of a report's ``resources`` object besides ``notes``.
RESOURCE_KEYS = ("peak_rss_mb", "peak_device_mb", "params", "flops_per_image")

_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"
_RESET_PEAK = "5"  # proc(5): "5" resets the peak resident set size ("high water mark")


def unmeasured(reason: str) -> dict[str, Any]:
    """A ``resources`` object with every value null for ``reason``."""
    return {**dict.fromkeys(RESOURCE_KEYS), "notes": dict.fromkeys(RESOURCE_KEYS, reason)}


def _read_vmhwm_kib(status: str = _STATUS) -> int | None:
    try:
        with open(status, encoding="ascii") as stream:
            for line in stream:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])  # "VmHWM:   416488 kB"
    except (OSError, ValueError, IndexError):
        return None
    return None


def _ru_maxrss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MIB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, else KiB


@dataclass
class PeakMemory:
    """Peak host and CUDA memory from :meth:`start` on (see the module docstring).

    ``host_source`` is ``"vmhwm"`` (this item's own peak) or ``"ru_maxrss"`` (the process's
    peak so far), or ``None`` where neither can be read.
    """

    host_source: str | None
    host_note: str | None = None
    cuda_reset: tuple[int, ...] = field(default=())

    @classmethod
    def start(cls) -> PeakMemory:
        """Reset the peaks that can be reset and start counting."""
        source, note = None, None
        try:
            with open(_CLEAR_REFS, "w", encoding="ascii") as stream:
                stream.write(_RESET_PEAK)
            if _read_vmhwm_kib() is not None:
                source = "vmhwm"
        except OSError as exc:
            note = f"{_CLEAR_REFS} cannot be written ({exc.strerror or exc})"
        if source is None:
            if _ru_maxrss_mb() is not None:
                source = "ru_maxrss"
                note = (
                    f"the process's peak since it started (ru_maxrss), earlier items of this "
                    f"process included: {note or 'VmHWM cannot be read'}"
                )
            else:
                note = "this platform offers no peak memory counter (no VmHWM, no ru_maxrss)"
        return cls(source, note, _reset_cuda_peaks())

    def host_mb(self) -> tuple[float | None, str | None]:
        """``(peak MiB, note)``; the note says how a value was read or why there is none."""
        if self.host_source == "vmhwm":
            kib = _read_vmhwm_kib()
            if kib is not None:
                return kib / 1024, None
            return _ru_maxrss_mb(), "VmHWM could not be read back: ru_maxrss used instead"
        if self.host_source == "ru_maxrss":
            return _ru_maxrss_mb(), self.host_note
        return None, self.host_note

    def device_mb(
        self, device: str | None, runtime: str | None
    ) -> tuple[float | None, str | None]:
        """Peak CUDA memory of torch's allocator on ``device``; ``(None, reason)`` elsewhere."""
        if device is None:
            return None, "the model does not say which device it ran on"
        if not str(device).startswith("cuda"):
            return None, f"the model ran on {device}: no device memory"
        if runtime != "torch":
            return None, (
                f"{runtime or 'this runtime'} allocates device memory outside torch's "
                "allocator, which is the only one measured"
            )
        torch = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_initialized():
            return None, "torch's CUDA allocator was not used"
        index = torch.device(device).index
        index = torch.cuda.current_device() if index is None else index
        return torch.cuda.max_memory_allocated(index) / MIB, None


def _reset_cuda_peaks() -> tuple[int, ...]:
    """Reset the allocator peaks of every CUDA device torch has initialised (none: nothing to
    reset, the counters start at zero when CUDA initialises)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return ()
    devices = tuple(range(torch.cuda.device_count()))
    for index in devices:
        torch.cuda.reset_peak_memory_stats(index)
    return devices


def _torch_module(model: Any) -> Any | None:
    """The model's loaded ``torch.nn.Module`` (``model.module``), or None."""
    torch = sys.modules.get("torch")
    module = getattr(model, "module", None)
    if torch is None or not isinstance(module, torch.nn.Module):
        return None
    return module


def _no_module_reason(runtime: str | None) -> str:
    if runtime in ("onnxruntime", "openvino"):
        return (
            f"an {runtime} graph: parameters and FLOPs are counted on torch models only"
        )
    return "no torch module to count (the model is not a loaded torch checkpoint)"


def count_parameters(module: Any) -> int:
    """The number of parameters of a torch module (buffers excluded)."""
    return int(sum(p.numel() for p in module.parameters()))


def count_flops(model: Any, module: Any, image_path: Path) -> int:
    """FLOPs of one forward pass of one image of ``image_path``'s size through ``module`` on
    ``model.device``, counted by ``FlopCounterMode``.

    The counter counts by tensor shapes, so the image is not decoded again: a zero image of
    its size (read from the file's header), with ``model.prepare_image`` applied, is fed.
    """
    import numpy as np
    import torch
    from PIL import Image
    from torch.utils.flop_counter import FlopCounterMode

    with Image.open(image_path) as header:
        width, height = header.size
    image = model.prepare_image(np.zeros((3, height, width), dtype=np.float32))
    device = str(getattr(model, "device", None) or "cpu")
    known = _FLOPS.setdefault(module, {})
    key = (tuple(image.shape), device)
    if key not in known:
        batch = torch.from_numpy(np.ascontiguousarray(image)[None]).to(device)
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            module(batch)
        known[key] = int(counter.get_total_flops())
    return known[key]


#: module -> {(input shape, device): FLOPs}: the count depends on the module's structure and the
#: input shape only, so a module evaluated again (benchmark rounds) is not run a second time.
#: Weak keys: an entry goes with its module.
_FLOPS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], int]] = weakref.WeakKeyDictionary()


def model_counts(
    model: Any, runtime: str | None, image_paths: Sequence[Path]
) -> tuple[dict[str, int | None], dict[str, str]]:
    """``({params, flops_per_image}, notes)`` of ``model`` (see the module docstring)."""
    module = _torch_module(model)
    if module is None:
        reason = _no_module_reason(runtime)
        return {"params": None, "flops_per_image": None}, {
            "params": reason,
            "flops_per_image": reason,
        }
    values: dict[str, int | None] = {"params": count_parameters(module), "flops_per_image": None}
    notes: dict[str, str] = {}
    if not image_paths:
        notes["flops_per_image"] = "no test image to size the forward pass"
        return values, notes
    try:
        values["flops_per_image"] = count_flops(model, module, Path(image_paths[0]))
    except Exception as exc:  # noqa: BLE001 - any model may trip the counter; said, not raised
        first = first_line(exc, limit=200, empty="")
        notes["flops_per_image"] = (
            f"torch's FlopCounterMode failed on this model ({type(exc).__name__}: {first})"
        )
    return values, notes


def measure(
    memory: PeakMemory,
    model: Any,
    *,
    device: str | None,
    runtime: str | None,
    image_paths: Sequence[Path],
) -> dict[str, Any]:
    """The report's ``resources`` object: read the peaks first, then count (the counting
    forward pass comes after the peaks are read, so it does not move them)."""
    notes: dict[str, str] = {}
    rss, note = memory.host_mb()
    if note:
        notes["peak_rss_mb"] = note
    device_mb, note = memory.device_mb(device, runtime)
    if note:
        notes["peak_device_mb"] = note
    counts, count_notes = model_counts(model, runtime, image_paths)
    notes.update(count_notes)
    return {
        "peak_rss_mb": rss,
        "peak_device_mb": device_mb,
        **counts,
        "notes": notes,
    }
