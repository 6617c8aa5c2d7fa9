"""Suite parsing and expansion without pytest sessions (pytest_pyimgano.parse/expand,
docs/REFERENCE.md §8)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from pyimgano.errors import SuiteError
from pyimgano.gates import Bound
from pytest_pyimgano.expand import expand_suite
from pytest_pyimgano.parse import parse_suite
from pytest_pyimgano.spec import RunSettings
from pytest_pyimgano.suite_yaml import load_yaml, looks_like_suite

HEX = "ab" * 32


def base() -> dict:
    return {
        "pyimgano_suite": 1,
        "name": "release-gate",
        "defaults": {
            "pixel": True,
            "batch_size": 16,
            "thresholds": {"image_auroc": 0.95, "aupro": {"min": 0.8}},
            "snapshot": {"tolerance": 0.002},
        },
        "datasets": {"mvtec": {"format": "mvtec", "root": "${MVTEC_ROOT}",
                               "fingerprint": {"bottle": HEX}}},
        "models": [{
            "id": "patchcore-wrn50",
            "model": "vision_patchcore_anomalib",
            "checkpoint": "../checkpoints/patchcore/{category}/model.pt",
            "sha256": {"bottle": HEX},
            "model_kwargs": {},
            "dataset": "mvtec",
            "categories": ["bottle", "cable"],
            "thresholds": {"image_auroc": 0.97, "per_category": {"cable": {"image_auroc": 0.93}}},
        }],
    }


SUITE = Path("/repo/suites/release.yaml")
ENV = {"MVTEC_ROOT": "/data/mvtec"}


def parse(data: dict, environ: dict | None = None):
    return parse_suite(data, SUITE, source="suites/release.yaml",
                       environ=ENV if environ is None else environ)


def expand(data: dict, settings: RunSettings | None = None, environ: dict | None = None,
           found: tuple[str, ...] = ("bottle", "cable", "screw")):
    return expand_suite(parse(data, environ), settings,
                        list_categories=lambda fmt, root, **o: list(found))


def test_spec_example_parses_and_expands():
    items = expand(base())
    assert [i.name for i in items] == ["patchcore-wrn50[bottle]", "patchcore-wrn50[cable]"]
    bottle, cable = items
    assert bottle.case.root == Path("/data/mvtec")
    assert bottle.case.checkpoint == Path("/repo/checkpoints/patchcore/bottle/model.pt")
    assert cable.case.checkpoint == Path("/repo/checkpoints/patchcore/cable/model.pt")
    assert bottle.case.checkpoint_sha256 == HEX and cable.case.checkpoint_sha256 is None
    assert bottle.case.fingerprint == HEX and cable.case.fingerprint is None
    assert bottle.case.pixel is True and bottle.case.batch_size == 16
    # merging: model replaces defaults per metric, per_category replaces the model's
    assert dict(bottle.bounds) == {"image_auroc": Bound("image_auroc", min=0.97),
                                   "aupro": Bound("aupro", min=0.8)}
    assert dict(cable.bounds) == {"image_auroc": Bound("image_auroc", min=0.93),
                                  "aupro": Bound("aupro", min=0.8)}
    assert bottle.tolerance.for_metric("aupro") == 0.002


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(extra=1), r"suites/release\.yaml: extra: unknown key 'extra'; "
                                      r"allowed keys: pyimgano_suite, name, defaults"),
        (lambda d: d["defaults"].update(pixels=True),
         r"defaults\.pixels: unknown key 'pixels'; allowed keys: pixel, batch_size"),
        (lambda d: d["datasets"]["mvtec"].update(rot="x"),
         r"datasets\.mvtec\.rot: unknown key 'rot'; allowed keys: format, root, fingerprint"),
        (lambda d: d["models"][0].update(checkpont="x"),
         r"models\[0\]\.checkpont: unknown key 'checkpont'; allowed keys: id, model"),
        (lambda d: d["models"][0]["thresholds"].update(image_aucroc=0.9),
         r"models\[0\]\.thresholds\.image_aucroc: unknown metric 'image_aucroc'"),
        (lambda d: d["models"][0]["thresholds"]["per_category"]["cable"].update(aupr=0.9),
         r"models\[0\]\.thresholds\.per_category\.cable\.aupr: unknown metric 'aupr'"),
        (lambda d: d["defaults"]["thresholds"].update(per_category={}),
         r"defaults\.thresholds\.per_category: per_category is only allowed in a model"),
        (lambda d: d["defaults"]["snapshot"].update(tol=1),
         r"defaults\.snapshot\.tol: unknown key 'tol'; allowed keys: tolerance"),
        (lambda d: d["defaults"]["snapshot"].update(tolerance={"ms_per_image": 1}),
         r"speed metrics are never snapshotted"),
        (lambda d: d["defaults"]["snapshot"].update(tolerance={"aupr": 1}),
         r"defaults\.snapshot\.tolerance\.aupr: unknown metric 'aupr'"),
        (lambda d: d["defaults"]["snapshot"].update(tolerance=-1), r"cannot be negative"),
        (lambda d: d.update(pyimgano_suite=2), r"pyimgano_suite: unsupported suite version 2"),
        (lambda d: d.update(pyimgano_suite=True), r"unsupported suite version True"),
        (lambda d: d["defaults"].update(batch_size="16"),
         r"defaults\.batch_size: expected a positive integer, got '16'"),
        (lambda d: d["defaults"].update(pixel="yes"), r"defaults\.pixel: expected true or false"),
        (lambda d: d["defaults"].update(device="gpu"), r"defaults\.device: unknown device 'gpu'"),
        (lambda d: d["models"][0].update(dataset="visa"),
         r"models\[0\]\.dataset: unknown dataset 'visa'; datasets: mvtec"),
        (lambda d: d["models"][0].update(model="vision_patchcore_anomalb"),
         r"models\[0\]\.model: unknown model 'vision_patchcore_anomalb'"),
        (lambda d: d["models"].append(dict(d["models"][0])),
         r"models\[1\]\.id: duplicate model id 'patchcore-wrn50' \(also models\[0\]\)"),
        (lambda d: d["models"][0]["thresholds"]["per_category"].update(screw={}),
         r"models\[0\]\.thresholds\.per_category\.screw: category 'screw' is not selected"),
        (lambda d: d["models"][0]["sha256"].update(screw=HEX),
         r"models\[0\]\.sha256\.screw: category 'screw' is not selected"),
        (lambda d: d["datasets"]["mvtec"]["fingerprint"].update(screw=HEX),
         r"datasets\.mvtec\.fingerprint\.screw: category 'screw' is not selected"),
        (lambda d: d["models"][0].update(sha256="xyz"), r"expected a sha256 \(64 hex digits\)"),
        (lambda d: d["models"][0]["model_kwargs"].update(trust_checkpoint=True),
         r"model_kwargs\.trust_checkpoint: not allowed in a suite; trust comes from "
         r"--pyimgano-trust-checkpoints"),
        (lambda d: d["models"][0]["model_kwargs"].update(checkpoint_sha256=HEX),
         r"model_kwargs\.checkpoint_sha256: not allowed in a suite; pin the checkpoint with"),
        (lambda d: d["models"][0].update(categories=[]), r"expected 'all' or a non-empty list"),
        (lambda d: d["models"][0].update(categories="bottle"), r"expected 'all' or a non-empty"),
        (lambda d: d["models"][0].update(categories=["bottle", "bottle"]), r"listed twice"),
        (lambda d: d["models"][0].update(id="a/b"), r"models\[0\]\.id: invalid id 'a/b'"),
        (lambda d: d["models"][0].update(checkpoint="x/{categroy}.pt"),
         r"unknown placeholder \{categroy\}"),
        (lambda d: d["datasets"]["mvtec"].update(root="${1BAD}"), r"bad variable reference"),
        (lambda d: d["datasets"]["mvtec"].update(format="mvtek"),
         r"datasets\.mvtec\.format: unknown dataset format 'mvtek'"),
        (lambda d: d["datasets"]["mvtec"].update(layout="raw"),
         r"datasets\.mvtec\.layout: unknown key 'layout'"),
        (lambda d: d["models"][0].pop("dataset"), r"models\[0\]: missing required key 'dataset'"),
        (lambda d: d.update(models={}), r"models: expected a non-empty list"),
        (lambda d: d.update(datasets=[]), r"datasets: expected a mapping, got list"),
    ],
)
def test_invalid_suites_name_file_key_and_allowed(edit, message):
    data = copy.deepcopy(base())
    edit(data)
    with pytest.raises(SuiteError, match=message) as info:
        expand(data)
    assert str(info.value).startswith("suites/release.yaml")


def test_all_categories_checks_per_category_after_listing(tmp_path):
    data = base()
    data["models"][0]["categories"] = "all"
    environ = {"MVTEC_ROOT": str(tmp_path)}
    items = expand(data, environ=environ)
    assert [i.category for i in items] == ["bottle", "cable", "screw"]
    data["models"][0]["thresholds"]["per_category"] = {"gear": {"image_auroc": 0.5}}
    with pytest.raises(SuiteError, match=r"per_category\.gear: category 'gear' is not selected"):
        expand(data, environ=environ)
    data["models"][0]["thresholds"]["per_category"] = {}
    data["datasets"]["mvtec"]["fingerprint"] = {"gear": HEX}
    with pytest.raises(SuiteError, match=r"fingerprint\.gear: category 'gear' is not selected"):
        expand(data, environ=environ)


def test_unset_variable_skips_with_its_name():
    items = expand(base(), environ={})
    assert [i.name for i in items] == ["patchcore-wrn50[bottle]", "patchcore-wrn50[cable]"]
    assert all(i.case is None for i in items)
    assert items[0].skip == ("environment variable ${MVTEC_ROOT} is not set "
                             "(datasets.mvtec.root)")
    data = base()
    data["models"][0]["categories"] = "all"
    (item,) = expand(data, environ={})
    assert item.name == "patchcore-wrn50[all]" and "${MVTEC_ROOT}" in item.skip


def test_unset_variable_in_checkpoint_skips_that_model():
    data = base()
    data["models"][0]["checkpoint"] = "${CKPTS}/{category}.ckpt"
    items = expand(data)
    assert items[0].skip == "environment variable ${CKPTS} is not set (models[0].checkpoint)"


def test_missing_root_with_all_is_one_failing_item(tmp_path):
    data = base()
    data["models"][0]["categories"] = "all"
    data["models"][0]["thresholds"].pop("per_category")
    data["models"][0]["sha256"] = HEX
    data["datasets"]["mvtec"].pop("fingerprint")
    data["datasets"]["mvtec"]["root"] = str(tmp_path / "missing")
    (item,) = expand_suite(parse(data), RunSettings())
    assert item.name == "patchcore-wrn50[all]"
    assert item.error == f"dataset 'mvtec' root {tmp_path / 'missing'} does not exist"


def test_relative_paths_and_variables():
    data = base()
    data["datasets"]["mvtec"]["root"] = "data/${SUB}"
    (item, _) = expand(data, environ={"SUB": "mv"})
    assert item.case.root == Path("/repo/suites/data/mv")
    assert item.paths[0] == ("dataset 'mvtec' root (from 'data/${SUB}')",
                             Path("/repo/suites/data/mv"))


@pytest.mark.parametrize(
    ("settings", "model", "defaults", "expected"),
    [
        (RunSettings(ini_device="cuda:1", ini_batch_size=2), {}, {}, ("cuda:1", 2)),
        (RunSettings(ini_device="cuda:1", ini_batch_size=2), {},
         {"device": "cpu", "batch_size": 4}, ("cpu", 4)),
        (RunSettings(ini_device="cuda:1", ini_batch_size=2), {"device": "cuda", "batch_size": 8},
         {"device": "cpu", "batch_size": 4}, ("cuda", 8)),
        (RunSettings(device="cpu", batch_size=1, ini_device="cuda:1", ini_batch_size=2),
         {"device": "cuda", "batch_size": 8}, {"device": "cpu", "batch_size": 4}, ("cpu", 1)),
        (RunSettings(), {}, {}, ("auto", 16)),
    ],
    ids=["ini", "defaults", "model", "command-line", "fallback"],
)
def test_option_precedence(settings, model, defaults, expected):
    data = base()
    data["defaults"] = {**defaults, "thresholds": {"image_auroc": 0.9}}
    data["models"][0].update(model)
    case = expand(data, settings)[0].case
    assert (case.device, case.batch_size) == expected


def test_tolerance_merging_per_metric():
    data = base()
    data["defaults"]["snapshot"] = {"tolerance": {"aupro": 0.01, "image_ap": 0.02}}
    data["models"][0]["snapshot"] = {"tolerance": {"aupro": 0.03}}
    item = expand(data)[0]
    assert item.tolerance.for_metric("aupro") == 0.03
    assert item.tolerance.for_metric("image_ap") == 0.02
    assert item.tolerance.for_metric("image_auroc") == 0.0
    data["models"][0]["snapshot"] = {"tolerance": 0.005}  # a number covers every metric
    item = expand(data)[0]
    assert item.tolerance.for_metric("image_ap") == 0.005


def test_trust_comes_from_the_command_line_only():
    assert expand(base())[0].case.trust_checkpoint is False
    assert expand(base(), RunSettings(trust_checkpoints=True))[0].case.trust_checkpoint is True


def test_null_optional_keys_mean_absent():
    data = base()
    data["defaults"] = None
    data["models"][0].update(thresholds=None, model_kwargs=None, sha256=None, checkpoint=None)
    data["models"][0]["categories"] = ["bottle"]
    (item,) = expand(data)
    assert item.case.checkpoint is None and dict(item.bounds) == {}


def test_yaml_python_tags_and_duplicate_keys_are_refused():
    with pytest.raises(SuiteError, match=r"s\.yaml \(line 1\): YAML tag refused.*python/object"):
        load_yaml("a: !!python/object/apply:os.system ['echo hi']\n", "s.yaml")
    with pytest.raises(SuiteError, match=r"found duplicate key 'root'"):
        load_yaml("datasets:\n  d:\n    root: a\n    root: b\n", "s.yaml")
    with pytest.raises(SuiteError, match="not valid YAML"):
        load_yaml("a: [1\n", "s.yaml")
    assert load_yaml("a: 1\n", "s.yaml") == {"a": 1}


def test_looks_like_suite_is_a_cheap_sniff(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("# comment\npyimgano_suite: 1\n")
    other = tmp_path / "o.yml"
    other.write_text("a:\n  pyimgano_suite: 1\n")
    text = tmp_path / "s.txt"
    text.write_text("pyimgano_suite: 1\n")
    assert looks_like_suite(suite)
    assert not looks_like_suite(other) and not looks_like_suite(text)
    assert not looks_like_suite(tmp_path / "missing.yaml")
