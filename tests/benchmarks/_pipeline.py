"""Shared pieces of the pipeline benchmarks: cached data and checkpoints, the floor, the
per-image reference loop, and interleaved timing.

Nothing here is timed by itself; :func:`interleave` runs the pipeline under pytest-benchmark and
the baselines around it, alternating their order, so that every ratio compares passes made
next to each other in time (the machine is shared; absolute times drift).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def cache_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where benchmark data and checkpoints are kept between runs.

    ``PYIMGANO_BENCH_CACHE`` if set; else pytest's cache directory (``.pytest_cache/d/``, kept
    between runs, so checkpoints are trained once per machine); else a session temp dir.
    Training is cached by parameters (:func:`pyimgano.demo.training.train_checkpoint` manifests).
    """
    chosen = os.environ.get("PYIMGANO_BENCH_CACHE")
    if chosen:
        path = Path(chosen)
        path.mkdir(parents=True, exist_ok=True)
        return path
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("pyimgano-bench"))
    return tmp_path_factory.mktemp("pyimgano-bench")


def floor_pass(module: Any, paths: Sequence[Path], batch_size: int) -> None:
    """The floor: anomalib's ``read_image`` and the module's batched forward, nothing else.

    Images are decoded one after the other on this thread; each batch is stacked and passed to
    the loaded module under ``torch.inference_mode()``; outputs are dropped.
    """
    import anomalib.data.utils as data_utils
    import torch

    read_image = data_utils.read_image
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            images = [
                read_image(path, as_tensor=True) for path in paths[start : start + batch_size]
            ]
            module(torch.stack(images))


@contextmanager
def trusted_remote_code():
    """``TRUST_REMOTE_CODE=1`` for anomalib's ``TorchInferencer`` only, restored afterwards.

    pyimgano itself never reads or sets it (docs/REFERENCE.md §7); the reference loop needs it to
    unpickle the exported ``.pt``.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRUST_REMOTE_CODE", "1")
        yield


def torch_inferencer(pt_path: Path, device: str = "cpu") -> Any:
    """anomalib's ``TorchInferencer`` on ``pt_path`` (loaded once, outside any timing)."""
    import warnings

    with trusted_remote_code(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from anomalib.deploy import TorchInferencer

        return TorchInferencer(pt_path, device=device)


def loop_pass(inferencer: Any, paths: Sequence[Path]) -> list[float]:
    """The per-image reference: ``TorchInferencer.predict(path)`` for each image; the scores."""
    return [float(inferencer.predict(path).pred_score.reshape(())) for path in paths]


class Timer:
    """Named lists of wall times (seconds)."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        began = time.perf_counter()
        result = fn()
        self.times.setdefault(name, []).append(time.perf_counter() - began)
        return result


def interleave(
    benchmark: Any,
    pipeline: Callable[[], Any],
    baselines: dict[str, Callable[[], Any]],
    rounds: int,
) -> tuple[dict[str, list[float]], Any]:
    """Time ``pipeline`` with pytest-benchmark and each baseline in the same rounds.

    Round ``k`` runs one baseline before the pipeline (pytest-benchmark's ``setup``) and the
    others after it (``teardown``), the one before rotating, so with two baselines the order
    alternates ``A P B`` / ``B P A``. One untimed warm-up round of all three comes first.

    Returns ``({"pipeline": [...], name: [...]}, last pipeline result)``; every list has
    ``rounds`` entries, entry ``k`` from round ``k``.
    """
    names = list(baselines)
    timer = Timer()
    state = {"round": -1}  # -1: the warm-up round

    def setup() -> None:
        state["round"] += 1
        first = names[state["round"] % len(names)]
        timer.run(first, baselines[first])

    def teardown(*_args: Any, **_kwargs: Any) -> None:
        k = state["round"] % len(names)
        for name in names[k + 1 :] + names[:k]:
            timer.run(name, baselines[name])

    result = benchmark.pedantic(
        pipeline, setup=setup, teardown=teardown, rounds=rounds, warmup_rounds=1, iterations=1
    )
    times = {name: values[1:] for name, values in timer.times.items()}  # drop the warm-up
    times["pipeline"] = list(benchmark.stats.stats.data)
    assert all(len(values) == rounds for values in times.values()), times
    return times, result


def ratio_summary(numerator: Sequence[float], denominator: Sequence[float]) -> dict[str, float]:
    """Median of the per-round ratios, and the ratio of the medians."""
    per_round = [a / b for a, b in zip(numerator, denominator, strict=True)]
    return {
        "median_of_round_ratios": statistics.median(per_round),
        "ratio_of_medians": statistics.median(numerator) / statistics.median(denominator),
        "min_round_ratio": min(per_round),
        "max_round_ratio": max(per_round),
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import platform

    import torch

    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - not on Linux/macOS
        load = None
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg_1min_at_end": load,
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
