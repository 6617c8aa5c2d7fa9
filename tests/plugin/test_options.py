"""Options, devices per xdist worker, and the plugin's import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_pyimgano.options import device_for_worker, resolve_report_dir, worker_index


@pytest.mark.parametrize(
    ("spec", "worker", "count", "expected"),
    [
        ("auto", "gw0", 4, "cuda:0"),
        ("auto", "gw5", 4, "cuda:1"),
        ("cuda", "gw3", 2, "cuda:1"),
        ("cuda", "gw2", 2, "cuda:0"),
        ("auto", "gw1", 1, "cuda:0"),
        ("auto", "gw1", 0, "auto"),      # no GPU: the runner falls back to cpu
        ("cuda", "gw1", 0, "cuda"),      # no GPU: cuda never falls back (the runner fails)
        ("cuda:1", "gw0", 4, "cuda:1"),  # an explicit index is kept
        ("cpu", "gw3", 4, "cpu"),
        ("auto", None, 4, "auto"),       # no xdist: the runner's auto (cuda:0 or cpu)
        ("auto", "master", 4, "auto"),
    ],
)
def test_device_for_worker(spec, worker, count, expected):
    asked = []

    def gpu_count() -> int:
        asked.append(True)
        return count

    assert device_for_worker(spec, worker, gpu_count) == expected
    if spec not in ("auto", "cuda") or worker_index(worker) is None:
        assert not asked  # torch is only consulted where it matters


def test_worker_index():
    assert worker_index("gw12") == 12
    assert worker_index(None) is None and worker_index("gwx") is None


def test_report_dir_resolution(tmp_path):
    inv, ini = tmp_path / "inv", tmp_path / "ini"
    assert resolve_report_dir(None, None, inv, ini) == inv / "pyimgano-reports"
    assert resolve_report_dir("out", "ini-out", inv, ini) == inv / "out"
    assert resolve_report_dir(None, "ini-out", inv, ini) == ini / "ini-out"
    assert resolve_report_dir(str(tmp_path / "abs"), None, inv, ini) == tmp_path / "abs"


def test_plugin_import_pulls_nothing_heavy():
    code = (
        "import sys, pytest_pyimgano.plugin; "
        "print(sorted(m for m in ('torch', 'anomalib', 'numpy', 'scipy', 'matplotlib', "
        "'lightning', 'jsonschema', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "[]"


def test_trust_is_not_an_ini_key(pytester):
    pytester.makeini("[pytest]\npyimgano_trust_checkpoints = true\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
    result.stdout.fnmatch_lines(["*Unknown config option: pyimgano_trust_checkpoints*"])
    help_text = pytester.runpytest("--help", "-p", "no:hypothesispytest").stdout.str()
    for option in ("--pyimgano-device", "--pyimgano-report-dir", "--pyimgano-strict",
                   "--pyimgano-batch-size", "--pyimgano-trust-checkpoints",
                   "--pyimgano-no-plots", "pyimgano_device", "pyimgano_report_dir",
                   "pyimgano_strict", "pyimgano_batch_size", "pyimgano_no_plots"):
        assert option in help_text
