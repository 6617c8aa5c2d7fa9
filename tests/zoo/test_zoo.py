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

What the zoo must measure is :data:`EXPECTED`, written here (docs/MODELS.md's table), not read
from the registry; ``test_zoo_fast.py`` checks that the registry's table says the same, so a
model marked unverified in the registry fails there, and a model that stops scoring exactly
fails here.

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

ALL = (".pt", ".ckpt")
#: model -> (formats that must score exactly as anomalib's own inference, batch independence):
#: what the zoo must measure (docs/MODELS.md). Not trainable offline: ((), None).
EXPECTED: dict[str, tuple[tuple[str, ...], bool | None]] = {
    "anomaly_dino": (ALL, True),
    "anomalyvfm": ((), None),
    "cfa": (ALL, True),
    "cflow": (ALL, False),
    "cfm": ((), None),
    "csflow": (ALL, True),
    "dfkde": (ALL, True),
    "dfm": (ALL, True),
    "dinomaly": (ALL, True),
    "draem": (ALL, True),
    "dsr": (ALL, False),
    "efficient_ad": (ALL, True),
    "fastflow": (ALL, True),
    "foundad": (ALL, True),
    "fre": (ALL, True),
    "ganomaly": (ALL, True),
    "general_ad": ((".ckpt",), True),  # anomalib 2.7 cannot unpickle its own .pt
    "glass": (ALL, True),
    "inp_former": (ALL, True),
    "l2bt": (ALL, True),
    "mh_patchcore": (ALL, True),
    "padim": (ALL, True),
    "patchcore": (ALL, True),
    "patchflow": (ALL, True),
    "rad": (ALL, True),
    "reverse_distillation": (ALL, True),
    "stfpm": (ALL, True),
    "super_add": (ALL, True),
    "supersimplenet": (ALL, True),
    "uflow": (ALL, True),
    "uninet": (ALL, True),
    "vlm_ad": ((), None),
    "winclip": ((), None),
}

#: Models anomalib cannot build or train offline here, with the reason the trainer reports.
NOT_TRAINABLE_OFFLINE: dict[str, str] = {
    "anomalyvfm": "hf_hub_download",
    "cfm": "Point-MAE",
    "vlm_ad": "Ollama",  # its default backend (the package, then its model service) is absent
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


@pytest.mark.parametrize("model", sorted(set(ANOMALIB_ZOO) | set(EXPECTED)))
def test_zoo_model(model, zoo_train, zoo_images, monkeypatch, tmp_path, request):
    assert model in ANOMALIB_ZOO, f"{model}: expected here but not registered"
    assert model in EXPECTED, f"{model}: registered, but EXPECTED does not say what to measure"
    facts = ANOMALIB_ZOO[model]
    expected = EXPECTED[model]
    request.addfinalizer(lambda: zoo_train.forget(model))
    if model in NOT_TRAINABLE_OFFLINE:
        with pytest.raises(_zoo.TrainingFailed, match=NOT_TRAINABLE_OFFLINE[model]):
            zoo_train(model)
        assert expected == ((), None)
        assert (facts.verified, facts.batch_independent) == expected
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
    assert measured == expected, (
        f"{model}: measured verified={measured[0]}, batch_independent={measured[1]}; expected "
        f"{expected[0]}, {expected[1]}"
    )
    assert (facts.verified, facts.batch_independent) == measured, (
        f"{model}: the zoo table says {facts.verified}, {facts.batch_independent}; measured "
        f"{measured[0]}, {measured[1]}"
    )
