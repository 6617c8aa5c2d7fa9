"""The tree stays ruff-clean (rules in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install 'pyimgano[test]')")
    paths = [p for p in ("pyimgano", "pytest_pyimgano", "tests", "scripts") if (REPO / p).exists()]
    result = subprocess.run([ruff, "check", "--no-cache", *paths], capture_output=True,
                            text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
