"""Shared fixtures: a registered fake detector and a small synthetic MVTec-layout dataset."""

from __future__ import annotations

import pytest

from pyimgano.models import register_model, unregister_model

pytest_plugins = ["pytester", "tests.trained"]

FAKE_MODEL = "test_fake_detector"


@pytest.fixture
def fake_model_name():
    register_model(
        FAKE_MODEL,
        "tests.fakes:FakeDetector",
        metadata={"backend": "test", "requires_checkpoint": False},
        overwrite=True,
    )
    yield FAKE_MODEL
    unregister_model(FAKE_MODEL)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory):
    """Two categories of the deterministic synthetic dataset at 64 px."""
    from pyimgano.datasets.synthetic import generate

    root = tmp_path_factory.mktemp("synthetic")
    generate(root, categories=("tiles", "disk"), seed=0, size=64)
    return root
