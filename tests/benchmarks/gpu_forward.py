"""The checkpoint's own forward on a device: ms/image by batch size, cuDNN autotuning, profile.

    python tests/benchmarks/gpu_forward.py model.pt [--device cuda] [--size 256]
        [--batches 1,32,128]

Random input (3×size×size); prints ms/image at each batch size (default 1, 32 and 128) with
``torch.backends.cudnn.benchmark`` off and on (and the largest output difference between the
two), then the torch profiler's top GPU kernels of one forward at the middle batch size. Used
for the GPU section of BENCHMARKS.md; needs a CUDA device for the profile's GPU columns (on the
CPU it profiles CPU time: the dry run of ``scripts/gpu-check.sh``).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=256, help="input side (px)")
    parser.add_argument("--batches", default="1,32,128", help="comma-separated batch sizes")
    args = parser.parse_args()
    try:
        batches = tuple(int(b) for b in args.batches.split(","))
    except ValueError:
        parser.error(f"--batches {args.batches!r}: expected comma-separated integers")
    if not batches or min(batches) < 1 or args.size < 1:
        parser.error("--batches and --size must be positive integers")
    middle = batches[len(batches) // 2]
    module = VisionAnomalibCheckpoint(args.checkpoint, device=args.device,
                                      trust_checkpoint=True).module
    device = next(module.parameters()).device
    x = torch.rand(max(batches), 3, args.size, args.size, device=device,
                   generator=torch.Generator(device).manual_seed(0))

    def timed(batch: int):
        with torch.inference_mode():
            for _ in range(3):
                out = module(x[:batch])
            torch.cuda.synchronize() if device.type == "cuda" else None
            began = time.perf_counter()
            for _ in range(5):
                out = module(x[:batch])
            torch.cuda.synchronize() if device.type == "cuda" else None
        return (time.perf_counter() - began) / 5 / batch * 1000, out

    reference = None
    for flag in (False, True):
        torch.backends.cudnn.benchmark = flag
        per_batch = {batch: timed(batch) for batch in batches}
        out = per_batch[middle][1]
        reference = out if reference is None else reference
        diff = float((out.pred_score - reference.pred_score).abs().max())
        times = ", ".join(f"batch {b}: {ms:.3f} ms/img" for b, (ms, _) in per_batch.items())
        print(f"cudnn.benchmark={flag}: {times}; max |score diff| vs off {diff:.2e}")
    torch.backends.cudnn.benchmark = False
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda"
                                           else [])
    with torch.inference_mode(), profile(activities=activities, record_shapes=True) as prof:
        module(x[:middle])
        torch.cuda.synchronize() if device.type == "cuda" else None
    sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    print(prof.key_averages(group_by_input_shape=True).table(sort_by=sort, row_limit=8))


if __name__ == "__main__":
    main()
