"""Registry (docs/REFERENCE.md §3): names, metadata, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pyimgano.errors import ConfigError, UnknownModelError
from pyimgano.models import create_model, list_models, model_info, register_model

SPEC_ALIASES = [
    "patchcore", "padim", "stfpm", "fastflow", "efficient_ad", "reverse_distillation", "draem",
    "cflow", "csflow", "dfm", "dfkde", "ganomaly", "uflow", "supersimplenet",
]


def test_import_does_not_pull_torch_or_anomalib():
    code = (
        "import sys, json, pyimgano, pyimgano.models, pyimgano.metrics, pyimgano.datasets;"
        "pyimgano.models.list_models(); pyimgano.models.model_info('vision_padim_anomalib');"
        "import pyimgano.backends.anomalib;"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('torch', 'anomalib', 'torchvision', 'lightning'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_diff_and_merge_do_not_pull_pytest_or_torch():
    code = (
        "import sys, json, pyimgano.merge, pyimgano.cli.diff, pyimgano.summary;"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('torch', 'anomalib', 'pytest', '_pytest'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("name", SPEC_ALIASES)
def test_alias_metadata(name):
    info = model_info(f"vision_{name}_anomalib")
    assert info["metadata"]["backend"] == "anomalib"
    assert info["metadata"]["requires_checkpoint"] is True
    assert info["metadata"]["anomalib_model"] == name


def test_generic_entry():
    info = model_info("vision_anomalib_checkpoint")
    assert info["metadata"]["backend"] == "anomalib"
    assert info["metadata"]["requires_checkpoint"] is True
    for alias_only in ("anomalib_model", "verified", "batch_independent", "limitations"):
        assert alias_only not in info["metadata"]


def test_every_alias_says_what_works():
    """model_info tells verified formats, batch independence and limitations (docs/MODELS.md)."""
    from pyimgano.models.anomalib_zoo import ANOMALIB_ZOO, ZOO_FORMATS

    aliases = list_models(tags="anomalib")
    assert len(aliases) == len(ANOMALIB_ZOO) + 1
    for name in ANOMALIB_ZOO:
        metadata = model_info(f"vision_{name}_anomalib")["metadata"]
        assert set(metadata["verified"]) <= set(ZOO_FORMATS), name
        assert metadata["batch_independent"] in (True, False, None), name
        assert all(isinstance(text, str) and text for text in metadata["limitations"]), name
        if not metadata["verified"]:  # the user learns why, never through a traceback
            assert metadata["limitations"], name
        if metadata["verified"]:  # the zoo ran it at batch 1 and batch N
            assert metadata["batch_independent"] is not None, name
        if metadata["batch_independent"] is False:
            assert any("batch" in text for text in metadata["limitations"]), name


def test_known_facts_of_the_issue():
    """Cflow's map depends on the batch; DFKDE/GANomaly give no map; CFM needs 3-D data."""
    def info(name):
        return model_info(f"vision_{name}_anomalib")["metadata"]

    assert info("cflow")["batch_independent"] is False
    assert info("padim")["batch_independent"] is True
    assert any("no anomaly map" in text for text in info("dfkde")["limitations"])
    assert any("no anomaly map" in text for text in info("ganomaly")["limitations"])
    assert any("3-D" in text for text in info("cfm")["limitations"])
    assert any("open_clip" in text for text in info("winclip")["limitations"])
    assert any(".pt cannot be unpickled" in text for text in info("general_ad")["limitations"])


def test_model_info_returns_a_copy():
    info = model_info("vision_cflow_anomalib")
    info["metadata"]["limitations"].append("changed")
    assert "changed" not in model_info("vision_cflow_anomalib")["metadata"]["limitations"]


def test_describe_models_rows_for_the_list_models_table(fake_model_name):
    from pyimgano.models import describe_models

    rows = describe_models()
    assert [row["name"] for row in rows] == list_models()
    keys = {"name", "backend", "formats", "verified", "batch_independent", "limitations",
            "description"}
    assert all(set(row) == keys for row in rows)
    json.dumps(rows)  # plain JSON data
    by_name = {row["name"]: row for row in rows}
    cflow = by_name["vision_cflow_anomalib"]
    assert cflow["backend"] == "anomalib"
    assert cflow["batch_independent"] is False
    assert cflow["limitations"] == model_info("vision_cflow_anomalib")["metadata"]["limitations"]
    fake = by_name[fake_model_name]  # an entry without the facts: unknown, not invented
    assert fake["backend"] == "test"
    assert (fake["formats"], fake["verified"], fake["batch_independent"]) == ([], [], None)
    assert [row["name"] for row in describe_models(tags="padim")] == ["vision_padim_anomalib"]


def _imported_modules(path):
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names.update(a.value for a in node.args if isinstance(a, ast.Constant))
    return names


def test_lower_layers_do_not_import_higher_ones():
    """The registry knows no model; checkpoint loading does not import the trainer; the
    evaluation knows the backends only through the detector interface; the detector interface
    does not import the backends that implement it (decoding sits below both)."""
    from pathlib import Path

    import pyimgano

    package = Path(pyimgano.__file__).parent
    registry = _imported_modules(package / "models" / "registry.py")
    assert not any("anomalib_entries" in name for name in registry)
    zoo = _imported_modules(package / "models" / "anomalib_zoo.py")
    assert not any(name.startswith("pyimgano") for name in zoo)
    for path in sorted((package / "backends").glob("*.py")):
        imported = _imported_modules(path)
        trainer = [n for n in imported if n.startswith(("pyimgano.training", "pyimgano.demo"))]
        assert not trainer, f"{path.name} imports the trainer: {trainer}"
    evaluation = _imported_modules(package / "evaluation.py")
    assert not [n for n in evaluation if n.startswith("pyimgano.backends")], evaluation
    for name in ("base.py", "registry.py", "kwargs.py", "anomalib_zoo.py"):
        imported = _imported_modules(package / "models" / name)
        assert not [n for n in imported if n.startswith("pyimgano.backends")], (name, imported)
    decoding = _imported_modules(package / "decoding.py")
    assert not [n for n in decoding if n.startswith(("pyimgano.models", "pyimgano.backends"))]
    threads = _imported_modules(package / "threads.py")
    assert not [n for n in threads if n.startswith("pyimgano")]


def test_the_layering_check_sees_the_imports_it_forbids(tmp_path):
    """The import reader above finds module-level and function-level imports alike (the
    evaluation's old ``from pyimgano.backends.anomalib import ...`` sat inside a function)."""
    source = tmp_path / "m.py"
    source.write_text(
        "import pyimgano.backends.device\n"
        "def f():\n    from pyimgano.backends.anomalib import single_threaded_torch\n"
        "    importlib.import_module('pyimgano.training')\n",
        encoding="utf-8",
    )
    assert _imported_modules(source) == {
        "pyimgano.backends.device", "pyimgano.backends.anomalib", "pyimgano.training"}


def test_the_registry_module_alone_sees_the_builtin_entries():
    code = (
        "import sys, json; from pyimgano.models.registry import list_models;"
        "import pyimgano.backends.checkpoint;"
        "print(json.dumps([len(list_models()), any(m in sys.modules for m in"
        " ('pyimgano.training', 'pyimgano.demo.training', 'pyimgano.demo'))]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from pyimgano.models.anomalib_zoo import ANOMALIB_ZOO

    assert json.loads(out.stdout) == [len(ANOMALIB_ZOO) + 1, False]


def test_list_models_filters_by_tags():
    everything = list_models()
    padim_only = list_models(tags=["padim"])
    assert padim_only == ["vision_padim_anomalib"]
    assert set(list_models(tags="anomalib")) <= set(everything)
    assert everything == sorted(everything)


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError, match="vision_padim_anomalib"):
        model_info("vision_padim_anomlib")


def test_create_model_rejects_unknown_kwargs(fake_model_name):
    with pytest.raises(ConfigError, match="accepted keys: .*noise"):
        create_model(fake_model_name, bogus=1)


def test_register_twice_is_an_error(fake_model_name):
    with pytest.raises(ValueError, match="already registered"):
        register_model(fake_model_name, lambda: None)


def test_the_models_page_shows_the_registry_facts():
    """docs/MODELS.md lists every alias with the registry's verified formats, batch facts and
    limitations (the table is ``python scripts/models-table.py``)."""
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "MODELS.md"
    rows = {}
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `vision_"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells
    aliases = [n for n in list_models(tags="anomalib") if n != "vision_anomalib_checkpoint"]
    assert sorted(rows) == aliases
    shown = {True: "yes", False: "**no**", None: "unknown"}
    for name, cells in rows.items():
        metadata = model_info(name)["metadata"]
        assert cells[2] == (", ".join(f"`{f}`" for f in metadata["verified"]) or "—"), name
        assert cells[3] == shown[metadata["batch_independent"]], name
        assert cells[4] == ("; ".join(metadata["limitations"]) or "—"), (
            f"{name}: regenerate the table with python scripts/models-table.py"
        )
