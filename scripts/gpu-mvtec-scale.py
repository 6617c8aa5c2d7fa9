#!/usr/bin/env python3
"""MVTec-scale synthetic evaluation, end to end with exact pixel metrics (BENCHMARKS.md, GPU).

15 synthetic categories named after MVTec AD's, 115 test images each (35 good, 20 per defect
type, 4 defect types) at 900×900 with 900×900 masks, evaluated with PaDiM and PatchCore
(resnet18, ``pre_trained=False``, 256 px input) through :func:`pyimgano.runner.run_case` — the
path ``pyimgano-benchmark`` and the pytest plugin take — with ``pixel=True``: every map is
aligned to 900×900 and the exact pixel AUROC / AP / F1-max / AU-PRO sweep all of its pixels.

The point is the cost of evaluation, not the scores, so each model is trained ONCE, tiny (16
training images at 256 px of the first category's texture, generated with another seed; one
epoch), and that one checkpoint is evaluated on all 15 categories. Nothing is downloaded.

Phases, each timed: (1) data generation, one process per category
(:func:`pyimgano.datasets.synthetic.generate`, idempotent: a second run reuses the files);
(2) training (:func:`pyimgano.demo.training.train_checkpoint`, cached by parameters; CPU, as it
always trains); (3) evaluation, model by model and category by category, each case loading its model
(``timing.load_s``) as the CLI does. Per case: the report's ``timing`` (``inference_s``,
``metrics_s``, ``load_s``) and the forward seconds, the sum of the backend's own per-batch
forward timing (``Batch.seconds``: host-to-device copy, forward pass, outputs back, CUDA
synchronised; summed by :class:`ForwardClock`, first batch included). Everything else of
``inference_s + metrics_s`` (decoding not hidden behind the forward pass, mask reading, region
labelling, alignment, metrics, the report) is the share outside the forward pass;
``forward_s_from_report`` (the report's median ``ms_per_image`` after the first batch, times
the images) is kept as a cross-check. The first case also carries the device's cold start
(context, cuDNN autotuning); totals are given with and without it.

Writes ``OUT/mvtec_scale.json`` (everything), ``OUT/mvtec_scale.txt`` (a short summary) and
``OUT/reports/<model>/<category>.json`` (the reports); the JSON is rewritten after every case,
so a run cut short still leaves what it finished.

On the lent GPU (full scale; estimated at 2-3 minutes on 16 cores and one H200, not yet run)::

    python3 scripts/gpu-mvtec-scale.py --device cuda --out "$OUT/mvtec-scale"

CPU dry run of the same code at a tiny scale (2 categories × 10 images at 128 px, models at
64 px; a minute or two on 2 cores)::

    SCALE=tiny .venv/bin/python scripts/gpu-mvtec-scale.py --device cpu --out /tmp/mvtec-tiny

``SCALE`` (``full``, default, or ``tiny``) sets the defaults of the sizing flags; the flags
override it. Exit status 0 when every case ran, 1 when one failed (its error is in the JSON and
the summary; the others still run), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

#: The 15 MVTec AD category names; the synthetic generator gives each a texture chosen from its
#: name and all four defect kinds (so 35 good + 4 × 20 defective = 115 test images).
MVTEC_CATEGORIES = (
    "bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut", "pill",
    "screw", "tile", "toothbrush", "transistor", "wood", "zipper",
)

#: Defaults of the sizing flags per ``SCALE``.
SCALES: dict[str, dict[str, Any]] = {
    "full": {
        "categories": 15, "size": 900, "n_test_good": 35, "n_test_bad_per_defect": 20,
        "model_size": 256, "n_train": 16, "batch_size": 32,
    },
    "tiny": {
        "categories": 2, "size": 128, "n_test_good": 2, "n_test_bad_per_defect": 2,
        "model_size": 64, "n_train": 8, "batch_size": 4,
    },
}

MODELS = ("padim", "patchcore")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    scale = os.environ.get("SCALE", "full")
    if scale not in SCALES:
        print(f"SCALE={scale!r}: expected one of {', '.join(SCALES)}", file=sys.stderr)
        raise SystemExit(2)
    d = SCALES[scale]
    parser = argparse.ArgumentParser(
        prog="gpu-mvtec-scale.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    parser.add_argument("--out", required=True, type=Path, help="directory for the results")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/gpu-mvtec-scale") / scale,
        help="data and checkpoints (kept; a rerun reuses them)",
    )
    parser.add_argument("--categories", type=int, default=d["categories"], help="1-15")
    parser.add_argument("--size", type=int, default=d["size"], help="image and mask side (px)")
    parser.add_argument("--n-test-good", type=int, default=d["n_test_good"])
    parser.add_argument("--n-test-bad-per-defect", type=int, default=d["n_test_bad_per_defect"])
    parser.add_argument("--model-size", type=int, default=d["model_size"], help="model input px")
    parser.add_argument("--n-train", type=int, default=d["n_train"], help="training images")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--batch-size", type=int, default=d["batch_size"])
    parser.add_argument(
        "--memory-budget", default=None,
        help="memory budget of the pixel metrics (512MiB, 4GiB, auto; default none)",
    )
    parser.add_argument(
        "--processes", type=int, default=os.cpu_count() or 1, help="data generation processes"
    )
    args = parser.parse_args(argv)
    args.scale = scale
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        parser.error(f"--models {args.models!r}: expected a comma-separated subset of {MODELS}")
    args.models = models
    if not 1 <= args.categories <= len(MVTEC_CATEGORIES):
        parser.error(f"--categories {args.categories}: expected 1-{len(MVTEC_CATEGORIES)}")
    for name in ("size", "n_test_good", "n_test_bad_per_defect", "model_size", "n_train",
                 "batch_size", "processes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)}: expected >= 1")
    return args


def _importable_pyimgano() -> None:
    """Run from a checkout without installing: put the repository root on ``sys.path``."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)


def _generate_one(job: tuple[str, str, int, int, int, int, int]) -> tuple[str, float]:
    """One category in its own root (a process of the pool); ``(category, seconds)``."""
    _importable_pyimgano()
    from pyimgano.datasets.synthetic import generate

    root, category, seed, size, n_train, n_good, n_bad = job
    began = time.perf_counter()
    generate(
        root, categories=(category,), seed=seed, size=size, n_train=n_train,
        n_test_good=n_good, n_test_bad_per_defect=n_bad,
    )
    return category, time.perf_counter() - began


def _generate(args: argparse.Namespace, categories: tuple[str, ...]) -> dict[str, Any]:
    """Test data (one root per category, so the processes never share a manifest) and the
    training data, in parallel. Returns the phase's figures."""
    jobs = [
        (str(args.work / "data" / c), c, 0, args.size, 1, args.n_test_good,
         args.n_test_bad_per_defect)
        for c in categories
    ]
    # Training data: the first category's texture, another seed, at the model's input size.
    jobs.append((str(args.work / "train"), categories[0], 1, args.model_size, args.n_train, 4, 2))
    import multiprocessing

    began = time.perf_counter()
    processes = max(1, min(args.processes, len(jobs)))
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        per_job = list(pool.map(_generate_one, jobs))
    return {
        "wall_s": time.perf_counter() - began,
        "processes": processes,
        "per_category_s": {f"{c}@{j[0]}": s for (c, s), j in zip(per_job, jobs, strict=True)},
    }


def _train(args: argparse.Namespace, category: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each model once on the training data; ``({model: TrainedCheckpoint}, figures)``."""
    from pyimgano.demo.training import train_checkpoint

    trained: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    for model in args.models:
        began = time.perf_counter()
        checkpoint = train_checkpoint(
            model, args.work / "train", category, args.work / "checkpoints",
            image_size=args.model_size,
        )
        trained[model] = checkpoint
        figures[model] = {
            "wall_s": time.perf_counter() - began,
            "cached": checkpoint.cached,
            "pt_path": str(checkpoint.pt_path),
            "pt_sha256": checkpoint.pt_sha256,
            "params": checkpoint.params,
        }
        print(f"trained {model} in {figures[model]['wall_s']:.1f} s"
              f"{' (cached)' if checkpoint.cached else ''}", flush=True)
    return trained, figures


class ForwardClock:
    """Sums ``Batch.seconds`` of every ``infer`` call of the anomalib backend's detector.

    ``Batch.seconds`` is the backend's own forward timing (host-to-device copy, forward pass,
    outputs back; CUDA synchronised before and after); this only adds them up, so the forward
    share covers every batch, the first one included. Installed once, on the class.
    """

    def __init__(self) -> None:
        self.seconds = 0.0

    def install(self) -> None:
        from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

        original = VisionAnomalibCheckpoint.infer
        clock = self

        def infer(detector: Any, batch: Any) -> Any:
            out = original(detector, batch)
            clock.seconds += float(out.seconds)
            return out

        VisionAnomalibCheckpoint.infer = infer  # type: ignore[method-assign]


def _warm_up(device: str) -> dict[str, float]:
    """Imports and device start-up, once and timed, so that the first case does not carry them.

    ``anomalib.models`` is what unpickling an exported model imports; on CUDA, one tiny tensor
    op creates the context. cuDNN's algorithm choice still falls on the first case.
    """
    began = time.perf_counter()
    import anomalib.models  # noqa: F401
    import torch

    imports_s = time.perf_counter() - began
    began = time.perf_counter()
    if device.startswith("cuda"):
        torch.zeros(1, device=device).add_(1)
        torch.cuda.synchronize(torch.device(device))
    return {"imports_s": imports_s, "device_init_s": time.perf_counter() - began}


def _reset_peaks(device: str) -> None:
    """Start a case's peak host RSS (Linux VmHWM) and device memory from the current use."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(device)


def _peaks(device: str) -> dict[str, float | None]:
    """Peak host RSS and peak device memory allocated by torch since :func:`_reset_peaks`, MB."""
    host = None
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                host = int(line.split()[1]) / 1024
    except OSError:
        pass
    if host is None:
        import resource

        host = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    device_mb = None
    if device.startswith("cuda"):
        import torch

        device_mb = torch.cuda.max_memory_allocated(device) / 2**20
    return {"peak_host_rss_mb": host, "peak_device_mb": device_mb}


def _case_figures(report: Any, wall_s: float, forward_s: float) -> dict[str, Any]:
    """One case's timing split and metrics: its report plus the summed forward seconds."""
    timing = dict(report.timing)
    n = int(report.dataset["n_test"])
    ms = timing.get("ms_per_image")
    work_s = float(timing["inference_s"]) + float(timing["metrics_s"])
    outside = max(0.0, 1.0 - forward_s / work_s) if work_s > 0 else None
    env = report.environment
    return {
        "n_images": n,
        "wall_s": wall_s,
        "timing": timing,
        "forward_s": forward_s,
        "forward_s_from_report": None if ms is None else float(ms) * n / 1000.0,
        "share_outside_forward": outside,
        "images_per_s_end_to_end": n / wall_s if wall_s > 0 else None,
        "metrics": {
            k: report.metrics.get(k)
            for k in ("image_auroc", "pixel_auroc", "pixel_ap", "pixel_f1_max", "aupro")
        },
        "environment": {
            k: env.get(k) for k in ("device", "gpu", "cuda", "metrics_device", "batch_size",
                                    "threads", "runtime_version")
        },
    }


def _totals(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Sums over finished cases: wall, forward estimate and the share outside it."""
    done = [c for c in cases if "error" not in c]
    if not done:
        return {"n_cases": 0}
    wall = sum(c["wall_s"] for c in done)
    work = sum(c["timing"]["inference_s"] + c["timing"]["metrics_s"] for c in done)
    forward = sum(c["forward_s"] for c in done)
    return {
        "n_cases": len(done),
        "n_images": sum(c["n_images"] for c in done),
        "wall_s": wall,
        "inference_plus_metrics_s": work,
        "metrics_s": sum(c["timing"]["metrics_s"] for c in done),
        "load_s": sum(c["timing"]["load_s"] for c in done),
        "forward_s": forward,
        "share_outside_forward": max(0.0, 1.0 - forward / work) if work > 0 else None,
        "median_case_share_outside_forward": statistics.median(
            c["share_outside_forward"] for c in done if c["share_outside_forward"] is not None
        ) if any(c["share_outside_forward"] is not None for c in done) else None,
    }


def _versions(device: str) -> dict[str, Any]:
    import anomalib
    import torch

    import pyimgano

    cuda = device.startswith("cuda") and torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "pyimgano": pyimgano.__version__,
        "anomalib": anomalib.__version__,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "gpu": torch.cuda.get_device_name(torch.device(device)) if cuda else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }


def _summary(result: dict[str, Any]) -> str:
    v = result["versions"]
    s = result["settings"]
    warm = result["warm_up"]
    lines = [
        f"MVTec-scale synthetic run ({result['scale']}): {s['categories']} categories x "
        f"{s['n_test_per_category']} test images, {s['size']}x{s['size']} images and masks, "
        f"models at {s['model_size']} px, batch {s['batch_size']}, device {s['device']}",
        f"GPU {v['gpu']}, CUDA {v['cuda']}, torch {v['torch']}, anomalib {v['anomalib']}, "
        f"{v['cpu_count']} CPUs",
        f"data generation {result['generation']['wall_s']:.1f} s "
        f"({result['generation']['processes']} processes); training "
        + ", ".join(f"{m} {t['wall_s']:.1f} s" for m, t in result["training"].items())
        + " (each model trained once, reused for every category); imports "
        f"{warm['imports_s']:.1f} s, device start {warm['device_init_s']:.1f} s",
    ]
    for model, block in result["evaluation"].items():
        for label, t in (("all", block["totals"]), ("after first", block["totals_after_first"])):
            if not t.get("n_cases"):
                continue
            share = t["share_outside_forward"]
            lines.append(
                f"{model} ({label}): {t['n_cases']} cases, {t['n_images']} images, wall "
                f"{t['wall_s']:.1f} s ({t['n_images'] / t['wall_s']:.1f} images/s), metrics "
                f"{t['metrics_s']:.1f} s, forward {t['forward_s']:.1f} s, outside "
                f"the forward pass {'n/a' if share is None else f'{100 * share:.0f}%'}"
            )
        devices = sorted({str(c["environment"]["metrics_device"]) for c in block["cases"]
                          if "error" not in c})
        lines.append(f"{model}: environment.metrics_device {', '.join(devices) or 'n/a'}")
        for case in block["cases"]:
            if "error" in case:
                lines.append(f"  {case['category']}: FAILED {case['error']}")
    lines.append(f"total wall {result['total_wall_s']:.1f} s")
    return "\n".join(lines) + "\n"


def _write(out: Path, result: dict[str, Any]) -> None:
    (out / "mvtec_scale.json").write_text(
        json.dumps(result, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _importable_pyimgano()
    began = time.perf_counter()
    categories = MVTEC_CATEGORIES[: args.categories]
    args.out.mkdir(parents=True, exist_ok=True)
    generation = _generate(args, categories)  # before torch is imported here
    print(f"generated {len(categories)} categories in {generation['wall_s']:.1f} s", flush=True)

    import warnings

    warnings.simplefilter("ignore")  # timm/anomalib deprecation noise
    from pyimgano.report import write_report
    from pyimgano.runner import Case, run_case

    trained, training = _train(args, categories[0])
    warm_s = _warm_up(args.device)
    n_test = args.n_test_good + 4 * args.n_test_bad_per_defect
    result: dict[str, Any] = {
        "what": "run_case(pixel=True) per model and category; exact pixel AUROC/AP/F1/AU-PRO",
        "scale": args.scale,
        "settings": {
            "categories": len(categories),
            "category_names": list(categories),
            "n_test_per_category": n_test,
            "size": args.size,
            "model_size": args.model_size,
            "n_train": args.n_train,
            "batch_size": args.batch_size,
            "device": args.device,
            "models": list(args.models),
            "training": f"each model trained once on {args.n_train} images of the "
            f"{categories[0]!r} texture (seed 1) and reused for all categories",
        },
        "versions": _versions(args.device),
        "generation": generation,
        "training": training,
        "warm_up": warm_s,
        "evaluation": {},
    }
    failed = False
    clock = ForwardClock()
    clock.install()
    for model in args.models:
        checkpoint = trained[model]
        block: dict[str, Any] = {"cases": []}
        result["evaluation"][model] = block
        for category in categories:
            case = Case(
                model=f"vision_{model}_anomalib", dataset_format="mvtec",
                root=args.work / "data" / category, category=category,
                checkpoint=checkpoint.pt_path, checkpoint_sha256=checkpoint.pt_sha256,
                device=args.device, pixel=True, batch_size=args.batch_size,
                memory_budget=args.memory_budget,
            )
            _reset_peaks(args.device)
            started = time.perf_counter()
            forward_before = clock.seconds
            try:
                evaluation = run_case(case)
            except Exception as exc:  # noqa: BLE001 - recorded; the other cases still run
                failed = True
                block["cases"].append({
                    "category": category,
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(limit=8),
                })
                print(f"{model}/{category}: FAILED {type(exc).__name__}: {exc}", flush=True)
                continue
            wall_s = time.perf_counter() - started
            forward_s = clock.seconds - forward_before
            figures = {"category": category, **_case_figures(evaluation.report, wall_s, forward_s),
                       **_peaks(args.device)}
            block["cases"].append(figures)
            write_report(evaluation.report, args.out / "reports" / model / f"{category}.json")
            share = figures["share_outside_forward"]
            print(
                f"{model}/{category}: {figures['n_images']} images in {wall_s:.2f} s, metrics "
                f"{figures['timing']['metrics_s']:.2f} s, outside forward "
                f"{'n/a' if share is None else f'{100 * share:.0f}%'}, aupro "
                f"{figures['metrics']['aupro']}, metrics on "
                f"{figures['environment']['metrics_device']}, peak host RSS "
                f"{figures['peak_host_rss_mb']:.0f} MB"
                + ("" if figures["peak_device_mb"] is None
                   else f", peak device {figures['peak_device_mb']:.0f} MB"),
                flush=True,
            )
            del evaluation
            block["totals"] = _totals(block["cases"])
            block["totals_after_first"] = _totals(block["cases"][1:])
            result["total_wall_s"] = time.perf_counter() - began
            _write(args.out, result)
        block["totals"] = _totals(block["cases"])
        block["totals_after_first"] = _totals(block["cases"][1:])
    result["total_wall_s"] = time.perf_counter() - began
    _write(args.out, result)
    summary = _summary(result)
    (args.out / "mvtec_scale.txt").write_text(summary, encoding="utf-8")
    print(summary, end="", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
