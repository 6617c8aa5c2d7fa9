"""Fixtures for the plugin's tests: real pytest sessions (pytester) over YAML suites.

Suites run the registered fake detector (``tests.fakes:FakeDetector``) on a tiny synthetic
MVTec-layout dataset generated once per session.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = ("disk", "tiles")
DATA_VAR = "PYIMGANO_TEST_DATA"

#: ini of every pytester directory (its directory is the child session's rootdir). Hypothesis'
#: plugin imports ~70 modules lazily in every session; in-process child runs would re-import
#: them each time, so it is left out of the children.
INI = (
    "[pytest]\n"
    "addopts = -p no:hypothesispytest -p no:cacheprovider\n"
    "filterwarnings = ignore::pytest.PytestAssertRewriteWarning\n"
)

#: conftest.py of every pytester directory: registers the fake detector in the child session.
CHILD_CONFTEST = """
from pyimgano.models import register_model, unregister_model

register_model(
    "test_fake_detector",
    "tests.fakes:FakeDetector",
    metadata={"backend": "test", "requires_checkpoint": False},
    overwrite=True,
)


def pytest_unconfigure(config):
    try:
        unregister_model("test_fake_detector")
    except Exception:
        pass
"""


@pytest.fixture(scope="session")
def plugin_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two tiny synthetic categories (32 px, 10 test images each)."""
    from pyimgano.datasets.synthetic import generate

    root = tmp_path_factory.mktemp("plugin-data")
    generate(root, categories=CATEGORIES, seed=0, size=32, n_train=1, n_test_good=4,
             n_test_bad_per_defect=2)
    return root


@pytest.fixture(scope="session")
def warm_imports(plugin_data: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run one evaluation in this process first.

    In-process pytester runs restore ``sys.modules`` afterwards; modules first imported inside
    a child run (numpy, scipy, matplotlib, ...) would be imported again by the next one. Loading
    them here once keeps every child run fast.
    """
    from pyimgano.artifacts import write_evaluation
    from pyimgano.models import register_model, unregister_model
    from pyimgano.runner import Case, run_case

    register_model("test_fake_detector", "tests.fakes:FakeDetector",
                   metadata={"backend": "test", "requires_checkpoint": False}, overwrite=True)
    try:
        evaluation = run_case(Case(model="test_fake_detector", dataset_format="mvtec",
                                   root=plugin_data, category="tiles", pixel=True,
                                   batch_size=4, device="cpu"))
        write_evaluation(evaluation, tmp_path_factory.mktemp("warm") / "r.json", plots=True)
    finally:
        unregister_model("test_fake_detector")
    import jsonschema  # noqa: F401
    import yaml  # noqa: F401


@pytest.fixture
def suite_dir(pytester: pytest.Pytester, plugin_data: Path, warm_imports: None,
              monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester dir with an ini (rootdir), the fake-registering conftest and $DATA_VAR set."""
    pytester.makeini(INI)
    pytester.makeconftest(CHILD_CONFTEST)
    monkeypatch.setenv(DATA_VAR, str(plugin_data))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return pytester


def write_suite(pytester: pytest.Pytester, text: str, name: str = "suites/release.yaml") -> Path:
    """Write a suite file (dedented) under the pytester dir and return its path."""
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def suite_text(
    *,
    categories: str = "[disk, tiles]",
    defaults: str = "",
    model_extra: str = "",
    root: str = "${" + DATA_VAR + "}",
) -> str:
    """A one-model suite over the synthetic data; ``defaults``/``model_extra`` are YAML lines."""
    return (
        "pyimgano_suite: 1\n"
        "name: test\n"
        "defaults:\n"
        "  batch_size: 4\n"
        + textwrap.indent(textwrap.dedent(defaults).strip("\n"), "  ")
        + ("\n" if defaults.strip() else "")
        + "datasets:\n"
        "  syn:\n"
        "    format: mvtec\n"
        f"    root: {root}\n"
        "models:\n"
        "  - id: fake\n"
        "    model: test_fake_detector\n"
        "    dataset: syn\n"
        f"    categories: {categories}\n"
        + textwrap.indent(textwrap.dedent(model_extra).strip("\n"), "    ")
        + "\n"
    )


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch):
    """The pytester runs of these tests are sessions of their own: when this test session runs
    under xdist, its worker's variables must not make syrupy (or the memory budget) take them
    for workers."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
