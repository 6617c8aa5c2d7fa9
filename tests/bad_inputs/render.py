"""Render ``docs/ERRORS.md`` from the catalogue (:mod:`tests.bad_inputs.catalogue`).

    python -m tests.bad_inputs.render > docs/ERRORS.md       # regenerate
    python -m tests.bad_inputs.render --check                # exit 1 if the page is stale

``tests/bad_inputs/test_catalogue.py`` fails when the page differs from this output.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.bad_inputs.catalogue import _TOKEN, AREAS, CASES, Case

PAGE = Path(__file__).resolve().parents[2] / "docs" / "ERRORS.md"

HEADER = """\
# Errors: what they mean and what to do

<!-- Generated from tests/bad_inputs/catalogue.py; do not edit by hand.
     Regenerate: python -m tests.bad_inputs.render > docs/ERRORS.md -->

Every error pyimgano raises on purpose is a `PyImganoError` (`pyimgano.errors`) whose message
names the file, key or value and what was expected. How it reaches you:

- **`pyimgano-benchmark`**: exit code 2 and one line on stderr (`pyimgano-benchmark: error:
  …`), no traceback.
- **pytest suites**: a broken suite file is a *collection error* naming the file and key path;
  a broken dataset, checkpoint, device or model output makes the *item fail* with the message.
  A crash inside a model (a bug, not bad input) is shown with its traceback.

In the messages below `<name>` stands for the file, key or value of your run and `…` for more
text. Each row is one case of the catalogue in `tests/bad_inputs/`, where a test feeds that
input to pyimgano and checks the error type and message
({n_errors} failing inputs, {n_accepted} accepted ones; {n_cases} cases).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inline code that survives backticks inside it."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _error_row(case: Case) -> str:
    where = ", ".join(case.where)
    shown = _code(case.shown) if _TOKEN.search(case.message) or case.error else case.message
    kind = f"**{case.error.__name__}** ({where})" if case.error else f"({where})"
    return (f"| {_cell(case.input)} | {_cell(f'{kind}<br>{shown}')} | {_cell(case.meaning)} "
            f"| {_cell(case.fix)} |")


def _accepted_row(case: Case) -> str:
    return f"| {_cell(case.input)} | {_cell(case.message)}. {_cell(case.meaning)} |"


def render() -> str:
    cases = list(CASES.values())
    accepted = [c for c in cases if c.accepted]
    lines = [HEADER.format(n_errors=len(cases) - len(accepted), n_accepted=len(accepted),
                           n_cases=len(cases))]
    for area, heading in AREAS.items():
        mine = [c for c in cases if c.area == area]
        if not mine:
            continue
        lines.append(f"## {heading}\n")
        failing = [c for c in mine if not c.accepted]
        if failing:
            lines.append("| input | error | what it means | what to do |")
            lines.append("|---|---|---|---|")
            lines.extend(_error_row(c) for c in failing)
            lines.append("")
        fine = [c for c in mine if c.accepted]
        if fine:
            if failing:
                lines.append("Not errors:\n")
            lines.append("| input | what happens |")
            lines.append("|---|---|")
            lines.extend(_accepted_row(c) for c in fine)
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args == ["--check"]:
        current = PAGE.read_text("utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is stale: python -m tests.bad_inputs.render > docs/ERRORS.md",
                  file=sys.stderr)
            return 1
        return 0
    if args:
        print("usage: python -m tests.bad_inputs.render [--check]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
