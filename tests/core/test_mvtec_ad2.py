"""MVTec AD 2 through evaluate(): aupro_0.05 always, validation/good calibration, seg_f1.

The expected threshold and SegF1 are computed here from the image files alone: the fake
detector's maps (``ad2_layout.fake_map``), mean + 3 population std of every validation pixel
(MVTec's suggested baseline) or NumPy's quantile, and a plain count of TP/FP/FN over all test
pixels of the category.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pyimgano.datasets import load_dataset
from pyimgano.errors import ConfigError, DatasetError
from pyimgano.evaluation import evaluate
from pyimgano.report import validate_report
from pyimgano.runner import Case, run_case
from tests.core.ad2_layout import fake_map, read_mask, write_ad2
from tests.fakes import FakeDetector
from tests.metrics._reference import ref_aupro


def _expected(root, category, threshold_of):
    cat = root / category
    validation = sorted((cat / "validation/good").glob("*.png"))
    pooled = np.concatenate([fake_map(p).astype(np.float64).ravel() for p in validation])
    threshold = threshold_of(pooled)
    tp = fp = fn = 0
    maps, masks = [], []
    for path in sorted((cat / "test_public").glob("*/*.png")):
        if path.parent.name == "ground_truth":
            continue
        amap = fake_map(path)
        if path.parent.name == "bad":
            mask = read_mask(cat / "test_public/ground_truth/bad" / f"{path.stem}_mask.png")
        else:
            mask = np.zeros(amap.shape, bool)
        predicted = amap.astype(np.float64) >= threshold
        tp += int(np.sum(predicted & mask))
        fp += int(np.sum(predicted & ~mask))
        fn += int(np.sum(~predicted & mask))
        maps.append(amap)
        masks.append(mask)
    return threshold, 2 * tp / (2 * tp + fp + fn), len(validation), maps, masks


@pytest.fixture
def ad2(tmp_path):
    root = tmp_path / "ad2"
    write_ad2(root, "can")
    return root


def test_default_calibration_seg_f1_and_aupro_005(ad2):
    dataset = load_dataset("mvtec_ad2", ad2, "can")
    model = FakeDetector()
    evaluation = evaluate(model, dataset, pixel=True, batch_size=2)
    report = evaluation.report.to_dict()
    validate_report(report)
    threshold, expected_f1, n_val, maps, masks = _expected(
        ad2, "can", lambda px: np.mean(px) + 3 * np.std(px))
    assert report["calibration"] == {
        "threshold": pytest.approx(threshold, rel=1e-12),
        "rule": "mean_std", "k": 3.0, "n_images": n_val, "n_pixels": n_val * 12 * 16,
        "split": "validation/good",
    }
    assert report["metrics"]["seg_f1"] == pytest.approx(expected_f1, abs=1e-12)
    assert 0.0 < expected_f1 < 1.0  # the case is not trivial
    # aupro_0.05 although no aupro_limits were asked for
    assert report["metrics"]["aupro_0.05"] == pytest.approx(ref_aupro(maps, masks, 0.05),
                                                            abs=1e-9)
    assert report["settings"]["aupro_limits"] == [0.05]
    # the validation images went through the same model, before the test images
    validation = sorted((ad2 / "can/validation/good").glob("*.png"))
    assert model.decoded[: len(validation)] == validation
    assert len(model.decoded) == len(validation) + len(dataset)


def test_quantile_rule_through_run_case(ad2, fake_model_name):
    case = Case(model=fake_model_name, dataset_format="mvtec_ad2", root=ad2, category="can",
                pixel=True, aupro_limits=(0.3, 0.05),
                calibration={"rule": "quantile", "q": 0.95})
    report = run_case(case).report.to_dict()
    threshold, expected_f1, _, _, _ = _expected(ad2, "can", lambda px: np.quantile(px, 0.95))
    assert report["calibration"]["rule"] == "quantile"
    assert report["calibration"]["q"] == 0.95
    assert report["calibration"]["threshold"] == pytest.approx(threshold, rel=1e-12)
    assert report["metrics"]["seg_f1"] == pytest.approx(expected_f1, abs=1e-12)
    assert report["settings"]["aupro_limits"] == [0.3, 0.05]  # asked ones, 0.05 once
    json.dumps(report, allow_nan=False)


def test_without_pixel_metrics_no_calibration(ad2):
    model = FakeDetector()
    report = evaluate(model, load_dataset("mvtec_ad2", ad2, "can")).report.to_dict()
    assert "calibration" not in report
    assert "seg_f1" not in report["metrics"]
    assert len(model.decoded) == 6  # no validation image inferred


def test_model_without_maps_gives_null_seg_f1(ad2):
    report = evaluate(FakeDetector(with_map=False), load_dataset("mvtec_ad2", ad2, "can"),
                      pixel=True).report.to_dict()
    assert report["metrics"]["seg_f1"] is None
    assert report["metric_notes"]["seg_f1"] == "the model yields no anomaly map"
    assert "calibration" not in report


def test_missing_validation_split_fails_before_test_inference(ad2):
    shutil.rmtree(ad2 / "can/validation")
    model = FakeDetector()
    with pytest.raises(DatasetError, match=r"no validation/good directory at .*can.validation"):
        evaluate(model, load_dataset("mvtec_ad2", ad2, "can"), pixel=True)
    assert model.decoded == []


def test_calibration_option_errors(ad2, fake_model_name, tmp_path):
    case = Case(model=fake_model_name, dataset_format="mvtec_ad2", root=ad2, category="can",
                pixel=True, calibration={"rule": "quantile", "q": 2})
    with pytest.raises(ConfigError, match=r"calibration.q=2.0: expected a number in \[0, 1\]"):
        run_case(case)
    case = Case(model=fake_model_name, dataset_format="mvtec", root=ad2, category="can",
                calibration={"rule": "quantile"})
    with pytest.raises(ConfigError, match="calibration applies to the mvtec_ad2 format only"):
        run_case(case)


def test_suite_calibration_key_reaches_the_case_and_the_schema_agrees():
    import copy

    import jsonschema

    from pyimgano.errors import SuiteError
    from pyimgano.report import load_schema
    from tests.plugin.test_suite import base, expand

    validator = jsonschema.Draft202012Validator(load_schema("suite"))
    data = copy.deepcopy(base())
    data["defaults"]["calibration"] = {"rule": "quantile", "q": 0.999}
    assert not list(validator.iter_errors(data))
    bottle, _ = expand(data)
    assert dict(bottle.case.calibration) == {"rule": "quantile", "q": 0.999}
    data["models"][0]["calibration"] = {"rule": "mean_std"}  # the model's replaces the default
    assert dict(expand(data)[0].case.calibration) == {"rule": "mean_std", "k": 3.0}
    assert not list(validator.iter_errors(data))
    assert expand(base())[0].case.calibration is None
    data["models"][0]["calibration"] = {"rule": "quantile", "q": 1.5}
    assert list(validator.iter_errors(data))
    with pytest.raises(SuiteError, match=r"^suites/release\.yaml: models\[0\]\.calibration\.q="
                       r"1\.5: expected a number in \[0, 1\]"):
        expand(data)
