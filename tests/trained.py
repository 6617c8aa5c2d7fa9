"""Session fixtures shared by every test folder: one synthetic category, tiny real models.

Loaded as a plugin by ``tests/conftest.py`` so that each model is trained once per session,
whichever folders use it.

Everything is trained offline once per session (randomly initialised resnet18,
``pre_trained=False``; nothing is downloaded) with :func:`pyimgano.demo.training.train_checkpoint`.
The synthetic images are 96 px and the models work at 64 px, so the pre-processor's resize is
a real one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CATEGORY = "tiles"
DATA_SIZE = 96
MODEL_SIZE = 64


@pytest.fixture(scope="session")
def anomalib_data(tmp_path_factory) -> Path:
    """``<root>/tiles`` of the synthetic dataset (24 train, 8 good + 12 defective test images)."""
    from pyimgano.datasets.synthetic import generate

    root = tmp_path_factory.mktemp("anomalib-data")
    generate(root, categories=(CATEGORY,), seed=0, size=DATA_SIZE)
    return root


@pytest.fixture(scope="session")
def test_images(anomalib_data) -> list[Path]:
    """The category's test images, sorted (good and defective)."""
    images = sorted((anomalib_data / CATEGORY / "test").glob("*/*.png"))
    assert len(images) == 20
    return images


def _train(model: str, data_root: Path, out: Path):
    pytest.importorskip("anomalib")
    from pyimgano.demo.training import train_checkpoint

    return train_checkpoint(
        model, data_root, CATEGORY, out, image_size=MODEL_SIZE, seed=0, max_epochs=1
    )


@pytest.fixture(scope="session")
def checkpoints_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("anomalib-checkpoints")


@pytest.fixture(scope="session")
def padim(anomalib_data, checkpoints_dir):
    """A trained PaDiM (resnet18, layer1-3, 64 px): ``TrainedCheckpoint`` with .pt and .ckpt."""
    return _train("padim", anomalib_data, checkpoints_dir)


@pytest.fixture(scope="session")
def patchcore(anomalib_data, checkpoints_dir):
    """A trained PatchCore (resnet18, layer2-3, 64 px, coreset ratio 0.05)."""
    return _train("patchcore", anomalib_data, checkpoints_dir)


@pytest.fixture(scope="session")
def trained(padim, patchcore):
    """Both trained models by name."""
    return {"padim": padim, "patchcore": patchcore}
