"""Versions and machine facts recorded in every report (docs/REFERENCE.md §6 ``environment``)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

import pyimgano


def package_version(name: str) -> str | None:
    """Installed version of distribution ``name`` without importing it; ``None`` if absent."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment_facts() -> dict[str, str | None]:
    """pyimgano/anomalib/torch/torchvision/python versions (device facts come from the model)."""
    return {
        "pyimgano": pyimgano.__version__,
        "anomalib": package_version("anomalib"),
        "torch": package_version("torch"),
        "torchvision": package_version("torchvision"),
        "python": platform.python_version(),
    }


def worker_count() -> int:
    """Number of pytest-xdist workers of this run (1 without xdist)."""
    try:
        return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1
