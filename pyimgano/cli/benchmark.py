"""``pyimgano-benchmark``: evaluate one checkpoint on one dataset category (docs/REFERENCE.md §7).

The command line is parsed into the runner's :class:`~pyimgano.runner.Case` (the same object the
pytest plugin builds from a suite), evaluated with :func:`~pyimgano.runner.run_case`, and
written with the report writer the plugin uses. ``--list-models`` prints the registry instead.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyimgano.backends.exported import PRECISIONS
from pyimgano.cli._common import EXIT_GATE, EXIT_OK, EXIT_USAGE, run_cli
from pyimgano.datasets import FORMATS as DATASET_FORMATS
from pyimgano.memory import parse_budget
from pyimgano.metrics.results import METRIC_ORDER

PROG = "pyimgano-benchmark"
#: Metrics printed on stderr after a run, in this order, when the report has them.
HEADLINE = METRIC_ORDER
_REQUIRED = ("dataset", "root", "category", "model")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Evaluate an anomaly-detection checkpoint on one dataset category and write a JSON "
            "report (docs/REFERENCE.md §6, §7). Exit codes: 0 done; 1 a gate failed (export "
            "parity bounds, a degenerate artifact); 2 input/data/checkpoint/device error."
        ),
        epilog=(
            "Per-image records (path, label, defect, score, pred_label) go beside the report "
            "as <report>.jsonl with --output; with the report on stdout only to --jsonl PATH "
            "(nothing is written into the working directory unasked). Headline metrics go to "
            "stderr."
        ),
    )
    parser.add_argument(
        "--list-models",
        action="store_true",
        help="list the registered models and exit 0: name, backend, checkpoint formats, the "
        "formats verified against anomalib's own inference, whether the forward is batch "
        "independent, known limitations ('-': not stated)",
    )
    parser.add_argument(
        "--dataset", choices=tuple(DATASET_FORMATS), help="dataset layout (required)"
    )
    parser.add_argument("--root", type=Path, help="dataset root directory (required)")
    parser.add_argument("--category", help="category (sub-directory) to evaluate (required)")
    parser.add_argument(
        "--dataset-options",
        default=None,
        metavar="JSON",
        help="loader options as a JSON object, e.g. '{\"normal_dir\": \"good\"}' for "
        "--dataset folder",
    )
    parser.add_argument(
        "--model", help="registered model name (required; --list-models lists them)"
    )
    parser.add_argument(
        "--checkpoint-path",
        type=Path,
        default=None,
        help=".pt/.pth (exported torch), .ckpt (Lightning), .onnx or OpenVINO .xml file",
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
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="f32",
        help="inference precision of the runtime (default f32; never the runtime's own default)",
    )
    parser.add_argument("--pixel", action="store_true", help="also compute pixel metrics")
    parser.add_argument("--batch-size", type=int, default=16, help="images per forward pass")
    parser.add_argument(
        "--aupro-limit", type=float, default=0.3, help="FPR limit of AU-PRO (default 0.3)"
    )
    parser.add_argument(
        "--aupro-limits",
        default=None,
        metavar="L1,L2",
        help="extra AU-PRO FPR limits, comma-separated, each in (0, 1], reported as "
        "aupro_<limit> (e.g. 0.05,0.3)",
    )
    parser.add_argument(
        "--fpr-limits",
        default=None,
        metavar="X1,X2",
        help="operating points: FPR limits, comma-separated, each in (0, 1], reported as "
        "image_tpr_at_fpr_<x> (e.g. 0.01)",
    )
    parser.add_argument(
        "--protocol",
        choices=("anomalib",),
        default=None,
        help="anomalib: also report metrics_anomalib, the numbers anomalib's Engine.test "
        "gives for the same checkpoint and data (a .pt/.ckpt only)",
    )
    parser.add_argument(
        "--memory-budget",
        default=None,
        metavar="SIZE",
        help="memory the pixel metrics may use beyond the maps (512MiB, 4GiB, ...; auto: half "
        "the memory available at start); over it they stream through a temporary directory "
        "with the same results",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="report path (default: stdout); per-image records go to the .jsonl beside it, "
        "plots beside it too",
    )
    parser.add_argument(
        "--jsonl",
        type=Path,
        default=None,
        metavar="PATH",
        help="where the per-image records go when the report goes to stdout (without it "
        "they are not written); not allowed with --output",
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
    ad2 = parser.add_argument_group("MVTec AD 2 (docs/REFERENCE.md §5, §7)")
    ad2.add_argument(
        "--calibration",
        default=None,
        metavar="JSON",
        help="rule of the seg_f1 threshold calibrated on validation/good, e.g. "
        "'{\"rule\": \"quantile\", \"q\": 0.999}' (default: mean + 3 std)",
    )
    ad2.add_argument(
        "--export-submission",
        type=Path,
        default=None,
        metavar="DIR",
        help="also infer test_private and test_private_mixed and write the evaluation "
        "server's submission into DIR (float16 TIFF maps, {0,255} PNG masks at the "
        "calibrated threshold; needs --pixel); checked as MVTec's checker does, and packed "
        "as DIR.tar.gz once all categories are in DIR",
    )
    parity = parser.add_argument_group("export parity (docs/REFERENCE.md §11)")
    parity.add_argument(
        "--reference-checkpoint",
        type=Path,
        default=None,
        metavar="FILE",
        help="reference checkpoint (e.g. the .ckpt the artifact was exported from), run on "
        "the same decoded images",
    )
    parity.add_argument(
        "--reference-sha256",
        default=None,
        metavar="HEX",
        help="pin for the reference checkpoint's bytes (needs --reference-checkpoint)",
    )
    parity.add_argument(
        "--parity",
        default=None,
        metavar="BOUNDS",
        help="max |Δ| bounds against the reference, e.g. score=1e-3,map=1e-2,decisions=0 "
        "(any subset; needs --reference-checkpoint). Without it parity is reported, "
        "not gated",
    )
    release = parser.add_argument_group("release decisions (docs/REFERENCE.md §12)")
    release.add_argument(
        "--baseline-checkpoint",
        type=Path,
        default=None,
        metavar="FILE",
        help="the baseline (production) checkpoint, any format, run on the same decoded images",
    )
    release.add_argument(
        "--baseline-sha256",
        default=None,
        metavar="HEX",
        help="pin for the baseline checkpoint's bytes (needs --baseline-checkpoint)",
    )
    release.add_argument(
        "--baseline-model",
        default=None,
        metavar="NAME",
        help="the baseline's registry model when it is another class (default: --model)",
    )
    release.add_argument(
        "--compare",
        default=None,
        metavar="BOUNDS",
        help="max drops against the baseline, e.g. image_auroc=0.005,aupro=0.01,pixel_ap=0.01 "
        "(any computed image, pixel, aupro_<limit>, AUPIMO, seg_f1 or sample metric; paired "
        "one-sided tests, mode regression; needs --baseline-checkpoint); exit 1 when one fails",
    )
    release.add_argument(
        "--alpha",
        type=float,
        default=None,
        metavar="A",
        help="level of the --compare tests, in (0, 0.5) (default 0.05)",
    )
    release.add_argument(
        "--ci",
        type=float,
        default=None,
        metavar="LEVEL",
        help="add metrics_ci: bootstrap intervals over images at LEVEL, e.g. 0.95",
    )
    return parser


@dataclass(frozen=True)
class BenchmarkOptions:
    """Parsed command line: the runner's case and where the outputs go.

    ``jsonl`` is where the per-image records go in stdout mode (``output`` is None); None there
    means they are not written. With ``output`` they go beside the report and ``jsonl`` is None.
    """

    case: Any
    output: Path | None
    plots: bool
    progress: bool
    jsonl: Path | None = None


def parse_aupro_limits(text: str | None, *, flag: str = "--aupro-limits") -> tuple[float, ...]:
    """``"0.05,0.3"`` → ``(0.05, 0.3)``; each limit a number in (0, 1], none repeated.

    Raises :class:`~pyimgano.errors.ConfigError` naming ``flag`` and the bad part.
    """
    from pyimgano.errors import ConfigError

    if text is None:
        return ()
    limits: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = float(part)
        except ValueError:
            raise ConfigError(
                f"{flag} {text!r}: {part!r} is not a number (expected e.g. 0.05,0.3)"
            ) from None
        if not (math.isfinite(value) and 0.0 < value <= 1.0):
            raise ConfigError(f"{flag} {text!r}: {part} is not in (0, 1]")
        if value in limits:
            raise ConfigError(f"{flag} {text!r}: {part} is given twice")
        limits.append(value)
    return tuple(limits)


def _parity_bounds(args: argparse.Namespace) -> dict[str, float] | None:
    from pyimgano.errors import ConfigError

    if args.reference_checkpoint is None:
        for flag, value in (("--parity", args.parity), ("--reference-sha256",
                                                         args.reference_sha256)):
            if value is not None:
                raise ConfigError(f"{flag} needs --reference-checkpoint FILE (the reference "
                                  "the artifact is compared with)")
        return None
    if args.parity is None:
        return None
    from pyimgano.parity import parse_parity_text

    return parse_parity_text(args.parity)


def _compare_bounds(args: argparse.Namespace) -> dict[str, Any] | None:
    from pyimgano.errors import ConfigError

    if args.baseline_checkpoint is None:
        for flag, value in (("--compare", args.compare), ("--baseline-sha256",
                                                          args.baseline_sha256),
                            ("--baseline-model", args.baseline_model), ("--alpha", args.alpha)):
            if value is not None:
                raise ConfigError(f"{flag} needs --baseline-checkpoint FILE (the baseline the "
                                  "candidate is compared with)")
        return None
    if args.compare is None:
        if args.alpha is not None:
            raise ConfigError("--alpha needs --compare BOUNDS (the comparisons it is the "
                              "level of)")
        return None
    from pyimgano.comparison import parse_compare_flag

    return parse_compare_flag(args.compare, alpha=args.alpha)


def _ci_level(value: float | None) -> float | None:
    from pyimgano.errors import ConfigError

    if value is not None and not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ConfigError(f"--ci must be a confidence level in (0, 1), e.g. 0.95; got {value}")
    return value


def parse_options(argv: Sequence[str] | None) -> BenchmarkOptions:
    """Parse ``argv`` into options; argparse exits 2 on syntax errors, bad values raise
    :class:`~pyimgano.errors.ConfigError` (also exit 2, one line)."""
    from pyimgano.errors import ConfigError
    from pyimgano.models import parse_model_kwargs
    from pyimgano.runner import Case

    parser = build_parser()
    args = parser.parse_args(argv)
    _check_required(args, parser)
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be a positive integer, got {args.batch_size}")
    if not 0.0 < args.aupro_limit <= 1.0:
        raise ConfigError(f"--aupro-limit must be in (0, 1], got {args.aupro_limit}")
    if args.category == "all":
        raise ConfigError(
            "--category all is not supported by pyimgano-benchmark (one report per run); "
            "use a pytest suite with categories: all"
        )
    if args.output is not None and args.jsonl is not None:
        raise ConfigError(
            f"--jsonl {args.jsonl} with --output {args.output}: with --output the per-image "
            "records go beside the report; give one of them"
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
        precision=args.precision,
        aupro_limits=parse_aupro_limits(args.aupro_limits),
        fpr_limits=parse_aupro_limits(args.fpr_limits, flag="--fpr-limits"),
        reference=args.reference_checkpoint,
        reference_sha256=args.reference_sha256,
        parity=_parity_bounds(args),
        protocol=args.protocol,
        calibration=(
            None if args.calibration is None
            else parse_model_kwargs(args.calibration, source="--calibration")
        ),
        export_submission=args.export_submission,
        memory_budget=parse_budget(args.memory_budget, name="--memory-budget"),
        baseline=args.baseline_checkpoint,
        baseline_sha256=args.baseline_sha256,
        baseline_model=args.baseline_model,
        compare=_compare_bounds(args),
        ci=_ci_level(args.ci),
    )
    return BenchmarkOptions(
        case=case,
        output=args.output,
        plots=not args.no_plots,
        progress=not args.no_progress,
        jsonl=args.jsonl,
    )


def _check_required(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    missing = [f"--{name}" for name in _REQUIRED if getattr(args, name) is None]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")


# ------------------------------------------------------------------------------------------
# --list-models


def _text(value: Any, sep: str = " ") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        return sep.join(str(v) for v in value) if value else "-"
    return str(value)


def model_rows() -> list[dict[str, str]]:
    """One row per registered model: name, backend, formats, verified, batch_independent,
    limitations.

    Taken from ``pyimgano.models.describe_models()`` where the registry provides it, else
    from each entry's ``model_info`` metadata; a fact the registry does not state is ``-``.
    """
    import pyimgano.models as models

    described: dict[str, Mapping[str, Any]] = {}
    describe = getattr(models, "describe_models", None)
    if callable(describe):
        found = describe()
        entries = found.values() if isinstance(found, Mapping) else found
        for entry in entries:
            data = entry if isinstance(entry, Mapping) else vars(entry)
            described[str(data.get("name"))] = data
    rows = []
    for name in models.list_models():
        info = models.model_info(name)
        facts = {**dict(info.get("metadata") or {}), **dict(described.get(name, {}))}
        rows.append(
            {
                "name": name,
                "backend": _text(facts.get("backend")),
                "formats": _text(facts.get("formats")),
                "verified": _text(facts.get("verified")),
                "batch_independent": _text(facts.get("batch_independent")),
                "limitations": _text(facts.get("limitations"), "; "),
            }
        )
    return rows


def list_models_text() -> str:
    """The ``--list-models`` table (columns aligned, one model per line)."""
    rows = model_rows()
    header = {key: key for key in ("name", "backend", "formats", "verified",
                                   "batch_independent", "limitations")}
    table = [header, *rows]
    widths = {key: max(len(row[key]) for row in table) for key in header}
    lines = [
        "  ".join(row[key].ljust(widths[key]) for key in header).rstrip() for row in table
    ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------
# after a run


def _number(value: Any) -> str:
    return "null" if value is None else format(value, ".4g")


def headline_lines(data: Mapping[str, Any]) -> list[str]:
    """What a run prints on stderr: the item, its headline metrics, timing and parity."""
    dataset = data.get("dataset") or {}
    model = data.get("model") or {}
    metrics = data.get("metrics") or {}
    lines = [
        f"{PROG}: {model.get('name')} on {dataset.get('format')}:{dataset.get('category')} "
        f"({dataset.get('n_test')} images, {dataset.get('n_anomalous')} anomalous)"
    ]
    shown = [f"{name} {_number(metrics[name])}" for name in HEADLINE if name in metrics]
    prefixes = ("aupro_", "auspro_", "aupimo_", "image_tpr_at_fpr_")
    extra = sorted(n for n in metrics if n.startswith(prefixes))
    shown += [f"{name} {_number(metrics[name])}" for name in extra]
    if shown:
        lines.append("  " + "  ".join(shown))
    calibration = data.get("calibration")
    if isinstance(calibration, Mapping):
        lines.append(
            f"  seg_f1 threshold {_number(calibration.get('threshold'))} "
            f"({calibration.get('rule')} on {calibration.get('n_images')} validation images)"
        )
    anomalib = data.get("metrics_anomalib")
    if isinstance(anomalib, Mapping):
        lines.append(
            "  anomalib: " + "  ".join(f"{k} {_number(v)}" for k, v in anomalib.items())
        )
    timing = data.get("timing") or {}
    if timing.get("ms_per_image") is not None:
        total = _number(timing.get("total_s"))
        lines.append(f"  {_number(timing['ms_per_image'])} ms/image, total {total} s")
    parity = data.get("parity")
    if isinstance(parity, Mapping):
        from pyimgano.parity import parity_verdict

        verdict = parity_verdict(parity)
        lines.append(
            f"  parity {verdict}: score max |Δ| {_number(parity.get('score_max_abs'))}, "
            f"map max |Δ| {_number(parity.get('map_max_abs'))}, "
            f"{_number(parity.get('decision_flips'))} decision flip(s), "
            f"{parity.get('borderline')} borderline"
        )
    return lines


def _parity_table(data: Mapping[str, Any]) -> str | None:
    try:
        from pyimgano.parity import parity_failure_table
    except ImportError:  # pragma: no cover - parity module absent
        return None
    return parity_failure_table(data["parity"])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pyimgano-benchmark``; returns the exit code."""

    def body() -> int:
        given = sys.argv[1:] if argv is None else list(argv)
        if "--list-models" in given:
            args = build_parser().parse_args(given)
            if any(getattr(args, name) is not None for name in _REQUIRED):
                print(f"{PROG}: error: --list-models takes no --dataset/--root/--category/"
                      "--model", file=sys.stderr)
                return EXIT_USAGE
            sys.stdout.write(list_models_text())
            return EXIT_OK

        from pyimgano.artifacts import write_evaluation
        from pyimgano.report import dumps, jsonl_text, validate_report, write_text_atomic
        from pyimgano.runner import run_case

        options = parse_options(given)
        evaluation = run_case(options.case, progress=options.progress)
        data = evaluation.report.to_dict()
        if options.output is None:
            validate_report(data)
            where = "report on stdout, per-image records not written (no --jsonl PATH)"
            if options.jsonl is not None:
                records = write_text_atomic(options.jsonl, jsonl_text(evaluation.report.records))
                where = f"report on stdout, per-image records in {records}"
            sys.stdout.write(dumps(data))
        else:
            path = write_evaluation(evaluation, options.output, plots=options.plots)
            where = f"report written to {path}"
        for line in headline_lines(data):
            print(line, file=sys.stderr)
        print(f"{PROG}: {where}", file=sys.stderr)
        if evaluation.submission is not None:
            print(f"{PROG}: {evaluation.submission.describe()}", file=sys.stderr)
        from pyimgano.gates import parity_failed, recorded_failures

        if data.get("comparison"):  # the release decision, passed or not
            from pyimgano.comparison import comparison_table

            print(comparison_table(data["comparison"], data["settings"].get("compare")),
                  file=sys.stderr)
        failures = recorded_failures(data)
        if not failures:
            return EXIT_OK
        if parity_failed(data.get("parity")):
            table = _parity_table(data)
            if table:
                print(table, file=sys.stderr)
        what = "; ".join(f.text for f in failures)
        print(f"{PROG}: gate failed ({what}) → exit 1", file=sys.stderr)
        return EXIT_GATE

    return run_cli(PROG, body)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
