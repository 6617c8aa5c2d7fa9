"""The keys a suite may have at each level (docs/REFERENCE.md §8): one table per level, used by
the validation (unknown keys are errors listing these) and by the ``pyimgano_evaluate`` fixture.
"""

from __future__ import annotations

from pytest_pyimgano.spec import SUITE_KEY

TOP_KEYS = (SUITE_KEY, "name", "defaults", "datasets", "models")
OPTION_KEYS = (
    "pixel", "batch_size", "device", "aupro_limit", "precision", "aupro_limits",
    "auspro_limits", "aupimo_fpr_bounds", "fpr_limits", "protocol", "calibration",
    "memory_budget", "thresholds", "snapshot",
)
DEFAULTS_KEYS = OPTION_KEYS
MODEL_KEYS = (
    "id", "model", "checkpoint", "sha256", "model_kwargs", "dataset", "categories",
    "reference", "reference_sha256", "parity", *OPTION_KEYS, "baseline", "baseline_model",
    "baseline_sha256", "compare", "ci",
)
DATASET_BASE_KEYS = ("format", "root", "fingerprint")
SNAPSHOT_KEYS = ("tolerance",)
PRECISIONS = ("f32", "bf16", "f16")
#: model kwargs a suite may not set (docs/REFERENCE.md §7: pins go in ``sha256:``, trust on the
#: command line).
FORBIDDEN_KWARGS = {
    "trust_checkpoint": "trust comes from --pyimgano-trust-checkpoints (command line only)",
    "checkpoint_sha256": "pin the checkpoint with the model entry's sha256: key",
    "checkpoint_path": "give the checkpoint with the model entry's checkpoint: key",
    "device": "set device: on the model entry (or --pyimgano-device)",
}
