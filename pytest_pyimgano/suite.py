"""Suite YAML → frozen :class:`Suite` objects → one :class:`ItemSpec` per (model entry, category).

Two pure steps (SPEC §8), both usable without pytest:

- :func:`parse_suite` validates the YAML text (``yaml.safe_load`` with duplicate keys refused)
  and builds :class:`Suite`; every unknown key at any level, wrong type, unknown metric,
  dataset or model reference is a :class:`~pyimgano.errors.SuiteError` naming the file, the
  key path and the allowed keys. ``${VAR}`` is expanded in every path, relative paths are
  relative to the suite file.
- :func:`expand_suite` turns a suite into item specs: ``categories: all`` is listed from disk,
  thresholds and snapshot tolerances are merged (defaults → model → ``per_category``), options
  follow command line > suite model > suite defaults > ini, and a dataset or checkpoint whose
  ``${VAR}`` is unset becomes a skip reason naming the variable.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyimgano.errors import ConfigError, DatasetError, SuiteError, UnknownModelError
from pyimgano.gates import TIMING_METRICS, Bound, merge_bounds, parse_bounds

if TYPE_CHECKING:
    from pyimgano.runner import Case

SUITE_KEY = "pyimgano_suite"
SUITE_VERSION = 1
SUITE_SUFFIXES = (".yaml", ".yml")
ALL = "all"

TOP_KEYS = (SUITE_KEY, "name", "defaults", "datasets", "models")
OPTION_KEYS = ("pixel", "batch_size", "device", "aupro_limit", "thresholds", "snapshot")
DEFAULTS_KEYS = OPTION_KEYS
MODEL_KEYS = (
    "id", "model", "checkpoint", "sha256", "model_kwargs", "dataset", "categories", *OPTION_KEYS
)
DATASET_BASE_KEYS = ("format", "root", "fingerprint")
SNAPSHOT_KEYS = ("tolerance",)
PER_CATEGORY = "per_category"
#: model kwargs a suite may not set (SPEC §7: pins go in ``sha256:``, trust on the command line).
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
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")
_SNIFF_BYTES = 64 * 1024
_SNIFF = re.compile(rb"""(?m)^(?:\{\s*)?["']?pyimgano_suite["']?\s*:""")


# ------------------------------------------------------------------------------------------
# spec objects


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class PathRef:
    """A path of the suite after ``${VAR}`` expansion.

    ``path`` is absolute (relative text is taken relative to the suite's directory) and may
    still hold the ``{category}`` placeholder; it is ``None`` when a variable is unset, and
    ``unset`` names those variables.
    """

    text: str
    path: Path | None
    unset: tuple[str, ...] = ()

    def for_category(self, category: str) -> Path | None:
        """The path with ``{category}`` filled in."""
        if self.path is None:
            return None
        return Path(str(self.path).replace("{category}", category))


@dataclass(frozen=True)
class Tolerance:
    """Snapshot tolerance: ``base`` for every metric, ``per_metric`` overrides (absolute)."""

    base: float | None = None
    per_metric: Mapping[str, float] = field(default_factory=_frozen)

    def for_metric(self, metric: str) -> float:
        """The tolerance of ``metric`` (0 unless the suite says otherwise)."""
        if metric in self.per_metric:
            return self.per_metric[metric]
        return self.base if self.base is not None else 0.0

    def then(self, later: Tolerance) -> Tolerance:
        """Per metric, ``later`` replaces this one (a bare number replaces every metric)."""
        if later.base is not None:
            return later
        return Tolerance(self.base, _frozen({**self.per_metric, **later.per_metric}))


@dataclass(frozen=True)
class Options:
    """Options a suite's ``defaults`` or model entry may set; ``None`` means not set there."""

    pixel: bool | None = None
    batch_size: int | None = None
    device: str | None = None
    aupro_limit: float | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of ``datasets:``."""

    name: str
    format: str
    root: PathRef
    fingerprint: Mapping[str, str] = field(default_factory=_frozen)
    options: Mapping[str, Any] = field(default_factory=_frozen)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of ``models:``; ``categories`` is ``None`` for ``all``."""

    index: int
    id: str
    model: str
    dataset: str
    categories: tuple[str, ...] | None
    checkpoint: PathRef | None = None
    sha256: str | Mapping[str, str] | None = None
    model_kwargs: Mapping[str, Any] = field(default_factory=_frozen)
    options: Options = field(default_factory=Options)
    thresholds: Mapping[str, Bound] = field(default_factory=_frozen)
    per_category: Mapping[str, Mapping[str, Bound]] = field(default_factory=_frozen)
    tolerance: Tolerance = field(default_factory=Tolerance)

    def sha256_for(self, category: str) -> str | None:
        if isinstance(self.sha256, Mapping):
            return self.sha256.get(category)
        return self.sha256


@dataclass(frozen=True)
class Suite:
    """A parsed suite file; ``source`` is how messages name it (rootdir-relative)."""

    path: Path
    source: str
    name: str | None
    defaults: Options
    thresholds: Mapping[str, Bound]
    tolerance: Tolerance
    datasets: Mapping[str, DatasetSpec]
    models: tuple[ModelSpec, ...]


@dataclass(frozen=True)
class RunSettings:
    """The command-line and ini values that items depend on (``None``: not given)."""

    device: str | None = None
    batch_size: int | None = None
    ini_device: str | None = None
    ini_batch_size: int | None = None
    trust_checkpoints: bool = False


@dataclass(frozen=True)
class ItemSpec:
    """Everything one test item needs; ``case`` is ``None`` for a skipped/failed placeholder.

    ``skip`` is a skip reason (an unset variable), ``error`` a failure message known at
    collection (a dataset that cannot be listed); ``paths`` are checked when the item runs.
    """

    suite: Suite
    id: str
    category: str
    case: Case | None = None
    bounds: Mapping[str, Bound] = field(default_factory=_frozen)
    tolerance: Tolerance = field(default_factory=Tolerance)
    skip: str | None = None
    error: str | None = None
    paths: tuple[tuple[str, Path], ...] = ()

    @property
    def name(self) -> str:
        """The item's node name, ``<id>[<category>]``."""
        return f"{self.id}[{self.category}]"


# ------------------------------------------------------------------------------------------
# reading


def looks_like_suite(path: Path) -> bool:
    """Cheap check used at collection: does a top-level ``pyimgano_suite`` key appear?

    Reads at most 64 KiB and parses nothing, so other YAML files cost one small read.
    """
    if path.suffix not in SUITE_SUFFIXES:
        return False
    try:
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError:
        return False
    return _SNIFF.search(head) is not None


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
    import yaml

    try:
        return yaml.load(text, Loader=_safe_loader())  # noqa: S506 - a SafeLoader subclass
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
        text = suite_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{label}: cannot read suite file: {exc}") from None
    return parse_suite(load_yaml(text, label), suite_path, source=label, environ=environ)


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
    if not isinstance(value, str) or not _HEX64.match(value):
        raise SuiteError(
            f"{source}: {keypath}: expected a sha256 (64 hex digits), got {value!r}"
        )
    return value.lower()


def expand_vars(text: str, environ: Mapping[str, str]) -> tuple[str, tuple[str, ...]]:
    """Expand ``${VAR}``; returns the text and the names of unset (or empty) variables."""
    unset: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if not _VAR_NAME.match(name):
            raise ValueError(name)
        value = environ.get(name)
        if not value:
            if name not in unset:
                unset.append(name)
            return match.group(0)
        return value

    return _VAR.sub(replace, text), tuple(unset)


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
        expanded, unset = expand_vars(text, environ)
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
    if unset:
        return PathRef(text, None, unset)
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
    allowed = [m for m in sorted(_directions()) if m not in TIMING_METRICS]
    per_metric = {}
    for metric, tol in _mapping(spec, source, here).items():
        if metric in TIMING_METRICS:
            raise SuiteError(
                f"{source}: {here}.{metric}: speed metrics are never snapshotted; "
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
    return Tolerance(per_metric=_frozen(per_metric))


def _options(entry: Mapping[str, Any], source: str, keypath: str) -> Options:
    pixel = batch_size = device = aupro_limit = None
    if entry.get("pixel") is not None:
        pixel = _bool(entry["pixel"], source, f"{keypath}.pixel")
    if entry.get("batch_size") is not None:
        batch_size = _positive_int(entry["batch_size"], source, f"{keypath}.batch_size")
    if entry.get("device") is not None:
        device = parse_device(entry["device"], f"{source}: {keypath}.device")
    if entry.get("aupro_limit") is not None:
        aupro_limit = _number(entry["aupro_limit"], source, f"{keypath}.aupro_limit")
        if not 0.0 < aupro_limit <= 1.0:
            raise SuiteError(f"{source}: {keypath}.aupro_limit: must be in (0, 1]")
    return Options(pixel, batch_size, device, aupro_limit)


def parse_device(value: Any, where: str) -> str:
    """Validate a device option (``auto``, ``cpu``, ``cuda``, ``cuda:N``)."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text is None or not _DEVICE.match(text):
        raise SuiteError(f"{where}: unknown device {value!r}; expected auto, cpu, cuda or cuda:N")
    return text


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
        else:
            raise SuiteError(
                f"{source}: {keypath}.{key}: expected a string or a list of strings, "
                f"got {option!r}"
            )
    return DatasetSpec(name, fmt, root, _frozen(fingerprint), _frozen(options))


def _expand_option(value: str, source: str, keypath: str, environ: Mapping[str, str]) -> str:
    try:
        text, unset = expand_vars(value, environ)
    except ValueError as exc:
        raise SuiteError(
            f"{source}: {keypath}: bad variable reference ${{{exc.args[0]}}}"
        ) from None
    if unset:
        raise SuiteError(f"{source}: {keypath}: environment variable {unset[0]} is not set")
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
        if isinstance(entry["sha256"], Mapping):
            pins = _mapping(entry["sha256"], source, f"{keypath}.sha256")
            sha256 = _frozen(
                {c: _sha256(p, source, f"{keypath}.sha256.{c}") for c, p in pins.items()}
            )
        else:
            sha256 = _sha256(entry["sha256"], source, f"{keypath}.sha256")
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
        _check_selected(per_category, categories, source, f"{keypath}.thresholds.{PER_CATEGORY}")
        if isinstance(sha256, Mapping):
            _check_selected(sha256, categories, source, f"{keypath}.sha256")
    return ModelSpec(
        index=index,
        id=model_id,
        model=model,
        dataset=dataset,
        categories=categories,
        checkpoint=checkpoint,
        sha256=sha256,
        model_kwargs=_frozen(kwargs),
        options=_options(entry, source, keypath),
        thresholds=_frozen(thresholds),
        per_category=_frozen({c: _frozen(b) for c, b in per_category.items()}),
        tolerance=tolerance,
    )


def _check_selected(
    keyed: Mapping[str, Any], selected: Iterable[str], source: str, keypath: str
) -> None:
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

    Raises
    ------
    SuiteError
        Any deviation from SPEC §8, naming file, key path and allowed keys.
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
            _check_selected(dataset.fingerprint, selected, source,
                            f"datasets.{dataset.name}.fingerprint")
    return Suite(
        path=suite_path,
        source=source,
        name=name,
        defaults=_options(defaults, source, "defaults"),
        thresholds=_frozen(thresholds),
        tolerance=tolerance,
        datasets=_frozen(datasets),
        models=models,
    )


def _dataset_name(key: str, source: str) -> str:
    if not _ID.match(key):
        raise SuiteError(f"{source}: datasets.{key}: invalid dataset name {key!r}")
    return key


# ------------------------------------------------------------------------------------------
# expansion into items


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
        skip = None
        if dataset.root.unset:
            skip = _unset_reason(dataset.root.unset, f"datasets.{dataset.name}.root")
        elif model.checkpoint is not None and model.checkpoint.unset:
            skip = _unset_reason(model.checkpoint.unset, f"{keypath}.checkpoint")
        categories: Sequence[str]
        if model.categories is not None:
            categories = model.categories
        elif dataset.root.unset:
            items.append(ItemSpec(suite, model.id, ALL, skip=skip))
            continue
        else:
            if dataset.name not in listed:
                listed[dataset.name] = _list(dataset, lister)
            found = listed[dataset.name]
            if isinstance(found, str):
                items.append(ItemSpec(suite, model.id, ALL, error=found))
                continue
            categories = found
            _check_selected(model.per_category, categories, suite.source,
                            f"{keypath}.thresholds.{PER_CATEGORY}")
            if isinstance(model.sha256, Mapping):
                _check_selected(model.sha256, categories, suite.source, f"{keypath}.sha256")
        for category in categories:
            items.append(_item(suite, model, dataset, category, settings, skip))
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
        _check_selected(dataset.fingerprint, selected, suite.source,
                        f"datasets.{dataset.name}.fingerprint")


def _item(
    suite: Suite,
    model: ModelSpec,
    dataset: DatasetSpec,
    category: str,
    settings: RunSettings,
    skip: str | None,
) -> ItemSpec:
    from pyimgano.runner import Case

    bounds = merge_bounds(
        suite.thresholds, model.thresholds, model.per_category.get(category, {})
    )
    tolerance = suite.tolerance.then(model.tolerance)
    if skip is not None:
        return ItemSpec(suite, model.id, category, bounds=_frozen(bounds), tolerance=tolerance,
                        skip=skip)
    defaults, own = suite.defaults, model.options
    root = dataset.root.path
    checkpoint = model.checkpoint.for_category(category) if model.checkpoint else None
    assert root is not None
    paths: list[tuple[str, Path]] = [(_label(dataset.root, f"dataset {dataset.name!r} root"),
                                      root)]
    if checkpoint is not None and model.checkpoint is not None:
        paths.append((_label(model.checkpoint, "checkpoint"), checkpoint))
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
        checkpoint_sha256=model.sha256_for(category),
        trust_checkpoint=settings.trust_checkpoints,
        fingerprint=dataset.fingerprint.get(category),
        dataset_options=dict(dataset.options),
    )
    return ItemSpec(suite, model.id, category, case=case, bounds=_frozen(bounds),
                    tolerance=tolerance, paths=tuple(paths))


def _label(ref: PathRef, what: str) -> str:
    return f"{what} (from {ref.text!r})" if ref.text else what


def missing_paths(spec: ItemSpec) -> list[str]:
    """Messages for the item's paths that do not exist (checked when the item runs)."""
    return [f"{label}: {path} does not exist" for label, path in spec.paths if not path.exists()]
