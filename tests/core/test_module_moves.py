"""Moved modules: the old import paths keep working, the deprecated one warns, and no internal
code uses it; the one first-line-of-an-exception rule (:func:`pyimgano.errors.first_line`)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pyimgano.errors import first_line

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_the_old_training_module_warns_and_gives_the_same_objects():
    code = (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import pyimgano.training as old\n"
        "import pyimgano.demo.training as training, pyimgano.demo.export as export\n"
        "assert old.train_checkpoint is training.train_checkpoint\n"
        "assert old.TrainedCheckpoint is training.TrainedCheckpoint\n"
        "assert old.export_checkpoint is export.export_checkpoint\n"
        "assert old.EXPORT_KINDS is export.EXPORT_KINDS\n"
        "assert old.MANIFEST_NAME == 'manifest.json'\n"
        "print([(w.category.__name__, str(w.message)) for w in caught])\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert "DeprecationWarning" in result.stdout
    assert "pyimgano.demo.training" in result.stdout and "pyimgano.demo.export" in result.stdout


def test_the_demo_package_imports_without_the_deprecation_warning():
    code = ("import pyimgano.demo, pyimgano.demo.training, pyimgano.demo.export, "
            "pyimgano.demo.quiet, pyimgano.cli.demo, pyimgano.backends.checkpoint, "
            "pyimgano.backends.anomalib, pyimgano.evaluation, pyimgano.runner")
    result = _run(code, "-W", "error::DeprecationWarning:pyimgano.training")
    assert result.returncode == 0, result.stderr
    old = _run("import pyimgano.training", "-W", "error::DeprecationWarning")
    assert old.returncode != 0 and "pyimgano.demo.training" in old.stderr


def test_no_internal_code_imports_the_deprecated_training_module():
    from tests.core.test_registry import _imported_modules

    users = []
    for folder in ("pyimgano", "pytest_pyimgano", "tests", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "pyimgano" / "training.py":
                continue
            text = path.read_text(encoding="utf-8")
            if "pyimgano.training" in _imported_modules(path) or re.search(
                r"from pyimgano import [\w, (]*\btraining\b", text
            ):
                users.append(str(path.relative_to(ROOT)))
    assert users == []


def test_the_old_checkpoint_paths_give_the_moved_objects():
    import pyimgano.backends.checkpoint as old
    from pyimgano.backends import ckpt_files, pickle_scan, plain_entries, releases, trust
    from pyimgano.backends.images import DecodedBatch, decoded_batches
    from pyimgano.decoding import DecodedBatch as moved_batch
    from pyimgano.decoding import decoded_batches as moved_batches

    assert old.read_checkpoint is ckpt_files.read_checkpoint
    assert old.verify_pin is trust.verify_pin and old.check_trust is trust.check_trust
    assert old.sniff_contents is pickle_scan.sniff_contents
    assert old.read_plain_entries is plain_entries.read_plain_entries
    assert old.written_by is releases.written_by and old.MANIFEST_NAME == "manifest.json"
    assert old._HEX64.match("a" * 64) and not old._HEX64.match("A" * 64)
    assert (DecodedBatch, decoded_batches) == (moved_batch, moved_batches)


@pytest.mark.parametrize(
    ("exc", "kwargs", "expected"),
    [
        (RuntimeError("  size mismatch\nfor layer1: shape [3] vs [4]\n"), {}, "size mismatch"),
        (RuntimeError("\n\nCUDA out of memory. Tried\nmore"), {}, "CUDA out of memory. Tried"),
        (KeyError(), {}, "KeyError"),
        (ValueError(""), {"empty": ""}, ""),
        (ValueError("x" * 300), {"limit": 200}, "x" * 200),
        (OSError("   "), {}, "OSError"),
    ],
)
def test_first_line_of_an_exception(exc, kwargs, expected):
    assert first_line(exc, **kwargs) == expected
