"""``pyimgano-diff``: compare two report sets (docs/REFERENCE.md §9), or merge sharded report dirs.

    pyimgano-diff OLD NEW [--tolerance T | --tolerance METRIC=T ...]
                  [--format table|markdown|json] [--changed-only] [--top N] [--plot DIR]
                  [--paired]
    pyimgano-diff --merge OUT INPUT [INPUT ...]

Exit codes (diff): 0 no metric moved beyond tolerance; 1 a metric moved beyond tolerance,
changed nullness, or an item is on one side only; 2 unreadable input, inputs of different kinds
or different MAJOR ``schema_version``. Merge: 0 merged; 2 unreadable input or conflicting
duplicates.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyimgano.cli._common import EXIT_OK, EXIT_USAGE, run_cli
from pyimgano.diff.tolerances import Tolerances

PROG = "pyimgano-diff"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Compare two pyimgano report sets: two report files, two report directories (items "
            "matched by relative path) or two summary.json files (matched by nodeid). Exit "
            "codes: 0 nothing beyond tolerance, 1 a metric moved beyond tolerance / changed "
            "nullness / an item is on one side only, 2 unreadable or incompatible input. "
            "With --merge OUT: combine sharded report dirs or summary.json files into OUT."
        ),
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="OLD NEW (diff), or the inputs to merge (with --merge)",
    )
    parser.add_argument(
        "--tolerance",
        action="append",
        default=None,
        metavar="[METRIC=]T",
        help="absolute tolerance: a number for every metric (default 0), or METRIC=T for one "
        "metric (repeatable; METRIC also covers its <defect>/METRIC rows). Timing metrics "
        "(ms_per_image, images_per_s) fail the diff only with their own METRIC=T",
    )
    parser.add_argument(
        "--format",
        choices=("table", "markdown", "json"),
        default=None,
        help="output format on stdout (default: table)",
    )
    parser.add_argument(
        "--changed-only",
        action="store_true",
        help="in tables, leave out rows whose value is equal on both sides",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=None,
        metavar="N",
        help="images listed per item by score change (default 10)",
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="DIR",
        help="write an old-vs-new score scatter per item (needs matplotlib) into DIR",
    )
    parser.add_argument(
        "--paired",
        action="store_true",
        help="also run the paired release tests of NEW against OLD on the per-image records "
        "when both runs scored the same images (image metrics, AUPIMO; docs/REFERENCE.md §12): "
        "delta, interval and p-value per metric, the tolerance as the margin",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        default=None,
        metavar="OUT",
        help="merge report dirs / summary.json files (shards) into directory OUT: copies the "
        "reports there and writes OUT/summary.json and OUT/summary.md",
    )
    return parser


@dataclass(frozen=True)
class DiffOptions:
    """Parsed command line of a diff."""

    old: Path
    new: Path
    tolerances: Tolerances
    format: str
    changed_only: bool
    top: int
    plot_dir: Path | None
    paired: bool = False


def _diff_options(args: argparse.Namespace) -> DiffOptions:
    from pyimgano.diff import parse_tolerances

    return DiffOptions(
        old=args.paths[0],
        new=args.paths[1],
        tolerances=parse_tolerances(args.tolerance or ()),
        format=args.format or "table",
        changed_only=args.changed_only,
        top=10 if args.top is None else args.top,
        plot_dir=args.plot,
        paired=args.paired,
    )


def _check_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Usage errors argparse cannot express (they exit 2 with the usage line)."""
    if args.merge is None:
        if len(args.paths) != 2:
            parser.error(f"expected OLD and NEW, got {len(args.paths)} path(s)")
        if args.top is not None and args.top < 0:
            parser.error(f"--top must be >= 0, got {args.top}")
        return
    given = [
        name
        for name, value in (
            ("--tolerance", args.tolerance),
            ("--format", args.format),
            ("--top", args.top),
            ("--plot", args.plot),
            ("--changed-only", args.changed_only or None),
            ("--paired", args.paired or None),
        )
        if value is not None
    ]
    if given:
        parser.error(f"--merge takes no {', '.join(given)}")


def _run_diff(options: DiffOptions) -> int:
    from pyimgano.diff import diff_paths, render

    result = diff_paths(options.old, options.new, options.tolerances, top=options.top,
                        paired=options.paired)
    sys.stdout.write(render(result, options.format, changed_only=options.changed_only))
    if options.plot_dir is not None:
        from pyimgano.plots import write_diff_plots

        written = write_diff_plots(result, options.plot_dir)
        print(f"{PROG}: {len(written)} plot(s) written to {options.plot_dir}", file=sys.stderr)
    return result.exit_code


def _run_merge(out: Path, inputs: Sequence[Path]) -> int:
    from pyimgano.merge import merge_paths

    result = merge_paths(inputs, out)
    for warning in result.warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    print(
        f"{PROG}: merged {len(result.items)} item(s) from {len(inputs)} input(s) into "
        f"{result.summary_path}",
        file=sys.stderr,
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pyimgano-diff``; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        _check_args(args, parser)
    except SystemExit as exc:  # argparse: usage errors exit 2, --help exits 0
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE

    if args.merge is not None:
        return run_cli(PROG, lambda: _run_merge(args.merge, args.paths))
    return run_cli(PROG, lambda: _run_diff(_diff_options(args)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
