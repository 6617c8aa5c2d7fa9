"""Fuzz: suite parsing and validation (``pytest_pyimgano.parse``/``expand``) on generated data —
random keys, types, nesting, unicode, ``${...}`` strings, thresholds — both as structures
(mutations of a valid suite) and as text (through the YAML loader)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from hypothesis import event, example, given
from hypothesis import strategies as st

from pyimgano.errors import DatasetError, PyImganoError, SuiteError
from pyimgano.models import register_model, unregister_model
from pytest_pyimgano.expand import expand_suite
from pytest_pyimgano.parse import parse_suite
from pytest_pyimgano.spec import ItemSpec, RunSettings
from pytest_pyimgano.suite_yaml import load_yaml
from tests.fuzz._settings import FUZZ

FAKE = "fuzz_fake_detector"
SUITE = Path("/suites/release.yaml")
CATEGORIES = ["tiles", "disk"]

VALID = {
    "pyimgano_suite": 1,
    "name": "release",
    "defaults": {
        "pixel": True,
        "batch_size": 4,
        "device": "cpu",
        "aupro_limit": 0.3,
        "thresholds": {"image_auroc": 0.9, "aupro": {"min": 0.5}, "ms_per_image": 100},
        "snapshot": {"tolerance": 0.002},
    },
    "datasets": {
        "syn": {"format": "mvtec", "root": "${DATA}", "fingerprint": {"tiles": "a" * 64}},
        "fold": {"format": "folder", "root": "data/folder", "normal_dir": "good",
                 "abnormal_dir": ["bad", "${SUB}"], "mask_dir": "masks"},
    },
    "models": [
        {
            "id": "m1",
            "model": FAKE,
            "checkpoint": "ckpt/{category}/model.pt",
            "sha256": {"tiles": "b" * 64},
            "model_kwargs": {"noise": 0.1},
            "dataset": "syn",
            "categories": ["tiles", "disk"],
            "thresholds": {"image_ap": {"min": 0.1, "max": 1.0},
                           "per_category": {"disk": {"image_auroc": 0.5}}},
            "snapshot": {"tolerance": {"aupro": 0.01}},
        },
        {"id": "m2", "model": FAKE, "dataset": "fold", "categories": "all"},
    ],
}

KEYS = sorted({
    "pyimgano_suite", "name", "defaults", "datasets", "models", "pixel", "batch_size", "device",
    "aupro_limit", "thresholds", "snapshot", "tolerance", "format", "root", "fingerprint", "id",
    "model", "checkpoint", "sha256", "model_kwargs", "dataset", "categories", "per_category",
    "min", "max", "image_auroc", "aupro", "ms_per_image", "images_per_s", "normal_dir",
    "abnormal_dir", "mask_dir", "normal_test_dir", "layout", "tiles", "disk", "all",
})
strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["${DATA}", "${UNSET}", "${}", "${1X}", "${DATA}/${UNSET}", "$DATA", "~",
                     "~nosuchuser/x", "{category}", "{cat}", "all", "cpu", "cuda:3", "gpu",
                     "mvtec", "folder", "visa", FAKE, "vision_padim_anomalib", "a" * 64,
                     "A" * 64, "", " ", "a\x00b", "../..", "/abs/path", "тест", "🙂"]),
    st.sampled_from(KEYS),
)
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.integers(), st.floats(),
    st.floats(0, 1), strings, st.dates(), st.binary(max_size=3),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), strings, st.integers(), st.none()),
                        inner, max_size=3),
    ),
    max_leaves=8,
)
#: Values a suite key might really hold, so that edits often keep the suite valid and reach the
#: later checks (references, categories, merging, expansion).
plausible = st.sampled_from([
    0.5, 0.0, 1.0, 1.5, -0.1, 4, 1, True, False, None, "cpu", "auto", "cuda:0", "all", "tiles",
    "disk", ["tiles"], ["disk", "tiles"], [], {"min": 0.2}, {"max": 0.9}, {"min": 0.9, "max": 0.1},
    {"tolerance": 0.0}, {"tolerance": {"image_auroc": 0.01}}, "syn", "fold", "m1", "m2", FAKE,
    "a" * 64, {"tiles": "c" * 64}, {"disk": {"aupro": 0.3}}, "${DATA}/x", "rel/{category}.pt",
    {"noise": 0.2}, {"format": "mvtec", "root": "/d"},
])
environs = st.dictionaries(st.sampled_from(["DATA", "SUB", "UNSET", "HOME"]),
                           st.one_of(st.just(""), st.just("/data"), strings), max_size=4)


def _paths(value, prefix=()):
    """Every key path inside ``value`` (dict keys and list indices), the root included."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


@st.composite
def mutated_suites(draw):
    """The valid suite with a few random edits: replace, delete or add at any key path."""
    data = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(data))
        path = draw(st.sampled_from(paths))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            if action == "replace":
                data = copy.deepcopy(draw(values))
            continue
        key = path[-1]
        # drawn values are copied: a later edit must not change a shared strategy constant
        if action == "replace":
            parent[key] = copy.deepcopy(draw(st.one_of(plausible, values)))
        elif action == "delete":
            del parent[key]
        else:
            target = parent[key]
            if isinstance(target, dict):
                target[draw(st.one_of(st.sampled_from(KEYS), strings))] = copy.deepcopy(draw(
                    st.one_of(plausible, values)))
            elif isinstance(target, list):
                target.append(copy.deepcopy(draw(st.one_of(plausible, values))))
        if not isinstance(data, dict):
            break
    return data


def lister(outcome):
    def list_categories(fmt, root, **options):
        if outcome == "error":
            raise DatasetError(f"no {fmt} categories found under {root}")
        return list(CATEGORIES) if outcome == "two" else []

    return list_categories


@pytest.fixture(scope="module", autouse=True)
def fake_model():
    register_model(FAKE, "tests.fakes:FakeDetector",
                   metadata={"backend": "test", "requires_checkpoint": False}, overwrite=True)
    yield
    unregister_model(FAKE)


def check(data, environ, listing, settings=None) -> None:
    """parse + expand: items or a one-line SuiteError naming the file; nothing else."""
    try:
        suite = parse_suite(data, SUITE, source="suites/release.yaml", environ=environ)
        items = expand_suite(suite, settings or RunSettings(), list_categories=lister(listing))
    except SuiteError as exc:
        assert str(exc).startswith("suites/release.yaml"), str(exc)
        event("refused")
        return
    event("accepted")
    assert all(isinstance(item, ItemSpec) for item in items)
    for item in items:
        assert (item.case is None) == (item.skip is not None or item.error is not None)


@FUZZ
@given(data=mutated_suites(), environ=environs,
       listing=st.sampled_from(["two", "none", "error"]))
@example(data={**VALID, "datasets": {"syn": {**VALID["datasets"]["syn"], "root": "~nobody9/x"}}},
         environ={}, listing="two")  # ~unknown-user raised RuntimeError
@example(data={**VALID, "defaults": {"thresholds": {"aupro": {1: 0.5, "x": 0.1}}}},
         environ={}, listing="two")  # mixed key types in a bound: sorting them raised
@example(data={**VALID, "models": [{**VALID["models"][0], "model_kwargs": {"a": float("nan")}}]},
         environ={}, listing="two")  # NaN kwargs were accepted, then broke the report
def test_parse_and_expand_mutated_suites(data, environ, listing):
    check(data, environ, listing)


@FUZZ
@given(data=values, environ=environs)
def test_parse_arbitrary_structures(data, environ):
    check(data, environ, "two")


def _dump(data) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return "pyimgano_suite: 1\n"


fragments = st.sampled_from([
    "pyimgano_suite: 1\n", "models:\n", "  - id: x\n", "datasets:\n", "  syn: {", "}", "[",
    "]", ": ", "- ", "'", '"', "!!python/object/apply:os.system ['true']", "!!binary AAA=",
    "&a ", "*a ", "? ", "---\n", "...\n", "\t", "%YAML 1.1\n", "2001-02-30", "0x1F", "1e400",
    ".nan", "~", "${DATA}", "{category}", "\n", "  ", "\\u0000", "!!set {a}", "<<: *a\n",
])


@FUZZ
@given(text=st.one_of(
    st.text(),
    st.lists(fragments, max_size=12).map("".join),
    mutated_suites().map(_dump),
), environ=environs)
@example(text="pyimgano_suite: 1\nname: 2001-02-30\n", environ={})  # was a ValueError
@example(text="pyimgano_suite: " + "1" * 5000 + "\n", environ={})  # int over 4300 digits
@example(text="[" * 5000, environ={})  # was a RecursionError
@example(text="\x1f", environ={})  # control character: a multi-line message
def test_load_yaml_text(text, environ):
    try:
        data = load_yaml(text, "suites/release.yaml")
    except SuiteError as exc:
        assert str(exc).startswith("suites/release.yaml") and "\n" not in str(exc)
        return
    try:
        check(data, environ, "two")
    except PyImganoError as exc:  # pragma: no cover - check() only lets SuiteError pass
        raise AssertionError(f"non-suite error {exc!r}") from exc
