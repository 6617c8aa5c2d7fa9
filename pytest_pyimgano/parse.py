"""Suite YAML → a frozen :class:`~pytest_pyimgano.spec.Suite` (docs/REFERENCE.md §8); no pytest.

:func:`parse_suite` validates the loaded YAML: the top level, the datasets and each model
entry, every unknown key at any level, wrong type, unknown metric, dataset or model reference
a :class:`~pyimgano.errors.SuiteError` naming the file, the key path and the allowed keys.
:func:`read_suite` reads the file first. The parts live beside it, one job each:

- :mod:`~pytest_pyimgano.suite_yaml`: reading the YAML (and the line of every key path);
- :mod:`~pytest_pyimgano.suite_keys`: the allowed keys of each level;
- :mod:`~pytest_pyimgano.suite_values`: typed value checks (strings, numbers, pins, categories);
- :mod:`~pytest_pyimgano.suite_paths`: ``${VAR}`` expansion, paths relative to the suite file;
- :mod:`~pytest_pyimgano.suite_options`: the run options (``defaults:`` and model entries);
- :mod:`~pytest_pyimgano.suite_gates`: thresholds, snapshot tolerance, parity, release keys.

The names they used to have here (``load_yaml``, ``looks_like_suite``, ``MODEL_KEYS``,
``check_selected``, ``expand_vars``, ``_tolerance``, …) are still importable from this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyimgano.errors import SuiteError
from pytest_pyimgano.spec import (
    PER_CATEGORY,
    SUITE_KEY,
    SUITE_VERSION,
    DatasetSpec,
    ModelSpec,
    Suite,
    frozen,
)
from pytest_pyimgano.suite_gates import (
    parse_reference,
    parse_release,
    parse_thresholds,
    parse_tolerance,
    snapshot_tolerance,
)
from pytest_pyimgano.suite_keys import (  # noqa: F401 - the other tables: old import paths
    DATASET_BASE_KEYS,
    DEFAULTS_KEYS,
    FORBIDDEN_KWARGS,
    MODEL_KEYS,
    OPTION_KEYS,
    PRECISIONS,
    SNAPSHOT_KEYS,
    TOP_KEYS,
)
from pytest_pyimgano.suite_options import parse_options
from pytest_pyimgano.suite_paths import expand_option, expand_vars, resolve_path  # noqa: F401
from pytest_pyimgano.suite_values import (
    ID_PATTERN,
    as_suite_error,
    check_categories,
    check_keys,
    check_mapping,
    check_model_name,
    check_pin_map,
    check_pins,
    check_selected,
    check_string,
    require,
)
from pytest_pyimgano.suite_yaml import (  # noqa: F401 - load_yaml, looks_like_suite: old paths
    load_yaml,
    load_yaml_with_lines,
    looks_like_suite,
)

#: The snapshot-tolerance parser under its old name (``pyimgano.testing`` used to import it).
_tolerance = parse_tolerance


def read_suite(
    path: str | os.PathLike[str],
    *,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Suite:
    """Read and parse the suite file at ``path`` (see :func:`parse_suite`)."""
    suite_path = Path(path)
    label = source or str(suite_path)
    try:
        text = suite_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{label}: cannot read suite file: {exc}") from None
    data, lines = load_yaml_with_lines(text, label)
    return parse_suite(data, suite_path, source=label, environ=environ, lines=lines)


def parse_suite(
    data: Any,
    path: str | os.PathLike[str],
    *,
    source: str | None = None,
    environ: Mapping[str, str] | None = None,
    lines: Mapping[str, int] | None = None,
) -> Suite:
    """Validate loaded YAML ``data`` of the suite at ``path`` and build a :class:`Suite`.

    Parameters
    ----------
    data
        What :func:`load_yaml` returned.
    path
        The suite file (relative paths in the suite are relative to its directory).
    source
        How error messages name the file (default: ``path``).
    environ
        Variables for ``${VAR}`` (default: ``os.environ``).
    lines
        Key path → YAML line, from :func:`load_yaml_with_lines` (items and warnings point at
        them; without it they point at line 1).

    Raises
    ------
    SuiteError
        Any deviation from docs/REFERENCE.md §8, naming file, key path and allowed keys.
    """
    suite_path = Path(path)
    source = source or str(suite_path)
    environ = os.environ if environ is None else environ
    base = suite_path.parent.absolute()
    top = check_mapping(data, source, "")
    check_keys(top, TOP_KEYS, source, "")
    version = top.get(SUITE_KEY)
    if isinstance(version, bool) or version != SUITE_VERSION:
        raise SuiteError(
            f"{source}: {SUITE_KEY}: unsupported suite version {version!r}; expected "
            f"{SUITE_VERSION}"
        )
    name = None
    if top.get("name") is not None:
        name = check_string(top["name"], source, "name")
    defaults = check_mapping(top.get("defaults") or {}, source, "defaults")
    check_keys(defaults, DEFAULTS_KEYS, source, "defaults")
    thresholds, _ = parse_thresholds(
        defaults.get("thresholds") or {}, source, "defaults.thresholds", per_category=False
    )
    tolerance = snapshot_tolerance(defaults, source, "defaults")
    raw_datasets = check_mapping(require(top, "datasets", source, ""), source, "datasets")
    if not raw_datasets:
        raise SuiteError(f"{source}: datasets: define at least one dataset")
    datasets = {
        key: _dataset(_dataset_name(key, source), value, source, base, environ)
        for key, value in raw_datasets.items()
    }
    raw_models = require(top, "models", source, "")
    if not isinstance(raw_models, list) or not raw_models:
        raise SuiteError(f"{source}: models: expected a non-empty list of model entries")
    models = tuple(
        _model(i, entry, source, base, environ, datasets) for i, entry in enumerate(raw_models)
    )
    seen: dict[str, int] = {}
    for model in models:
        if model.id in seen:
            raise SuiteError(
                f"{source}: models[{model.index}].id: duplicate model id {model.id!r} "
                f"(also models[{seen[model.id]}])"
            )
        seen[model.id] = model.index
    for dataset in datasets.values():
        users = [m for m in models if m.dataset == dataset.name]
        if all(m.categories is not None for m in users):
            selected = sorted({c for m in users for c in m.categories or ()})
            check_selected(dataset.fingerprint, selected, source,
                            f"datasets.{dataset.name}.fingerprint")
    return Suite(
        path=suite_path,
        source=source,
        name=name,
        defaults=parse_options(defaults, source, "defaults"),
        thresholds=frozen(thresholds),
        tolerance=tolerance,
        datasets=frozen(datasets),
        models=models,
        lines=frozen(lines),
    )


def _dataset_name(key: str, source: str) -> str:
    """A ``datasets:`` key, which must be a valid name (letters, digits, ``_.-``)."""
    if not ID_PATTERN.match(key):
        raise SuiteError(f"{source}: datasets.{key}: invalid dataset name {key!r}")
    return key


def _dataset(
    name: str, value: Any, source: str, base: Path, environ: Mapping[str, str]
) -> DatasetSpec:
    """``datasets.<name>``: format, root, fingerprint pins and the format's own options."""
    from pyimgano.datasets import FORMATS

    keypath = f"datasets.{name}"
    entry = check_mapping(value, source, keypath)
    fmt = check_string(require(entry, "format", source, keypath), source, f"{keypath}.format")
    if fmt not in FORMATS:
        raise SuiteError(
            f"{source}: {keypath}.format: unknown dataset format {fmt!r}; "
            f"expected one of {', '.join(FORMATS)}"
        )
    format_options = FORMATS[fmt].options
    check_keys(entry, (*DATASET_BASE_KEYS, *format_options), source, keypath)
    root = resolve_path(require(entry, "root", source, keypath), source, f"{keypath}.root",
                        base, environ)
    fingerprint = {}
    if entry.get("fingerprint") is not None:
        fingerprint = check_pin_map(entry["fingerprint"], source, f"{keypath}.fingerprint")
    options: dict[str, Any] = {}
    for key in format_options:
        if entry.get(key) is None:
            continue
        option = entry[key]
        if isinstance(option, str):
            options[key] = expand_option(option, source, f"{keypath}.{key}", environ)
        elif isinstance(option, list) and all(isinstance(v, str) for v in option):
            options[key] = [
                expand_option(v, source, f"{keypath}.{key}[{i}]", environ)
                for i, v in enumerate(option)
            ]
        elif isinstance(option, int) and not isinstance(option, bool):
            options[key] = option  # e.g. realiad's resolution: 512; the loader checks the value
        else:
            raise SuiteError(
                f"{source}: {keypath}.{key}: expected a string, a list of strings or an "
                f"integer, got {option!r}"
            )
    return DatasetSpec(name, fmt, root, frozen(fingerprint), frozen(options))


def _model(
    index: int,
    value: Any,
    source: str,
    base: Path,
    environ: Mapping[str, str],
    datasets: Mapping[str, DatasetSpec],
) -> ModelSpec:
    """``models[index]``: id, model, dataset, categories, checkpoint and pins, kwargs, options,
    gates, and the reference / baseline keys."""
    keypath = f"models[{index}]"
    entry = check_mapping(value, source, keypath)
    check_keys(entry, MODEL_KEYS, source, keypath)
    model_id = check_string(require(entry, "id", source, keypath), source, f"{keypath}.id")
    if not ID_PATTERN.match(model_id):
        raise SuiteError(
            f"{source}: {keypath}.id: invalid id {model_id!r}; use letters, digits, '_', '-' "
            "and '.', starting with a letter or digit"
        )
    model = check_string(require(entry, "model", source, keypath), source, f"{keypath}.model")
    check_model_name(model, source, f"{keypath}.model")
    dataset = check_string(require(entry, "dataset", source, keypath), source,
                           f"{keypath}.dataset")
    if dataset not in datasets:
        known = ", ".join(datasets) or "(none defined)"
        raise SuiteError(
            f"{source}: {keypath}.dataset: unknown dataset {dataset!r}; datasets: {known}"
        )
    categories = check_categories(
        require(entry, "categories", source, keypath), source, f"{keypath}.categories"
    )
    checkpoint = None
    if entry.get("checkpoint") is not None:
        checkpoint = resolve_path(entry["checkpoint"], source, f"{keypath}.checkpoint", base,
                                  environ, category_placeholder=True)
    sha256: str | Mapping[str, str] | None = None
    if entry.get("sha256") is not None:
        sha256 = check_pins(entry["sha256"], source, f"{keypath}.sha256")
    reference = parse_reference(entry, source, keypath, base, environ)
    release = parse_release(entry, source, keypath, base, environ)
    kwargs = dict(check_mapping(entry.get("model_kwargs") or {}, source,
                                f"{keypath}.model_kwargs"))
    for key, why in FORBIDDEN_KWARGS.items():
        if key in kwargs:
            raise SuiteError(
                f"{source}: {keypath}.model_kwargs.{key}: not allowed in a suite; {why}"
            )
    from pyimgano.models.kwargs import check_json_data

    # reports record the kwargs as strict JSON: no NaN, dates, bytes, sets, cycles
    with as_suite_error():
        check_json_data(kwargs, f"{source}: {keypath}.model_kwargs")
    thresholds, per_category = parse_thresholds(
        entry.get("thresholds") or {}, source, f"{keypath}.thresholds", per_category=True
    )
    tolerance = snapshot_tolerance(entry, source, keypath)
    if categories is not None:
        check_selected(per_category, categories, source, f"{keypath}.thresholds.{PER_CATEGORY}")
        for key, pins in (("sha256", sha256), ("reference_sha256", reference["reference_sha256"]),
                          ("baseline_sha256", release.get("baseline_sha256"))):
            if isinstance(pins, Mapping):
                check_selected(pins, categories, source, f"{keypath}.{key}")
    return ModelSpec(
        index=index,
        id=model_id,
        model=model,
        dataset=dataset,
        categories=categories,
        checkpoint=checkpoint,
        sha256=sha256,
        model_kwargs=frozen(kwargs),
        options=parse_options(entry, source, keypath),
        thresholds=frozen(thresholds),
        per_category=frozen({c: frozen(b) for c, b in per_category.items()}),
        tolerance=tolerance,
        **reference,
        **release,
    )

