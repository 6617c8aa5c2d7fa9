"""Fixtures of the zoo tests: one small synthetic category, tiny models trained once per session.

The full zoo (``test_zoo.py``, marker ``zoo``) runs only with ``PYIMGANO_ZOO=1`` or when the
``-m`` expression names ``zoo``; ``test_zoo_fast.py`` always runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config, items):
    wanted = os.environ.get("PYIMGANO_ZOO") == "1" or "zoo" in (config.getoption("-m") or "")
    if wanted:
        return
    skip = pytest.mark.skip(reason="the full model zoo takes minutes: set PYIMGANO_ZOO=1 or -m zoo")
    for item in items:
        if item.get_closest_marker("zoo") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def zoo_data(tmp_path_factory) -> Path:
    from tests.zoo._zoo import generate_data

    return generate_data(tmp_path_factory.mktemp("zoo-data"))


@pytest.fixture(scope="session")
def zoo_images(zoo_data) -> list[Path]:
    from tests.zoo._zoo import CATEGORY

    images = sorted((zoo_data / CATEGORY / "test").glob("*/*.png"))
    assert len(images) == 7
    return images


@pytest.fixture(scope="session")
def zoo_out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("zoo-models")


@pytest.fixture(scope="session")
def zoo_train(zoo_data, zoo_out):
    """``train(model) -> Trained`` (or raises TrainingFailed), each model trained once.

    ``train.forget(model)`` deletes a model's files (the full zoo writes gigabytes otherwise);
    a later ``train(model)`` trains it again.
    """
    pytest.importorskip("anomalib")
    import shutil

    from tests.zoo._zoo import TrainingFailed, train_tiny

    done: dict[str, object] = {}

    def train(model: str):
        if model not in done:
            try:
                done[model] = train_tiny(model, zoo_data, zoo_out)
            except TrainingFailed as exc:
                done[model] = exc
        result = done[model]
        if isinstance(result, TrainingFailed):
            raise result
        return result

    def forget(model: str) -> None:
        done.pop(model, None)
        shutil.rmtree(zoo_out / model, ignore_errors=True)

    train.forget = forget
    return train
