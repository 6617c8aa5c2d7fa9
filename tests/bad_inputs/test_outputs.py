"""Catalogue: model output and metrics. The fake detector misbehaves on image 1 (the second
good image); CLI, API and the child pytest session must all refuse, naming that image."""

from __future__ import annotations

import json

import numpy as np

from pyimgano.metrics import image_metrics
from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import (
    cli_args,
    expect_cli,
    expect_raise,
    run_argv,
    run_cli,
    run_scenario_item,
)
from tests.bad_inputs.scenarios import images_dir

ITEM = "fake[tiles]"


def faulty(case_id: str, fault: str, base_data, plugin_batch, **values: object) -> None:
    """The fault fails the CLI (exit 2), the API (exact type) and the suite item alike."""
    values.setdefault("image", images_dir(base_data) / "good" / "001.png")
    argv = cli_args(base_data, "--model-kwargs", json.dumps({"fault": fault}))
    expect_raise(case_id, lambda: run_argv(argv), **values)
    expect_cli(case_id, argv, **values)
    plugin_batch.expect(case_id, "failed", ITEM, **values)


@covers("output.nan_score")
def test_nan_score(base_data, plugin_batch):
    faulty("output.nan_score", "nan_score", base_data, plugin_batch)


@covers("output.nan_map")
def test_infinite_value_in_map(base_data, plugin_batch):
    faulty("output.nan_map", "inf_map", base_data, plugin_batch)


@covers("output.map_not_2d")
def test_map_that_is_not_2d(base_data, plugin_batch):
    faulty("output.map_not_2d", "map_3d", base_data, plugin_batch, shape=(2, 32, 32))


@covers("output.score_missing")
def test_image_left_without_score(base_data, plugin_batch):
    faulty("output.score_missing", "skip", base_data, plugin_batch)


@covers("output.no_score_field")
def test_prediction_without_score_field(base_data, plugin_batch):
    faulty("output.no_score_field", "no_score", base_data, plugin_batch)


@covers("output.constant_scores")
def test_constant_scores_give_auroc_one_half_and_fail_the_gate(base_data, plugin_batch,
                                                               tmp_path, monkeypatch):
    """Decision (docs/REFERENCE.md §5 says AUROC/AP equal scikit-learn's, ties included): a model
    that
    scores every image alike gets AUROC 0.5 and AP = the anomalous fraction — defined, not null
    — so any useful threshold or a snapshot catches it."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.array([0, 0, 0, 1, 1, 1])
    result = image_metrics(labels, np.full(6, 0.5))
    assert result["image_auroc"] == roc_auc_score(labels, np.full(6, 0.5)) == 0.5
    assert result["image_ap"] == average_precision_score(labels, np.full(6, 0.5)) == 0.5
    assert not result.notes
    monkeypatch.chdir(tmp_path)  # a stdout-mode run: never in the checkout
    out = run_cli([*cli_args(base_data, "--pixel", "--model-kwargs", '{"fault": "constant"}')])
    assert out.code == 0, out.err
    report = json.loads(out.out)
    assert report["metrics"]["image_auroc"] == 0.5 and report["metrics"]["pixel_auroc"] == 0.5
    gate_case("output.constant_scores", plugin_batch, tmp_path, node=ITEM)


def gate_case(case_id: str, plugin_batch, tmp_path, **values: object) -> str:
    """The item fails its gate: a GateFailure in this process, a failure in the child."""
    expect_raise(case_id, lambda: run_scenario_item(plugin_batch, case_id, tmp_path), **values)
    return plugin_batch.expect(case_id, "failed", ITEM, **values)


def null_metric_case(case_id: str, metric: str, plugin_batch, tmp_path, **values: object):
    """The metric is null with a reason in the report (never NaN); a threshold on it fails the
    item with the reason."""
    from pyimgano.report import read_report

    found = gate_case(case_id, plugin_batch, tmp_path, **values)
    assert f"{metric}  null" in found
    report = read_report(tmp_path / "tiles.json")
    assert report["metrics"][metric] is None
    assert report["thresholds"][metric]["passed"] is False
    CASES[case_id].check(f"{metric}: {report['metric_notes'][metric]}", **values)


@covers("metrics.only_normal")
def test_only_normal_test_images(plugin_batch, tmp_path):
    null_metric_case("metrics.only_normal", "image_auroc", plugin_batch, tmp_path, n=3)


@covers("metrics.only_anomalous")
def test_only_anomalous_test_images(plugin_batch, tmp_path):
    null_metric_case("metrics.only_anomalous", "image_auroc", plugin_batch, tmp_path, n=3)


@covers("metrics.masks_all_zero")
def test_masks_all_zero(plugin_batch, tmp_path):
    null_metric_case("metrics.masks_all_zero", "pixel_auroc", plugin_batch, tmp_path,
                     n=6 * 32 * 32)


# -- partial maps and device memory (their own block) ------------------------------------------


@covers("output.some_maps_missing")
def test_some_images_without_a_map(base_data, plugin_batch):
    values = {"n": 6, "image": images_dir(base_data) / "good" / "001.png"}
    argv = cli_args(base_data, "--pixel", "--model-kwargs", json.dumps({"fault": "no_map"}))
    expect_raise("output.some_maps_missing", lambda: run_argv(argv), **values)
    expect_cli("output.some_maps_missing", argv, **values)
    plugin_batch.expect("output.some_maps_missing", "failed", ITEM, **values)


@covers("device.out_of_memory")
def test_device_out_of_memory(base_data, plugin_batch):
    """torch's out-of-memory error in the (fake) forward pass; the other stages (alignment, the
    device metrics, parity maps) go through the same translation (tests/core/test_runner.py)."""
    values = {"device": "cpu", "stage": "the forward pass"}
    argv = cli_args(base_data, "--batch-size", "4", "--device", "cpu", "--model-kwargs",
                    json.dumps({"fault": "oom"}))
    message = expect_cli("device.out_of_memory", argv, **values)
    assert "at batch size 4 (CUDA out of memory" in message and "--batch-size 2" in message
    expect_raise("device.out_of_memory", lambda: run_argv(argv), **values)
    plugin_batch.expect("device.out_of_memory", "failed", ITEM, **values)
