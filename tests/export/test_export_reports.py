"""Reports of a real trained PaDiM and of its ONNX/OpenVINO exports (docs/REFERENCE.md §6).

- ``resources``: the parameter count equals ``sum(p.numel())`` of the pickled torch model, and
  the FLOPs equal torch's ``FlopCounterMode`` run here on that model with anomalib's own
  decoding of a test image; graphs have neither, with a reason.
- ``pyimgano-diff`` of the artifact's report against its checkpoint's passes: the borderline
  count, which only the checkpoint can give, is not a metric.
"""

from __future__ import annotations

import pytest

from pyimgano.diff import Tolerances, diff_paths
from pyimgano.report import validate_report, write_report

pytestmark = pytest.mark.anomalib

MODEL = "vision_padim_anomalib"


@pytest.fixture(scope="module")
def tiles(anomalib_data):
    from pyimgano.datasets import load_dataset

    return load_dataset("mvtec", anomalib_data, "tiles")


def _evaluate(path, dataset, **kwargs):
    from pyimgano.evaluation import evaluate
    from pyimgano.models import create_model

    model = create_model(MODEL, checkpoint_path=path, device="cpu", **kwargs)
    return evaluate(model, dataset, pixel=True, batch_size=8).report


@pytest.fixture(scope="module")
def ckpt_report(padim, tiles):
    return _evaluate(padim.ckpt_path, tiles, anomalib_model="padim")


def test_resources_of_a_real_torch_model(padim, tiles, ckpt_report):
    import torch
    from anomalib.data.utils import read_image
    from torch.utils.flop_counter import FlopCounterMode

    module = torch.load(padim.pt_path, weights_only=False, map_location="cpu")["model"].eval()
    params = sum(p.numel() for p in module.parameters())
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(read_image(tiles[0].image_path, as_tensor=True)[None])
    flops = counter.get_total_flops()

    resources = ckpt_report.resources
    validate_report(ckpt_report.to_dict())
    assert params > 1_000_000  # resnet18 layers 1-3
    assert resources["params"] == params
    assert flops > 0 and resources["flops_per_image"] == flops
    assert resources["peak_rss_mb"] > 50  # torch and a resnet are resident
    assert resources["peak_device_mb"] is None
    assert "ran on cpu" in resources["notes"]["peak_device_mb"]
    assert set(resources["notes"]) == {"peak_device_mb"}


@pytest.mark.parametrize("kind", ["onnx", "openvino"])
def test_graphs_have_no_parameter_or_flop_count(exported, tiles, kind):
    report = _evaluate(exported[kind], tiles)
    validate_report(report.to_dict())
    runtime = report.environment["runtime"]
    assert runtime in ("onnxruntime", "openvino")
    for key in ("params", "flops_per_image"):
        assert report.resources[key] is None
        assert f"an {runtime} graph" in report.resources["notes"][key]
    assert report.resources["peak_rss_mb"] > 0


def test_artifact_report_diffs_clean_against_its_checkpoint(exported, tiles, ckpt_report,
                                                            tmp_path):
    onnx = _evaluate(exported["onnx"], tiles)
    assert isinstance(ckpt_report.decision["borderline"], int)
    assert onnx.decision["borderline"] is None and onnx.decision["notes"]["borderline"]
    old = write_report(ckpt_report, tmp_path / "ckpt" / "tiles.json")
    new = write_report(onnx, tmp_path / "onnx" / "tiles.json")
    # float32 graph against the float32 module: same decisions, metrics equal within 1e-4
    result = diff_paths(old, new, Tolerances(default=1e-4))
    (item,) = result.items
    assert result.exit_code == 0, [row for row in item.rows if row.failed]
    assert not any(row.metric.endswith(("image_borderline", "image_auroc_step"))
                   for row in item.rows)
