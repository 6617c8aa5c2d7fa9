"""MVTec LOCO through evaluate(): AU-sPRO from defects_config.json, overall and per group.

The expected values are worked out by hand below from the official MVTec LOCO AD evaluation's
definition (each mask file one defect, saturation from the config, FPR over the defect-free
pixels of every evaluated image — the good images and the anomalous images' pixels outside all
of their masks —, per type its images with the good ones, overall the mean of the two types,
exact sweep, interpolated at the limit, area / limit), and checked against the slow reference
of the metric tests as well.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from pyimgano.datasets import load_dataset
from pyimgano.errors import DatasetError
from pyimgano.evaluation import evaluate
from pyimgano.models.base import Batch, Detector, ModelDescription
from pyimgano.outputs import Prediction
from tests.metrics._reference import ref_auspro_loco, ref_saturation_area

H, W = 6, 8
CONFIG = [
    {"defect_name": "missing_banana", "pixel_value": 255, "saturation_threshold": 0.5,
     "relative_saturation": True},
    {"defect_name": "too_many_oranges", "pixel_value": 254, "saturation_threshold": 4,
     "relative_saturation": False},
    {"defect_name": "box_damaged", "pixel_value": 253, "saturation_threshold": 0.3,
     "relative_saturation": True},
]
# (x0, y0, x1, y1), exclusive; each 3x2 = 6 pixels
BOX_A, BOX_B, BOX_C = (0, 0, 3, 2), (4, 3, 7, 5), (1, 1, 4, 3)


def _box(box):
    x0, y0, x1, y1 = box
    out = np.zeros((H, W), bool)
    out[y0:y1, x0:x1] = True
    return out


def _write(root, config=True):
    cat = root / "box"
    for rel, value in (("good/000.png", 120), ("logical_anomalies/000.png", 10),
                       ("structural_anomalies/000.png", 10)):
        path = cat / "test" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (W, H), (value,) * 3).save(path)
    for rel, box, value in (("logical_anomalies/000/000.png", BOX_A, 255),
                            ("logical_anomalies/000/001.png", BOX_B, 254),
                            ("structural_anomalies/000/000.png", BOX_C, 253)):
        path = cat / "ground_truth" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_box(box).astype(np.uint8) * value).save(path)
    if config:
        (cat / "defects_config.json").write_text(json.dumps(CONFIG))


class MapDetector(Detector):
    """Fixed maps by the image's defect folder."""

    def __init__(self):
        good = np.zeros((H, W), np.float32)
        good[5, 7] = 0.85
        logical = np.zeros((H, W), np.float32)
        logical[0, 0:2] = 1.0  # 2 of defect A's 6 pixels
        logical[_box(BOX_B)] = 0.9
        logical[5, 0] = 0.95  # outside both masks: a false positive of the logical image
        structural = np.where(_box(BOX_C), 0.8, 0.0).astype(np.float32)
        structural[5, 0] = 0.95  # outside its mask: a false positive of the structural image
        self.maps = {"good": good, "logical_anomalies": logical,
                     "structural_anomalies": structural}

    def predict(self, image_paths, *, batch_size):
        predictions = tuple(
            Prediction(float(self.maps[p.parent.name].max()), self.maps[p.parent.name], None)
            for p in image_paths
        )
        yield Batch(tuple(range(len(image_paths))), predictions, 0.0)

    def describe(self):
        return ModelDescription(device="cpu")


def _area(points, limit):
    """Trapezoidal area of a step-and-line curve up to ``limit``, divided by the limit."""
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    y_at = np.interp(limit, xs[-2:], ys[-2:])  # the limit falls on the last segment here
    keep = xs <= limit
    xs, ys = np.append(xs[keep], limit), np.append(ys[keep], y_at)
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2) / limit)


def test_auspro_overall_and_per_group_by_hand(tmp_path):
    _write(tmp_path)
    dataset = load_dataset("mvtec_loco", tmp_path, "box")
    report = evaluate(MapDetector(), dataset, pixel=True).report
    # saturation: A int(0.5*6) = 3, B min(4, 6) = 4, C int(0.3*6) = 1.
    # Logical set = good + logical image: 48 + (48 - 12) = 84 defect-free pixels. Thresholds
    # 1.0 (A 2/3 covered), 0.95 (the logical image's stray pixel), 0.9 (B), 0.85 (the good
    # image's pixel), 0 (everything).
    # Structural set = good + structural image: 48 + 42 = 90 defect-free pixels. Thresholds
    # 0.95 (stray pixel), 0.85 (good pixel), 0.8 (C), 0.
    logical = [(0, 0), (0, 1 / 3), (1 / 84, 1 / 3), (1 / 84, 5 / 6), (2 / 84, 5 / 6), (1, 1)]
    structural = [(0, 0), (1 / 90, 0), (2 / 90, 0), (2 / 90, 1), (1, 1)]
    expected_logical = _area(logical, 0.05)
    expected_structural = _area(structural, 0.05)
    by_defect = report.metrics_by_defect_type
    assert by_defect["logical_anomalies"]["auspro_0.05"] == pytest.approx(
        expected_logical, abs=1e-12
    )
    assert by_defect["structural_anomalies"]["auspro_0.05"] == pytest.approx(
        expected_structural, abs=1e-12
    )
    # overall: the official `mean` of the two types
    assert report.metrics["auspro_0.05"] == pytest.approx(
        0.5 * (expected_logical + expected_structural), abs=1e-12
    )
    assert report.settings["auspro_limits"] == [0.05]
    # The former rule (FPR on the good image's 48 pixels alone) gives other numbers here:
    old_logical = [(0, 0), (0, 1 / 3), (0, 5 / 6), (1 / 48, 5 / 6), (1, 1)]
    old_structural = [(0, 0), (1 / 48, 0), (1 / 48, 1), (1, 1)]
    assert abs(_area(old_logical, 0.05) - expected_logical) > 1e-3
    assert abs(_area(old_structural, 0.05) - expected_structural) > 1e-3
    # ... and the slow reference of the metric tests agrees with the hand-made curves
    detector = MapDetector()
    maps = [detector.maps[s.defect_type] for s in dataset]
    types = [None if s.defect_type == "good" else s.defect_type for s in dataset]
    kinds = {"logical_anomalies": [(BOX_A, 0.5, True), (BOX_B, 4, False)],
             "structural_anomalies": [(BOX_C, 0.3, True)]}
    channels = [
        [(_box(box), ref_saturation_area(6, t, rel)) for box, t, rel in kinds.get(kind, [])]
        for kind in (s.defect_type for s in dataset)
    ]
    reference = ref_auspro_loco(maps, channels, types, 0.05)
    assert reference["logical_anomalies"] == pytest.approx(expected_logical, abs=1e-12)
    assert reference["structural_anomalies"] == pytest.approx(expected_structural, abs=1e-12)


def test_one_type_only_has_no_overall_auspro(tmp_path):
    # The official overall value is the mean of the two types; a category with one type has
    # none (the official script fails there): null with its reason, the type's value kept.
    _write(tmp_path)
    cat = tmp_path / "box"
    for folder in (cat / "test", cat / "ground_truth"):
        shutil.rmtree(folder / "structural_anomalies")
    dataset = load_dataset("mvtec_loco", tmp_path, "box")
    report = evaluate(MapDetector(), dataset, pixel=True).report
    assert report.metrics["auspro_0.05"] is None
    assert "mean of the defect groups" in report.metric_notes["auspro_0.05"]
    logical = [(0, 0), (0, 1 / 3), (1 / 84, 1 / 3), (1 / 84, 5 / 6), (2 / 84, 5 / 6), (1, 1)]
    assert report.metrics_by_defect_type["logical_anomalies"]["auspro_0.05"] == pytest.approx(
        _area(logical, 0.05), abs=1e-12
    )


def test_extra_limits_come_from_the_same_run(tmp_path):
    _write(tmp_path)
    dataset = load_dataset("mvtec_loco", tmp_path, "box")
    report = evaluate(MapDetector(), dataset, pixel=True, auspro_limits=(0.05, 0.3)).report
    assert {"auspro_0.05", "auspro_0.3"} <= set(report.metrics)


def test_loco_without_defects_config_fails_before_inference(tmp_path):
    _write(tmp_path, config=False)
    dataset = load_dataset("mvtec_loco", tmp_path, "box")

    class Untouchable(MapDetector):
        def predict(self, image_paths, *, batch_size):
            raise AssertionError("inference ran before the missing config was reported")

    with pytest.raises(DatasetError, match="defects_config.json"):
        evaluate(Untouchable(), dataset, pixel=True)
