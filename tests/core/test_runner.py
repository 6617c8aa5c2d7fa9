"""The shared runner: evaluate() and run_case() with the fake detector."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from pyimgano.datasets import load_dataset
from pyimgano.errors import DatasetError, DeviceError, ModelOutputError
from pyimgano.evaluation import evaluate
from pyimgano.models.base import Batch
from pyimgano.outputs import Prediction
from pyimgano.runner import Case, run_case
from tests.fakes import FakeDetector


@pytest.fixture
def tiles(synthetic_root):
    return load_dataset("mvtec", synthetic_root, "tiles")


def test_each_image_decoded_once_and_image_auroc_matches_sklearn(tiles):
    model = FakeDetector()
    evaluation = evaluate(model, tiles, pixel=True, batch_size=4)
    assert sorted(model.decoded) == sorted(s.image_path for s in tiles)
    labels = [s.label for s in tiles]
    scores = [p.score for p in evaluation.predictions]
    assert evaluation.report.metrics["image_auroc"] == pytest.approx(
        roc_auc_score(labels, scores), abs=1e-12
    )
    assert evaluation.report.dataset["n_anomalous"] == sum(labels)
    assert [r["score"] for r in evaluation.report.records] == scores


def test_by_defect_metrics_use_that_defect_against_good(tiles):
    evaluation = evaluate(FakeDetector(), tiles, batch_size=8)
    scores = np.array([p.score for p in evaluation.predictions])
    defects = np.array([s.defect_type for s in tiles])
    for defect, values in evaluation.report.metrics_by_defect.items():
        keep = (defects == "good") | (defects == defect)
        expected = roc_auc_score((defects[keep] != "good").astype(int), scores[keep])
        assert values["image_auroc"] == pytest.approx(expected, abs=1e-12)


def _mask(sample) -> np.ndarray:
    """The sample's ground truth read with PIL (OR of its mask files; zeros for good images)."""
    size = Image.open(sample.image_path).size[::-1]
    mask = np.zeros(size, dtype=bool)
    for path in sample.mask_paths or ():
        mask |= np.asarray(Image.open(path).convert("L")) > 0
    return mask


def test_maps_are_aligned_to_mask_size(tiles):
    """Half-resolution maps are scored after the bilinear resize docs/REFERENCE.md §5 names,
    written here with torch directly: the pixel metrics equal scikit-learn's on those maps."""
    torch = pytest.importorskip("torch")
    from sklearn.metrics import average_precision_score

    coarse = FakeDetector(downsample=2)
    report = evaluate(coarse, tiles, pixel=True).report
    maps, masks = [], []
    for sample in tiles:
        small = coarse._output(sample.image_path)["anomaly_map"][0]
        mask = _mask(sample)
        assert small.shape == (mask.shape[0] // 2, mask.shape[1] // 2)
        resized = torch.nn.functional.interpolate(
            torch.from_numpy(small.astype(np.float32))[None, None], size=mask.shape,
            mode="bilinear", align_corners=False, antialias=False,
        )[0, 0].numpy()
        maps.append(resized.ravel())
        masks.append(mask.ravel())
    truth, values = np.concatenate(masks), np.concatenate(maps)
    assert report.metrics["pixel_auroc"] == pytest.approx(roc_auc_score(truth, values), abs=1e-9)
    assert report.metrics["pixel_ap"] == pytest.approx(
        average_precision_score(truth, values), abs=1e-9
    )
    # and the full-resolution maps are scored as they are (no resize): other values
    full = evaluate(FakeDetector(), tiles, pixel=True).report
    fine = np.concatenate([FakeDetector()._output(s.image_path)["anomaly_map"][0].ravel()
                           for s in tiles])
    assert full.metrics["pixel_auroc"] == pytest.approx(roc_auc_score(truth, fine), abs=1e-9)


def test_model_without_maps_gives_null_pixel_metrics_with_reason(tiles):
    report = evaluate(FakeDetector(with_map=False), tiles, pixel=True).report
    for name in ("pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro"):
        assert report.metrics[name] is None
        assert report.metric_notes[name] == "the model yields no anomaly map"


class SomeMapsMissing(FakeDetector):
    """The fake detector, except that images whose name is in ``drop`` get no map."""

    def __init__(self, drop: set[str], **kwargs):
        super().__init__(**kwargs)
        self.drop = drop

    def _output(self, path):
        output = super()._output(path)
        if str(path) in self.drop:
            del output["anomaly_map"]
        return output


def test_images_without_a_map_among_images_with_one_are_named(tiles):
    dropped = [str(tiles[1].image_path), str(tiles[4].image_path)]
    with pytest.raises(ModelOutputError) as info:
        evaluate(SomeMapsMissing(set(dropped)), tiles, pixel=True, batch_size=4)
    message = str(info.value)
    assert message.startswith(f"2 of {len(tiles)} images have no anomaly map")
    assert all(name in message for name in dropped)
    assert str(tiles[0].image_path) not in message
    # without pixel metrics the maps are not needed: no error
    assert evaluate(SomeMapsMissing(set(dropped)), tiles, pixel=False).report.metrics[
        "image_auroc"] is not None


def test_timing_needs_two_batches(tiles):
    one_batch = evaluate(FakeDetector(), tiles, batch_size=len(tiles)).report.timing
    assert one_batch["ms_per_image"] is None and one_batch["images_per_s"] is None
    many = evaluate(FakeDetector(), tiles, batch_size=2).report.timing
    assert many["ms_per_image"] > 0 and many["images_per_s"] > 0


class Dropping(FakeDetector):
    def predict(self, image_paths, *, batch_size):
        for batch in super().predict(image_paths, batch_size=batch_size):
            yield Batch(batch.indices[1:], batch.predictions[1:], batch.seconds)


class Doubling(FakeDetector):
    def predict(self, image_paths, *, batch_size):
        batch = Batch((0,), (Prediction(0.1, None, None),), 0.0)
        yield batch
        yield batch


def test_missing_or_repeated_predictions_are_errors(tiles):
    with pytest.raises(ModelOutputError, match="no score for"):
        evaluate(Dropping(), tiles, batch_size=4)
    with pytest.raises(ModelOutputError, match="predicted this image twice"):
        evaluate(Doubling(), tiles)


def test_run_case_checks_fingerprint_pin(synthetic_root, fake_model_name, tiles):
    case = Case(model=fake_model_name, dataset_format="mvtec", root=synthetic_root,
                category="tiles", fingerprint=tiles.fingerprint)
    report = run_case(case).report
    assert report.dataset["fingerprint"] == tiles.fingerprint
    bad = Case(model=fake_model_name, dataset_format="mvtec", root=synthetic_root,
               category="tiles", fingerprint="0" * 64)
    with pytest.raises(DatasetError, match="pins 0000.*the data changed"):
        run_case(bad)


@pytest.mark.parametrize("threshold", [0.02, 0.1, 0.3])
def test_decision_metrics_equal_counts_from_pred_label(tiles, threshold):
    evaluation = evaluate(FakeDetector(labels=True, threshold=threshold), tiles, batch_size=4)
    labels = [s.label for s in tiles]
    decided = [p.pred_label for p in evaluation.predictions]
    missed = sum(1 for y, d in zip(labels, decided, strict=True) if y == 1 and d == 0)
    rejected = sum(1 for y, d in zip(labels, decided, strict=True) if y == 0 and d == 1)
    metrics = evaluation.report.metrics
    assert metrics["image_miss_rate"] == missed / labels.count(1)
    assert metrics["image_false_reject_rate"] == rejected / labels.count(0)


def test_a_null_per_defect_metric_carries_the_metrics_own_reason():
    from pyimgano.evaluation import _image_level

    labels = np.array([1, 1, 1])  # no good image: per-defect AUROC/AP are undefined
    _, notes, by_defect = _image_level(
        labels, np.array([0.2, 0.5, 0.9]), [None] * 3, ["crack", "crack", "scratch"]
    )
    assert by_defect["crack"] == {"image_auroc": None, "image_ap": None}
    counts = {"crack": "0 normal, 2 anomalous", "scratch": "0 normal, 1 anomalous"}
    for defect, count in counts.items():
        for name in ("image_auroc", "image_ap"):
            assert notes[f"metrics_by_defect.{defect}.{name}"] == (
                f"only one class in labels ({count})"
            )


# -- a device out of memory outside the forward pass: one DeviceError with what to try --------


def _out_of_memory(*args, **kwargs):
    import torch

    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB")


def test_out_of_memory_while_aligning_maps(tiles, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.nn.functional, "interpolate", _out_of_memory)
    with pytest.raises(DeviceError) as info:
        evaluate(FakeDetector(downsample=2), tiles, pixel=True, batch_size=4)
    message = str(info.value)
    assert message.startswith("cpu: out of memory in aligning anomaly maps to mask size at "
                              "batch size ")
    assert "CUDA out of memory" in message and "--batch-size" in message
    assert "--device cpu" in message


def test_out_of_memory_in_the_device_metrics(tiles, monkeypatch):
    torch = pytest.importorskip("torch")
    from tests.core.test_device_maps import TensorMaps

    monkeypatch.setattr(torch, "sort", _out_of_memory)
    with pytest.raises(DeviceError) as info:
        evaluate(TensorMaps("cpu"), tiles, pixel=True, batch_size=4)
    message = str(info.value)
    assert message.startswith("cpu: out of memory in the pixel metrics on the maps' device")
    assert "try --device cpu / --pyimgano-device cpu" in message


def test_out_of_memory_comparing_parity_maps(tiles, monkeypatch):
    torch = pytest.importorskip("torch")
    from tests.core.test_device_maps import TensorMaps

    monkeypatch.setattr(torch.Tensor, "double", _out_of_memory)
    with pytest.raises(DeviceError) as info:
        evaluate(TensorMaps("cpu"), tiles, reference=TensorMaps("cpu"), batch_size=4)
    message = str(info.value)
    assert message.startswith("cpu: out of memory in comparing the artifact's and the "
                              "reference's maps (CUDA out of memory")
    assert "--device cpu" in message


def test_out_of_memory_outside_the_forward_pass_exits_2_in_the_cli(
    synthetic_root, fake_model_name, monkeypatch, tmp_path, capsys
):
    torch = pytest.importorskip("torch")
    from pyimgano.cli.benchmark import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch.nn.functional, "interpolate", _out_of_memory)
    code = main(["--dataset", "mvtec", "--root", str(synthetic_root), "--category", "tiles",
                 "--model", fake_model_name, "--model-kwargs", '{"downsample": 2}', "--pixel",
                 "--no-progress", "--no-plots", "--output", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("pyimgano-benchmark: error: cpu: out of memory in aligning")
    assert not (tmp_path / "r.json").exists()
def test_fpr_limits_add_operating_points_to_the_report(synthetic_root, fake_model_name):
    from pyimgano.report import validate_report

    case = Case(model=fake_model_name, dataset_format="mvtec", root=synthetic_root,
                category="tiles", fpr_limits=(0.25, 0.5))
    report = run_case(case).report
    labels = np.array([r["label"] for r in report.records], dtype=bool)
    scores = np.array([r["score"] for r in report.records])
    for limit in (0.25, 0.5):
        best = 0.0  # from the definition: every score as threshold, FPR <= limit
        for t in scores:
            if np.mean(scores[~labels] >= t) <= limit:
                best = max(best, float(np.mean(scores[labels] >= t)))
        assert report.metrics[f"image_tpr_at_fpr_{limit}"] == best
    assert report.settings["fpr_limits"] == [0.25, 0.5]
    validate_report(report.to_dict())
