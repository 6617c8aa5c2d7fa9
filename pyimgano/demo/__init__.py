"""The embedded default: synthetic data + small real anomalib checkpoints trained offline.

:func:`prepare_demo` writes (idempotently, cached by parameters)::

    <root>/data/<category>/...                           synthetic MVTec-layout dataset (tested)
    <root>/validation/<category>/...                     a second one, another seed (validation)
    <root>/checkpoints/<model>/<category>/model.pt       exported torch model (TorchInferencer)
    <root>/checkpoints/<model>/<category>/model.ckpt     Lightning checkpoint
    <root>/checkpoints/<model>/<category>/model.onnx     ONNX export (+ model.onnx.data)
    <root>/checkpoints/<model>/<category>/openvino_fp32/model.xml, openvino_fp16/model.xml

Each checkpoint's threshold and normalisation statistics are fitted on the validation dataset,
whose images are disjoint from the tested ones (drawn with another seed from the same
generator): fitted on the test split itself, one anomalous image per category would score
exactly the threshold and flip its decision on any rounding change (e.g. another batch size).

The exports (:data:`DEMO_EXPORTS`) are a subset of models × categories × artifacts, chosen so
the demo stays a few minutes on 2 CPU cores; ``suites/demo.yaml`` gates each of them against
its ``.ckpt`` with export parity (docs/REFERENCE.md §11).

``suites/demo.yaml`` evaluates those files; ``pyimgano-demo`` prepares them and runs the suite.

The package serves the demo, the tests and the benchmarks, not the library: ``training.py``
trains the checkpoints, ``export.py`` exports them, ``quiet.py`` silences Lightning meanwhile.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEMO_MODELS = ("padim", "patchcore")
DEMO_SIZE = 128
DEMO_SEED = 0
#: The validation dataset is generated with ``seed + VALIDATION_SEED_OFFSET``.
VALIDATION_SEED_OFFSET = 1
#: model -> (categories to export, or None for every demo category; artifact kinds of
#: :data:`pyimgano.demo.export.EXPORT_KINDS`). PaDiM is exported for every category, PatchCore
#: (slower to export and to run) for one: each export costs ~10-20 s on 2 cores.
#: OpenVINO INT8 (weights-only) uses nncf (the ``export`` extra).
DEMO_EXPORTS: Mapping[str, tuple[tuple[str, ...] | None, tuple[str, ...]]] = {
    "padim": (None, ("onnx", "openvino_fp32", "openvino_fp16", "openvino_int8")),
    "patchcore": (("tiles",), ("onnx", "openvino_fp32", "openvino_fp16", "openvino_int8")),
}


@dataclass(frozen=True)
class DemoLayout:
    """Where the demo's data, validation data, checkpoints and exported artifacts are.

    ``exports`` maps ``(model, category, kind)`` to the artifact's graph file.
    """

    root: Path
    data: Path
    checkpoints: Path
    categories: tuple[str, ...]
    models: tuple[str, ...]
    validation: Path | None = None
    exports: Mapping[tuple[str, str, str], Path] = field(default_factory=dict)


def export_jobs(
    models: Sequence[str],
    categories: Sequence[str],
    exports: Mapping[str, tuple[tuple[str, ...] | None, tuple[str, ...]]],
) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(model, category, kinds)`` to export: :data:`DEMO_EXPORTS`-style ``exports`` limited
    to the demo's ``models`` and ``categories``."""
    jobs = []
    for model in models:
        if model not in exports:
            continue
        wanted, kinds = exports[model]
        for category in categories:
            if wanted is None or category in wanted:
                jobs.append((model, category, tuple(kinds)))
    return jobs


def prepare_demo(
    root: str | Path,
    *,
    categories: Sequence[str] | None = None,
    models: Sequence[str] = DEMO_MODELS,
    size: int = DEMO_SIZE,
    seed: int = DEMO_SEED,
    exports: Mapping[str, tuple[tuple[str, ...] | None, tuple[str, ...]]] = DEMO_EXPORTS,
    progress: bool = True,
) -> DemoLayout:
    """Generate both synthetic datasets, train every (model, category) checkpoint once and
    export the artifacts of ``exports``.

    Work already done with the same parameters is reused (the generator, the trainer and the
    exporter keep a manifest of their parameters), so a second call returns at once. Pass
    ``exports={}`` to skip exporting.
    """
    from tqdm import tqdm

    from pyimgano.datasets.synthetic import DEFAULT_CATEGORIES, generate
    from pyimgano.demo.export import export_checkpoint
    from pyimgano.demo.training import train_checkpoint

    root = Path(root)
    chosen = tuple(categories or DEFAULT_CATEGORIES)
    data = root / "data"
    validation = root / "validation"
    checkpoints = root / "checkpoints"
    generate(data, categories=chosen, seed=seed, size=size)
    generate(validation, categories=chosen, seed=seed + VALIDATION_SEED_OFFSET, size=size)
    trained = {}
    jobs = [(model, category) for model in models for category in chosen]
    with tqdm(jobs, desc="demo checkpoints", unit="model", disable=not progress,
              file=sys.stderr) as bar:
        for model, category in bar:
            bar.set_postfix_str(f"{model}/{category}")
            trained[model, category] = train_checkpoint(
                model, data, category, checkpoints, image_size=size, seed=seed,
                val_root=validation,
            )
    written: dict[tuple[str, str, str], Path] = {}
    to_export = export_jobs(models, chosen, exports)
    with tqdm(to_export, desc="demo exports", unit="model", disable=not progress,
              file=sys.stderr) as bar:
        for model, category, kinds in bar:
            bar.set_postfix_str(f"{model}/{category}")
            for kind, artifact in export_checkpoint(trained[model, category], kinds).items():
                written[model, category, kind] = artifact.path
    return DemoLayout(root, data, checkpoints, chosen, tuple(models), validation, written)
