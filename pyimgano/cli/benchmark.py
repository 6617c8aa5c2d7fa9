"""``pyimgano-benchmark``: evaluate one checkpoint on one dataset category (SPEC §7)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyimgano.cli._common import EXIT_OK, run_cli

PROG = "pyimgano-benchmark"
FORMATS = ("mvtec", "visa", "btad", "mvtec_loco", "folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Evaluate an anomaly-detection checkpoint on one dataset category and write a JSON "
            "report (SPEC §6). Exit codes: 0 done, 2 input/data/checkpoint/device error."
        ),
    )
    parser.add_argument("--dataset", required=True, choices=FORMATS, help="dataset layout")
    parser.add_argument("--root", required=True, type=Path, help="dataset root directory")
    parser.add_argument("--category", required=True, help="category (sub-directory) to evaluate")
    parser.add_argument(
        "--dataset-options",
        default=None,
        metavar="JSON",
        help="loader options as a JSON object, e.g. '{\"normal_dir\": \"good\"}' for "
        "--dataset folder",
    )
    parser.add_argument("--model", required=True, help="registered model name (see list_models)")
    parser.add_argument(
        "--checkpoint-path", type=Path, default=None, help=".pt/.pth (exported) or .ckpt file"
    )
    parser.add_argument(
        "--model-kwargs",
        default=None,
        metavar="JSON",
        help="constructor kwargs as a JSON object; checkpoint_path here must match "
        "--checkpoint-path",
    )
    parser.add_argument(
        "--device", default="auto", help="auto (cuda:0 if available, else cpu), cpu, cuda, cuda:N"
    )
    parser.add_argument("--pixel", action="store_true", help="also compute pixel metrics")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward pass")
    parser.add_argument(
        "--aupro-limit", type=float, default=0.3, help="FPR limit of AU-PRO (default 0.3)"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="report path (default: stdout); per-image "
        "records go to the .jsonl beside it, plots beside it too"
    )
    parser.add_argument("--no-plots", action="store_true", help="do not draw curves/overlays")
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar on stderr"
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument(
        "--checkpoint-sha256",
        default=None,
        metavar="HEX",
        help="load a pickled checkpoint only if its bytes have this sha256",
    )
    trust.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="load an unpinned pickled checkpoint (.pt/.pth) anyway",
    )
    return parser


@dataclass(frozen=True)
class BenchmarkOptions:
    """Parsed command line."""

    case: object
    output: Path | None
    plots: bool
    progress: bool


def parse_options(argv: Sequence[str] | None) -> BenchmarkOptions:
    """Parse ``argv`` (argparse exits 2 on syntax errors; JSON errors raise ConfigError)."""
    from pyimgano.errors import ConfigError
    from pyimgano.models import parse_model_kwargs
    from pyimgano.runner import Case

    args = build_parser().parse_args(argv)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if not 0.0 < args.aupro_limit <= 1.0:
        raise ConfigError(f"--aupro-limit must be in (0, 1], got {args.aupro_limit}")
    if args.category == "all":
        raise ConfigError(
            "--category all is not supported by pyimgano-benchmark (one report per run); "
            "use a pytest suite with categories: all"
        )
    case = Case(
        model=args.model,
        dataset_format=args.dataset,
        root=args.root,
        category=args.category,
        checkpoint=args.checkpoint_path,
        model_kwargs=parse_model_kwargs(args.model_kwargs, source="--model-kwargs"),
        device=args.device,
        pixel=args.pixel,
        batch_size=args.batch_size,
        aupro_limit=args.aupro_limit,
        checkpoint_sha256=args.checkpoint_sha256,
        trust_checkpoint=args.trust_checkpoint,
        dataset_options=parse_model_kwargs(args.dataset_options, source="--dataset-options"),
    )
    return BenchmarkOptions(
        case=case, output=args.output, plots=not args.no_plots, progress=not args.no_progress
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pyimgano-benchmark``; returns the exit code."""

    def body() -> int:
        from pyimgano.artifacts import write_evaluation
        from pyimgano.report import dumps, validate_report
        from pyimgano.runner import run_case

        options = parse_options(argv)
        evaluation = run_case(options.case, progress=options.progress)
        if options.output is None:
            data = evaluation.report.to_dict()
            validate_report(data)
            sys.stdout.write(dumps(data))
        else:
            path = write_evaluation(evaluation, options.output, plots=options.plots)
            print(f"{PROG}: report written to {path}", file=sys.stderr)
        return EXIT_OK

    return run_cli(PROG, body)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
