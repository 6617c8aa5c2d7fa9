"""Device check: pyimgano's batched ``evaluate`` against a per-image ``TorchInferencer`` loop.

Self-contained (pyimgano, torch and anomalib only; trains nothing)::

    python tests/benchmarks/gpu_check.py --device cuda --out DIR \\
        --checkpoint model.pt --data DATA_ROOT --category CATEGORY [--batch-size 32]

``--checkpoint`` is an anomalib exported torch model (``model.pt``, what ``Engine.export``
and :func:`pyimgano.demo.training.train_checkpoint` write); ``--data`` an MVTec-layout root.

What runs, on the same checkpoint, device and images:

- ``evaluate``: ``pyimgano.evaluation.evaluate(model, dataset, pixel=True, batch_size=32)``, end
  to end (decode threads, batched forward, mask loading and region labelling on the host, map
  alignment and exact image and pixel metrics where the maps are: on a CUDA device they stay
  there, ``environment.metrics_device``); ``--no-pixel`` leaves the pixel part out;
- ``loop``: anomalib's ``TorchInferencer.predict(path)`` per image (decode, pre-process,
  forward; outputs stay on the device; one synchronisation at the end of the pass).
  ``TRUST_REMOTE_CODE=1`` is set only while the TorchInferencer loads the file, then restored.

First one untimed warm-up pass of EACH (CUDA context, cuDNN algorithm choice, allocator, page
cache), then ``--repeats`` (2) timed passes of each, interleaved (evaluate, loop, loop,
evaluate, ...). Printed and written to ``DIR/gpu_check.json``: images/s of each pass, their
medians and the ratio evaluate/loop (> 1: the harness with its metrics is faster than the bare
per-image loop; BENCHMARKS.md's GPU target is ``--target``, default 5, recorded as
``meets_target``), where the pixel metrics ran (``metrics_device``), the last evaluate's own
timing split with the share of its wall time in the forward pass (the sum of the backend's
per-batch forward timing, ``Batch.seconds``: host-to-device copy, forward, outputs back, CUDA
synchronised) and outside it, and the largest score difference between the two (from the
warm-up passes).

Runs on the CPU too (``--device cpu``), e.g. on the demo's PaDiM::

    python tests/benchmarks/gpu_check.py --device cpu --out /tmp/gpu-check \\
        --checkpoint .pyimgano-demo/checkpoints/padim/tiles/model.pt \\
        --data .pyimgano-demo/data --category tiles
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gpu_check.py",
        description="evaluate (batched) vs a per-image TorchInferencer loop on one device",
    )
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    parser.add_argument("--out", required=True, type=Path, help="directory for gpu_check.json")
    parser.add_argument("--checkpoint", required=True, type=Path, help="exported model.pt")
    parser.add_argument("--data", required=True, type=Path, help="MVTec-layout data root")
    parser.add_argument("--category", required=True)
    parser.add_argument("--format", default="mvtec", help="dataset format (default mvtec)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="timed passes of each (2)")
    parser.add_argument("--decode-workers", type=int, default=None, help="pyimgano's default")
    parser.add_argument(
        "--checkpoint-sha256", default=None, help="pin; without it the file is trusted"
    )
    parser.add_argument("--no-pixel", dest="pixel", action="store_false", help="image metrics only")
    parser.add_argument(
        "--target", type=float, default=5.0, help="evaluate/loop speed aimed at (default 5)"
    )
    return parser.parse_args(argv)


@contextmanager
def _trust_remote_code():
    """``TRUST_REMOTE_CODE=1`` while anomalib's TorchInferencer loads the .pt, then restored."""
    saved = os.environ.get("TRUST_REMOTE_CODE")
    os.environ["TRUST_REMOTE_CODE"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TRUST_REMOTE_CODE", None)
        else:
            os.environ["TRUST_REMOTE_CODE"] = saved


def _importable_pyimgano() -> None:
    """Run from a checkout without installing: put the repository root on ``sys.path``."""
    try:
        import pyimgano  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _importable_pyimgano()
    if args.checkpoint.suffix.lower() not in (".pt", ".pth"):
        print(f"--checkpoint {args.checkpoint}: expected an exported .pt/.pth", file=sys.stderr)
        return 2
    warnings.simplefilter("ignore")  # timm/anomalib import-time deprecation noise
    import anomalib
    import torch
    from anomalib.deploy import TorchInferencer

    import pyimgano
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint
    from pyimgano.datasets import load_dataset
    from pyimgano.evaluation import evaluate

    dataset = load_dataset(args.format, args.data, args.category)
    paths = [sample.image_path for sample in dataset]
    kwargs: dict[str, Any] = {"device": args.device}
    if args.checkpoint_sha256:
        kwargs["checkpoint_sha256"] = args.checkpoint_sha256
    else:
        kwargs["trust_checkpoint"] = True
    if args.decode_workers is not None:
        kwargs["decode_workers"] = args.decode_workers
    detector = VisionAnomalibCheckpoint(args.checkpoint, **kwargs)
    device = detector.device
    cuda = str(device).startswith("cuda")
    with _trust_remote_code():
        inferencer = TorchInferencer(args.checkpoint, device="cuda" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(torch.device(device))

    def synchronize() -> None:
        if cuda:
            torch.cuda.synchronize()

    last: dict[str, Any] = {}
    forward = {"seconds": 0.0}
    infer = detector.infer

    def counted_infer(batch: Any) -> Any:
        out = infer(batch)
        forward["seconds"] += float(out.seconds)
        return out

    detector.infer = counted_infer  # the instance only: sums the backend's own forward timing

    def run_evaluate() -> None:
        forward["seconds"] = 0.0
        last["evaluation"] = evaluate(
            detector, dataset, pixel=args.pixel, batch_size=args.batch_size
        )
        last["forward_s"] = forward["seconds"]

    def run_loop(keep_scores: bool = False) -> None:
        outputs = [inferencer.predict(path) for path in paths]
        synchronize()
        if keep_scores:
            last["loop_scores"] = [float(o.pred_score.reshape(())) for o in outputs]

    def timed(fn) -> float:
        synchronize()
        began = time.perf_counter()
        fn()
        synchronize()
        return time.perf_counter() - began

    print(
        f"gpu_check: {len(paths)} images of {args.category}, device {device}, batch "
        f"{args.batch_size}, pixel metrics {'on' if args.pixel else 'off'}",
        flush=True,
    )
    print("warm-up: one untimed pass of evaluate and one of the loop (not counted)", flush=True)
    run_evaluate()
    run_loop(keep_scores=True)
    scores = [p.score for p in last["evaluation"].predictions]
    score_diff = max(abs(a - b) for a, b in zip(scores, last["loop_scores"], strict=True))

    seconds: dict[str, list[float]] = {"evaluate": [], "loop": []}
    for repeat in range(args.repeats):
        order = ("evaluate", "loop") if repeat % 2 == 0 else ("loop", "evaluate")
        for name in order:
            seconds[name].append(timed(run_evaluate if name == "evaluate" else run_loop))
            print(
                f"  pass {repeat + 1} {name:8s} {seconds[name][-1]:8.3f} s  "
                f"{len(paths) / seconds[name][-1]:8.1f} images/s",
                flush=True,
            )

    n = len(paths)
    images_per_s = {name: [n / s for s in values] for name, values in seconds.items()}
    median_ips = {name: statistics.median(values) for name, values in images_per_s.items()}
    report = last["evaluation"].report
    wall = seconds["evaluate"][-1]
    split = {
        "wall_s": wall,
        "forward_s": last["forward_s"],
        "share_forward": last["forward_s"] / wall,
        "share_outside_forward": max(0.0, 1.0 - last["forward_s"] / wall),
    }
    sample_map = last["evaluation"].predictions[0].anomaly_map
    from PIL import Image

    with Image.open(paths[0]) as image:
        width, height = image.size
    result = {
        "what": "pyimgano evaluate (batched) vs anomalib TorchInferencer.predict per image",
        "warmup": "one untimed pass of each before timing; passes interleaved",
        "device": str(device),
        "gpu": torch.cuda.get_device_name(torch.device(device)) if cuda else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "pyimgano": pyimgano.__version__,
            "anomalib": anomalib.__version__,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
        },
        "checkpoint": str(args.checkpoint),
        "data": str(args.data),
        "category": args.category,
        "n_images": n,
        "image_size": [height, width],
        "map_size": list(sample_map.shape) if sample_map is not None else None,
        "batch_size": args.batch_size,
        "decode_workers": detector.decode_workers,
        "pixel": args.pixel,
        "repeats": args.repeats,
        "seconds": seconds,
        "images_per_s": images_per_s,
        "median_images_per_s": median_ips,
        "evaluate_over_loop_speed": median_ips["evaluate"] / median_ips["loop"],
        "target_evaluate_over_loop_speed": args.target,
        "meets_target": median_ips["evaluate"] / median_ips["loop"] >= args.target,
        "metrics_device": report.environment.get("metrics_device"),
        "maps_on_device": getattr(detector, "maps_on_device", None),
        "last_evaluate_split": split,
        "score_diff_vs_torch_inferencer": score_diff,
        "last_evaluate_timing": dict(report.timing),
        "metrics": {k: v for k, v in report.metrics.items() if not isinstance(v, dict)},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out_file = args.out / "gpu_check.json"
    out_file.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"evaluate {median_ips['evaluate']:.1f} images/s, loop {median_ips['loop']:.1f} "
        f"images/s, evaluate/loop speed {result['evaluate_over_loop_speed']:.2f}x "
        f"(median of {args.repeats}; target {args.target:g}x: "
        f"{'met' if result['meets_target'] else 'MISSED'}); max |score diff| {score_diff:.2e}",
        flush=True,
    )
    timing = report.timing
    print(
        f"last evaluate: inference {timing['inference_s']:.3f} s, metrics "
        f"{timing['metrics_s']:.3f} s, ms/image (median batch) {timing['ms_per_image']}; "
        f"forward {split['forward_s']:.3f} of {wall:.3f} s ({100 * split['share_forward']:.0f}%"
        f", {100 * split['share_outside_forward']:.0f}% outside it); pixel metrics on "
        f"{result['metrics_device']}",
        flush=True,
    )
    print(f"wrote {out_file}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
