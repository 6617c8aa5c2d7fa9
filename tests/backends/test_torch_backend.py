"""The torch runtime (.pt/.ckpt) behind the shared decoding: ``infer`` on decoded batches,
device-resident maps, precision."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.errors import ConfigError
from tests.anomalib._helpers import run_predictions

pytestmark = pytest.mark.anomalib


def _detector(padim, **kwargs):
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    return VisionAnomalibCheckpoint(padim.pt_path, device="cpu",
                                    checkpoint_sha256=padim.pt_sha256, **kwargs)


def test_maps_stay_tensors_when_asked_and_equal_the_host_maps(padim, test_images):
    import torch

    host = _detector(padim)
    kept = _detector(padim, maps_on_device=True)
    assert (host.maps_on_device, kept.maps_on_device) == (False, True)
    a = run_predictions(host, test_images, 8)
    b = run_predictions(kept, test_images, 8)
    for i in a:
        assert isinstance(a[i].anomaly_map, np.ndarray)
        amap = b[i].anomaly_map
        assert isinstance(amap, torch.Tensor) and amap.dtype == torch.float32 and amap.ndim == 2
        assert amap.device.type == "cpu"
        assert np.array_equal(amap.numpy(), a[i].anomaly_map)
        assert b[i].score == a[i].score and b[i].pred_label == a[i].pred_label
        assert isinstance(b[i].score, float)


def test_infer_equals_predict_on_the_same_decoded_images(padim, test_images):
    from pyimgano.decoding import decoded_batches

    detector = _detector(padim)
    via_predict = run_predictions(detector, test_images, 5)
    for batch in decoded_batches(test_images, 5, 0):
        result = detector.infer(batch)
        assert result.indices == batch.indices and result.seconds > 0
        for index, prediction in zip(result.indices, result.predictions, strict=True):
            assert prediction.score == via_predict[index].score


def test_precision_choices(padim):
    with pytest.raises(ConfigError, match="precision='int8'"):
        _detector(padim, precision="int8")
    description = _detector(padim, precision="f16").describe()
    assert (description.precision, description.runtime) == ("f16", "torch")
    assert description.artifact_files == {"model.pt": padim.pt_sha256}


def test_maps_on_device_must_be_a_bool(padim):
    with pytest.raises(ConfigError, match="maps_on_device='yes'"):
        _detector(padim, maps_on_device="yes")
