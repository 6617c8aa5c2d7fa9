"""The one plain-text table of pyimgano's terminal output (failure messages, diffs, parity)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["text_table"]


def text_table(
    rows: Sequence[Sequence[str]], *, indent: str = "", right: Sequence[int] = (),
    rule: bool = True,
) -> list[str]:
    """``rows`` (the first is the header) as aligned lines, columns two spaces apart.

    ``right``: indices of right-aligned columns (numbers), the others left-aligned; ``rule``:
    a line of dashes under the header. Trailing spaces are stripped; every row has the
    header's number of cells.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(cells: Sequence[str]) -> str:
        aligned = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                   for i, cell in enumerate(cells)]
        return (indent + "  ".join(aligned)).rstrip()

    lines = [line(row) for row in rows]
    if rule:
        lines.insert(1, line(["-" * w for w in widths]))
    return lines
