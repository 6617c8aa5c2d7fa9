"""Fixtures of the bad-input catalogue.

- ``bad_model``: the misbehaving fake detector (``tests.bad_inputs.fakes``), registered here.
- ``base_data``: one tiny synthetic MVTec category (``tiles``, 32 px, 3 good + 3 defective).
- ``child``: a pytester directory for a child session of one's own (in-process or not).
- ``plugin_batch``: ONE child pytest session (a subprocess) over every suite scenario of
  :mod:`tests.bad_inputs.scenarios`, so each case's plugin surface costs no session of its own.
- ``padim``: the tiny real PaDiM of ``tests/trained.py`` (shared session fixtures; trained
  once per session when a case needs it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bad_inputs import fakes
from tests.bad_inputs.helpers import PluginRun, child_env, prepare_child_dir, run_plugin_batch


@pytest.fixture(scope="session", autouse=True)
def bad_model():
    from pyimgano.models import unregister_model

    name = fakes.register()
    yield name
    unregister_model(name)
    unregister_model(fakes.PARITY_NAME)


@pytest.fixture(scope="session")
def base_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<root>/tiles``: 3 good and 3 defective (color, hole, scratch) test images, 32 px."""
    from pyimgano.datasets.synthetic import generate

    root = tmp_path_factory.mktemp("bad-inputs-data")
    generate(root, categories=("tiles",), seed=0, size=32, n_train=1, n_test_good=3,
             n_test_bad_per_defect=1)
    return root


@pytest.fixture
def data(tmp_path: Path, base_data: Path) -> Path:
    """A private copy of ``base_data`` to break."""
    root = tmp_path / "data"
    shutil.copytree(base_data, root)
    return root


@pytest.fixture
def child(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester dir for child sessions (in-process or subprocess) with the fake registered."""
    prepare_child_dir(pytester.path)
    monkeypatch.setenv("PYTHONPATH", child_env()["PYTHONPATH"])
    return pytester


@pytest.fixture(scope="session")
def plugin_batch(tmp_path_factory: pytest.TempPathFactory, base_data: Path) -> PluginRun:
    return run_plugin_batch(tmp_path_factory.mktemp("bad-inputs-plugin"), base_data)
