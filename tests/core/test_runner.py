"""The shared runner: evaluate() and run_case() with the fake detector."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pyimgano.datasets import load_dataset
from pyimgano.errors import DatasetError, ModelOutputError
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


def test_maps_are_aligned_to_mask_size(tiles):
    pytest.importorskip("torch")
    full = evaluate(FakeDetector(), tiles, pixel=True).report.metrics
    coarse = evaluate(FakeDetector(downsample=2), tiles, pixel=True).report.metrics
    assert coarse["pixel_auroc"] is not None
    assert coarse["pixel_auroc"] != full["pixel_auroc"]  # resized maps differ, but are scored


def test_model_without_maps_gives_null_pixel_metrics_with_reason(tiles):
    report = evaluate(FakeDetector(with_map=False), tiles, pixel=True).report
    for name in ("pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro"):
        assert report.metrics[name] is None
        assert report.metric_notes[name] == "the model yields no anomaly map"


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
