"""The embedded default: synthetic data + small real anomalib checkpoints trained offline.

:func:`prepare_demo` writes (idempotently, cached by parameters)::

    <root>/data/<category>/...                           synthetic MVTec-layout dataset
    <root>/checkpoints/<model>/<category>/model.pt       exported torch model (TorchInferencer)
    <root>/checkpoints/<model>/<category>/model.ckpt     Lightning checkpoint

``suites/demo.yaml`` evaluates those files; ``pyimgano-demo`` prepares them and runs the suite.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DEMO_MODELS = ("padim", "patchcore")
DEMO_SIZE = 128
DEMO_SEED = 0


@dataclass(frozen=True)
class DemoLayout:
    """Where the demo's data and checkpoints are."""

    root: Path
    data: Path
    checkpoints: Path
    categories: tuple[str, ...]
    models: tuple[str, ...]


def prepare_demo(
    root: str | Path,
    *,
    categories: Sequence[str] | None = None,
    models: Sequence[str] = DEMO_MODELS,
    size: int = DEMO_SIZE,
    seed: int = DEMO_SEED,
    progress: bool = True,
) -> DemoLayout:
    """Generate the synthetic dataset and train every (model, category) checkpoint once.

    Work already done with the same parameters is reused (both the generator and the trainer
    keep a manifest of their parameters), so a second call returns at once.
    """
    from tqdm import tqdm

    from pyimgano.datasets.synthetic import DEFAULT_CATEGORIES, generate
    from pyimgano.training import train_checkpoint

    root = Path(root)
    chosen = tuple(categories or DEFAULT_CATEGORIES)
    data = root / "data"
    checkpoints = root / "checkpoints"
    generate(data, categories=chosen, seed=seed, size=size)
    jobs = [(model, category) for model in models for category in chosen]
    with tqdm(jobs, desc="demo checkpoints", unit="model", disable=not progress,
              file=sys.stderr) as bar:
        for model, category in bar:
            bar.set_postfix_str(f"{model}/{category}")
            train_checkpoint(model, data, category, checkpoints, image_size=size, seed=seed)
    return DemoLayout(root, data, checkpoints, chosen, tuple(models))
