"""Maps kept on the model's device (docs/REFERENCE.md §5): the evaluation aligns them and runs
the pixel metrics on that device, with the host path's values. CI runs it on CPU tensors; the
CUDA variant runs where a GPU is present."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pyimgano.datasets import load_dataset  # noqa: E402
from pyimgano.evaluation import evaluate  # noqa: E402
from pyimgano.models.base import Batch, ModelDescription  # noqa: E402
from pyimgano.outputs import Prediction  # noqa: E402
from tests.fakes import FakeDetector  # noqa: E402

DEVICES = ["cpu"] + (["cuda:0"] if torch.cuda.is_available() else [])


class TensorMaps(FakeDetector):
    """The fake detector's outputs, its maps moved to ``device`` as torch tensors."""

    def __init__(self, device: str, **kwargs):
        super().__init__(**kwargs)
        self.torch_device = device
        self.maps_on_device = True

    def predict(self, image_paths, *, batch_size):
        for batch in super().predict(image_paths, batch_size=batch_size):
            moved = tuple(
                Prediction(
                    p.score, torch.from_numpy(p.anomaly_map).to(self.torch_device), p.pred_label
                )
                for p in batch.predictions
            )
            yield Batch(batch.indices, moved, batch.seconds)

    def describe(self):
        return ModelDescription(device=self.torch_device, outputs_normalized=False)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("downsample", [1, 2])
def test_device_maps_give_the_host_values(synthetic_root, device, downsample):
    dataset = load_dataset("mvtec", synthetic_root, "tiles")
    host = evaluate(FakeDetector(downsample=downsample, noise=1e-3), dataset, pixel=True)
    moved = evaluate(
        TensorMaps(device, downsample=downsample, noise=1e-3), dataset, pixel=True,
        aupro_limits=(0.05,),
    )
    assert host.report.environment["metrics_device"] == "cpu"
    assert moved.report.environment["metrics_device"] != "cpu"  # the torch path ran
    assert str(moved.pixel.maps[0].device) == device  # aligned maps stayed on the device
    for name in ("pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro"):
        expected, got = host.report.metrics[name], moved.report.metrics[name]
        assert expected is not None and got == pytest.approx(expected, abs=1e-9), name
    # 64 px images: too few normal pixels to reach FPR 1e-5, so AUPIMO is null on both paths,
    # with the same reason
    assert moved.report.metrics["aupimo_mean"] == host.report.metrics["aupimo_mean"]
    assert moved.report.metric_notes.get("aupimo_mean") == host.report.metric_notes.get(
        "aupimo_mean"
    )
    assert moved.report.metrics["aupro_0.05"] is not None
    aligned_host = np.stack([np.asarray(m) for m in host.pixel.maps])
    aligned_device = np.stack([m.cpu().numpy() for m in moved.pixel.maps])
    np.testing.assert_array_equal(aligned_device, aligned_host)
