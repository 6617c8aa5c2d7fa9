"""``pyimgano-demo``: prepare the embedded default and run ``suites/demo.yaml`` through pytest.

The suite runs in a fresh ``python -m pytest`` process; this module never imports the plugin.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pyimgano.cli._common import EXIT_USAGE, run_cli

PROG = "pyimgano-demo"
SNAPSHOT_DIRNAME = "__pyimgano_snapshots__"
LEGACY_SNAPSHOT_DIRNAME = "__snapshots__"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Generate the synthetic datasets (tested and validation), train small real anomalib "
            "checkpoints offline and export some to ONNX / OpenVINO (all cached), then run the "
            "demo suite with the pytest plugin and print its metrics. Committed snapshots are "
            "compared; without any, the first run records them."
        ),
    )
    parser.add_argument("--root", type=Path, default=Path(".pyimgano-demo"),
                        help="where data and checkpoints go (default .pyimgano-demo)")
    parser.add_argument("--suite", type=Path, default=Path("suites/demo.yaml"),
                        help="suite to run afterwards (default suites/demo.yaml)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="only generate data, train checkpoints and export them")
    parser.add_argument("--no-export", action="store_true",
                        help="do not export ONNX / OpenVINO artifacts (the suite's export "
                        "entries then fail for want of their files); for --prepare-only runs "
                        "that need only the torch checkpoints, e.g. upgrade diffs")
    parser.add_argument("pytest_args", nargs="*",
                        help="extra pytest arguments after --, e.g. -- --pyimgano-device=cpu")
    return parser


def snapshot_dirs(suite: Path) -> tuple[Path, Path]:
    """Where the plugin keeps ``suite``'s snapshots (docs/REFERENCE.md §8), and the old place
    it still reads: ``<dir>/__pyimgano_snapshots__/<stem>``, ``<dir>/__snapshots__/<stem>``.

    Spelled out here rather than imported, so that this CLI does not import the pytest plugin
    (pytest runs the suite in a fresh interpreter).
    """
    return (
        suite.parent / SNAPSHOT_DIRNAME / suite.stem,
        suite.parent / LEGACY_SNAPSHOT_DIRNAME / suite.stem,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pyimgano-demo``; returns pytest's exit code after preparing."""

    def body() -> int:
        from pyimgano.demo import prepare_demo

        args = build_parser().parse_args(argv)
        if not args.prepare_only and not args.suite.is_file():
            print(f"{PROG}: error: suite {args.suite} not found; run from the repository root "
                  "or pass --suite", file=sys.stderr)
            return EXIT_USAGE
        layout = prepare_demo(args.root, **({"exports": {}} if args.no_export else {}))
        validation = f", validation data in {layout.validation}" if layout.validation else ""
        print(f"{PROG}: data in {layout.data}{validation}, checkpoints in {layout.checkpoints} "
              f"({len(layout.exports)} exported artifact(s) beside them)", file=sys.stderr)
        if args.prepare_only:
            return 0
        import subprocess

        pytest_args = [str(args.suite), "-p", "no:cacheprovider", *args.pytest_args]
        if not any(path.exists() for path in snapshot_dirs(args.suite)):
            # No committed expectation for this suite: record the first snapshots (this run
            # then gates on thresholds and parity only) and say so.
            print(f"{PROG}: no snapshots for {args.suite}; recording them (--snapshot-update)",
                  file=sys.stderr)
            pytest_args.append("--snapshot-update")
        # A fresh interpreter: this one already imported anomalib (training), which pytest
        # would otherwise warn about and could not assert-rewrite.
        command = [sys.executable, "-m", "pytest", *pytest_args]
        print(f"{PROG}: python {' '.join(command[1:])}", file=sys.stderr, flush=True)
        return subprocess.run(command, check=False).returncode

    return run_cli(PROG, body)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
