"""How a failed suite item reads (docs/REFERENCE.md §8): one-line summary, table, ``--tb``.

- :func:`failure_rows` — one row per checked metric (gates ∪ snapshot) and :func:`parity_rows`
  for the export-parity bounds (docs/REFERENCE.md §11).
- :func:`summary_line` — the first line: the first failed check with its value and delta, then
  how many failed. pytest's short test summary, ``--tb=line`` and junit's ``message`` show it.
- :func:`failure_text` — by ``--tb`` style: ``line``/``no`` the summary line only, ``short`` the
  failed rows only, ``long``/``auto`` (and others) the full table, null reasons, parity table,
  both environments of a snapshot change and the report path.
- :func:`failure_repr` — the text as a pytest exception repr whose ``reprcrash`` is the summary
  line at the suite's YAML line, so that pytest (and xdist, which serialises it) treat it as a
  traceback: a one-line ``message`` attribute in junit, the table in the body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyimgano.errors import GateFailure
from pyimgano.text_table import text_table
from pytest_pyimgano.evaluate_item import SNAPSHOT_CHANGED, SNAPSHOT_MISSING, ItemResult

#: ``--tb`` styles that print one line per failure (or none).
ONE_LINE_STYLES = ("line", "no")


def _num(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}"


def _delta(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4g}"


def _gate_delta(value: float | None, low: float | None, high: float | None) -> float | None:
    """How far ``value`` lies outside ``[low, high]`` (negative below, positive above)."""
    if value is None:
        return None
    if low is not None and value < low:
        return value - low
    if high is not None and value > high:
        return value - high
    return None


def failure_rows(result: ItemResult) -> list[dict[str, Any]]:
    """One row per checked metric (gates ∪ snapshot), as ``GateFailure.rows`` holds them.

    Each row: metric, value, bound (text), snapshot, delta (to the snapshot), tolerance,
    passed, reason, snapshot_checked and gate_delta (value minus the bound it missed).
    """
    by_metric: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def row(metric: str) -> dict[str, Any]:
        if metric not in by_metric:
            order.append(metric)
            by_metric[metric] = {
                "metric": metric, "value": None, "bound": None, "snapshot": None,
                "delta": None, "tolerance": None, "passed": True, "reason": None,
                "snapshot_checked": False, "gate_delta": None,
            }
        return by_metric[metric]

    for gate in result.gate_rows:
        entry = row(gate.metric)
        entry.update(value=gate.value, bound=gate.bound.describe(), passed=gate.passed,
                     reason=gate.reason,
                     gate_delta=_gate_delta(gate.value, gate.bound.min, gate.bound.max))
    for snap in result.snapshot.rows:
        entry = row(snap.metric)
        if entry["bound"] is None:
            entry["value"] = snap.current
        entry.update(snapshot=snap.stored, delta=snap.delta, tolerance=snap.tolerance,
                     snapshot_checked=True)
        entry["passed"] = entry["passed"] and snap.passed
        if snap.note and not snap.passed:
            entry["reason"] = snap.note if entry["reason"] is None else entry["reason"]
        if entry["reason"] is None and snap.current is None and snap.metric in (
            result.report.metric_notes
        ):
            entry["reason"] = result.report.metric_notes[snap.metric]
    return [by_metric[m] for m in order]


def parity_rows(result: ItemResult) -> list[dict[str, Any]]:
    """The checked parity bounds of ``report.parity`` (its ``checks``: name, value, bound,
    passed, note), empty without parity."""
    parity = result.parity
    if not parity:
        return []
    return [dict(c) for c in parity.get("checks") or [] if isinstance(c, Mapping)]


def _environment(environment: Mapping[str, Any] | None) -> str:
    if not environment:
        return "(not recorded)"
    return ", ".join(f"{k}={environment[k]}" for k in sorted(environment))


def _environment_changes(
    stored: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> str:
    stored = stored or {}
    changes = [
        f"{key} {stored.get(key)} -> {current.get(key)}"
        for key in sorted(set(stored) | set(current))
        if stored.get(key) != current.get(key)
    ]
    return "; ".join(changes) or "none"


def _describe_failed(row: Mapping[str, Any]) -> str:
    """``image_auroc=0.812 (>= 1.5, Δ -0.688)``, the snapshot form, or the null reason."""
    metric, value = row["metric"], row["value"]
    if row["bound"] is not None and row["gate_delta"] is not None:
        return f"{metric}={_num(value)} ({row['bound']}, Δ {_delta(row['gate_delta'])})"
    if value is None and row["reason"]:
        bound = f"{row['bound']}: " if row["bound"] else ""
        return f"{metric}=null ({bound}{row['reason']})"
    if row["snapshot_checked"]:
        if row["delta"] is not None:
            return (f"{metric}={_num(value)} (snapshot {_num(row['snapshot'])}, "
                    f"Δ {_delta(row['delta'])}, tolerance {row['tolerance']:g})")
        return f"{metric}={_num(value)} (snapshot {_num(row['snapshot'])}: {row['reason']})"
    return f"{metric}={_num(value)} ({row['bound']})"


def failed_checks(result: ItemResult, rows: Sequence[Mapping[str, Any]] | None = None) -> list[str]:
    """Names of the failed checks: metrics, then ``parity.<name>``, in table order."""
    rows = failure_rows(result) if rows is None else rows
    names = [r["metric"] for r in rows if not r["passed"]]
    names += [f"parity.{r['name']}" for r in parity_rows(result) if not r["passed"]]
    names += [f"comparison.{m}" for m, e in sorted((result.comparison or {}).items())
              if e.get("passed") is False]
    return names


def summary_line(result: ItemResult, rows: Sequence[Mapping[str, Any]] | None = None) -> str:
    """One line: the first failed check with value and delta, then the count of failures.

    Never repeats the item id (pytest prints the node id beside it).
    """
    rows = failure_rows(result) if rows is None else rows
    failed_rows = [r for r in rows if not r["passed"]]
    failed = failed_checks(result, rows)
    checks = len(rows) + len(parity_rows(result)) + len(result.comparison or {})
    count = f"{len(failed)} of {checks} checks failed: {', '.join(failed)}"
    if result.snapshot.state == SNAPSHOT_MISSING:
        missing = (f"no snapshot at {result.snapshot.path}; run pytest with --snapshot-update "
                   "to record it")
        return f"{missing}; {count}" if failed else missing
    if failed_rows:
        return f"{_describe_failed(failed_rows[0])}; {count}"
    bad = [r for r in parity_rows(result) if not r["passed"]]
    if bad:
        first = bad[0]
        why = f": {first['note']}" if first.get("note") else ""
        return (f"parity {first['name']}={_num(first['value'])} (<= {_num(first['bound'])}"
                f"{why}); {count}")
    if not result.parity_passed:
        degenerate = (result.parity or {}).get("degenerate")
        return f"parity: degenerate artifact: {degenerate}" if degenerate else "parity failed"
    worse = [(m, e) for m, e in sorted((result.comparison or {}).items())
             if e.get("passed") is False]
    if worse:
        metric, entry = worse[0]
        return (f"comparison {metric}: Δ {entry['delta']:+.4f} against the baseline "
                f"[{entry['ci_low']:+.4f}, {entry['ci_high']:+.4f}], p {entry['p_value']:.3g}; "
                f"{count}")
    return count


def _rows_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    body = []
    for r in rows:
        checked = r["snapshot_checked"]
        body.append([
            r["metric"],
            _num(r["value"]),
            r["bound"] or "-",
            _num(r["snapshot"]) if checked else "-",
            _delta(r["delta"]) if checked else "-",
            f"{r['tolerance']:g}" if checked else "-",
            "ok" if r["passed"] else "FAIL",
        ])
    if not body:
        return []
    return text_table([("metric", "value", "bound", "snapshot", "delta", "tolerance", "result"),
                       *body])


def parity_table(result: ItemResult) -> list[str]:
    """The parity table of a failed parity check: bounds (name, value, bound, result), then the
    worst images (:func:`pyimgano.parity.parity_failure_table`, the CLI's table)."""
    parity = result.parity
    if not parity:
        return []
    from pyimgano.parity import parity_failure_table

    return parity_failure_table(parity).splitlines()


def failure_text(
    result: ItemResult, style: str | None = "long"
) -> tuple[str, list[dict[str, Any]]]:
    """The failure message for ``--tb`` ``style`` and the rows (see the module docstring)."""
    rows = failure_rows(result)
    first = summary_line(result, rows)
    if style in ONE_LINE_STYLES:
        return first, rows
    short = style == "short"
    shown = [r for r in rows if not r["passed"]] if short else rows
    lines = [first, ""]
    lines += _rows_table(shown)
    if not result.parity_passed:
        lines += ["", *parity_table(result)]
    if not result.comparison_passed:
        from pyimgano.comparison import comparison_table

        settings = getattr(result.report, "settings", None) or {}
        lines += ["", *comparison_table(result.comparison or {},
                                        settings.get("compare")).splitlines()]
    reasons = [r for r in rows if r["reason"] and not r["passed"]]
    if reasons and not short:
        lines.append("")
        lines += [f"{r['metric']}: {r['reason']}" for r in reasons]
    if result.snapshot.state == SNAPSHOT_CHANGED and not short:
        lines += [
            "",
            f"snapshot:    {result.snapshot.path}",
            f"snapshot environment: {_environment(result.snapshot.stored_environment)}",
            f"current environment:  {_environment(result.report.environment)}",
            "environment changes:  "
            + _environment_changes(result.snapshot.stored_environment, result.report.environment),
            "(run pytest with --snapshot-update to accept the new values)",
        ]
    lines += ["", f"report: {result.report_path}"]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines), rows


def gate_failure(result: ItemResult, style: str | None = "long") -> GateFailure:
    """The :class:`GateFailure` a failed item raises (its text for ``--tb`` ``style``).

    ``result`` is kept on the exception (``.result``) so that :func:`failure_repr` can render
    any style from it.
    """
    text, rows = failure_text(result, style)
    failure = GateFailure(text, rows)
    failure.result = result  # type: ignore[attr-defined]
    return failure


def failure_repr(exc: BaseException, *, path: str, line: int, style: str | None) -> Any:
    """A pytest exception repr for a pyimgano failure: ``reprcrash`` holds the one-line summary
    at ``path:line`` (1-based), the body the text for ``style`` (empty for ``line``/``no``)."""
    from _pytest._code.code import (
        ReprEntryNative,
        ReprExceptionInfo,
        ReprFileLocation,
        ReprTraceback,
    )

    result = getattr(exc, "result", None)
    if isinstance(result, ItemResult):
        text, _ = failure_text(result, style)
        first = summary_line(result)
    else:
        text = str(exc)
        first = next((s.strip() for s in text.splitlines() if s.strip()), type(exc).__name__)
    body = [] if style in ONE_LINE_STYLES else [text if text.endswith("\n") else text + "\n"]
    return ReprExceptionInfo(
        reprtraceback=ReprTraceback([ReprEntryNative(body)], None, "native"),
        reprcrash=ReprFileLocation(path, line, first),
    )
