"""The frozen objects of a suite (docs/REFERENCE.md §8): what :mod:`~pytest_pyimgano.parse`
builds from the YAML and :mod:`~pytest_pyimgano.expand` turns into items. No I/O, no YAML, no
pytest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from pyimgano.gates import Bound

if TYPE_CHECKING:
    from pyimgano.runner import Case

SUITE_KEY = "pyimgano_suite"
SUITE_VERSION = 1
SUITE_SUFFIXES = (".yaml", ".yml")
ALL = "all"
PER_CATEGORY = "per_category"


def frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only copy of ``mapping`` (empty for ``None``)."""
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class PathRef:
    """A path of the suite after ``${VAR}`` expansion.

    ``path`` is absolute (relative text is taken relative to the suite's directory) and may
    still hold the ``{category}`` placeholder; it is ``None`` when a variable is unset or set
    to the empty string: ``unset`` names the unset variables (the item is skipped), ``empty``
    the empty ones (the item fails: a CI secret that resolves to ``""`` must not turn a gate
    into green skips).
    """

    text: str
    path: Path | None
    unset: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()

    def for_category(self, category: str) -> Path | None:
        """The path with ``{category}`` filled in."""
        if self.path is None:
            return None
        return Path(str(self.path).replace("{category}", category))


@dataclass(frozen=True)
class Tolerance:
    """Snapshot tolerance: ``base`` for every metric, ``per_metric`` overrides (absolute)."""

    base: float | None = None
    per_metric: Mapping[str, float] = field(default_factory=frozen)

    def for_metric(self, metric: str) -> float:
        """The tolerance of ``metric`` (0 unless the suite says otherwise)."""
        if metric in self.per_metric:
            return self.per_metric[metric]
        return self.base if self.base is not None else 0.0

    def then(self, later: Tolerance) -> Tolerance:
        """Per metric, ``later`` replaces this one (a bare number replaces every metric)."""
        if later.base is not None:
            return later
        return Tolerance(self.base, frozen({**self.per_metric, **later.per_metric}))


@dataclass(frozen=True)
class Options:
    """Options a suite's ``defaults`` or model entry may set; ``None`` means not set there."""

    pixel: bool | None = None
    batch_size: int | None = None
    device: str | None = None
    aupro_limit: float | None = None
    precision: str | None = None
    aupro_limits: tuple[float, ...] | None = None
    auspro_limits: tuple[float, ...] | None = None
    aupimo_fpr_bounds: tuple[float, float] | None = None
    fpr_limits: tuple[float, ...] | None = None
    protocol: str | None = None
    calibration: Mapping[str, Any] | None = None
    memory_budget: int | str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """One entry of ``datasets:``."""

    name: str
    format: str
    root: PathRef
    fingerprint: Mapping[str, str] = field(default_factory=frozen)
    options: Mapping[str, Any] = field(default_factory=frozen)


@dataclass(frozen=True)
class ModelSpec:
    """One entry of ``models:``; ``categories`` is ``None`` for ``all``.

    ``reference``/``reference_sha256``/``parity`` describe export parity (docs/REFERENCE.md
    §11): ``parity`` is ``None`` when the entry gives none (with a reference: parity is
    reported, not bounded). ``baseline``/``baseline_model``/``baseline_sha256``/``compare``
    describe a release decision (§12, ``compare`` as :class:`pyimgano.comparison.Bound`);
    ``ci`` adds ``metrics_ci``.
    """

    index: int
    id: str
    model: str
    dataset: str
    categories: tuple[str, ...] | None
    checkpoint: PathRef | None = None
    sha256: str | Mapping[str, str] | None = None
    model_kwargs: Mapping[str, Any] = field(default_factory=frozen)
    options: Options = field(default_factory=Options)
    thresholds: Mapping[str, Bound] = field(default_factory=frozen)
    per_category: Mapping[str, Mapping[str, Bound]] = field(default_factory=frozen)
    tolerance: Tolerance = field(default_factory=Tolerance)
    reference: PathRef | None = None
    reference_sha256: str | Mapping[str, str] | None = None
    parity: Mapping[str, float] | None = None
    baseline: PathRef | None = None
    baseline_model: str | None = None
    baseline_sha256: str | Mapping[str, str] | None = None
    compare: Mapping[str, Any] | None = None
    ci: float | None = None

    def sha256_for(self, category: str) -> str | None:
        """The checkpoint pin of ``category`` (one string pins every category)."""
        return _pin_for(self.sha256, category)

    def reference_sha256_for(self, category: str) -> str | None:
        """The reference checkpoint pin of ``category``."""
        return _pin_for(self.reference_sha256, category)

    def baseline_sha256_for(self, category: str) -> str | None:
        """The baseline checkpoint pin of ``category`` (docs/REFERENCE.md §12)."""
        return _pin_for(self.baseline_sha256, category)


def _pin_for(pins: str | Mapping[str, str] | None, category: str) -> str | None:
    if isinstance(pins, Mapping):
        return pins.get(category)
    return pins


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
    lines: Mapping[str, int] = field(default_factory=frozen)

    def line_of(self, *keypaths: str) -> int:
        """The 1-based YAML line of the first key path known (``models[0].snapshot``), else 1.

        Key paths are those of error messages: ``defaults.thresholds``, ``models[2]``.
        """
        for keypath in keypaths:
            if keypath in self.lines:
                return self.lines[keypath]
        return 1


@dataclass(frozen=True)
class RunSettings:
    """The command-line and ini values that items depend on (``None``: not given)."""

    device: str | None = None
    batch_size: int | None = None
    ini_device: str | None = None
    ini_batch_size: int | None = None
    trust_checkpoints: bool = False
    memory_budget: int | str | None = None
    ini_memory_budget: int | str | None = None


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
    bounds: Mapping[str, Bound] = field(default_factory=frozen)
    tolerance: Tolerance = field(default_factory=Tolerance)
    skip: str | None = None
    error: str | None = None
    paths: tuple[tuple[str, Path], ...] = ()
    index: int = 0

    @property
    def keypath(self) -> str:
        """The model entry's key path, ``models[<index>]``."""
        return f"models[{self.index}]"

    @property
    def line(self) -> int:
        """The 1-based line of the item's model entry in the suite file."""
        return self.suite.line_of(self.keypath)

    @property
    def name(self) -> str:
        """The item's node name, ``<id>[<category>]``."""
        return f"{self.id}[{self.category}]"
