"""Text forms of a :class:`~pyimgano.diff.result.DiffResult`: table, markdown and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyimgano.diff.images import DecisionFlip, ImageDiff
from pyimgano.diff.result import NEW_ONLY, OLD_ONLY, DiffResult, ItemDiff
from pyimgano.diff.rows import BEYOND, EQUAL, NULLNESS, UNGATED, WITHIN, MetricRow
from pyimgano.diff.tolerances import Tolerances
from pyimgano.report import dumps
from pyimgano.text_table import text_table

FORMATS = ("table", "markdown", "json")

#: Flips listed per item in table/markdown output (JSON lists all).
MAX_FLIPS_SHOWN = 20

_FLAGS = {
    BEYOND: "BEYOND TOLERANCE",
    NULLNESS: "NULLNESS CHANGED",
    UNGATED: "not gated",
    WITHIN: "within",
    EQUAL: "",
}
_HEADLINES = {
    "failed": "FAILED",
    "changed": "changed within tolerance",
    "equal": "equal",
    OLD_ONLY: "ONLY IN OLD",
    NEW_ONLY: "ONLY IN NEW",
}


def _flip_cells(flip: DecisionFlip, image: str) -> list[str]:
    """One decision flip's row (table and markdown differ only in how the image is quoted)."""
    return [
        image,
        str(flip.label),
        flip.defect or "",
        f"{flip.old_decision} → {flip.new_decision}",
        flip.kind,
        *score_pair(flip.old_score, flip.new_score),
    ]


def score_pair(old: float, new: float) -> tuple[str, str]:
    """Both scores with the fewest significant digits (at least 6) that tell them apart.

    Two different scores never print alike (``0.5`` vs ``0.50000012``, not ``0.5`` twice);
    equal scores print with 6 digits. 17 significant digits identify every float64.
    """
    for digits in range(6, 18):
        before, after = format(old, f".{digits}g"), format(new, f".{digits}g")
        if old == new or before != after:
            return before, after
    return repr(old), repr(new)


def _value(value: float | None, present: bool) -> str:
    if not present:
        return "absent"
    return "null" if value is None else format(value, ".6g")


def _delta(row: MetricRow) -> str:
    delta = row.delta
    if delta is None:
        return ""
    return "0" if delta == 0 else format(delta, "+.3g")


def _tolerance(row: MetricRow) -> str:
    return "-" if row.tolerance is None else format(row.tolerance, "g")


def _row_cells(row: MetricRow) -> list[str]:
    return [
        row.metric,
        _value(row.old, row.old_present),
        _value(row.new, row.new_present),
        _delta(row),
        _tolerance(row),
        _FLAGS[row.status],
    ]


def _score(value: float | None) -> str:
    return "-" if value is None else format(value, ".6g")


def describe_tolerances(tolerances: Tolerances) -> str:
    """``0.002; timing not gated`` or, with per-metric entries, ``0.01 for other metrics;
    aupro 0.02; timing not gated``."""
    default = f"{tolerances.default:g}"
    parts = [f"{default} for other metrics" if tolerances.per_metric else default]
    parts += [f"{name} {value:g}" for name, value in sorted(tolerances.per_metric.items())]
    if not any(name in ("ms_per_image", "images_per_s") for name in tolerances.per_metric):
        parts.append("timing not gated")
    return "; ".join(parts)


def describe_environment(result: DiffResult) -> str:
    parts = []
    for key, (old, new) in result.environment.items():
        parts.append(f"{key} {', '.join(old) or '?'} → {', '.join(new) or '?'}")
    return "; ".join(parts)


#: Stale reports named per side in table/markdown output (JSON lists all).
MAX_STALE_SHOWN = 10


def stale_lines(result: DiffResult) -> list[str]:
    """One line per side that holds reports its ``summary.json`` does not list."""
    lines = []
    for side, path, keys in (
        ("old", result.old, result.old_stale),
        ("new", result.new, result.new_stale),
    ):
        if keys:
            shown = ", ".join(keys[:MAX_STALE_SHOWN])
            hidden = len(keys) - MAX_STALE_SHOWN
            more = f" … and {hidden} more" if hidden > 0 else ""
            lines.append(
                f"stale in {side} ({path}): {len(keys)} report(s) no summary.json lists, left "
                f"from an earlier run, not compared: {shown}{more}"
            )
    return lines


def summary_line(result: DiffResult) -> str:
    """One line: how many items in which state, and the exit code."""
    c = result.counts()
    return (
        f"{c['items']} item(s): {c['failed']} failed, {c['changed']} changed within tolerance, "
        f"{c['equal']} equal, {c[OLD_ONLY]} only in old, {c[NEW_ONLY]} only in new "
        f"({c['rows_beyond']} metric(s) beyond tolerance, {c['rows_nullness']} nullness "
        f"change(s)) → exit {result.exit_code}"
    )


def _headline(item: ItemDiff) -> str:
    text = _HEADLINES[item.status]
    if item.status == "failed":
        text += f" ({item.count(BEYOND)} beyond tolerance, {item.count(NULLNESS)} nullness)"
    elif item.status == "equal":
        text += f" ({len(item.rows)} metrics)"
    elif item.presence == OLD_ONLY:
        text += f": {item.old_path}"
    elif item.presence == NEW_ONLY:
        text += f": {item.new_path}"
    return text


def _shown_rows(item: ItemDiff, changed_only: bool) -> list[MetricRow]:
    if item.status in ("equal", OLD_ONLY, NEW_ONLY):
        return []
    return [row for row in item.rows if not (changed_only and row.status == EQUAL)]


def _images_interesting(images: ImageDiff | None) -> bool:
    return images is not None and bool(
        images.top_moved or images.flips or images.only_old or images.only_new or images.notes
    )


def _basis(images: ImageDiff) -> str:
    if images.flip_basis == "pred_label":
        return "at the checkpoints' own pred_label"
    return (
        f"at each side's F1-max threshold (old {_score(images.old_threshold)}, "
        f"new {_score(images.new_threshold)})"
    )


# ------------------------------------------------------------------------------------------
# plain table


def _image_lines(images: ImageDiff) -> list[str]:
    lines = [
        f"  images: {images.matched} matched, {len(images.only_old)} only in old, "
        f"{len(images.only_new)} only in new"
    ]
    for name, keys in (("only in old", images.only_old), ("only in new", images.only_new)):
        if keys:
            more = f" … and {len(keys) - 5} more" if len(keys) > 5 else ""
            lines.append(f"    {name}: {', '.join(keys[:5])}{more}")
    lines += [f"  note: {note}" for note in images.notes]
    if images.top_moved:
        lines.append(f"  top {len(images.top_moved)} moved scores (by |Δ|):")
        rows = [["image", "label", "defect", "old", "new", "delta"]]
        rows += [
            [
                c.image,
                str(c.label),
                c.defect or "",
                *score_pair(c.old_score, c.new_score),
                format(c.delta, "+.3g"),
            ]
            for c in images.top_moved
        ]
        lines += text_table(rows, indent="    ", right=(3, 4, 5), rule=False)
    elif images.matched:
        lines.append("  no image score moved")
    if images.flip_basis is not None:
        lines.append(f"  decision flips {_basis(images)}: {len(images.flips)}")
        if images.flips:
            rows = [["image", "label", "defect", "decision", "kind", "old score", "new score"]]
            rows += [_flip_cells(f, f.image) for f in images.flips[:MAX_FLIPS_SHOWN]]
            lines += text_table(rows, indent="    ", right=(5, 6), rule=False)
            if len(images.flips) > MAX_FLIPS_SHOWN:
                lines.append(
                    f"    … and {len(images.flips) - MAX_FLIPS_SHOWN} more (--format json)"
                )
    return lines


def paired_lines(item: ItemDiff, tolerances: Any) -> list[str]:
    """The ``--paired`` table of one item (NEW against OLD; the tolerance as the margin), the
    release-decision table of :func:`pyimgano.comparison.comparison_table`."""
    if not item.paired:
        return []
    from pyimgano.comparison import comparison_table

    bounds = {m: {"max_drop": float(tolerances.for_metric(m) or 0.0), "mode": "regression",
                  "alpha": 0.05} for m in item.paired}
    return comparison_table(item.paired, bounds).splitlines()


def render_table(result: DiffResult, *, changed_only: bool = False) -> str:
    """Plain-text report for terminals and CI logs."""
    lines = [
        f"pyimgano-diff: old {result.old} → new {result.new}",
        f"tolerance: {describe_tolerances(result.tolerances)}",
    ]
    if result.environment:
        lines.append(f"environment: {describe_environment(result)}")
    lines += stale_lines(result)
    for item in result.items:
        lines.append("")
        lines.append(f"=== {item.key} — {_headline(item)}")
        if item.nodeid and item.nodeid != item.key:
            lines.append(f"  nodeid: {item.nodeid}")
        rows = _shown_rows(item, changed_only)
        if rows:
            table = [["metric", "old", "new", "delta", "tol", "flag"]]
            table += [_row_cells(row) for row in rows]
            lines += text_table(table, indent="  ", right=(1, 2, 3, 4), rule=False)
        lines += [f"  note: {note}" for note in item.notes]
        if item.paired:
            lines.append("  paired tests, new against old (same images):")
            lines += [f"    {line}" for line in paired_lines(item, result.tolerances)]
        if _images_interesting(item.images):
            assert item.images is not None
            lines += _image_lines(item.images)
    lines.append("")
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _md_row_cells(row: MetricRow) -> list[str]:
    cells = _row_cells(row)
    if row.failed:
        cells[0], cells[5] = f"**{cells[0]}**", f"**{cells[5]}**"
    return cells


def _md_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int]
) -> list[str]:
    align = ["---:" if i in right else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    return lines


def _md_images(images: ImageDiff) -> list[str]:
    lines = [
        "",
        f"Images: {images.matched} matched, {len(images.only_old)} only in old, "
        f"{len(images.only_new)} only in new.",
    ]
    lines += [f"- {_md(note)}" for note in images.notes]
    if images.top_moved:
        lines += ["", f"Top {len(images.top_moved)} moved scores:", ""]
        lines += _md_table(
            ["image", "label", "defect", "old", "new", "Δ"],
            [
                [
                    f"`{c.image}`",
                    str(c.label),
                    c.defect or "",
                    *score_pair(c.old_score, c.new_score),
                    format(c.delta, "+.3g"),
                ]
                for c in images.top_moved
            ],
            right=(3, 4, 5),
        )
    if images.flip_basis is not None:
        lines += ["", f"Decision flips {_basis(images)}: {len(images.flips)}"]
        if images.flips:
            lines.append("")
            lines += _md_table(
                ["image", "label", "defect", "decision", "kind", "old score", "new score"],
                [_flip_cells(f, f"`{f.image}`") for f in images.flips[:MAX_FLIPS_SHOWN]],
                right=(5, 6),
            )
            if len(images.flips) > MAX_FLIPS_SHOWN:
                lines.append(f"\n… and {len(images.flips) - MAX_FLIPS_SHOWN} more.")
    return lines


def render_markdown(result: DiffResult, *, changed_only: bool = False) -> str:
    """GitHub-flavoured markdown for CI job pages and pull requests."""
    lines = [
        "## pyimgano-diff",
        "",
        f"- old: `{result.old}`",
        f"- new: `{result.new}`",
        f"- tolerance: {describe_tolerances(result.tolerances)}",
    ]
    if result.environment:
        lines.append(f"- environment: {describe_environment(result)}")
    lines += [f"- {_md(line)}" for line in stale_lines(result)]
    lines += ["", f"**{summary_line(result)}**", ""]
    lines += _md_table(
        ["item", "status", "beyond", "nullness"],
        [
            [
                f"`{item.key}`",
                _HEADLINES[item.status],
                str(item.count(BEYOND)),
                str(item.count(NULLNESS)),
            ]
            for item in result.items
        ],
        right=(2, 3),
    )
    for item in result.items:
        rows = _shown_rows(item, changed_only)
        if not (rows or item.notes or item.paired or _images_interesting(item.images)):
            continue
        lines += ["", f"### `{_md(item.key)}` — {_headline(item)}", ""]
        if rows:
            lines += _md_table(
                ["metric", "old", "new", "Δ", "tol", "flag"],
                [_md_row_cells(row) for row in rows],
                right=(1, 2, 3, 4),
            )
        if item.notes:
            lines.append("")
            lines += [f"- {_md(note)}" for note in item.notes]
        if item.paired:
            lines += ["", "Paired tests, new against old (same images):", "", "```",
                      *paired_lines(item, result.tolerances), "```"]
        if _images_interesting(item.images):
            assert item.images is not None
            lines += _md_images(item.images)
    return "\n".join(lines) + "\n"


def render_json(result: DiffResult) -> str:
    """Stable JSON (sorted keys, indent 2, trailing newline)."""
    return dumps(result.to_dict())


def render(result: DiffResult, fmt: str, *, changed_only: bool = False) -> str:
    if fmt == "json":
        return render_json(result)
    if fmt == "markdown":
        return render_markdown(result, changed_only=changed_only)
    return render_table(result, changed_only=changed_only)
