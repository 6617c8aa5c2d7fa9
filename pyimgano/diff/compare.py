"""Comparison of two report sets (docs/REFERENCE.md §9), item by item: metric rows
(:mod:`~pyimgano.diff.rows`), context notes, per-image records (:mod:`~pyimgano.diff.images`)
and, with ``--paired``, the release tests; then the sides' environments. Pure: nothing here reads
files (:mod:`pyimgano.diff.inputs` loads the :class:`~pyimgano.diff.result.ItemInput` objects).

The names that used to live here (:class:`Tolerances`, :class:`MetricRow`, :func:`diff_records`,
the verdicts, …) are still importable from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyimgano.diff.images import (  # noqa: F401 - the per-image names: old import paths
    F1_MAX_THRESHOLD,
    FLIP_KINDS,
    PRED_LABEL,
    DecisionFlip,
    ImageChange,
    ImageDiff,
    diff_records,
    f1_max_threshold,
    image_key,
)
from pyimgano.diff.result import (  # noqa: F401 - BOTH: old import path
    BOTH,
    NEW_ONLY,
    OLD_ONLY,
    DiffResult,
    ItemDiff,
    ItemInput,
    Side,
)
from pyimgano.diff.rows import (  # noqa: F401 - the row names: old import paths
    BEYOND,
    EQUAL,
    FAILING,
    METRIC_ORDER,
    NULLNESS,
    UNGATED,
    WITHIN,
    MetricRow,
    compare_metrics,
    compare_values,
    metric_values,
)
from pyimgano.diff.tolerances import (  # noqa: F401 - parse_tolerances: old import path
    Tolerances,
    check_tolerance_names,
    parse_tolerances,
)

#: Environment facts summarised at the top of a diff when they differ between the sides.
ENVIRONMENT_KEYS = ("anomalib", "torch", "torchvision", "pyimgano", "python", "device", "gpu")


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

