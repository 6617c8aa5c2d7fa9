"""describe(): checkpoint, sha256 of the loaded bytes, and whether anomalib normalised the
scores (docs/REFERENCE.md §3/§6); module isolation (no torch at import) and registry wiring."""

from __future__ import annotations

import hashlib
import math
import subprocess
import sys
import textwrap

import pytest

from tests.anomalib._helpers import run_predictions

pytestmark = pytest.mark.anomalib


@pytest.mark.parametrize("fmt", ["pt", "ckpt"])
def test_describe_gives_sha256_of_the_file_and_normalisation(padim, fmt):
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    path = padim.pt_path if fmt == "pt" else padim.ckpt_path
    detector = VisionAnomalibCheckpoint(
        path, anomalib_model="padim", device="cpu", trust_checkpoint=True
    )
    description = detector.describe()
    assert description.checkpoint == str(path)
    assert description.checkpoint_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert description.outputs_normalized is True
    assert description.extra["maps_normalized"] is True
    assert description.extra["anomalib_class"] == "Padim"
    assert description.extra["checkpoint_format"] == ("torch" if fmt == "pt" else "lightning")
    assert detector.load_seconds > 0


def _variant(padim, tmp_path, change):
    """Save the trained module after ``change(module)`` as a new trusted .pt and load it."""
    import torch

    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    module = VisionAnomalibCheckpoint(padim.pt_path, device="cpu", trust_checkpoint=True).module
    change(module)
    path = tmp_path / "variant.pt"
    torch.save({"model": module}, path)
    return VisionAnomalibCheckpoint(path, device="cpu", trust_checkpoint=True)


def test_normalisation_switched_off(padim, tmp_path, test_images):
    def switch_off(module):
        module.post_processor.enable_normalization = False

    detector = _variant(padim, tmp_path, switch_off)
    assert detector.describe().outputs_normalized is False
    assert detector.describe().extra["maps_normalized"] is False
    scores = [p.score for p in run_predictions(detector, test_images, 16).values()]
    assert max(scores) > 1.0  # raw Mahalanobis distances


def test_no_normalisation_statistics(padim, tmp_path):
    def forget_stats(module):
        module.post_processor.image_min.fill_(math.nan)
        module.post_processor.image_max.fill_(math.nan)

    assert _variant(padim, tmp_path, forget_stats).describe().outputs_normalized is False


def test_no_post_processor(padim, tmp_path, test_images):
    def drop(module):
        module.post_processor = None

    detector = _variant(padim, tmp_path, drop)
    assert detector.describe().outputs_normalized is False
    predictions = run_predictions(detector, test_images[:3], 3)
    assert all(p.pred_label is None for p in predictions.values())


def test_normalised_scores_lie_in_unit_interval(padim_detector, test_images):
    scores = [p.score for p in run_predictions(padim_detector, test_images, 16).values()]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_registry_alias_loads_a_ckpt(padim):
    from pyimgano.models import create_model

    detector = create_model("vision_padim_anomalib", checkpoint_path=str(padim.ckpt_path))
    assert detector.describe().extra["anomalib_model"] == "padim"
    assert detector.describe().device in ("cpu", "cuda:0")


def test_training_is_cached(padim, anomalib_data, checkpoints_dir):
    from pyimgano.demo.training import train_checkpoint

    again = train_checkpoint("padim", anomalib_data, "tiles", checkpoints_dir, image_size=64)
    assert again.cached
    assert (again.pt_sha256, again.ckpt_sha256) == (padim.pt_sha256, padim.ckpt_sha256)


BLOCK_TORCH = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision", "anomalib", "lightning"):
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def test_backend_modules_import_and_run_fakes_without_torch():
    code = BLOCK_TORCH + textwrap.dedent(
        """
        import pyimgano.backends.anomalib as backend
        import pyimgano.backends.checkpoint, pyimgano.backends.device, pyimgano.demo.training

        class Fake:
            def predict(self, path):
                return {"pred_score": 0.5, "anomaly_map": [[0.0, 1.0]]}

        detector = backend.VisionAnomalibCheckpoint(inferencer=Fake())
        batches = list(detector.predict(["a.png", "b.png"], batch_size=1))
        assert [b.predictions[0].score for b in batches] == [0.5, 0.5]
        assert not any(m.split(".")[0] in ("torch", "anomalib") for m in sys.modules)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_training_is_deterministic(patchcore, anomalib_data, tmp_path):
    from pyimgano.demo.training import train_checkpoint

    again = train_checkpoint("patchcore", anomalib_data, "tiles", tmp_path, image_size=64)
    assert not again.cached
    assert again.pt_path.read_bytes() == patchcore.pt_path.read_bytes()
    # the .ckpt records its out_dir (ModelCheckpoint state), so compare the weights
    import torch

    first = torch.load(patchcore.ckpt_path, map_location="cpu", weights_only=False)
    second = torch.load(again.ckpt_path, map_location="cpu", weights_only=False)
    assert first["state_dict"].keys() == second["state_dict"].keys()
    for key, value in first["state_dict"].items():
        assert torch.equal(value, second["state_dict"][key]), key


@pytest.mark.anomalib
def test_registry_table_matches_installed_anomalib_image_models():
    import importlib
    import pkgutil

    import anomalib.models
    import anomalib.models.image

    from pyimgano.models.anomalib_entries import ANOMALIB_IMAGE_MODELS

    installed = {}
    for module in pkgutil.iter_modules(anomalib.models.image.__path__):
        if module.ispkg:
            sub = importlib.import_module(f"anomalib.models.image.{module.name}")
            exported = [n for n in getattr(sub, "__all__", []) if n in anomalib.models.__all__]
            if exported:
                installed[module.name] = exported[0]
    assert installed == ANOMALIB_IMAGE_MODELS
