"""The always-on part of the zoo (docs/MODELS.md): one batch-dependent model (Cflow), one
network-constructing model (STFPM), and `.ckpt` files trained at a non-default input size
(FastFlow, ReverseDistillation) — each against anomalib's own per-image inference.

The full zoo over every registered alias is ``test_zoo.py`` (``PYIMGANO_ZOO=1``).
"""

from __future__ import annotations

import pytest

from pyimgano.errors import CheckpointError
from tests.zoo import _zoo

pytestmark = pytest.mark.anomalib

#: Scores and maps must equal per-image inference beyond float noise (issue: <= 1e-5).
EXACT = 1e-5


def _detector(path, model, **kwargs):
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    return VisionAnomalibCheckpoint(path, anomalib_model=model, device="cpu", **kwargs)


def test_the_zoo_table_states_the_facts_the_zoo_test_expects():
    """The registry's zoo table must say what the full zoo test expects (its own list, not the
    table): marking a model unverified or batch-independent in the table fails here."""
    from pyimgano.models.anomalib_zoo import ANOMALIB_ZOO
    from tests.zoo.test_zoo import EXPECTED

    table = {name: (facts.verified, facts.batch_independent)
             for name, facts in ANOMALIB_ZOO.items()}
    assert table == EXPECTED


@pytest.fixture(scope="session")
def cflow(zoo_train):
    return zoo_train("cflow")


@pytest.fixture(scope="session")
def stfpm(zoo_train):
    return zoo_train("stfpm")


@pytest.fixture(scope="session")
def fastflow(zoo_train):
    return zoo_train("fastflow")


@pytest.fixture(scope="session")
def reverse_distillation(zoo_train):
    return zoo_train("reverse_distillation")


# -- batch dependence -------------------------------------------------------------------------


def test_cflow_forward_depends_on_the_batch(cflow, zoo_images, monkeypatch):
    """Cflow's map subtracts the batch maximum: batched numbers are not per-image inference."""
    reference = _zoo.reference_pt(cflow.pt_path, zoo_images, monkeypatch)
    detector = _detector(cflow.pt_path, "cflow", trust_checkpoint=True)
    one = _zoo.pyimgano_outputs(detector, zoo_images, 1)
    assert max(_zoo.max_differences(one, reference)) <= EXACT
    batched = _zoo.pyimgano_outputs(detector, zoo_images, _zoo.BATCH)
    score, amap = _zoo.max_differences(batched, reference)
    assert max(score, amap) > 1e-3  # far beyond float noise
    assert detector.batch_independent is False


def test_the_registry_and_detector_report_batch_independence(padim):
    from pyimgano.models import model_info

    assert model_info("vision_cflow_anomalib")["metadata"]["batch_independent"] is False
    assert model_info("vision_padim_anomalib")["metadata"]["batch_independent"] is True
    assert model_info("vision_winclip_anomalib")["metadata"]["batch_independent"] is None
    detector = _detector(padim.ckpt_path, "padim")
    assert detector.batch_independent is True


def test_cflow_evaluation_is_per_image_exact_at_any_batch_size(cflow, zoo_data, zoo_images,
                                                               monkeypatch):
    """run_case at batch 16 must report per-image inference's scores (and say batch_size 1)."""
    from pyimgano.runner import Case, run_case

    reference = _zoo.reference_pt(cflow.pt_path, zoo_images, monkeypatch)
    evaluation = run_case(
        Case(model="vision_cflow_anomalib", dataset_format="mvtec", root=zoo_data,
             category=_zoo.CATEGORY, checkpoint=cflow.pt_path, device="cpu", batch_size=16,
             trust_checkpoint=True)
    )
    by_path = {str(sample.image_path): p
               for sample, p in zip(evaluation.dataset, evaluation.predictions, strict=True)}
    for image, want in zip(zoo_images, reference, strict=True):
        assert abs(by_path[str(image)].score - want.score) <= EXACT, image
    assert evaluation.report.environment["batch_size"] == 1


# -- offline .ckpt loading --------------------------------------------------------------------


def test_stfpm_ckpt_loads_without_the_network(stfpm, zoo_images, monkeypatch):
    """STFPM's constructor downloads its ImageNet teacher; the .ckpt holds those weights."""
    reference = _zoo.reference_pt(stfpm.pt_path, zoo_images, monkeypatch)
    with _zoo.network_blocked(monkeypatch) as attempts:
        detector = _detector(stfpm.ckpt_path, "stfpm")
        got = _zoo.pyimgano_outputs(detector, zoo_images, _zoo.BATCH)
    assert attempts == []
    assert max(_zoo.max_differences(got, reference)) <= EXACT


def test_stfpm_construction_really_reaches_for_the_network(stfpm, monkeypatch):
    """Control: anomalib's own load_from_checkpoint of the same file asks for the weights."""
    cls = _zoo.model_class("stfpm")
    with _zoo.network_blocked(monkeypatch) as attempts, pytest.raises(Exception):  # noqa: B017
        cls.load_from_checkpoint(stfpm.ckpt_path, map_location="cpu")
    assert attempts


def test_a_download_the_checkpoint_cannot_replace_is_one_clear_error(stfpm, monkeypatch):
    """A constructor that needs an external file: the error names model, file and the .pt."""
    import functools

    import anomalib.data.utils.download as download

    cls = _zoo.model_class("stfpm")
    original = cls.__init__

    @functools.wraps(original)
    def needs_a_file(self, *args, **kwargs):
        original(self, *args, **kwargs)
        download.download_and_extract(
            "/nonexistent", download.DownloadInfo("teacher.pth", "https://x.test/teacher.pth", "0")
        )

    monkeypatch.setattr(cls, "__init__", needs_a_file)
    with _zoo.network_blocked(monkeypatch) as attempts, pytest.raises(CheckpointError) as info:
        _detector(stfpm.ckpt_path, "stfpm")
    message = str(info.value)
    assert attempts == []  # refused before anything reached the network
    assert str(stfpm.ckpt_path) in message and "Stfpm" in message
    assert "teacher.pth" in message and "https://x.test/teacher.pth" in message
    assert "exported model (.pt)" in message
    assert "\n" not in message and info.value.__cause__ is None


# -- .ckpt trained at a non-default input size -----------------------------------------------


@pytest.mark.parametrize("model", ["fastflow", "reverse_distillation"])
def test_ckpt_at_a_non_default_size_scores_as_its_pt(model, zoo_train, zoo_images, monkeypatch):
    trained = zoo_train(model)
    assert trained.image_size != 256  # anomalib's default input size
    from_pt = _zoo.reference_pt(trained.pt_path, zoo_images, monkeypatch)
    with _zoo.network_blocked(monkeypatch):
        got = _zoo.pyimgano_outputs(_detector(trained.ckpt_path, model), zoo_images, 1)
    assert max(_zoo.max_differences(got, from_pt)) <= EXACT


def test_plain_load_from_checkpoint_rebuilds_fastflow_at_the_default_size(fastflow, zoo_images,
                                                                          tmp_path):
    """Control: without the saved pre-processor anomalib cannot load the same file."""
    with pytest.raises(RuntimeError, match="size mismatch"):
        _zoo.reference_ckpt("fastflow", fastflow.ckpt_path, zoo_images, tmp_path,
                            with_saved_pre_processor=False)


def test_plain_load_from_checkpoint_scores_reverse_distillation_differently(
    reverse_distillation, zoo_images, tmp_path, monkeypatch
):
    """Control: anomalib's plain rebuild of the same file loads, and scores other numbers."""
    from_pt = _zoo.reference_pt(reverse_distillation.pt_path, zoo_images, monkeypatch)
    plain = _zoo.reference_ckpt("reverse_distillation", reverse_distillation.ckpt_path,
                                zoo_images, tmp_path, with_saved_pre_processor=False)
    # rebuilt at 256 px: its maps come out at 256x256 instead of the trained 64x64
    assert plain[0].anomaly_map.shape == (256, 256)
    assert from_pt[0].anomaly_map.shape == (64, 64)
    # and its scores are other numbers: far beyond float noise (EXACT), on most images
    deltas = sorted(abs(plain[i].score - from_pt[i].score) for i in range(len(zoo_images)))
    assert deltas[len(deltas) // 2] > 100 * EXACT, deltas


def test_weights_of_another_input_size_are_named_as_such(fastflow, tmp_path):
    """A pre-processor config that does not describe the weights: no 'another model' guess."""
    import torch

    checkpoint = torch.load(fastflow.ckpt_path, map_location="cpu", weights_only=False)
    resize = checkpoint["anomalib_pre_processor_config"]["transform"]["init_args"]["transforms"][0]
    assert resize["class_path"].endswith("Resize")
    resize["init_args"]["size"] = [128, 128]
    path = tmp_path / "resized.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError) as info:
        _detector(path, "fastflow")
    message = str(info.value)
    assert "other shapes" in message and "input size 128x128" in message
    assert "another model" not in message
    assert "size mismatch" in message
