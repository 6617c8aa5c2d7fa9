"""Benchmarks run on demand only (``make bench``): skipped in a plain ``pytest tests`` run."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module", autouse=True)
def _only_on_demand(request: pytest.FixtureRequest) -> None:
    """Module-scoped, so that it runs (and skips) before the module-scoped data fixtures."""
    on_demand = request.config.getoption("benchmark_only", default=False)
    if not on_demand and os.environ.get("PYIMGANO_BENCH") != "1":
        pytest.skip("heavy benchmark: run with --benchmark-only or PYIMGANO_BENCH=1")
