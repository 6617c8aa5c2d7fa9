"""Thread control of torch's CPU operators (OpenMP, through ctypes).

:func:`single_threaded_torch` is the initializer of the evaluation's background thread. It lives
below both the evaluation and the backends: it concerns the process's torch, whatever runtime
scores the images (the evaluation knows backends only through the detector interface).
Imports nothing at module level; torch only when already imported.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _openmp_runtimes() -> list[Any]:
    """The OpenMP runtimes already loaded in this process (torch's first), as ctypes libraries.

    Only libraries already in memory are opened (``RTLD_NOLOAD``): loading a second OpenMP
    runtime could clash with the one in use. Platforms without ``RTLD_NOLOAD`` get none.
    """
    import ctypes
    import glob

    no_load = getattr(os, "RTLD_NOLOAD", None)
    if no_load is None:
        return []
    torch = sys.modules.get("torch")
    candidates: list[str] = []
    if torch is not None and getattr(torch, "__file__", None):
        lib = os.path.join(os.path.dirname(torch.__file__), "lib")
        for pattern in ("libgomp*", "libiomp*", "libomp*"):
            candidates += sorted(glob.glob(os.path.join(lib, pattern)))
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                name = os.path.basename(path)
                if name.startswith(("libgomp", "libiomp", "libomp")) and path not in candidates:
                    candidates.append(path)
    except OSError:  # not Linux
        pass
    runtimes = []
    for path in candidates:
        try:
            runtime = ctypes.CDLL(path, mode=no_load | os.RTLD_LAZY)
            runtime.omp_set_num_threads  # noqa: B018 - the symbol must exist
        except (OSError, AttributeError):
            continue
        runtimes.append(runtime)
    return runtimes


def single_threaded_torch() -> None:
    """Make torch's CPU operators run on the calling thread only (a worker-thread initializer).

    Used by the evaluation's background thread (mask reading, map alignment), whose torch
    operators would otherwise start their own OpenMP team, whose spinning workers compete with
    the forward pass's team for the cores (measured on a 2-core CPU, demo categories, when the
    decode threads still converted images with torch: decode + forward took 1.095x the serial
    floor without this, 1.02-1.08x with it; see BENCHMARKS.md; decoding is NumPy now,
    :mod:`pyimgano.decoding`). OpenMP's
    ``omp_set_num_threads`` sets a per-thread setting, so calling it here changes only this
    thread: the forward pass and every other thread keep torch's thread count. Results are
    unchanged (element-wise operators). Does nothing when torch is not imported or no OpenMP
    runtime is found.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return
    # torch sets each thread's OpenMP thread count lazily on its first parallel operator, to
    # the process default; trigger that first so that the setting below is not overwritten.
    if torch.get_num_threads() <= 1:
        return
    global _OPENMP_RUNTIMES
    if _OPENMP_RUNTIMES is None:
        _OPENMP_RUNTIMES = _openmp_runtimes()
    for runtime in _OPENMP_RUNTIMES:
        runtime.omp_set_num_threads(1)


_OPENMP_RUNTIMES: list[Any] | None = None


__all__ = ["single_threaded_torch"]
