"""pytest-html extras of a suite item: its metrics table and plots (used only with ``--html``)."""

from __future__ import annotations

import base64
import html
from typing import Any

from pytest_pyimgano.item import ItemResult, failure_rows


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))


def metrics_table_html(result: ItemResult) -> str:
    """An HTML table: every metric of the report with its bound, snapshot and result."""
    checked = {row["metric"]: row for row in failure_rows(result)}
    head = "".join(
        f"<th>{h}</th>" for h in ("metric", "value", "bound", "snapshot", "delta", "result")
    )
    body = []
    names = list(result.report.metrics) + [m for m in checked if m not in result.report.metrics]
    for metric in names:
        row = checked.get(metric, {})
        value = row.get("value", result.report.metrics.get(metric))
        if metric in result.report.metrics and not row.get("bound"):
            value = result.report.metrics[metric]
        status = "" if not row else ("ok" if row["passed"] else "<b>FAIL</b>")
        body.append(
            "<tr>"
            f"<td>{html.escape(metric)}</td><td>{_cell(value)}</td>"
            f"<td>{_cell(row.get('bound') or '')}</td>"
            f"<td>{_cell(row.get('snapshot')) if row.get('snapshot_checked') else ''}</td>"
            f"<td>{_cell(row.get('delta')) if row.get('delta') is not None else ''}</td>"
            f"<td>{status}</td>"
            "</tr>"
        )
    caption = html.escape(f"pyimgano report: {result.report_path}")
    return (
        f'<div class="pyimgano"><p>{caption}</p><table border="1" cellpadding="3">'
        f"<tr>{head}</tr>{''.join(body)}</table></div>"
    )


def extras_for(result: ItemResult, pytest_html: Any) -> list[Any]:
    """The extras list for pytest-html (``pytest_html.extras``): table, then images inline."""
    extras = pytest_html.extras
    out = [extras.html(metrics_table_html(result))]
    for plot in result.plots:
        suffix = plot.suffix.lower()
        try:
            data = plot.read_bytes()
        except OSError:
            continue
        encoded = base64.b64encode(data).decode("ascii")
        if suffix == ".png":
            out.append(extras.png(encoded, name=plot.name))
        elif suffix in (".jpg", ".jpeg"):
            out.append(extras.jpg(encoded, name=plot.name))
        elif suffix == ".svg":
            out.append(extras.svg(encoded, name=plot.name))
    return out
