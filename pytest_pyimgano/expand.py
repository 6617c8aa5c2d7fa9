"""A parsed :class:`~pytest_pyimgano.spec.Suite` → one :class:`~pytest_pyimgano.spec.ItemSpec` per
(model entry, category), each holding the runner's :class:`~pyimgano.runner.Case`
(docs/REFERENCE.md §8).

The step with disk I/O: ``categories: all`` is listed from disk. Thresholds and snapshot
tolerances are merged (defaults → model → ``per_category``), options follow command line >
suite model > suite defaults > ini, a dataset or checkpoint whose ``${VAR}`` is unset becomes a
skip reason naming the variable, and one set to the empty string a failure naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyimgano.errors import DatasetError
from pyimgano.gates import merge_bounds
from pytest_pyimgano.spec import (
    ALL,
    PER_CATEGORY,
    DatasetSpec,
    ItemSpec,
    ModelSpec,
    PathRef,
    RunSettings,
    Suite,
    frozen,
)
from pytest_pyimgano.suite_values import check_selected


def pick(*values: Any, fallback: Any) -> Any:
    """The first value that is not ``None`` (option precedence), else ``fallback``."""
    for value in values:
        if value is not None:
            return value
    return fallback


def _unset_reason(names: Sequence[str], what: str) -> str:
    joined = ", ".join(f"${{{n}}}" for n in names)
    verb = "is" if len(names) == 1 else "are"
    return f"environment variable {joined} {verb} not set ({what})"


def _empty_reason(names: Sequence[str], what: str) -> str:
    joined = ", ".join(f"${{{n}}}" for n in names)
    verb = "is" if len(names) == 1 else "are"
    return (
        f"environment variable {joined} {verb} set but empty ({what}); an empty value is not "
        "a path (unset it to skip these items)"
    )


def _variable_problems(
    refs: Sequence[tuple[PathRef | None, str]],
) -> tuple[str | None, str | None]:
    """``(skip, error)`` for the paths of one model entry: the first unset variable is a skip
    reason, the first empty one a failure (which wins: it must not hide behind a skip)."""
    skip = error = None
    for ref, what in refs:
        if ref is None:
            continue
        if ref.empty and error is None:
            error = _empty_reason(ref.empty, what)
        if ref.unset and skip is None:
            skip = _unset_reason(ref.unset, what)
    return (None, error) if error is not None else (skip, None)


def _default_lister(fmt: str, root: Path, **options: Any) -> list[str]:
    from pyimgano.datasets import list_categories

    return list_categories(fmt, root, **options)


def expand_suite(
    suite: Suite,
    settings: RunSettings | None = None,
    *,
    list_categories: Callable[..., list[str]] | None = None,
) -> list[ItemSpec]:
    """One :class:`ItemSpec` per (model entry, category), in suite order.

    ``categories: all`` calls ``list_categories(format, root, **options)``; when that cannot
    run (unset variable, missing root, no category found) the entry yields one ``<id>[all]``
    item carrying the skip reason or the failure message. ``per_category``/``sha256``/
    ``fingerprint`` keys naming a category that ``all`` did not find are a SuiteError.
    """
    settings = settings or RunSettings()
    lister = list_categories or _default_lister
    listed: dict[str, list[str] | str] = {}
    items: list[ItemSpec] = []
    for model in suite.models:
        dataset = suite.datasets[model.dataset]
        keypath = f"models[{model.index}]"
        skip, error = _variable_problems([
            (dataset.root, f"datasets.{dataset.name}.root"),
            (model.checkpoint, f"{keypath}.checkpoint"),
            (model.reference, f"{keypath}.reference"),
            (model.baseline, f"{keypath}.baseline"),
        ])
        categories: Sequence[str]
        if model.categories is not None:
            categories = model.categories
        elif dataset.root.path is None:
            root_skip, root_error = _variable_problems(
                [(dataset.root, f"datasets.{dataset.name}.root")]
            )
            items.append(ItemSpec(suite, model.id, ALL, skip=root_skip, error=root_error,
                                  index=model.index))
            continue
        else:
            if dataset.name not in listed:
                listed[dataset.name] = _list(dataset, lister)
            found = listed[dataset.name]
            if isinstance(found, str):
                items.append(ItemSpec(suite, model.id, ALL, error=found, index=model.index))
                continue
            categories = found
            check_selected(model.per_category, categories, suite.source,
                           f"{keypath}.thresholds.{PER_CATEGORY}")
            for key in ("sha256", "reference_sha256", "baseline_sha256"):
                pins = getattr(model, key)
                if isinstance(pins, Mapping):
                    check_selected(pins, categories, suite.source, f"{keypath}.{key}")
        for category in categories:
            items.append(_item(suite, model, dataset, category, settings, skip, error))
    _check_fingerprints(suite, listed)
    return items


def _list(dataset: DatasetSpec, lister: Callable[..., list[str]]) -> list[str] | str:
    assert dataset.root.path is not None
    if not dataset.root.path.exists():
        return _missing(dataset.root, f"dataset {dataset.name!r} root")
    try:
        return list(lister(dataset.format, dataset.root.path, **dict(dataset.options)))
    except DatasetError as exc:
        return f"dataset {dataset.name!r}: {exc}"


def _missing(ref: PathRef, what: str) -> str:
    shown = f" (from {ref.text!r})" if ref.text != str(ref.path) else ""
    return f"{what} {ref.path} does not exist{shown}"


def _check_fingerprints(suite: Suite, listed: Mapping[str, list[str] | str]) -> None:
    for dataset in suite.datasets.values():
        users = [m for m in suite.models if m.dataset == dataset.name]
        if not dataset.fingerprint or all(m.categories is not None for m in users):
            continue
        found = listed.get(dataset.name)
        if not isinstance(found, list):
            continue
        selected = sorted({c for m in users for c in (m.categories or found)})
        check_selected(dataset.fingerprint, selected, suite.source,
                        f"datasets.{dataset.name}.fingerprint")


def _item(
    suite: Suite,
    model: ModelSpec,
    dataset: DatasetSpec,
    category: str,
    settings: RunSettings,
    skip: str | None,
    error: str | None = None,
) -> ItemSpec:
    from pyimgano.runner import Case

    bounds = merge_bounds(
        suite.thresholds, model.thresholds, model.per_category.get(category, {})
    )
    tolerance = suite.tolerance.then(model.tolerance)
    if skip is not None or error is not None:
        return ItemSpec(suite, model.id, category, bounds=frozen(bounds), tolerance=tolerance,
                        skip=skip, error=error, index=model.index)
    defaults, own = suite.defaults, model.options
    root = dataset.root.path
    checkpoint = model.checkpoint.for_category(category) if model.checkpoint else None
    assert root is not None
    paths: list[tuple[str, Path]] = [(_label(dataset.root, f"dataset {dataset.name!r} root"),
                                      root)]
    if checkpoint is not None and model.checkpoint is not None:
        paths.append((_label(model.checkpoint, "checkpoint"), checkpoint))
    reference = model.reference.for_category(category) if model.reference else None
    if reference is not None and model.reference is not None:
        paths.append((_label(model.reference, "reference checkpoint"), reference))
    baseline = model.baseline.for_category(category) if model.baseline else None
    if baseline is not None and model.baseline is not None:
        paths.append((_label(model.baseline, "baseline checkpoint"), baseline))
    extra: dict[str, Any] = {}
    for key in ("precision", "aupro_limits", "auspro_limits", "aupimo_fpr_bounds", "fpr_limits",
                "protocol", "calibration"):
        value = pick(getattr(own, key), getattr(defaults, key), fallback=None)
        if value is not None:  # else the runner's default (one place knows it)
            extra[key] = value
    case = Case(
        model=model.model,
        dataset_format=dataset.format,
        root=root,
        category=category,
        checkpoint=checkpoint,
        model_kwargs=dict(model.model_kwargs),
        device=pick(settings.device, own.device, defaults.device, settings.ini_device,
                    fallback="auto"),
        pixel=pick(own.pixel, defaults.pixel, fallback=False),
        batch_size=pick(settings.batch_size, own.batch_size, defaults.batch_size,
                        settings.ini_batch_size, fallback=16),
        aupro_limit=pick(own.aupro_limit, defaults.aupro_limit, fallback=0.3),
        memory_budget=pick(settings.memory_budget, own.memory_budget, defaults.memory_budget,
                           settings.ini_memory_budget, fallback=None),
        checkpoint_sha256=model.sha256_for(category),
        trust_checkpoint=settings.trust_checkpoints,
        fingerprint=dataset.fingerprint.get(category),
        dataset_options=dict(dataset.options),
        reference=reference,
        reference_sha256=model.reference_sha256_for(category),
        parity=_parity_for(model),
        baseline=baseline,
        baseline_model=model.baseline_model,
        baseline_sha256=model.baseline_sha256_for(category),
        compare=None if model.compare is None else dict(model.compare),
        ci=model.ci,
        **extra,
    )
    return ItemSpec(suite, model.id, category, case=case, bounds=frozen(bounds),
                    tolerance=tolerance, paths=tuple(paths), index=model.index)


def _parity_for(model: ModelSpec) -> dict[str, float] | None:
    """The Case's parity bounds: ``None`` without a reference, ``{}`` (report, bound nothing)
    for a reference without ``parity:``."""
    if model.reference is None:
        return None
    return dict(model.parity or {})


def _label(ref: PathRef, what: str) -> str:
    return f"{what} (from {ref.text!r})" if ref.text else what


def missing_paths(spec: ItemSpec) -> list[str]:
    """Messages for the item's paths that do not exist (checked when the item runs)."""
    return [f"{label}: {path} does not exist" for label, path in spec.paths if not path.exists()]
