"""Exported artifacts (ONNX, OpenVINO) through the harness vs anomalib's per-image loop and vs
the torch ``.pt`` pipeline (docs/REFERENCE.md §10), on the demo's categories.

Heavy: skipped in a plain ``pytest tests/`` run. Run on demand::

    PYIMGANO_BENCH=1 pytest tests/benchmarks/test_bench_export.py -s

The demo's three synthetic categories (``prepare_demo``: 128 px images, PaDiM at 128 px) and
each category's PaDiM exported by anomalib's ``Engine().export`` to ONNX and OpenVINO IR (FP32;
cached beside the checkpoints). In the same interleaved rounds (``_pipeline.interleave``):

1. **onnx** — ``evaluate(onnx_detector, dataset, pixel=True, batch_size=B)`` over the three
   categories (batched onnxruntime, decoding overlapped, masks, alignment, every metric);
2. **openvino** — the same with the OpenVINO IR (precision f32);
3. **ov_loop** — anomalib's ``OpenVINOInferencer.predict(path)`` per image (f32 hint), scores
   only, no metrics — what a user without a harness would write;
4. **torch** — the same ``evaluate`` with the ``.pt`` (the torch backend).

Ratios go to ``benchmark.extra_info`` and are printed; they are REPORTED, not gated (the test
fails when the timed pipeline's scores disagree with the loop's, or when anything but anomalib's
inferencer writes into the working directory). The issue's target, ov_loop / batched >= 3, is
not reached on the 2-core machine: PaDiM's forward pass is compute-bound on the CPU, so a batch
costs about as much per image as a single image (measured once, load average ~8:
ov_loop / openvino 1.05, ov_loop / onnx 0.79 — onnxruntime's CPU forward is slower than
OpenVINO's — while torch / onnx is 3.3 and torch / openvino 4.4; BENCHMARKS.md).

Knobs: ``PYIMGANO_BENCH_BATCH`` (16), ``PYIMGANO_BENCH_ROUNDS`` (5), ``PYIMGANO_BENCH_CACHE``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.benchmarks._pipeline import cache_dir, interleave, machine, ratio_summary

BATCH = int(os.environ.get("PYIMGANO_BENCH_BATCH", "16"))
ROUNDS = int(os.environ.get("PYIMGANO_BENCH_ROUNDS", "5"))
TARGET = 3.0


@pytest.fixture(scope="module")
def export_cases(request, tmp_path_factory) -> list[dict[str, Any]]:
    """Per demo category: dataset, the .pt checkpoint, its ONNX and OpenVINO exports (cached)."""
    pytest.importorskip("anomalib")
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    pytest.importorskip("onnxscript")
    from pyimgano.datasets import load_dataset
    from pyimgano.demo import DEMO_SIZE, prepare_demo
    from pyimgano.demo.training import train_checkpoint
    from tests.export._artifacts import export_artifacts

    cache = cache_dir(request, tmp_path_factory)
    layout = prepare_demo(cache / "demo", models=("padim",), progress=False)
    cases = []
    for category in layout.categories:
        checkpoint = train_checkpoint(
            "padim", layout.data, category, layout.checkpoints, image_size=DEMO_SIZE
        )
        out = cache / "export" / category / checkpoint.pt_sha256[:16]
        onnx = out / "onnx" / "weights" / "onnx" / "model.onnx"
        xml = out / "openvino" / "weights" / "openvino" / "model.xml"
        if not (onnx.exists() and xml.exists()):
            out.mkdir(parents=True, exist_ok=True)
            exports = export_artifacts(checkpoint, out, DEMO_SIZE)
            onnx, xml = exports["onnx"], exports["openvino"]
        cases.append({
            "dataset": load_dataset("mvtec", layout.data, category),
            "checkpoint": checkpoint,
            "onnx": onnx,
            "openvino": xml,
        })
    return cases


def test_exported_artifacts_vs_per_image_openvino_loop_and_torch(benchmark, export_cases,
                                                                 tmp_path, monkeypatch):
    from anomalib.deploy import OpenVINOInferencer

    from pyimgano.evaluation import evaluate
    from pyimgano.models import create_model

    if benchmark.disabled:
        pytest.skip("pytest-benchmark is disabled (--benchmark-disable)")
    monkeypatch.chdir(tmp_path)  # OpenVINOInferencer writes openvino_cache/ into the CWD
    detectors: dict[str, list[Any]] = {"onnx": [], "openvino": [], "torch": []}
    inferencers = []
    for case in export_cases:
        for kind in ("onnx", "openvino"):
            detectors[kind].append(create_model(
                "vision_padim_anomalib", checkpoint_path=case[kind], device="cpu"))
        detectors["torch"].append(create_model(
            "vision_padim_anomalib", checkpoint_path=case["checkpoint"].pt_path, device="cpu",
            checkpoint_sha256=case["checkpoint"].pt_sha256))
        inferencers.append(OpenVINOInferencer(
            case["openvino"], device="CPU", config={"INFERENCE_PRECISION_HINT": "f32"}))

    def evaluation(kind: str):
        def run() -> list[Any]:
            return [evaluate(d, c["dataset"], pixel=True, batch_size=BATCH)
                    for d, c in zip(detectors[kind], export_cases, strict=True)]
        return run

    def ov_loop() -> list[list[float]]:
        return [
            [float(np.asarray(inf.predict(s.image_path).pred_score).reshape(()))
             for s in case["dataset"]]
            for inf, case in zip(inferencers, export_cases, strict=True)
        ]

    times, onnx_result = interleave(
        benchmark,
        evaluation("onnx"),
        {"openvino": evaluation("openvino"), "ov_loop": ov_loop, "torch": evaluation("torch")},
        ROUNDS,
    )
    # correctness of what was timed: the same scores as the per-image loop
    loop_scores = ov_loop()
    for result, scores in zip(onnx_result, loop_scores, strict=True):
        ours = [record["score"] for record in result.report.records]
        np.testing.assert_allclose(ours, scores, rtol=0, atol=2e-5)
        assert result.report.metrics["aupro"] is not None

    onnx_t, ov_t, loop_t, torch_t = (times[k] for k in ("pipeline", "openvino", "ov_loop",
                                                        "torch"))
    n_images = sum(len(case["dataset"]) for case in export_cases)
    figures = {
        "images": n_images,
        "batch_size": BATCH,
        "rounds": ROUNDS,
        "median_s": {name: float(np.median(v)) for name, v in
                     (("onnx", onnx_t), ("openvino", ov_t), ("ov_loop", loop_t),
                      ("torch", torch_t))},
        "ov_loop_over_onnx": ratio_summary(loop_t, onnx_t),
        "ov_loop_over_openvino": ratio_summary(loop_t, ov_t),
        "torch_over_onnx": ratio_summary(torch_t, onnx_t),
        "torch_over_openvino": ratio_summary(torch_t, ov_t),
        "target_loop_over_batched": TARGET,
        "machine": machine(),
    }
    benchmark.extra_info.update(figures)
    print("\nexport benchmark:", figures)
    assert list(Path(tmp_path).iterdir()) == [Path(tmp_path) / "openvino_cache"], (
        "only anomalib's inferencer may write into the CWD")
