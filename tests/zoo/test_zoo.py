"""The model zoo: every registered anomalib alias, proven or its limitation shown (docs/MODELS.md).

Each model anomalib can build offline is trained tiny (1 epoch, 8 images of 72 px resized to
the recipe's input, randomly initialised backbones; DSR's and EfficientAD's training downloads
replaced by stand-ins) and evaluated by pyimgano from its exported ``.pt`` and its ``.ckpt``,
one image at a time and at batch 4, against anomalib's own per-image inference
(``TorchInferencer`` for the ``.pt``; ``load_from_checkpoint`` with the saved pre-processor +
forward for the ``.ckpt``), with the network blocked while pyimgano loads the ``.ckpt``. The
measured facts must equal the zoo table (:data:`pyimgano.models.anomalib_zoo.ANOMALIB_ZOO`):
the formats verified and batch independence. Models that cannot be built offline must fail the
documented way and carry a limitation; any other training failure fails the test.

Minutes (8 here): ``PYIMGANO_ZOO=1 .venv/bin/python -m pytest tests/zoo -m zoo`` (``make zoo``,
part of ``.ci/run``).
"""

from __future__ import annotations

import pytest

from pyimgano.errors import CheckpointError
from pyimgano.models.anomalib_zoo import ANOMALIB_ZOO
from tests.zoo import _zoo

pytestmark = [pytest.mark.anomalib, pytest.mark.zoo]

EXACT = 1e-5

#: Models anomalib cannot build or train offline here, with the reason the trainer reports.
NOT_TRAINABLE_OFFLINE: dict[str, str] = {
    "anomalyvfm": "hf_hub_download",
    "cfm": "Point-MAE",
    "vlm_ad": "",  # whatever its backend fails with: no offline model behind it
    "winclip": "open_clip",
}

#: Models whose training downloads files (what it asks for): trained with the zoo's stand-ins.
TRAINING_DOWNLOADS: dict[str, str] = {
    "dsr": "dsr_vq_model_pretrained",
    "efficient_ad": "efficientad_pretrained_weights",
}


def _detector(path, model, **kwargs):
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    return VisionAnomalibCheckpoint(path, anomalib_model=model, device="cpu", **kwargs)


def _evaluate(path, model, reference, images, **kwargs):
    """(exact at batch 1?, outputs at 1, outputs at BATCH, error message or None)."""
    try:
        detector = _detector(path, model, **kwargs)
    except CheckpointError as exc:
        message = str(exc)
        assert str(path) in message and "\n" not in message
        return False, None, None, message
    one = _zoo.pyimgano_outputs(detector, images, 1)
    many = _zoo.pyimgano_outputs(detector, images, _zoo.BATCH)
    exact = max(_zoo.max_differences(one, reference)) <= EXACT
    return exact, one, many, None


@pytest.mark.parametrize("model", sorted(TRAINING_DOWNLOADS))
def test_training_download_refused_without_stand_in(model, zoo_data, tmp_path):
    assert set(TRAINING_DOWNLOADS) == set(_zoo.STAND_INS)
    with pytest.raises(_zoo.TrainingFailed, match=TRAINING_DOWNLOADS[model]):
        _zoo.train_tiny(model, zoo_data, tmp_path, stand_ins=False)
    assert any("training downloads" in text for text in ANOMALIB_ZOO[model].limitations)


@pytest.mark.parametrize("model", sorted(ANOMALIB_ZOO))
def test_zoo_model(model, zoo_train, zoo_images, monkeypatch, tmp_path, request):
    facts = ANOMALIB_ZOO[model]
    request.addfinalizer(lambda: zoo_train.forget(model))
    if model in NOT_TRAINABLE_OFFLINE:
        with pytest.raises(_zoo.TrainingFailed, match=NOT_TRAINABLE_OFFLINE[model]):
            zoo_train(model)
        assert facts.verified == ()
        assert facts.batch_independent is None
        assert facts.limitations
        return
    trained = zoo_train(model)  # TrainingFailed fails the test: only the above may not train

    verified = []
    outputs = {}
    try:
        from_pt = _zoo.reference_pt(trained.pt_path, zoo_images, monkeypatch)
    except Exception as exc:  # noqa: BLE001 - anomalib's own .pt cannot be read
        from_pt = None
        pt_error = f"{type(exc).__name__}: {exc}"
    if from_pt is not None:
        exact, one, many, error = _evaluate(trained.pt_path, model, from_pt, zoo_images,
                                            trust_checkpoint=True)
        assert error is None, error
        if exact:
            verified.append(".pt")
            outputs[".pt"] = (one, many)
    else:
        exact, _, _, error = _evaluate(trained.pt_path, model, [], zoo_images,
                                       trust_checkpoint=True)
        assert error is not None, f"anomalib cannot read it ({pt_error}) but pyimgano did"
        # the same release wrote it: no guessed version mismatch, and the way out is named
        assert "another anomalib version" not in error, error
        assert "evaluate the Lightning .ckpt of the same training run" in error, error

    from_ckpt = _zoo.reference_ckpt(model, trained.ckpt_path, zoo_images, tmp_path)
    if from_pt is not None:  # the .ckpt reference is the .pt of the same run
        assert max(_zoo.max_differences(from_ckpt, from_pt)) <= EXACT
    with _zoo.network_blocked(monkeypatch) as attempts:
        exact, one, many, error = _evaluate(trained.ckpt_path, model, from_ckpt, zoo_images)
    assert attempts == []
    assert error is None, error
    if exact:
        verified.append(".ckpt")
        outputs[".ckpt"] = (one, many)

    independent = None
    if outputs:  # judged in the model's raw units: float noise is not batch dependence
        one, many = next(iter(outputs.values()))
        score, amap = _zoo.max_differences(many, one)
        image_scale, pixel_scale = _zoo.noise_scales(trained.ckpt_path)
        independent = max(score * image_scale, amap * pixel_scale) <= EXACT
    measured = (tuple(verified), independent)
    assert measured == (facts.verified, facts.batch_independent), (
        f"{model}: measured verified={measured[0]}, batch_independent={measured[1]}; the zoo "
        f"table says {facts.verified}, {facts.batch_independent}"
    )
