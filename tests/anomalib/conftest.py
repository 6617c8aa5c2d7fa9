"""Fixtures of the anomalib backend tests (the trained models live in ``tests/trained.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def padim_detector(padim):
    """PaDiM loaded from its pinned .pt on the CPU, shared by tests that only predict."""
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    return VisionAnomalibCheckpoint(padim.pt_path, device="cpu", checkpoint_sha256=padim.pt_sha256)
