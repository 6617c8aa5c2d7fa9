"""Suite YAML → a frozen :class:`~pytest_pyimgano.spec.Suite` (docs/REFERENCE.md §8); no pytest.

:func:`parse_suite` validates the loaded YAML (``yaml.safe_load`` semantics with duplicate keys
refused): every unknown key at any level, wrong type, unknown metric, dataset or model
reference is a :class:`~pyimgano.errors.SuiteError` naming the file, the key path and the
allowed keys. ``${VAR}`` is expanded in every path; relative paths are relative to the suite
file. :func:`load_yaml_with_lines` also returns the YAML line of every key path, which items and
warnings point at.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyimgano.errors import ConfigError, DeviceError, SuiteError, UnknownModelError
from pyimgano.gates import NOT_SNAPSHOTTED, TIMING_METRICS, Bound, parse_bounds
from pytest_pyimgano.spec import (
    ALL,
    PER_CATEGORY,
    SUITE_KEY,
    SUITE_SUFFIXES,
    SUITE_VERSION,
    DatasetSpec,
    ModelSpec,
    Options,
    PathRef,
    Suite,
    Tolerance,
    frozen,
)

TOP_KEYS = (SUITE_KEY, "name", "defaults", "datasets", "models")
OPTION_KEYS = (
    "pixel", "batch_size", "device", "aupro_limit", "precision", "aupro_limits",
    "auspro_limits", "aupimo_fpr_bounds", "fpr_limits", "protocol", "calibration",
    "memory_budget", "thresholds", "snapshot",
)
DEFAULTS_KEYS = OPTION_KEYS
MODEL_KEYS = (
    "id", "model", "checkpoint", "sha256", "model_kwargs", "dataset", "categories",
    "reference", "reference_sha256", "parity", *OPTION_KEYS, "baseline", "baseline_model",
    "baseline_sha256", "compare", "ci",
)
DATASET_BASE_KEYS = ("format", "root", "fingerprint")
SNAPSHOT_KEYS = ("tolerance",)
PRECISIONS = ("f32", "bf16", "f16")
#: model kwargs a suite may not set (docs/REFERENCE.md §7: pins go in ``sha256:``, trust on the
#: command line).
FORBIDDEN_KWARGS = {
    "trust_checkpoint": "trust comes from --pyimgano-trust-checkpoints (command line only)",
    "checkpoint_sha256": "pin the checkpoint with the model entry's sha256: key",
    "checkpoint_path": "give the checkpoint with the model entry's checkpoint: key",
    "device": "set device: on the model entry (or --pyimgano-device)",
}

_VAR = re.compile(r"\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SNIFF_BYTES = 64 * 1024
_SNIFF = re.compile(rb"""(?m)^(?:\{\s*)?["']?pyimgano_suite["']?\s*:""")
_BOM = b"\xef\xbb\xbf"


# ------------------------------------------------------------------------------------------
# reading


def looks_like_suite(path: Path) -> bool:
    """Cheap check used at collection: does a top-level ``pyimgano_suite`` key appear?

    Reads at most 64 KiB and parses nothing, so other YAML files cost one small read. A UTF-8
    byte order mark at the start is ignored (editors on Windows write one).
    """
    if path.suffix not in SUITE_SUFFIXES:
        return False
    try:
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError:
        return False
    return _SNIFF.search(head.removeprefix(_BOM)) is not None


def _safe_loader() -> type:
    import yaml

    class _Loader(yaml.SafeLoader):
        """``yaml.SafeLoader`` that refuses duplicate mapping keys (a silent typo otherwise)."""

    def construct_mapping(loader, node, deep=False):  # type: ignore[no-untyped-def]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark,
                )
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return _Loader


def load_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` semantics; tags that would build Python objects are a SuiteError."""
    return load_yaml_with_lines(text, source)[0]


def load_yaml_with_lines(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Like :func:`load_yaml`, plus the 1-based line of every key path of the document.

    Key paths are spelled as in error messages: ``defaults.snapshot``, ``models[1]``,
    ``models[1].thresholds.image_auroc``; a mapping key gives the line of the key, a list
    item the line where the item starts. A leading byte order mark is dropped.
    """
    import yaml

    text = text.removeprefix("\ufeff")
    try:
        loader = _safe_loader()(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
        return data, _node_lines(node)
    except yaml.constructor.ConstructorError as exc:
        problem = exc.problem or str(exc)
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        if "tag" in problem:
            raise SuiteError(
                f"{source}{where}: YAML tag refused: {problem}; suites are plain data and "
                "YAML tags that construct Python objects are not allowed"
            ) from None
        raise SuiteError(f"{source}{where}: {problem}") from None
    except yaml.MarkedYAMLError as exc:
        # One line naming the file and position (the default text says "<unicode string>").
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = "; ".join(p for p in (exc.context, exc.problem) if p) or type(exc).__name__
        raise SuiteError(f"{source}: not valid YAML: {what}{where}") from None
    except yaml.reader.ReaderError as exc:  # a control character, bad encoding
        raise SuiteError(
            f"{source}: not valid YAML: {exc.reason} (character {exc.character!r} at "
            f"position {exc.position})"
        ) from None
    except yaml.YAMLError as exc:
        text = " ".join(str(exc).split())
        raise SuiteError(f"{source}: not valid YAML: {text}") from None
    except RecursionError:
        raise SuiteError(
            f"{source}: YAML value cannot be read: nested too deeply for the YAML parser"
        ) from None
    except (ValueError, OverflowError, TypeError) as exc:
        # Values PyYAML parses but cannot build: 2001-02-30, an int of over 4300 digits, ...
        raise SuiteError(f"{source}: YAML value cannot be read: {exc}") from None


def _node_lines(root: Any) -> dict[str, int]:
    """Key path → 1-based line for a composed YAML node tree (iterative: deep trees are fine)."""
    import yaml

    lines: dict[str, int] = {}
    stack: list[tuple[Any, str]] = [(root, "")] if root is not None else []
    seen: set[int] = set()
    while stack:
        node, keypath = stack.pop()
        if id(node) in seen:  # an alias: already walked
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                here = f"{keypath}.{key_node.value}" if keypath else str(key_node.value)
                lines.setdefault(here, key_node.start_mark.line + 1)
                stack.append((value_node, here))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                here = f"{keypath}[{index}]"
                lines.setdefault(here, item.start_mark.line + 1)
                stack.append((item, here))
    return lines


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


# ------------------------------------------------------------------------------------------
# parsing helpers


def _where(source: str, keypath: str) -> str:
    return f"{source}: {keypath}" if keypath else source


def _mapping(value: Any, source: str, keypath: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SuiteError(
            f"{_where(source, keypath)}: expected a mapping, got {type(value).__name__} "
            f"{value!r}"
        )
    for key in value:
        if not isinstance(key, str):
            raise SuiteError(f"{_where(source, keypath)}: keys must be strings, got {key!r}")
    return value


def _check_keys(
    value: Mapping[str, Any], allowed: Sequence[str], source: str, keypath: str
) -> None:
    unknown = [key for key in value if key not in allowed]
    if unknown:
        key = unknown[0]
        here = f"{keypath}.{key}" if keypath else key
        raise SuiteError(
            f"{source}: {here}: unknown key {key!r}; allowed keys: {', '.join(allowed)}"
        )


def _require(value: Mapping[str, Any], key: str, source: str, keypath: str) -> Any:
    if key not in value or value[key] is None:
        raise SuiteError(f"{_where(source, keypath)}: missing required key {key!r}")
    return value[key]


def _string(value: Any, source: str, keypath: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"{source}: {keypath}: expected a non-empty string, got {value!r}")
    return value


def _bool(value: Any, source: str, keypath: str) -> bool:
    if not isinstance(value, bool):
        raise SuiteError(f"{source}: {keypath}: expected true or false, got {value!r}")
    return value


def _positive_int(value: Any, source: str, keypath: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SuiteError(f"{source}: {keypath}: expected a positive integer, got {value!r}")
    return value


def _number(value: Any, source: str, keypath: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SuiteError(f"{source}: {keypath}: expected a finite number, got {value!r}")
    return float(value)


def _sha256(value: Any, source: str, keypath: str) -> str:
    from pyimgano.backends.checkpoint import _HEX64  # the one sha256 form (lower-case hex)

    if not isinstance(value, str) or not _HEX64.match(value.lower()):
        raise SuiteError(
            f"{source}: {keypath}: expected a sha256 (64 hex digits), got {value!r}"
        )
    return value.lower()


def expand_vars(
    text: str, environ: Mapping[str, str]
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Expand ``${VAR}``.

    Returns
    -------
    tuple
        The text (references to unset or empty variables left as written), the names of unset
        variables and the names of variables set to the empty string, each in order of
        appearance.

    Raises
    ------
    ValueError
        With the bad name as its argument, for ``${...}`` that is not a variable name.
    """
    unset: list[str] = []
    empty: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if not _VAR_NAME.match(name):
            raise ValueError(name)
        value = environ.get(name)
        if not value:
            missing = unset if value is None else empty
            if name not in missing:
                missing.append(name)
            return match.group(0)
        return value

    return _VAR.sub(replace, text), tuple(unset), tuple(empty)


def _path(
    value: Any,
    source: str,
    keypath: str,
    base: Path,
    environ: Mapping[str, str],
    *,
    category_placeholder: bool = False,
) -> PathRef:
    text = _string(value, source, keypath)
    try:
        expanded, unset, empty = expand_vars(text, environ)
    except ValueError as exc:
        raise SuiteError(
            f"{source}: {keypath}: bad variable reference ${{{exc.args[0]}}} in {text!r}; "
            "use ${NAME} with letters, digits and underscores"
        ) from None
    placeholders = set(_PLACEHOLDER.findall(_VAR.sub("", text)))
    allowed = {"category"} if category_placeholder else set()
    if placeholders - allowed:
        bad = sorted(placeholders - allowed)[0]
        hint = "only {category} is allowed here" if category_placeholder else "no placeholders"
        raise SuiteError(f"{source}: {keypath}: unknown placeholder {{{bad}}} in {text!r}; {hint}")
    if unset or empty:
        return PathRef(text, None, unset, empty)
    try:
        path = Path(expanded).expanduser()
    except RuntimeError as exc:  # ~name of an unknown user
        raise SuiteError(f"{source}: {keypath}: cannot expand {text!r}: {exc}") from None
    if not path.is_absolute():
        path = base / path
    return PathRef(text, Path(os.path.normpath(path)))


def _directions() -> dict[str, bool]:
    from pyimgano.gates import metric_directions

    return metric_directions()


def _tolerance(value: Any, source: str, keypath: str) -> Tolerance:
    snapshot = _mapping(value, source, keypath)
    _check_keys(snapshot, SNAPSHOT_KEYS, source, keypath)
    if "tolerance" not in snapshot:
        return Tolerance()
    here = f"{keypath}.tolerance"
    spec = snapshot["tolerance"]
    if not isinstance(spec, Mapping):
        number = _number(spec, source, here)
        if number < 0:
            raise SuiteError(f"{source}: {here}: a tolerance cannot be negative, got {spec!r}")
        return Tolerance(base=number)
    allowed = [m for m in sorted(_directions()) if m not in NOT_SNAPSHOTTED]
    per_metric = {}
    for metric, tol in _mapping(spec, source, here).items():
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
        number = _number(tol, source, f"{here}.{metric}")
        if number < 0:
            raise SuiteError(f"{source}: {here}.{metric}: a tolerance cannot be negative")
        per_metric[metric] = number
    return Tolerance(per_metric=frozen(per_metric))


def _options(entry: Mapping[str, Any], source: str, keypath: str) -> Options:
    from pyimgano.backends.device import parse_device

    pixel = batch_size = device = aupro_limit = precision = None
    aupro_limits = auspro_limits = aupimo_bounds = fpr_limits = None
    if entry.get("pixel") is not None:
        pixel = _bool(entry["pixel"], source, f"{keypath}.pixel")
    if entry.get("batch_size") is not None:
        batch_size = _positive_int(entry["batch_size"], source, f"{keypath}.batch_size")
    if entry.get("device") is not None:
        try:
            device = parse_device(entry["device"])
        except DeviceError as exc:
            raise SuiteError(f"{source}: {keypath}.device: {exc}") from None
    if entry.get("aupro_limit") is not None:
        aupro_limit = _fraction(entry["aupro_limit"], source, f"{keypath}.aupro_limit")
    if entry.get("precision") is not None:
        precision = entry["precision"]
        if precision not in PRECISIONS:
            raise SuiteError(
                f"{source}: {keypath}.precision: unknown precision {precision!r}; expected one "
                f"of {', '.join(PRECISIONS)}"
            )
    if entry.get("aupro_limits") is not None:
        aupro_limits = _limits(entry["aupro_limits"], source, f"{keypath}.aupro_limits")
    if entry.get("auspro_limits") is not None:
        auspro_limits = _limits(entry["auspro_limits"], source, f"{keypath}.auspro_limits")
    if entry.get("aupimo_fpr_bounds") is not None:
        aupimo_bounds = _fpr_bounds(
            entry["aupimo_fpr_bounds"], source, f"{keypath}.aupimo_fpr_bounds"
        )
    if entry.get("fpr_limits") is not None:
        fpr_limits = _limits(entry["fpr_limits"], source, f"{keypath}.fpr_limits")
    protocol = None
    if entry.get("protocol") is not None:
        from pyimgano.protocols import check_protocol

        try:
            protocol = check_protocol(entry["protocol"], f"{keypath}.protocol")
        except ConfigError as exc:
            raise SuiteError(f"{source}: {exc}") from None
    calibration = None
    if entry.get("calibration") is not None:
        calibration = _calibration(entry["calibration"], source, f"{keypath}.calibration")
    memory_budget = None
    if entry.get("memory_budget") is not None:
        from pyimgano.memory import parse_budget

        try:
            memory_budget = parse_budget(entry["memory_budget"], name=f"{keypath}.memory_budget")
        except ConfigError as exc:
            raise SuiteError(f"{source}: {exc}") from None
    return Options(pixel, batch_size, device, aupro_limit, precision, aupro_limits,
                   auspro_limits, aupimo_bounds, fpr_limits, protocol, calibration,
                   memory_budget)


def _calibration(value: Any, source: str, keypath: str) -> Mapping[str, Any]:
    """``{rule: mean_std[, k]}`` or ``{rule: quantile[, q]}`` (mvtec_ad2's seg_f1 threshold)."""
    from pyimgano.protocols.mvtec_ad2 import parse_calibration

    try:
        rule = parse_calibration(value, where=keypath)
    except ConfigError as exc:
        raise SuiteError(f"{source}: {exc}") from None
    return frozen(rule.as_dict())


def _fraction(value: Any, source: str, keypath: str) -> float:
    """A number in (0, 1] (an FPR limit)."""
    number = _number(value, source, keypath)
    if not 0.0 < number <= 1.0:
        raise SuiteError(f"{source}: {keypath}: must be in (0, 1], got {value!r}")
    return number


def _limits(value: Any, source: str, keypath: str) -> tuple[float, ...]:
    """A non-empty list of distinct FPR limits in (0, 1], kept in the order given."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise SuiteError(
            f"{source}: {keypath}: expected a non-empty list of numbers in (0, 1], got {value!r}"
        )
    limits: list[float] = []
    for index, item in enumerate(value):
        limit = _fraction(item, source, f"{keypath}[{index}]")
        if limit in limits:
            raise SuiteError(f"{source}: {keypath}: limit {item!r} is listed twice")
        limits.append(limit)
    return tuple(limits)


def _fpr_bounds(value: Any, source: str, keypath: str) -> tuple[float, float]:
    """``[low, high]`` with ``0 < low < high <= 1``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise SuiteError(
            f"{source}: {keypath}: expected [low, high], two FPRs with 0 < low < high <= 1, "
            f"got {value!r}"
        )
    low = _fraction(value[0], source, f"{keypath}[0]")
    high = _fraction(value[1], source, f"{keypath}[1]")
    if not low < high:
        raise SuiteError(f"{source}: {keypath}: low bound {value[0]!r} must be below the high "
                         f"bound {value[1]!r}")
    return low, high


def _parity(value: Any, source: str, keypath: str) -> dict[str, float]:
    """Parity bounds, by the one parser (:func:`pyimgano.parity.parse_parity`)."""
    from pyimgano.parity import parse_parity

    spec = _mapping(value, source, keypath)
    try:
        return parse_parity({k: v for k, v in spec.items() if v is not None},
                            where=f"{source}: {keypath}")
    except ConfigError as exc:
        raise SuiteError(str(exc)) from None


def _pins(value: Any, source: str, keypath: str) -> str | Mapping[str, str]:
    """One sha256 for every category, or a ``{category: sha256}`` map."""
    if isinstance(value, Mapping):
        pins = _mapping(value, source, keypath)
        return frozen({c: _sha256(p, source, f"{keypath}.{c}") for c, p in pins.items()})
    return _sha256(value, source, keypath)


def _thresholds(
    value: Any, source: str, keypath: str, *, per_category: bool
) -> tuple[dict[str, Bound], dict[str, dict[str, Bound]]]:
    spec = dict(_mapping(value, source, keypath))
    categories: dict[str, dict[str, Bound]] = {}
    if PER_CATEGORY in spec:
        if not per_category:
            raise SuiteError(
                f"{source}: {keypath}.{PER_CATEGORY}: per_category is only allowed in a model "
                "entry's thresholds"
            )
        raw = _mapping(spec.pop(PER_CATEGORY), source, f"{keypath}.{PER_CATEGORY}")
        for category, bounds in raw.items():
            here = f"{keypath}.{PER_CATEGORY}.{category}"
            categories[category] = parse_bounds(
                _mapping(bounds, source, here), where=f"{source}: {here}"
            )
    return parse_bounds(spec, where=f"{source}: {keypath}"), categories


def _categories(value: Any, source: str, keypath: str) -> tuple[str, ...] | None:
    if value == ALL:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise SuiteError(
            f"{source}: {keypath}: expected 'all' or a non-empty list of categories, "
            f"got {value!r}"
        )
    seen: list[str] = []
    for index, category in enumerate(value):
        name = _string(category, source, f"{keypath}[{index}]")
        if not _ID.match(name) or name == ALL:
            raise SuiteError(f"{source}: {keypath}[{index}]: invalid category name {name!r}")
        if name in seen:
            raise SuiteError(f"{source}: {keypath}: category {name!r} is listed twice")
        seen.append(name)
    return tuple(seen)


def _check_model_name(name: str, source: str, keypath: str) -> None:
    from pyimgano.models import get_entry

    try:
        get_entry(name)
    except UnknownModelError as exc:
        raise SuiteError(f"{source}: {keypath}: {exc}") from None


def _dataset(
    name: str, value: Any, source: str, base: Path, environ: Mapping[str, str]
) -> DatasetSpec:
    from pyimgano.datasets import FORMATS

    keypath = f"datasets.{name}"
    entry = _mapping(value, source, keypath)
    fmt = _string(_require(entry, "format", source, keypath), source, f"{keypath}.format")
    if fmt not in FORMATS:
        raise SuiteError(
            f"{source}: {keypath}.format: unknown dataset format {fmt!r}; "
            f"expected one of {', '.join(FORMATS)}"
        )
    format_options = FORMATS[fmt].options
    _check_keys(entry, (*DATASET_BASE_KEYS, *format_options), source, keypath)
    root = _path(_require(entry, "root", source, keypath), source, f"{keypath}.root", base,
                 environ)
    fingerprint = {}
    if entry.get("fingerprint") is not None:
        pins = _mapping(entry["fingerprint"], source, f"{keypath}.fingerprint")
        for category, pin in pins.items():
            fingerprint[category] = _sha256(pin, source, f"{keypath}.fingerprint.{category}")
    options: dict[str, Any] = {}
    for key in format_options:
        if entry.get(key) is None:
            continue
        option = entry[key]
        if isinstance(option, str):
            options[key] = _expand_option(option, source, f"{keypath}.{key}", environ)
        elif isinstance(option, list) and all(isinstance(v, str) for v in option):
            options[key] = [
                _expand_option(v, source, f"{keypath}.{key}[{i}]", environ)
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


def _expand_option(value: str, source: str, keypath: str, environ: Mapping[str, str]) -> str:
    try:
        text, unset, empty = expand_vars(value, environ)
    except ValueError as exc:
        raise SuiteError(
            f"{source}: {keypath}: bad variable reference ${{{exc.args[0]}}}"
        ) from None
    if unset:
        raise SuiteError(f"{source}: {keypath}: environment variable {unset[0]} is not set")
    if empty:
        raise SuiteError(
            f"{source}: {keypath}: environment variable {empty[0]} is set but empty"
        )
    return text


def _model(
    index: int,
    value: Any,
    source: str,
    base: Path,
    environ: Mapping[str, str],
    datasets: Mapping[str, DatasetSpec],
) -> ModelSpec:
    keypath = f"models[{index}]"
    entry = _mapping(value, source, keypath)
    _check_keys(entry, MODEL_KEYS, source, keypath)
    model_id = _string(_require(entry, "id", source, keypath), source, f"{keypath}.id")
    if not _ID.match(model_id):
        raise SuiteError(
            f"{source}: {keypath}.id: invalid id {model_id!r}; use letters, digits, '_', '-' "
            "and '.', starting with a letter or digit"
        )
    model = _string(_require(entry, "model", source, keypath), source, f"{keypath}.model")
    _check_model_name(model, source, f"{keypath}.model")
    dataset = _string(_require(entry, "dataset", source, keypath), source, f"{keypath}.dataset")
    if dataset not in datasets:
        known = ", ".join(datasets) or "(none defined)"
        raise SuiteError(
            f"{source}: {keypath}.dataset: unknown dataset {dataset!r}; datasets: {known}"
        )
    categories = _categories(
        _require(entry, "categories", source, keypath), source, f"{keypath}.categories"
    )
    checkpoint = None
    if entry.get("checkpoint") is not None:
        checkpoint = _path(entry["checkpoint"], source, f"{keypath}.checkpoint", base, environ,
                           category_placeholder=True)
    sha256: str | Mapping[str, str] | None = None
    if entry.get("sha256") is not None:
        sha256 = _pins(entry["sha256"], source, f"{keypath}.sha256")
    reference = reference_sha256 = parity = None
    if entry.get("reference") is not None:
        reference = _path(entry["reference"], source, f"{keypath}.reference", base, environ,
                          category_placeholder=True)
    for key in ("reference_sha256", "parity"):
        if entry.get(key) is not None and reference is None:
            raise SuiteError(
                f"{source}: {keypath}.{key}: {key} needs a reference: checkpoint in the same "
                "model entry"
            )
    if entry.get("reference_sha256") is not None:
        reference_sha256 = _pins(entry["reference_sha256"], source,
                                 f"{keypath}.reference_sha256")
    if entry.get("parity") is not None:
        parity = frozen(_parity(entry["parity"], source, f"{keypath}.parity"))
    release = _release(entry, source, keypath, base, environ)
    kwargs = dict(_mapping(entry.get("model_kwargs") or {}, source, f"{keypath}.model_kwargs"))
    for key, why in FORBIDDEN_KWARGS.items():
        if key in kwargs:
            raise SuiteError(
                f"{source}: {keypath}.model_kwargs.{key}: not allowed in a suite; {why}"
            )
    from pyimgano.models.kwargs import check_json_data

    try:  # reports record the kwargs as strict JSON: no NaN, dates, bytes, sets, cycles
        check_json_data(kwargs, f"{source}: {keypath}.model_kwargs")
    except ConfigError as exc:
        raise SuiteError(str(exc)) from None
    thresholds, per_category = _thresholds(
        entry.get("thresholds") or {}, source, f"{keypath}.thresholds", per_category=True
    )
    tolerance = (
        _tolerance(entry["snapshot"], source, f"{keypath}.snapshot")
        if entry.get("snapshot") is not None
        else Tolerance()
    )
    if categories is not None:
        check_selected(per_category, categories, source, f"{keypath}.thresholds.{PER_CATEGORY}")
        if isinstance(sha256, Mapping):
            check_selected(sha256, categories, source, f"{keypath}.sha256")
        if isinstance(reference_sha256, Mapping):
            check_selected(reference_sha256, categories, source, f"{keypath}.reference_sha256")
        if isinstance(release.get("baseline_sha256"), Mapping):
            check_selected(release["baseline_sha256"], categories, source,
                           f"{keypath}.baseline_sha256")
    return ModelSpec(
        index=index,
        id=model_id,
        model=model,
        dataset=dataset,
        categories=categories,
        checkpoint=checkpoint,
        sha256=sha256,
        model_kwargs=frozen(kwargs),
        options=_options(entry, source, keypath),
        thresholds=frozen(thresholds),
        per_category=frozen({c: frozen(b) for c, b in per_category.items()}),
        tolerance=tolerance,
        reference=reference,
        reference_sha256=reference_sha256,
        parity=parity,
        **release,
    )


def _release(
    entry: Mapping[str, Any], source: str, keypath: str, base: Path, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The entry's release-decision keys (docs/REFERENCE.md §12): ``baseline``,
    ``baseline_model``, ``baseline_sha256``, ``compare`` and ``ci``."""
    from pyimgano.comparison import parse_compare

    out: dict[str, Any] = {}
    if entry.get("baseline") is not None:
        out["baseline"] = _path(entry["baseline"], source, f"{keypath}.baseline", base,
                                environ, category_placeholder=True)
    for key in ("baseline_model", "baseline_sha256", "compare"):
        if entry.get(key) is not None and "baseline" not in out:
            raise SuiteError(
                f"{source}: {keypath}.{key}: {key} needs a baseline: checkpoint in the same "
                "model entry"
            )
    if entry.get("baseline_model") is not None:
        name = _string(entry["baseline_model"], source, f"{keypath}.baseline_model")
        _check_model_name(name, source, f"{keypath}.baseline_model")
        out["baseline_model"] = name
    if entry.get("baseline_sha256") is not None:
        out["baseline_sha256"] = _pins(entry["baseline_sha256"], source,
                                       f"{keypath}.baseline_sha256")
    if entry.get("compare") is not None:
        try:
            out["compare"] = frozen(parse_compare(entry["compare"], where=f"{keypath}.compare"))
        except ConfigError as exc:
            raise SuiteError(f"{source}: {exc}") from None
    if entry.get("ci") is not None:
        level = _number(entry["ci"], source, f"{keypath}.ci")
        if not 0 < level < 1:
            raise SuiteError(
                f"{source}: {keypath}.ci: {entry['ci']!r} is not a confidence level in (0, 1); "
                "expected e.g. 0.95"
            )
        out["ci"] = level
    return out


def check_selected(
    keyed: Mapping[str, Any], selected: Iterable[str], source: str, keypath: str
) -> None:
    """SuiteError for a key of ``keyed`` (``per_category``, pins) naming an unselected category."""
    chosen = list(selected)
    for category in keyed:
        if category not in chosen:
            raise SuiteError(
                f"{source}: {keypath}.{category}: category {category!r} is not selected; "
                f"selected categories: {', '.join(chosen) or '(none)'}"
            )


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
    top = _mapping(data, source, "")
    _check_keys(top, TOP_KEYS, source, "")
    version = top.get(SUITE_KEY)
    if isinstance(version, bool) or version != SUITE_VERSION:
        raise SuiteError(
            f"{source}: {SUITE_KEY}: unsupported suite version {version!r}; expected "
            f"{SUITE_VERSION}"
        )
    name = None
    if top.get("name") is not None:
        name = _string(top["name"], source, "name")
    defaults = _mapping(top.get("defaults") or {}, source, "defaults")
    _check_keys(defaults, DEFAULTS_KEYS, source, "defaults")
    thresholds, _ = _thresholds(
        defaults.get("thresholds") or {}, source, "defaults.thresholds", per_category=False
    )
    tolerance = (
        _tolerance(defaults["snapshot"], source, "defaults.snapshot")
        if defaults.get("snapshot") is not None
        else Tolerance()
    )
    raw_datasets = _mapping(_require(top, "datasets", source, ""), source, "datasets")
    if not raw_datasets:
        raise SuiteError(f"{source}: datasets: define at least one dataset")
    datasets = {
        key: _dataset(_dataset_name(key, source), value, source, base, environ)
        for key, value in raw_datasets.items()
    }
    raw_models = _require(top, "models", source, "")
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
        defaults=_options(defaults, source, "defaults"),
        thresholds=frozen(thresholds),
        tolerance=tolerance,
        datasets=frozen(datasets),
        models=models,
        lines=frozen(lines),
    )


def _dataset_name(key: str, source: str) -> str:
    if not _ID.match(key):
        raise SuiteError(f"{source}: datasets.{key}: invalid dataset name {key!r}")
    return key
