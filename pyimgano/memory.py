"""Memory budgets of the pixel metrics (docs/REFERENCE.md, "Memory").

A budget is a size (``512MiB``, ``4GiB``, ``1.5GB``, a plain number of bytes) or ``auto``: half
the memory available when it is resolved, divided by the number of pytest-xdist workers that
share the machine. :func:`resolve_budget` turns what the user wrote into bytes.
"""

from __future__ import annotations

import os
import re
from typing import Any

from pyimgano.environment import worker_count
from pyimgano.errors import ConfigError

__all__ = ["available_memory", "format_size", "parse_budget", "resolve_budget"]

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1 << 30,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1 << 40,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*$")


def parse_budget(value: Any, *, name: str = "memory_budget") -> int | str | None:
    """``None``, ``"auto"`` or a size in bytes (int > 0) from what the user wrote.

    Raises
    ------
    ConfigError
        Naming ``name`` and the value: not ``auto``, not a number with an optional unit
        (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), or not positive.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{name} is {value!r}; expected 'auto' or a size such as 4GiB")
    if isinstance(value, (int, float)):
        size = int(value)
    else:
        text = str(value).strip()
        if text.lower() == "auto":
            return "auto"
        match = _SIZE.match(text)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ConfigError(
                f"{name} is {value!r}; expected 'auto' or a size such as 512MiB, 4GiB, "
                "1.5GB or a number of bytes"
            )
        size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise ConfigError(f"{name} is {value!r}; expected a size above 0 bytes")
    return size


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable`` on Linux; else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def resolve_budget(value: Any, *, name: str = "memory_budget") -> int | None:
    """The budget in bytes: ``None`` (no budget), a size, or ``auto`` resolved now."""
    parsed = parse_budget(value, name=name)
    if parsed == "auto":
        return max(1, available_memory() // 2 // worker_count())
    return parsed  # type: ignore[return-value]


def format_size(size: int) -> str:
    """``size`` bytes as a short text (``1.5 GiB``, ``300 KiB``, ``12 B``)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
