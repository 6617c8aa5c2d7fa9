"""``pyimgano-demo``: prepare the embedded default and run ``suites/demo.yaml`` through pytest."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pyimgano.cli._common import EXIT_USAGE, run_cli

PROG = "pyimgano-demo"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Generate the synthetic dataset, train small real anomalib checkpoints offline "
            "(cached), then run the demo suite with the pytest plugin and print its metrics."
        ),
    )
    parser.add_argument("--root", type=Path, default=Path(".pyimgano-demo"),
                        help="where data and checkpoints go (default .pyimgano-demo)")
    parser.add_argument("--suite", type=Path, default=Path("suites/demo.yaml"),
                        help="suite to run afterwards (default suites/demo.yaml)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="only generate data and train checkpoints")
    parser.add_argument("pytest_args", nargs="*",
                        help="extra pytest arguments after --, e.g. -- --pyimgano-device=cpu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pyimgano-demo``; returns pytest's exit code after preparing."""

    def body() -> int:
        from pyimgano.demo import prepare_demo

        args = build_parser().parse_args(argv)
        if not args.prepare_only and not args.suite.is_file():
            print(f"{PROG}: error: suite {args.suite} not found; run from the repository root "
                  "or pass --suite", file=sys.stderr)
            return EXIT_USAGE
        layout = prepare_demo(args.root)
        print(f"{PROG}: data in {layout.data}, checkpoints in {layout.checkpoints}",
              file=sys.stderr)
        if args.prepare_only:
            return 0
        import subprocess

        pytest_args = [str(args.suite), "-p", "no:cacheprovider", *args.pytest_args]
        from pytest_pyimgano.snapshots import suite_snapshot_dir

        if not suite_snapshot_dir(args.suite).exists():
            # The checkpoints were trained on this machine: record their first snapshot.
            pytest_args.append("--snapshot-update")
        # A fresh interpreter: this one already imported anomalib (training), which pytest
        # would otherwise warn about and could not assert-rewrite.
        command = [sys.executable, "-m", "pytest", *pytest_args]
        print(f"{PROG}: python {' '.join(command[1:])}", file=sys.stderr, flush=True)
        return subprocess.run(command, check=False).returncode

    return run_cli(PROG, body)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
