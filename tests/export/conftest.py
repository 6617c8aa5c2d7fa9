"""Session fixtures: the tests' trained PaDiM exported to ONNX and OpenVINO by anomalib."""

from __future__ import annotations

import pytest

from tests.export._artifacts import export_artifacts
from tests.trained import MODEL_SIZE


@pytest.fixture(scope="session")
def exported(padim, tmp_path_factory):
    """``{kind: main file}`` of the PaDiM's exports (see ``tests/export/_artifacts.py``)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    pytest.importorskip("onnxscript")
    return export_artifacts(padim, tmp_path_factory.mktemp("exported"), MODEL_SIZE)
