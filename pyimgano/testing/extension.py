"""``MetricsSnapshotExtension``: syrupy stores and compares evaluation metrics with a tolerance.

Imported only on first use of :data:`pyimgano.testing.MetricsSnapshotExtension` (it imports
syrupy). The snapshot files are the suite snapshots' JSON (docs/REFERENCE.md §8: sorted keys,
metrics without the speed metrics, ``n_test``, ``n_anomalous``, the environment), one file per
assertion in syrupy's own directory, ``__snapshots__/<test file>/<test name>.json``; syrupy does
the bookkeeping (``--snapshot-update``, its summary, unused snapshots). Matching and the failure
table are the plugin's (:func:`pytest_pyimgano.snapshots.compare`,
:func:`pytest_pyimgano.failure.failure_text`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from pyimgano.errors import ConfigError, SuiteError
from pyimgano.report import dumps
from pyimgano.testing import EvaluationResult
from pytest_pyimgano import snapshots
from pytest_pyimgano.spec import Tolerance

_WITH_TOLERANCE = "MetricsSnapshotExtension.with_tolerance()"


def parse_tolerance(value: float | Mapping[str, float], where: str = _WITH_TOLERANCE) -> Tolerance:
    """A tolerance as a suite's ``snapshot: {tolerance: …}`` takes it (one parser for both).

    A number (absolute, ``>= 0``) applies to every metric; ``{metric: tolerance}`` to those
    metrics, the others exact. Unknown metric names, speed metrics, negative or non-finite
    numbers raise :class:`~pyimgano.errors.ConfigError` naming the key and the allowed ones.
    """
    from pytest_pyimgano.suite_gates import parse_tolerance as parse_snapshot

    try:
        return parse_snapshot({"tolerance": value}, where, "tolerance")
    except SuiteError as exc:
        text = str(exc).replace(f"{where}: tolerance.tolerance.", f"{where}: ")
        raise ConfigError(text.replace(f"{where}: tolerance.tolerance", where)) from None


def _load(text: Any) -> dict[str, Any] | None:
    """A snapshot object from its JSON text; ``None`` when it is not one."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        return None
    return data


class MetricsSnapshotExtension(SingleFileSnapshotExtension):
    """Snapshots of ``pyimgano_evaluate`` results, matched per metric within ``tolerance``.

    ``|Δ| <= tolerance`` for every metric (null on both sides matches; null on one side, a
    metric on one side only, or a changed count does not). The class tolerance is 0 (exact);
    :meth:`with_tolerance` gives a subclass with another (syrupy instantiates extension classes
    itself, so the tolerance is a class attribute). A snapshot within tolerance is left
    untouched by ``--snapshot-update``, as a suite's is.
    """

    file_extension = "json"
    _write_mode = WriteMode.TEXT
    tolerance: Tolerance = Tolerance()

    @classmethod
    def with_tolerance(
        cls, tolerance: float | Mapping[str, float]
    ) -> type[MetricsSnapshotExtension]:
        """A subclass matching within ``tolerance``: a number, or ``{metric: tolerance}``.

        >>> MetricsSnapshotExtension.with_tolerance({"image_auroc": 0.01}).tolerance.for_metric(
        ...     "image_auroc")
        0.01
        """
        parsed = parse_tolerance(tolerance)
        # Same name and qualname: syrupy's xdist controller re-imports extensions by name
        # (only to find and delete unused files, where the tolerance plays no part).
        return type(cls.__name__, (cls,), {"tolerance": parsed, "__qualname__": cls.__qualname__,
                                           "__module__": cls.__module__})

    # -- serializer ------------------------------------------------------------------------

    def serialize(self, data: Any, *, exclude: Any = None, include: Any = None,
                  matcher: Any = None) -> str:
        """The snapshot JSON of an :class:`EvaluationResult` (or of a snapshot object)."""
        if exclude is not None or include is not None:
            raise TypeError("MetricsSnapshotExtension does not take include=/exclude=; every "
                            "snapshotted metric is compared (use a per-metric tolerance)")
        if isinstance(data, EvaluationResult):
            data.compared_by = type(self)
            content = data.snapshot_data
        elif isinstance(data, Mapping) and isinstance(data.get("metrics"), Mapping):
            content = data
        else:
            raise TypeError(
                "MetricsSnapshotExtension snapshots what pyimgano_evaluate(...) returns (or a "
                f"mapping with a 'metrics' object); got {type(data).__name__}"
            )
        return dumps(dict(content))

    # -- comparator ------------------------------------------------------------------------

    def rows(self, serialized_data: Any, snapshot_data: Any) -> list[snapshots.SnapshotRow] | None:
        """The plugin's comparison rows; ``None`` when either side is not a snapshot."""
        current, stored = _load(serialized_data), _load(snapshot_data)
        if current is None or stored is None:
            return None
        return snapshots.compare(stored, current, self.tolerance.for_metric)

    def matches(self, *, serialized_data: Any, snapshot_data: Any) -> bool:
        rows = self.rows(serialized_data, snapshot_data)
        return rows is not None and all(row.passed for row in rows)

    # -- reporter --------------------------------------------------------------------------

    def diff_lines(self, serialized_data: Any, snapshot_data: Any) -> Iterator[str]:
        """The plugin's failure table (syrupy prints it under a failed assertion)."""
        yield from self.failure_lines(serialized_data, snapshot_data)

    def failure_lines(
        self,
        serialized_data: Any,
        snapshot_data: Any,
        *,
        snapshot_path: Path | None = None,
        report: Any = None,
        report_path: Path | None = None,
        style: str | None = "long",
    ) -> list[str]:
        """Why ``serialized_data`` does not match ``snapshot_data``, as a suite item says it.

        The summary line, the table (metric, value, snapshot, delta, tolerance), null reasons
        and both environments; with ``snapshot_path``/``report_path`` the paths too. ``report``
        (the evaluation's report) supplies the reasons of null metrics.
        """
        from pytest_pyimgano.evaluate_item import (
            SNAPSHOT_CHANGED,
            SNAPSHOT_MISSING,
            ItemResult,
            SnapshotCheck,
        )
        from pytest_pyimgano.failure import failure_text

        current = _load(serialized_data) or {}
        stored_text = snapshot_data if snapshot_data else None
        stored = _load(stored_text) if stored_text is not None else None
        if stored_text is not None and stored is None:
            where = f" {snapshot_path}" if snapshot_path else ""
            return [f"snapshot{where} is not a pyimgano metrics snapshot (no 'metrics' object); "
                    "run pytest with --snapshot-update to rewrite it"]
        rows = tuple(self.rows(serialized_data, stored_text) or ()) if stored else ()
        if report is None:
            report = SimpleNamespace(metrics=current.get("metrics", {}), metric_notes={},
                                     environment=current.get("environment") or {})
        check = SnapshotCheck(
            path=snapshot_path or Path("__snapshots__"),
            state=SNAPSHOT_CHANGED if stored is not None else SNAPSHOT_MISSING,
            rows=rows,
            stored_environment=(stored or {}).get("environment") or {},
        )
        result = ItemResult(report, report_path or Path(), [], check)
        text, _ = failure_text(result, style)
        lines = text.splitlines()
        if stored is None:  # the summary line says it all; syrupy's own diff would be the JSON
            # (syrupy's "Snapshot '<name>' does not exist!" comes first where it has no path)
            if snapshot_path is None:
                return ["run pytest with --snapshot-update to record it"]
            return lines[:1]
        if snapshot_path is None:
            lines = [line for line in lines if not line.startswith("snapshot:    ")]
        if report_path is None:
            lines = [line for line in lines if not line.startswith("report: ")]
        return lines


def explain_comparison(op: str, left: Any, right: Any, *, style: str | None) -> list[str] | None:
    """The assertion explanation of a failed ``result == snapshot(...)``, or ``None``.

    syrupy explains a failed assertion with the extension the ``snapshot`` fixture was made
    with, not the one passed to ``snapshot(extension_class=...)``. The result remembers the
    extension that serialised it (:attr:`EvaluationResult.compared_by`), so the plugin's
    ``pytest_assertrepr_compare`` explains it with that extension's table.
    """
    from syrupy.assertion import SnapshotAssertion

    if isinstance(right, SnapshotAssertion):
        assertion, subject, first = right, left, f"[+ received] {op} [- {right.name}]"
    elif isinstance(left, SnapshotAssertion):
        assertion, subject, first = left, right, f"[- {left.name}] {op} [+ received]"
    else:
        return None
    extension = getattr(subject, "compared_by", None)
    if not isinstance(subject, EvaluationResult) or extension is None or not issubclass(
        extension, MetricsSnapshotExtension
    ):
        return None
    execution = assertion.executions.get(assertion.num_executions - 1)
    if execution is None or execution.success or execution.exception is not None:
        return None
    if _load(execution.asserted_data) is None:  # compared by another extension since
        return None
    lines = extension().failure_lines(
        execution.asserted_data, execution.recalled_data,
        snapshot_path=Path(execution.snapshot_location), report=subject.report,
        report_path=subject.report_path, style=style,
    )
    return [first, *lines]
