"""What decides an item's outcome, as a suite spells it (docs/REFERENCE.md §8, §11, §12):
``thresholds`` (with ``per_category``), ``snapshot.tolerance``, ``parity`` bounds and the
release-decision keys (``baseline``, ``baseline_model``, ``baseline_sha256``, ``compare``,
``ci``). Each parser raises a :class:`~pyimgano.errors.SuiteError` naming file and key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyimgano.errors import SuiteError
from pyimgano.gates import NOT_SNAPSHOTTED, TIMING_METRICS, Bound, parse_bounds
from pytest_pyimgano.spec import PER_CATEGORY, PathRef, Tolerance, frozen
from pytest_pyimgano.suite_keys import SNAPSHOT_KEYS
from pytest_pyimgano.suite_paths import resolve_path
from pytest_pyimgano.suite_values import (
    as_suite_error,
    check_keys,
    check_mapping,
    check_model_name,
    check_number,
    check_pins,
    check_string,
)


def _directions() -> dict[str, bool]:
    from pyimgano.gates import metric_directions

    return metric_directions()


def snapshot_tolerance(entry: Mapping[str, Any], source: str, keypath: str) -> Tolerance:
    """``entry``'s ``snapshot:`` (:func:`parse_tolerance`); no tolerance when it has none."""
    if entry.get("snapshot") is None:
        return Tolerance()
    return parse_tolerance(entry["snapshot"], source, f"{keypath}.snapshot")


def parse_tolerance(value: Any, source: str, keypath: str) -> Tolerance:
    """A ``snapshot:`` mapping → :class:`~pytest_pyimgano.spec.Tolerance`: its ``tolerance`` is
    one number >= 0 for every metric or ``{metric: number}`` (never timing or resources)."""
    snapshot = check_mapping(value, source, keypath)
    check_keys(snapshot, SNAPSHOT_KEYS, source, keypath)
    if "tolerance" not in snapshot:
        return Tolerance()
    here = f"{keypath}.tolerance"
    spec = snapshot["tolerance"]
    if not isinstance(spec, Mapping):
        number = check_number(spec, source, here)
        if number < 0:
            raise SuiteError(f"{source}: {here}: a tolerance cannot be negative, got {spec!r}")
        return Tolerance(base=number)
    allowed = [m for m in sorted(_directions()) if m not in NOT_SNAPSHOTTED]
    per_metric = {}
    for metric, tol in check_mapping(spec, source, here).items():
        if metric in NOT_SNAPSHOTTED:
            raise SuiteError(
                f"{source}: {here}.{metric}: "
                f"{'speed metrics' if metric in TIMING_METRICS else 'resource values'} are never "
                "snapshotted; "
                f"allowed keys: {', '.join(allowed)}"
            )
        if metric not in allowed:
            raise SuiteError(
                f"{source}: {here}.{metric}: unknown metric {metric!r}; "
                f"allowed keys: {', '.join(allowed)}"
            )
        number = check_number(tol, source, f"{here}.{metric}")
        if number < 0:
            raise SuiteError(f"{source}: {here}.{metric}: a tolerance cannot be negative")
        per_metric[metric] = number
    return Tolerance(per_metric=frozen(per_metric))


def parse_thresholds(
    value: Any, source: str, keypath: str, *, per_category: bool
) -> tuple[dict[str, Bound], dict[str, dict[str, Bound]]]:
    """``thresholds:`` → (bounds, ``{category: bounds}``); ``per_category`` only where allowed."""
    spec = dict(check_mapping(value, source, keypath))
    categories: dict[str, dict[str, Bound]] = {}
    if PER_CATEGORY in spec:
        if not per_category:
            raise SuiteError(
                f"{source}: {keypath}.{PER_CATEGORY}: per_category is only allowed in a model "
                "entry's thresholds"
            )
        raw = check_mapping(spec.pop(PER_CATEGORY), source, f"{keypath}.{PER_CATEGORY}")
        for category, bounds in raw.items():
            here = f"{keypath}.{PER_CATEGORY}.{category}"
            categories[category] = parse_bounds(
                check_mapping(bounds, source, here), where=f"{source}: {here}"
            )
    return parse_bounds(spec, where=f"{source}: {keypath}"), categories


def parse_parity_bounds(value: Any, source: str, keypath: str) -> dict[str, float]:
    """Parity bounds, by the one parser (:func:`pyimgano.parity.parse_parity`)."""
    from pyimgano.parity import parse_parity

    spec = check_mapping(value, source, keypath)
    with as_suite_error():
        return parse_parity({k: v for k, v in spec.items() if v is not None},
                            where=f"{source}: {keypath}")


def _paired_checkpoint(
    entry: Mapping[str, Any],
    key: str,
    dependants: tuple[str, ...],
    source: str,
    keypath: str,
    base: Path,
    environ: Mapping[str, str],
) -> PathRef | None:
    """The entry's second checkpoint ``key`` (``reference`` / ``baseline``, ``{category}``
    allowed), after checking that none of the ``dependants`` keys is given without it."""
    path = None
    if entry.get(key) is not None:
        path = resolve_path(entry[key], source, f"{keypath}.{key}", base, environ,
                            category_placeholder=True)
    for dependant in dependants:
        if entry.get(dependant) is not None and path is None:
            raise SuiteError(
                f"{source}: {keypath}.{dependant}: {dependant} needs a {key}: checkpoint in the "
                "same model entry"
            )
    return path


def parse_reference(
    entry: Mapping[str, Any], source: str, keypath: str, base: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The entry's export-parity keys (docs/REFERENCE.md §11): ``reference``,
    ``reference_sha256`` and ``parity`` (each ``None`` when not given)."""
    out: dict[str, Any] = {
        "reference": _paired_checkpoint(entry, "reference", ("reference_sha256", "parity"),
                                        source, keypath, base, environ),
        "reference_sha256": None,
        "parity": None,
    }
    if entry.get("reference_sha256") is not None:
        out["reference_sha256"] = check_pins(entry["reference_sha256"], source,
                                             f"{keypath}.reference_sha256")
    if entry.get("parity") is not None:
        out["parity"] = frozen(parse_parity_bounds(entry["parity"], source, f"{keypath}.parity"))
    return out


def parse_release(
    entry: Mapping[str, Any], source: str, keypath: str, base: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The entry's release-decision keys (docs/REFERENCE.md §12): ``baseline``,
    ``baseline_model``, ``baseline_sha256``, ``compare`` and ``ci``."""
    from pyimgano.comparison import parse_compare

    out: dict[str, Any] = {}
    baseline = _paired_checkpoint(entry, "baseline", ("baseline_model", "baseline_sha256",
                                                      "compare"), source, keypath, base, environ)
    if baseline is not None:
        out["baseline"] = baseline
    if entry.get("baseline_model") is not None:
        name = check_string(entry["baseline_model"], source, f"{keypath}.baseline_model")
        check_model_name(name, source, f"{keypath}.baseline_model")
        out["baseline_model"] = name
    if entry.get("baseline_sha256") is not None:
        out["baseline_sha256"] = check_pins(entry["baseline_sha256"], source,
                                            f"{keypath}.baseline_sha256")
    if entry.get("compare") is not None:
        with as_suite_error(source):
            out["compare"] = frozen(parse_compare(entry["compare"], where=f"{keypath}.compare"))
    if entry.get("ci") is not None:
        level = check_number(entry["ci"], source, f"{keypath}.ci")
        if not 0 < level < 1:
            raise SuiteError(
                f"{source}: {keypath}.ci: {entry['ci']!r} is not a confidence level in (0, 1); "
                "expected e.g. 0.95"
            )
        out["ci"] = level
    return out

