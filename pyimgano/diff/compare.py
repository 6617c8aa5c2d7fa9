"""Pure comparison of two report sets (docs/REFERENCE.md §9): metric, old, new, delta, verdict.

Nothing here reads files: :mod:`pyimgano.diff.inputs` loads reports, summaries and per-image
records into :class:`ItemInput` objects, and these functions compare them.

Verdicts per metric row:

- ``equal``: same number, or no number on either side (``null`` and absent count alike);
- ``within``: both numbers, ``0 < |Δ| <= tolerance``;
- ``beyond``: ``|Δ| > tolerance`` (fails the diff);
- ``nullness``: a number on one side only (fails the diff);
- ``ungated``: a timing metric moved (or changed nullness) but no tolerance was given for it
  explicitly; shown, never fails.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pyimgano.errors import ConfigError
from pyimgano.gates import TIMING_METRICS
from pyimgano.metrics.results import METRIC_ORDER

EQUAL = "equal"
WITHIN = "within"
BEYOND = "beyond"
NULLNESS = "nullness"
UNGATED = "ungated"
FAILING = frozenset({BEYOND, NULLNESS})

BOTH = "both"
OLD_ONLY = "old_only"
NEW_ONLY = "new_only"

#: Row order: these first (docs/REFERENCE.md §5 order), other metrics by name, then per defect,
#: then timing.
METRIC_ORDER = METRIC_ORDER

#: Environment facts summarised at the top of a diff when they differ between the sides.
ENVIRONMENT_KEYS = ("anomalib", "torch", "torchvision", "pyimgano", "python", "device", "gpu")

#: |Δ| may exceed the tolerance by this relative amount (a few ULPs), so that 0.95 → 0.96 is
#: within a tolerance of 0.01 although ``0.96 - 0.95 == 0.010000000000000009``.
_ULP_SLACK = 1e-12


# ------------------------------------------------------------------------------------------
# tolerances


@dataclass(frozen=True)
class Tolerances:
    """Absolute tolerances: one default plus per-metric overrides.

    A per-metric entry ``image_auroc`` also covers every ``<defect>/image_auroc`` row unless
    that row has its own entry. Timing metrics (``ms_per_image``, ``images_per_s``) are gated
    only by a per-metric entry; the default never applies to them.
    """

    default: float = 0.0
    per_metric: Mapping[str, float] = field(default_factory=dict)

    def for_metric(self, metric: str) -> float | None:
        """The tolerance of a row, or ``None`` when the row is not gated."""
        if metric in self.per_metric:
            return self.per_metric[metric]
        base = metric.rsplit("/", 1)[-1]
        if base in self.per_metric:
            return self.per_metric[base]
        if base in TIMING_METRICS:
            return None
        return self.default

    def to_dict(self) -> dict[str, Any]:
        return {"default": self.default, "per_metric": dict(sorted(self.per_metric.items()))}


def _tolerance_number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where}: a tolerance must be a finite number >= 0, got {text!r}")
    return value


def parse_tolerances(values: Iterable[str]) -> Tolerances:
    """Parse ``--tolerance`` values: ``0.01`` (the default) or ``metric=0.02`` (repeatable).

    Raises :class:`~pyimgano.errors.ConfigError` for non-numbers, negative values, two
    defaults, or one metric given twice.
    """
    default: float | None = None
    per_metric: dict[str, float] = {}
    for text in values:
        name, sep, number = text.partition("=")
        if not sep:
            if default is not None:
                raise ConfigError(
                    f"--tolerance {text}: a global tolerance was already given ({default:g})"
                )
            default = _tolerance_number(text, "--tolerance")
            continue
        name = name.strip()
        if not name:
            raise ConfigError(f"--tolerance {text}: expected METRIC=VALUE")
        if name in per_metric:
            raise ConfigError(f"--tolerance {text}: {name} was already given a tolerance")
        per_metric[name] = _tolerance_number(number, f"--tolerance {name}")
    return Tolerances(default=0.0 if default is None else default, per_metric=per_metric)


# ------------------------------------------------------------------------------------------
# metric rows


@dataclass(frozen=True)
class MetricRow:
    """One metric of one item on both sides. ``old``/``new`` are ``None`` for null or absent."""

    metric: str
    old: float | None
    new: float | None
    tolerance: float | None
    status: str
    old_present: bool = True
    new_present: bool = True

    @property
    def delta(self) -> float | None:
        """``new - old`` when both are numbers."""
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "old": self.old,
            "new": self.new,
            "old_present": self.old_present,
            "new_present": self.new_present,
            "delta": self.delta,
            "tolerance": self.tolerance,
            "status": self.status,
        }


def metric_values(report: Mapping[str, Any]) -> dict[str, float | None]:
    """Every comparable number of a report: metrics, ``<defect>/<metric>`` (per defect, and
    per defect type for MVTec LOCO's AU-sPRO) and timing.

    ``decision`` (borderline count), ``resolution`` and ``resources`` are not metrics and are
    not compared; a changed borderline count is a note (:func:`_context_notes`).
    """
    values: dict[str, float | None] = dict(report.get("metrics") or {})
    for grouped in ("metrics_by_defect", "metrics_by_defect_type"):
        for group, metrics in (report.get(grouped) or {}).items():
            for name, value in metrics.items():
                values[f"{group}/{name}"] = value
    timing = report.get("timing") or {}
    for name in TIMING_METRICS:
        if name in timing:
            values[name] = timing[name]
    return values


def _row_order(metric: str) -> tuple[int, int, str]:
    base = metric.rsplit("/", 1)[-1]
    rank = METRIC_ORDER.index(base) if base in METRIC_ORDER else len(METRIC_ORDER)
    if base in TIMING_METRICS:
        return (3, TIMING_METRICS.index(base), metric)
    if "/" in metric:
        return (2, rank, metric)
    return (0 if rank < len(METRIC_ORDER) else 1, rank, metric)


def _within(distance: float, tolerance: float) -> bool:
    return distance <= tolerance or distance - tolerance <= _ULP_SLACK * max(tolerance, distance)


def compare_values(old: float | None, new: float | None, tolerance: float | None) -> str:
    """The verdict of one row (see the module docstring)."""
    if old is None or new is None:
        if (old is None) == (new is None):
            return EQUAL
        return UNGATED if tolerance is None else NULLNESS
    if new == old:
        return EQUAL
    if tolerance is None:
        return UNGATED
    return WITHIN if _within(abs(new - old), tolerance) else BEYOND


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def compare_metrics(
    old: Mapping[str, float | None], new: Mapping[str, float | None], tolerances: Tolerances
) -> tuple[MetricRow, ...]:
    """One row per metric named on either side, in report order."""
    rows = []
    for metric in sorted(set(old) | set(new), key=_row_order):
        before, after = _float(old.get(metric)), _float(new.get(metric))
        tolerance = tolerances.for_metric(metric)
        rows.append(
            MetricRow(
                metric=metric,
                old=before,
                new=after,
                tolerance=tolerance,
                status=compare_values(before, after, tolerance),
                old_present=metric in old,
                new_present=metric in new,
            )
        )
    return tuple(rows)


# ------------------------------------------------------------------------------------------
# per-image records


@dataclass(frozen=True)
class ImageChange:
    """One image's score on both sides (``image`` is the matching key)."""

    image: str
    label: int
    defect: str | None
    old_score: float
    new_score: float

    @property
    def delta(self) -> float:
        return self.new_score - self.old_score

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "delta": self.delta}


FLIP_KINDS = {
    (1, 1, 0): "now missed",
    (0, 0, 1): "now rejected",
    (1, 0, 1): "now caught",
    (0, 1, 0): "now accepted",
}
_FLIP_RANK = {"now missed": 0, "now rejected": 1, "now caught": 2, "now accepted": 3}


@dataclass(frozen=True)
class DecisionFlip:
    """An image whose decision (1 anomalous, 0 good) differs between the sides."""

    image: str
    label: int
    defect: str | None
    old_score: float
    new_score: float
    old_decision: int
    new_decision: int

    @property
    def kind(self) -> str:
        """``now missed`` / ``now rejected`` (new errors), ``now caught`` / ``now accepted``."""
        return FLIP_KINDS[(self.label, self.old_decision, self.new_decision)]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "kind": self.kind}


PRED_LABEL = "pred_label"
F1_MAX_THRESHOLD = "f1_max_threshold"


@dataclass(frozen=True)
class ImageDiff:
    """Per-image comparison of one item (both sides had records).

    ``flip_basis`` is ``pred_label`` (the checkpoints' own decisions), ``f1_max_threshold``
    (``score >= threshold`` at each side's F1-max threshold) or ``None`` when no decision can
    be made (one class only); ``notes`` says why.
    """

    matched: int
    only_old: tuple[str, ...]
    only_new: tuple[str, ...]
    top_moved: tuple[ImageChange, ...]
    flips: tuple[DecisionFlip, ...]
    flip_basis: str | None
    old_threshold: float | None = None
    new_threshold: float | None = None
    pairs: tuple[ImageChange, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "only_old": list(self.only_old),
            "only_new": list(self.only_new),
            "top_moved": [c.to_dict() for c in self.top_moved],
            "flips": [f.to_dict() for f in self.flips],
            "flip_basis": self.flip_basis,
            "old_threshold": self.old_threshold,
            "new_threshold": self.new_threshold,
            "notes": list(self.notes),
        }


def image_key(path: str, root: str | None) -> str:
    """How images are matched: ``path`` relative to the dataset root, else ``path`` itself."""
    if root:
        try:
            return PurePath(path).relative_to(PurePath(root)).as_posix()
        except ValueError:
            pass
    return path


def f1_max_threshold(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """The lowest score threshold ``t`` whose decision ``score >= t`` reaches the maximal F1.

    ``None`` when there is no anomalous image (F1 undefined); every image anomalous: the lowest
    score (flag them all). Otherwise :func:`pyimgano.metrics.f1_max_threshold` (the sweep and
    F1 accumulator of ``image_f1_max``).
    """
    from pyimgano.metrics import f1_max_threshold as metric_threshold

    n_pos = sum(1 for label in labels if int(label) == 1)
    if n_pos == 0:
        return None
    if n_pos == len(labels):
        return float(min(float(score) for score in scores))
    return metric_threshold(list(labels), [float(score) for score in scores])


def _decisions(
    records: Sequence[Mapping[str, Any]], basis: str, threshold: float | None
) -> list[int]:
    if basis == PRED_LABEL:
        return [int(bool(r["pred_label"])) for r in records]
    assert threshold is not None
    return [int(float(r["score"]) >= threshold) for r in records]


def diff_records(
    old_records: Sequence[Mapping[str, Any]],
    new_records: Sequence[Mapping[str, Any]],
    *,
    old_root: str | None = None,
    new_root: str | None = None,
    top: int = 10,
) -> ImageDiff:
    """Compare per-image records (path, label, defect, score, pred_label) of one item.

    Images are matched by :func:`image_key`. ``top_moved`` holds up to ``top`` matched images
    whose score moved, largest ``|Δ|`` first (ties by image key). Decisions are the
    checkpoints' ``pred_label`` when every record on both sides has one, else ``score >=``
    each side's :func:`f1_max_threshold` computed from all of that side's records.
    """
    old_by_key = {image_key(str(r["path"]), old_root): r for r in old_records}
    new_by_key = {image_key(str(r["path"]), new_root): r for r in new_records}
    matched_keys = sorted(set(old_by_key) & set(new_by_key))
    notes: list[str] = [
        f"{len(records) - len(by_key)} {side} record(s) repeat an image path; the last one used"
        for side, records, by_key in (
            ("old", old_records, old_by_key),
            ("new", new_records, new_by_key),
        )
        if len(by_key) < len(records)
    ]

    pairs = []
    for key in matched_keys:
        before, after = old_by_key[key], new_by_key[key]
        if int(before["label"]) != int(after["label"]):
            notes.append(
                f"{key}: label {before['label']} in old, {after['label']} in new (old used)"
            )
        pairs.append(
            ImageChange(
                image=key,
                label=int(before["label"]),
                defect=before.get("defect"),
                old_score=float(before["score"]),
                new_score=float(after["score"]),
            )
        )
    moved = sorted((p for p in pairs if p.delta != 0), key=lambda p: (-abs(p.delta), p.image))

    both_labelled = all(r.get("pred_label") is not None for r in (*old_records, *new_records))
    basis: str | None = PRED_LABEL if both_labelled else F1_MAX_THRESHOLD
    old_threshold = new_threshold = None
    if basis == F1_MAX_THRESHOLD:
        old_threshold = f1_max_threshold(
            [int(r["label"]) for r in old_records], [float(r["score"]) for r in old_records]
        )
        new_threshold = f1_max_threshold(
            [int(r["label"]) for r in new_records], [float(r["score"]) for r in new_records]
        )
        if old_threshold is None or new_threshold is None:
            basis = None
            notes.append("no decision flips: a side has no anomalous image (F1 undefined)")

    flips: list[DecisionFlip] = []
    if basis is not None and pairs:
        old_decisions = _decisions([old_by_key[k] for k in matched_keys], basis, old_threshold)
        new_decisions = _decisions([new_by_key[k] for k in matched_keys], basis, new_threshold)
        for pair, before, after in zip(pairs, old_decisions, new_decisions, strict=True):
            if before != after and pair.label in (0, 1):
                flips.append(
                    DecisionFlip(
                        pair.image,
                        pair.label,
                        pair.defect,
                        pair.old_score,
                        pair.new_score,
                        before,
                        after,
                    )
                )
    flips.sort(key=lambda f: (_FLIP_RANK[f.kind], f.image))
    return ImageDiff(
        matched=len(matched_keys),
        only_old=tuple(sorted(set(old_by_key) - set(new_by_key))),
        only_new=tuple(sorted(set(new_by_key) - set(old_by_key))),
        top_moved=tuple(moved[: max(top, 0)]),
        flips=tuple(flips),
        flip_basis=basis,
        old_threshold=old_threshold,
        new_threshold=new_threshold,
        pairs=tuple(pairs),
        notes=tuple(notes),
    )


# ------------------------------------------------------------------------------------------
# items and sides


@dataclass(frozen=True)
class ItemInput:
    """One item of one side, as loaded from disk.

    ``report`` is the report object (or, for a summary item without its report file, a
    mapping holding the summary's ``metrics``); ``records`` the per-image JSONL records, or
    ``None`` when there is no JSONL beside the report.
    """

    key: str
    path: str
    report: Mapping[str, Any]
    records: tuple[Mapping[str, Any], ...] | None = None
    nodeid: str | None = None
    outcome: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemDiff:
    """The comparison of one item: metric rows, notes and (with records) per-image changes."""

    key: str
    presence: str = BOTH
    rows: tuple[MetricRow, ...] = ()
    notes: tuple[str, ...] = ()
    images: ImageDiff | None = None
    old_path: str | None = None
    new_path: str | None = None
    nodeid: str | None = None
    paired: Mapping[str, Mapping[str, Any]] | None = None

    @property
    def failed(self) -> bool:
        """True when this item alone makes the diff exit 1."""
        return self.presence != BOTH or any(row.failed for row in self.rows)

    @property
    def status(self) -> str:
        """``old_only``, ``new_only``, ``failed``, ``changed`` (within tolerance) or ``equal``.

        Ungated rows (timing without a tolerance of its own) do not make an item ``changed``:
        run-to-run speed noise would otherwise mark every item.
        """
        if self.presence != BOTH:
            return self.presence
        if self.failed:
            return "failed"
        if any(row.status not in (EQUAL, UNGATED) for row in self.rows):
            return "changed"
        return "equal"

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "nodeid": self.nodeid,
            "presence": self.presence,
            "status": self.status,
            "old_path": self.old_path,
            "new_path": self.new_path,
            "rows": [row.to_dict() for row in self.rows],
            "notes": list(self.notes),
            "images": None if self.images is None else self.images.to_dict(),
            **({} if self.paired is None else {"paired": {k: dict(v)
                                                          for k, v in self.paired.items()}}),
        }


def _section(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = report.get(name)
    return value if isinstance(value, Mapping) else {}


def _context_notes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Differences that are not metrics but change what the metrics mean."""
    notes = []
    for section, key, text in (
        ("dataset", "fingerprint", "dataset fingerprint differs: the test data changed"),
        ("model", "checkpoint_sha256", "checkpoint sha256 differs: not the same checkpoint file"),
    ):
        before, after = _section(old, section).get(key), _section(new, section).get(key)
        if before is not None and after is not None and before != after:
            notes.append(text)
    for section, key in (
        ("dataset", "n_test"),
        ("dataset", "n_anomalous"),
        ("model", "outputs_normalized"),
        ("decision", "threshold_source"),
        ("decision", "borderline"),
    ):
        before, after = _section(old, section).get(key), _section(new, section).get(key)
        if key in _section(old, section) and key in _section(new, section) and before != after:
            notes.append(f"{section}.{key}: {_json_text(before)} → {_json_text(after)}")
    return notes


def _json_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def diff_reports(
    old: Mapping[str, Any], new: Mapping[str, Any], tolerances: Tolerances, *, key: str = ""
) -> ItemDiff:
    """Compare two report objects (metrics, per-defect metrics, timing) of one item."""
    rows = compare_metrics(metric_values(old), metric_values(new), tolerances)
    return ItemDiff(key=key, rows=rows, notes=tuple(_context_notes(old, new)))


def paired_tests(
    old: ItemInput, new: ItemInput, tolerances: Tolerances, *, alpha: float = 0.05
) -> tuple[dict[str, dict[str, Any]] | None, str | None]:
    """``--paired``: the release-decision tests (docs/REFERENCE.md §12) of NEW (candidate)
    against OLD (baseline) on their per-image records, when both sides scored the same images.

    Compared: every image metric both reports have (``image_auroc`` by DeLong, the others by
    the paired bootstrap) and ``aupimo_mean`` when both have per-image AUPIMO; the margin δ is
    the metric's tolerance (mode ``regression``). Returns ``(tests, None)`` or ``(None, why
    not)``.
    """
    from pyimgano.comparison import IMAGE_METRICS, Bound, comparable, compare_models

    if old.records is None or new.records is None:
        return None, "paired tests need per-image records on both sides"
    old_root = _section(old.report, "dataset").get("root")
    new_root = _section(new.report, "dataset").get("root")
    old_by = {image_key(str(r["path"]), old_root): r for r in old.records}
    new_by = {image_key(str(r["path"]), new_root): r for r in new.records}
    if set(old_by) != set(new_by) or len(old_by) != len(old.records):
        return None, "paired tests skipped: the two runs did not score the same images"
    keys = sorted(old_by)
    if any(int(old_by[k]["label"]) != int(new_by[k]["label"]) for k in keys):
        return None, "paired tests skipped: an image's label differs between the runs"
    old_metrics, new_metrics = _section(old.report, "metrics"), _section(new.report, "metrics")
    names = [n for n in new_metrics if n in old_metrics and comparable(n)
             and (n in IMAGE_METRICS or n.startswith("image_tpr_at_fpr_"))
             and new_metrics[n] is not None and old_metrics[n] is not None]
    aupimo = all("aupimo" in r for r in (*old.records, *new.records))
    kwargs: dict[str, Any] = {}
    if aupimo and "aupimo_mean" in new_metrics and new_metrics.get("aupimo_mean") is not None:
        names.append("aupimo_mean")
        kwargs = {"baseline_aupimo": [old_by[k].get("aupimo") for k in keys],
                  "candidate_aupimo": [new_by[k].get("aupimo") for k in keys]}
    bounds = {n: Bound(float(tolerances.for_metric(n) or 0.0), "regression", alpha)
              for n in sorted(names)}
    if not bounds:
        return None, "paired tests: no image metric on both sides"
    labels = [int(old_by[k]["label"]) for k in keys]
    tests = compare_models(labels, [float(new_by[k]["score"]) for k in keys],
                           [float(old_by[k]["score"]) for k in keys], bounds, **kwargs)
    return tests, None


def diff_items(
    old: ItemInput | None,
    new: ItemInput | None,
    tolerances: Tolerances,
    *,
    top: int = 10,
    paired: bool = False,
) -> ItemDiff:
    """Compare one item; either side may be missing (the item is then listed, not compared).
    With ``paired``, also :func:`paired_tests` (NEW against OLD)."""
    if old is None or new is None:
        present = old if old is not None else new
        assert present is not None
        return ItemDiff(
            key=present.key,
            presence=OLD_ONLY if new is None else NEW_ONLY,
            old_path=None if old is None else old.path,
            new_path=None if new is None else new.path,
            nodeid=present.nodeid,
        )
    base = diff_reports(old.report, new.report, tolerances, key=old.key)
    notes = [*old.notes, *new.notes, *base.notes]
    if old.outcome is not None and new.outcome is not None and old.outcome != new.outcome:
        notes.insert(0, f"outcome: {old.outcome} → {new.outcome}")
    images = None
    if old.records is not None and new.records is not None:
        images = diff_records(
            old.records,
            new.records,
            old_root=_section(old.report, "dataset").get("root"),
            new_root=_section(new.report, "dataset").get("root"),
            top=top,
        )
    elif old.records is not None or new.records is not None:
        side = "new" if new.records is None else "old"
        notes.append(f"no per-image records on the {side} side: images not compared")
    tests = None
    if paired:
        tests, why = paired_tests(old, new, tolerances)
        if why is not None:
            notes.append(why)
    return ItemDiff(
        key=old.key,
        rows=base.rows,
        notes=tuple(notes),
        images=images,
        old_path=old.path,
        new_path=new.path,
        nodeid=new.nodeid or old.nodeid,
        paired=tests,
    )


@dataclass(frozen=True)
class Side:
    """One side of a diff: what was given (``report``, ``dir`` or ``summary``) and its items.

    For a report dir with ``summary.json`` manifests, ``manifests`` names them (relative to
    the dir) and ``stale`` the report files no manifest lists (left over from earlier runs;
    not compared).
    """

    kind: str
    path: str
    items: Mapping[str, ItemInput]
    stale: tuple[str, ...] = ()
    manifests: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiffResult:
    """The whole diff. :attr:`exit_code` is 1 when any item failed, else 0."""

    old: str
    new: str
    kind: str
    tolerances: Tolerances
    items: tuple[ItemDiff, ...]
    environment: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    old_stale: tuple[str, ...] = ()
    new_stale: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        return 1 if any(item.failed for item in self.items) else 0

    def counts(self) -> dict[str, int]:
        """Items by status, and rows beyond tolerance / with a nullness change."""
        counts = {
            "items": len(self.items),
            "equal": 0,
            "changed": 0,
            "failed": 0,
            OLD_ONLY: 0,
            NEW_ONLY: 0,
            "rows_beyond": sum(item.count(BEYOND) for item in self.items),
            "rows_nullness": sum(item.count(NULLNESS) for item in self.items),
        }
        for item in self.items:
            counts[item.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "pyimgano-diff",
            "old": self.old,
            "new": self.new,
            "input_kind": self.kind,
            "tolerances": self.tolerances.to_dict(),
            "environment": {
                key: {"old": list(old), "new": list(new)}
                for key, (old, new) in self.environment.items()
            },
            "counts": self.counts(),
            "stale": {"old": list(self.old_stale), "new": list(self.new_stale)},
            "exit_code": self.exit_code,
            "items": [item.to_dict() for item in self.items],
        }


def _environment_values(side: Side, key: str) -> tuple[str, ...]:
    values = set()
    for item in side.items.values():
        environment = _section(item.report, "environment")
        if key in environment:
            values.add(_json_text(environment[key]))
    return tuple(sorted(values))


def environment_changes(old: Side, new: Side) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Environment facts whose values differ between the sides (what was upgraded)."""
    changes = {}
    for key in ENVIRONMENT_KEYS:
        before, after = _environment_values(old, key), _environment_values(new, key)
        if before != after and (before or after):
            changes[key] = (before, after)
    return changes


def check_tolerance_names(tolerances: Tolerances, items: Iterable[ItemDiff]) -> None:
    """A per-metric tolerance naming neither a pyimgano metric nor any compared row is a typo:
    :class:`ConfigError` listing the known names."""
    if not tolerances.per_metric:
        return
    from pyimgano.metrics import METRIC_DIRECTIONS

    names: set[str] = set(METRIC_DIRECTIONS)
    for item in items:
        for row in item.rows:
            names.add(row.metric)
            names.add(row.metric.rsplit("/", 1)[-1])
    unknown = sorted(set(tolerances.per_metric) - names)
    if unknown:
        raise ConfigError(
            f"--tolerance names unknown metric(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(n for n in names if '/' not in n))}"
        )


def diff_sides(
    old: Side, new: Side, tolerances: Tolerances, *, top: int = 10, paired: bool = False
) -> DiffResult:
    """Compare every item of two sides, matched by key (sorted by key); ``paired``: also the
    paired tests of each item (:func:`paired_tests`)."""
    keys = sorted(set(old.items) | set(new.items))
    items = tuple(
        diff_items(old.items.get(key), new.items.get(key), tolerances, top=top, paired=paired)
        for key in keys
    )
    check_tolerance_names(tolerances, items)
    return DiffResult(
        old=old.path,
        new=new.path,
        kind=old.kind,
        tolerances=tolerances,
        items=items,
        environment=environment_changes(old, new),
        old_stale=old.stale,
        new_stale=new.stale,
    )
