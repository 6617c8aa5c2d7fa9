"""Catalogue: suite files. Each case is checked at the API (``read_suite``/``expand_suite``:
exact error type) and in the child pytest session (collection error / item outcome)."""

from __future__ import annotations

import copy
import subprocess
import sys

import yaml

from pytest_pyimgano.expand import expand_suite
from pytest_pyimgano.parse import parse_suite, read_suite
from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import (
    PluginRun,
    child_env,
    expect_raise,
    prepare_child_dir,
    slug,
)
from tests.bad_inputs.scenarios import (
    SET_VAR,
    TAG_MARKER,
    UNSET_VAR,
    fake_suite,
    set_var,
)


def load(run: PluginRun, case_id: str, environ: dict[str, str] | None = None):
    """What collection does with the scenario's file, outside pytest."""
    suite = read_suite(run.path / run.suite(case_id), source=run.suite(case_id),
                       environ=environ if environ is not None else {})
    return expand_suite(suite)


def collection_case(run: PluginRun, case_id: str, **values: object) -> str:
    """The scenario's file is refused: SuiteError from the API, a collection error in pytest."""
    values = {"suite": run.suite(case_id), **values}
    message = expect_raise(case_id, lambda: load(run, case_id), **values)
    run.expect(case_id, "error", **values)
    return message


def _set(data: dict, keypath: tuple, value: object) -> dict:
    """A copy of ``data`` with ``value`` at ``keypath`` (keys and list indices)."""
    data = copy.deepcopy(data)
    target = data
    for step in keypath[:-1]:
        target = target[step]
    target[keypath[-1]] = value
    return data


@covers("suite.not_yaml")
def test_not_yaml(plugin_batch):
    collection_case(plugin_batch, "suite.not_yaml", line=4)


@covers("suite.not_mapping")
def test_not_mapping(plugin_batch):
    collection_case(plugin_batch, "suite.not_mapping", key="models[0]", got="str 'bad_fake'")
    # other sections that must be mappings
    base = yaml.safe_load(fake_suite("/data"))
    for keypath, value, got in (
        (("datasets",), ["a", "b"], "list ['a', 'b']"),
        (("defaults", "thresholds"), 0.9, "float 0.9"),
        (("datasets", "syn"), "mvtec", "str 'mvtec'"),
    ):
        data = _set(base, keypath, value)
        expect_raise("suite.not_mapping", lambda d=data: parse_suite(d, "s.yaml"),
                     suite="s.yaml", key=".".join(keypath), got=got)


@covers("suite.version")
def test_version(plugin_batch):
    collection_case(plugin_batch, "suite.version", version=2)


@covers("suite.unknown_key")
def test_unknown_key_at_every_level(plugin_batch):
    collection_case(plugin_batch, "suite.unknown_key", key="defaults.pixle", name="'pixle'")
    base = yaml.safe_load(fake_suite("/data", model="thresholds: {image_auroc: {min: 0.5}}"))
    for keypath, shown in (
        (("nmae",), "nmae"),
        (("defaults", "batchsize"), "defaults.batchsize"),
        (("datasets", "syn", "roots"), "datasets.syn.roots"),
        (("models", 0, "checkpiont"), "models[0].checkpiont"),
        (("models", 0, "thresholds", "image_auroc", "mn"), "models[0].thresholds.image_auroc"),
        (("defaults", "snapshot"), None),
    ):
        name = keypath[-1]
        value = {"tolerance": 0.01, "tolerence": 0.01} if shown is None else 1
        if shown is None:
            shown, name = "defaults.snapshot.tolerence", "tolerence"
        data = _set(base, keypath, value)
        expect_raise("suite.unknown_key", lambda d=data: parse_suite(d, "s.yaml"),
                     suite="s.yaml", key=shown, name=repr(name))


@covers("suite.wrong_type")
def test_wrong_types(plugin_batch):
    collection_case(plugin_batch, "suite.wrong_type", key="defaults.batch_size",
                    expected="a positive integer", got="'sixteen'")
    base = yaml.safe_load(fake_suite("/data"))
    for keypath, value, shown, expected in (
        (("defaults", "pixel"), "no", "defaults.pixel", "true or false"),
        (("models", 0, "categories"), "tiles", "models[0].categories",
         "'all' or a non-empty list of categories"),
        (("models", 0, "batch_size"), 0, "models[0].batch_size", "a positive integer"),
        (("defaults", "aupro_limit"), "0.3", "defaults.aupro_limit", "a finite number"),
        (("models", 0, "thresholds"), {"image_auroc": "0.9"},
         "models[0].thresholds.image_auroc", "a finite number"),
        (("models", 0, "id"), 7, "models[0].id", "a non-empty string"),
    ):
        data = _set(base, keypath, value)
        got = repr(value["image_auroc"] if isinstance(value, dict) else value)
        expect_raise("suite.wrong_type", lambda d=data: parse_suite(d, "s.yaml"),
                     suite="s.yaml", key=shown, expected=expected, got=got)


@covers("suite.unknown_metric")
def test_unknown_metric(plugin_batch):
    message = collection_case(plugin_batch, "suite.unknown_metric",
                              key="models[0].thresholds.image_aucroc", name="'image_aucroc'")
    assert "image_auroc" in message  # the list of allowed names shows the right one
    data = yaml.safe_load(fake_suite("/data", model="snapshot: {tolerance: {aupr: 0.01}}"))
    expect_raise("suite.unknown_metric", lambda: parse_suite(data, "s.yaml"), suite="s.yaml",
                 key="models[0].snapshot.tolerance.aupr", name="'aupr'")


@covers("suite.min_above_max")
def test_min_above_max(plugin_batch):
    collection_case(plugin_batch, "suite.min_above_max",
                    key="models[0].thresholds.image_auroc", low=0.9, high=0.5)


@covers("suite.unknown_dataset")
def test_unknown_dataset(plugin_batch):
    collection_case(plugin_batch, "suite.unknown_dataset", key="models[0].dataset",
                    name="'mvtek'", known="syn")


@covers("suite.unknown_model")
def test_unknown_model(plugin_batch):
    collection_case(plugin_batch, "suite.unknown_model", key="models[0].model",
                    name="'bad_fak'")


@covers("suite.duplicate_id")
def test_duplicate_model_ids(plugin_batch):
    collection_case(plugin_batch, "suite.duplicate_id", name="'fake'")


@covers("suite.duplicate_key")
def test_duplicate_keys(plugin_batch):
    collection_case(plugin_batch, "suite.duplicate_key", line=14, name="'thresholds'")


@covers("suite.python_tag")
def test_python_tags_construct_nothing(plugin_batch, tmp_path):
    """Safe loading only: the tag's command (``touch <marker>``) never runs — neither in the
    child session nor here; and no other object-building tag gets through either."""
    marker = plugin_batch.path / TAG_MARKER
    collection_case(plugin_batch, "suite.python_tag", line=2)
    assert not marker.exists()
    mine = tmp_path / "marker"
    for tag in (
        f"!!python/object/apply:os.system ['touch {mine}']",
        f"!!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{mine}']]",
        f"!!python/object/new:pathlib.Path ['{mine}']",
        "!!python/name:os.system",
        "!!python/module:os",
    ):
        path = tmp_path / "s.yaml"
        path.write_text(fake_suite("/data", top=f"name: {tag}"), encoding="utf-8")
        expect_raise("suite.python_tag", lambda p=path: read_suite(p, source="s.yaml"),
                     suite="s.yaml", line=2)
    assert not mine.exists()


@covers("suite.bad_value")
def test_unreadable_yaml_values(plugin_batch, tmp_path):
    collection_case(plugin_batch, "suite.bad_value", detail="day is out of range for month")
    path = tmp_path / "s.yaml"
    for text, detail in (
        (fake_suite("/data", top="name: " + "1" * 5000), "Exceeds the limit (4300 digits)"),
        (fake_suite("/data", top="name: " + "[" * 5000), "nested too deeply"),
    ):
        path.write_text(text, encoding="utf-8")
        expect_raise("suite.bad_value", lambda: read_suite(path, source="s.yaml"),
                     suite="s.yaml", detail=detail)


@covers("suite.unselected_category")
def test_keys_for_unselected_categories(plugin_batch):
    collection_case(plugin_batch, "suite.unselected_category",
                    key="models[0].thresholds.per_category.disk", name="'disk'")
    for extra, key in (
        (f"sha256: {{disk: '{'a' * 64}'}}", "models[0].sha256.disk"),
    ):
        data = yaml.safe_load(fake_suite("/data", model=extra))
        expect_raise("suite.unselected_category", lambda d=data: parse_suite(d, "s.yaml"),
                     suite="s.yaml", key=key, name="'disk'")
    data = yaml.safe_load(fake_suite("/data", dataset=f"fingerprint: {{disk: '{'a' * 64}'}}"))
    expect_raise("suite.unselected_category", lambda: parse_suite(data, "s.yaml"),
                 suite="s.yaml", key="datasets.syn.fingerprint.disk", name="'disk'")


@covers("suite.var_unset")
def test_unset_variable_skips_and_fails_when_strict(plugin_batch, tmp_path):
    case = CASES["suite.var_unset"]
    values = {"var": UNSET_VAR, "key": "datasets.syn.root"}
    specs = load(plugin_batch, case.id)
    assert [s.skip for s in specs] == [specs[0].skip] and specs[0].case is None
    case.check(specs[0].skip, **values)
    plugin_batch.expect(case, "skipped", "fake[tiles]", **values)
    # --pyimgano-strict: the same item fails, with the same reason
    prepare_child_dir(tmp_path)
    (tmp_path / "suites").mkdir()
    name = f"{slug(case.id)}.yaml"
    (tmp_path / "suites" / name).write_text(
        (plugin_batch.path / "suites" / name).read_text("utf-8"), encoding="utf-8")
    env = child_env()
    env.pop(UNSET_VAR, None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "suites", "--pyimgano-strict", "-q", "-rf"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout
    assert "1 failed" in done.stdout
    case.check(done.stdout, **values)
    assert "[--pyimgano-strict: skips fail]" in done.stdout


@covers("suite.path_missing")
def test_set_but_missing_path_fails(plugin_batch):
    case = CASES["suite.path_missing"]
    values = {"name": "'syn'", "text": f"'${{{SET_VAR}}}/no-such-data'",
              "path": plugin_batch.path / "no-such-data"}
    from pytest_pyimgano.expand import missing_paths

    (spec,) = load(plugin_batch, case.id, environ=set_var(plugin_batch.path))
    assert spec.skip is None and spec.case is not None  # a failure, never a skip
    case.check("; ".join(missing_paths(spec)), **values)
    plugin_batch.expect(case, "failed", "fake[tiles]", **values)
