"""What each package of pyimgano may import (docs/ARCHITECTURE.md, "Packages").

The table below is the layering, written once: a unit (a top-level module, or a subpackage
written ``name/``) may import only the units it lists. A new arrow is a decision — add it here
and to the architecture page — and an arrow that points up (the metrics importing a dataset,
a backend importing the evaluation, a protocol importing the evaluation that runs it) fails.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pyimgano

PACKAGE = Path(pyimgano.__file__).parent
PLUGIN = "pytest_pyimgano"

_BASE = {"errors"}
#: unit -> the units it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    # foundation: no model, no data, no runtime
    "errors": set(),
    "digests": set(),
    "environment": set(),
    "text_table": set(),
    "threads": set(),
    "memory": _BASE | {"environment"},
    "outputs": _BASE,
    "decoding": _BASE,
    "resources": _BASE,
    "report": _BASE | {"resources"},
    "summary": _BASE | {"report"},
    "manifest": _BASE | {"digests", "report", "summary"},
    # numerics and data
    "metrics/": _BASE | {"memory", "outputs"},
    "alignment": _BASE,
    "datasets/": _BASE | {"digests"},
    # models (the interface, the registry, the format table) and their runtimes
    "models/": _BASE | {"decoding", "outputs"},
    "backends/": _BASE | {"decoding", "digests", "environment", "models/", "outputs"},
    # running a model over a dataset, and judging the result
    "inference": _BASE | {"decoding", "models/", "outputs"},
    "pixel_inputs": _BASE | {"alignment", "datasets/", "metrics/", "outputs"},
    "gates": _BASE | {"metrics/", "report"},
    "parity": _BASE | {"alignment", "gates", "text_table"},
    "comparison": _BASE | {"metrics/", "text_table"},
    "protocols/": _BASE | {"alignment", "datasets/", "decoding", "inference", "metrics/",
                           "outputs"},
    "evaluation": _BASE | {"alignment", "comparison", "datasets/", "environment", "inference",
                           "memory", "metrics/", "models/", "outputs", "parity", "pixel_inputs",
                           "protocols/", "report", "resources", "threads"},
    "runner": _BASE | {"backends/", "comparison", "datasets/", "evaluation", "memory",
                       "models/", "protocols/", "resources"},
    # what is written and read after a run
    "plots/": _BASE | {"alignment", "datasets/", "diff/", "evaluation", "metrics/", "outputs",
                       "report"},
    "artifacts": _BASE | {"evaluation", "manifest", "plots/", "report"},
    "diff/": _BASE | {"comparison", "gates", "metrics/", "report", "summary", "text_table"},
    "merge": _BASE | {"diff/", "gates", "manifest", "report", "summary"},
    # the embedded default: trains and exports; only the CLI (and tests) use it
    "schemas/": set(),  # JSON Schema files and their loader
    "demo/": _BASE | {"backends/", "datasets/", "digests", "environment", "models/", "report"},
    "training": {"demo/"},
    # entry points
    "cli/": _BASE | {"artifacts", "backends/", "comparison", "datasets/", "demo/", "diff/",
                     "gates", "memory", "merge", "metrics/", "models/", "parity", "plots/",
                     "report", "runner", "text_table"},
    "__main__": {"cli/"},
    "testing/": _BASE | {"report", PLUGIN},
    PLUGIN: _BASE | {"artifacts", "backends/", "comparison", "datasets/", "gates", "manifest",
                     "memory", "models/", "parity", "protocols/", "report", "resources",
                     "runner", "summary", "testing/", "text_table"},
}


def _unit_of_name(name: str) -> str | None:
    """The unit a dotted module name belongs to (None outside pyimgano and the plugin)."""
    parts = name.split(".")
    if parts[0] == PLUGIN:
        return PLUGIN
    if parts[0] != "pyimgano" or len(parts) == 1:
        return None
    return parts[1] + "/" if (PACKAGE / parts[1]).is_dir() else parts[1]


def _unit_of_file(path: Path) -> str:
    if PLUGIN in path.parts:
        return PLUGIN
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] + "/" if len(relative.parts) > 1 else relative.stem


def imported_units(path: Path) -> set[str]:
    """Units imported anywhere in ``path`` (module level or inside functions)."""
    units = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "pyimgano":  # from pyimgano import demo
                names = [f"pyimgano.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
        units.update(u for u in map(_unit_of_name, names) if u is not None)
    return units


def _sources() -> list[Path]:
    plugin = Path(PACKAGE.parent / PLUGIN)
    return sorted(PACKAGE.rglob("*.py")) + sorted(plugin.rglob("*.py"))


def test_every_unit_is_in_the_table():
    units = {_unit_of_file(path) for path in _sources()} - {"__init__"}
    assert units <= set(ALLOWED), sorted(units - set(ALLOWED))


def test_each_unit_imports_only_what_the_table_allows():
    wrong = []
    for path in _sources():
        unit = _unit_of_file(path)
        if unit == "__init__":
            continue
        extra = imported_units(path) - ALLOWED[unit] - {unit}
        if extra:
            wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {sorted(extra)}")
    assert not wrong, "\n".join(wrong)


def test_the_table_has_no_cycle_between_units():
    """Only the plugin and its ``testing`` helpers know each other (the fixture returns a
    ``testing.EvaluationResult``; the syrupy extension reads the plugin's snapshot format)."""
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in ALLOWED.get(start, ()):
            if nxt == goal or nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen)):
                return True
        return False

    cycles = sorted(u for u in ALLOWED if reaches(u, u, set()))
    assert cycles == sorted(["testing/", PLUGIN]), cycles


def test_the_reader_sees_the_imports_the_table_forbids(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import numpy\nfrom pyimgano.metrics import pixel\nfrom pyimgano import demo\n"
        "def f():\n    import pytest_pyimgano.parse\n"
        "    importlib.import_module('pyimgano.evaluation')\n",
        encoding="utf-8",
    )
    assert imported_units(source) == {"metrics/", "demo/", PLUGIN, "evaluation"}
