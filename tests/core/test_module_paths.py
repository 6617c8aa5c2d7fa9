"""Split modules keep their old import paths (docs/ARCHITECTURE.md): the suite parser's parts,
the plots package, the diff's parts and the old name of the pixel inputs' result."""

from __future__ import annotations

import importlib

import pytest

#: (old module, name, new module): the old path must give the very object the new one holds.
MOVED = [
    ("pytest_pyimgano.parse", "looks_like_suite", "pytest_pyimgano.suite_yaml"),
    ("pytest_pyimgano.parse", "load_yaml", "pytest_pyimgano.suite_yaml"),
    ("pytest_pyimgano.parse", "load_yaml_with_lines", "pytest_pyimgano.suite_yaml"),
    ("pytest_pyimgano.parse", "MODEL_KEYS", "pytest_pyimgano.suite_keys"),
    ("pytest_pyimgano.parse", "OPTION_KEYS", "pytest_pyimgano.suite_keys"),
    ("pytest_pyimgano.parse", "FORBIDDEN_KWARGS", "pytest_pyimgano.suite_keys"),
    ("pytest_pyimgano.parse", "check_selected", "pytest_pyimgano.suite_values"),
    ("pytest_pyimgano.parse", "expand_vars", "pytest_pyimgano.suite_paths"),
    ("pytest_pyimgano.parse", "parse_tolerance", "pytest_pyimgano.suite_gates"),
    ("pyimgano.plots", "write_plots", "pyimgano.plots.write"),
    ("pyimgano.plots", "plot_path", "pyimgano.plots.write"),
    ("pyimgano.plots", "PLOT_KINDS", "pyimgano.plots.write"),
    ("pyimgano.plots", "worst_panels", "pyimgano.plots.worst"),
    ("pyimgano.plots", "verdict", "pyimgano.plots.worst"),
    ("pyimgano.plots", "MAX_WORST", "pyimgano.plots.worst"),
    ("pyimgano.plots", "DEFAULT_AUPRO_LIMIT", "pyimgano.plots.curves"),
    ("pyimgano.plots", "write_diff_plots", "pyimgano.plots.diff_scatter"),
    ("pyimgano.plots", "thin_curve", "pyimgano.metrics._curves"),
    ("pyimgano.diff.compare", "Tolerances", "pyimgano.diff.tolerances"),
    ("pyimgano.diff.compare", "parse_tolerances", "pyimgano.diff.tolerances"),
    ("pyimgano.diff.compare", "check_tolerance_names", "pyimgano.diff.tolerances"),
    ("pyimgano.diff.compare", "MetricRow", "pyimgano.diff.rows"),
    ("pyimgano.diff.compare", "compare_metrics", "pyimgano.diff.rows"),
    ("pyimgano.diff.compare", "metric_values", "pyimgano.diff.rows"),
    ("pyimgano.diff.compare", "BEYOND", "pyimgano.diff.rows"),
    ("pyimgano.diff.compare", "diff_records", "pyimgano.diff.images"),
    ("pyimgano.diff.compare", "image_key", "pyimgano.diff.images"),
    ("pyimgano.diff.compare", "ItemDiff", "pyimgano.diff.result"),
    ("pyimgano.diff.compare", "DiffResult", "pyimgano.diff.result"),
    ("pyimgano.diff.compare", "BOTH", "pyimgano.diff.result"),
    ("pyimgano.pixel_inputs", "AlignedPixels", "pyimgano.pixel_inputs"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED, ids=[f"{o}.{n}" for o, n, _ in MOVED])
def test_old_import_path_gives_the_moved_object(old, name, new):
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_old_private_names_still_work():
    """``_tolerance`` (suite snapshot tolerance) and ``GroundTruth`` (now ``AlignedPixels``)."""
    from pyimgano.pixel_inputs import AlignedPixels, GroundTruth
    from pytest_pyimgano.parse import _tolerance
    from pytest_pyimgano.suite_gates import parse_tolerance

    assert _tolerance is parse_tolerance
    assert GroundTruth is AlignedPixels
    tolerance = _tolerance({"tolerance": {"image_auroc": 0.01}}, "s.yaml", "defaults.snapshot")
    assert tolerance.for_metric("image_auroc") == 0.01
