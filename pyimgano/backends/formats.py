"""Moved to :mod:`pyimgano.models.formats` (the registry's table of checkpoint formats sits
below the backends it names); this path keeps every name importable."""

from __future__ import annotations

from typing import Any

from pyimgano.models import formats as _formats
from pyimgano.models.formats import *  # noqa: F403


def __getattr__(name: str) -> Any:
    return getattr(_formats, name)
