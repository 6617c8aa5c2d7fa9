"""pytest-html extras of a suite item: its metrics table and plots (used only with ``--html``).

Everything is one HTML extra: the report path as a link (relative to the HTML file when it can
be), the metrics table with the tolerance column, and the plots shown whole, scaled to fit
(pytest-html's own image thumbnails crop to a fixed box, cutting off titles and axes).
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

from pytest_pyimgano.evaluate_item import ItemResult
from pytest_pyimgano.failure import failure_rows

_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                ".svg": "image/svg+xml"}
_IMG_STYLE = "max-width:100%;height:auto;object-fit:contain;display:block;margin:4px 0"


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}"
    return html.escape(str(value))


def _href(path: Path, html_path: str | os.PathLike[str] | None) -> str:
    """A link to ``path``: relative to the HTML report's folder when given, else a file URI."""
    if html_path:
        base = Path(html_path).absolute().parent
        try:
            return Path(os.path.relpath(path, base)).as_posix()
        except ValueError:  # another drive (Windows)
            pass
    return Path(path).absolute().as_uri()


def metrics_table_html(result: ItemResult, html_path: str | os.PathLike[str] | None = None) -> str:
    """An HTML table: every metric of the report with bound, snapshot, delta, tolerance, result.

    The caption links the JSON report.
    """
    checked = {row["metric"]: row for row in failure_rows(result)}
    head = "".join(
        f"<th>{h}</th>"
        for h in ("metric", "value", "bound", "snapshot", "delta", "tolerance", "result")
    )
    body = []
    names = list(result.report.metrics) + [m for m in checked if m not in result.report.metrics]
    for metric in names:
        row = checked.get(metric, {})
        value = row.get("value", result.report.metrics.get(metric))
        if metric in result.report.metrics and not row.get("bound"):
            value = result.report.metrics[metric]
        status = "" if not row else ("ok" if row["passed"] else "<b>FAIL</b>")
        snapshot_checked = row.get("snapshot_checked")
        tolerance = f"{row['tolerance']:g}" if snapshot_checked else ""
        body.append(
            "<tr>"
            f"<td>{html.escape(metric)}</td><td>{_cell(value)}</td>"
            f"<td>{_cell(row.get('bound') or '')}</td>"
            f"<td>{_cell(row.get('snapshot')) if snapshot_checked else ''}</td>"
            f"<td>{_cell(row.get('delta')) if row.get('delta') is not None else ''}</td>"
            f"<td>{tolerance}</td>"
            f"<td>{status}</td>"
            "</tr>"
        )
    href = html.escape(_href(result.report_path, html_path), quote=True)
    caption = (f'pyimgano report: <a href="{href}">{html.escape(str(result.report_path))}</a>')
    return (
        f'<div class="pyimgano"><p>{caption}</p><table border="1" cellpadding="3">'
        f"<tr>{head}</tr>{''.join(body)}</table></div>"
    )


def plots_html(result: ItemResult, html_path: str | os.PathLike[str] | None = None) -> str:
    """The plots, inline and whole (scaled to the page width), each linking its file."""
    parts = []
    for plot in result.plots:
        mime = _IMAGE_TYPES.get(plot.suffix.lower())
        if mime is None:
            continue
        try:
            data = base64.b64encode(plot.read_bytes()).decode("ascii")
        except OSError:
            continue
        href = html.escape(_href(plot, html_path), quote=True)
        name = html.escape(plot.name, quote=True)
        parts.append(
            f'<a href="{href}"><img src="data:{mime};base64,{data}" alt="{name}" '
            f'title="{name}" style="{_IMG_STYLE}"></a>'
        )
    return f'<div class="pyimgano-plots">{"".join(parts)}</div>' if parts else ""


def extras_for(
    result: ItemResult, pytest_html: Any, *, html_path: str | os.PathLike[str] | None = None
) -> list[Any]:
    """The extras list for pytest-html (``pytest_html.extras``): one HTML extra holding the
    table and the plots."""
    return [pytest_html.extras.html(metrics_table_html(result, html_path)
                                    + plots_html(result, html_path))]
