"""Export parity: does the artifact that ships score like its reference? (docs/REFERENCE.md §11)

Pure functions over two runs on the same decoded images: the *artifact* (typically an ONNX or
OpenVINO export) and the *reference* (the ``.ckpt`` / ``.pt`` of the same training run).

- ``score_max_abs``: max over images of ``|score − reference score|``.
- ``map_max_abs``: max over pixels of ``|map − reference map|``, at the reference map's size
  (an artifact map of another size is aligned to it first, by the one alignment routine);
  ``None`` when either side gives no map.
- ``decision_flips``: images whose ``pred_label`` differs, not counting ``borderline`` ones —
  flips of images whose reference score lies within :data:`BORDERLINE` of the reference's
  threshold (a float-noise flip is not a model change). Without labels on both sides: ``None``.
- ``degenerate``: the artifact's scores are all equal (with two or more images) or all
  saturated at 0 or 1; such an artifact fails whatever the bounds say.

A bound is a max: ``score`` and ``map`` on the absolute differences, ``decisions`` on the number
of flips. A bound on a quantity that is ``None`` fails with that reason (never passes). Only a
bound (or a degenerate artifact) can pass or fail: with no bound given, ``passed`` is ``None``
— parity is measured, not gated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyimgano.errors import ConfigError, device_errors
from pyimgano.text_table import text_table

#: Distance to the threshold within which a reference score counts as borderline.
BORDERLINE = 1e-6
#: Bound names accepted in ``parity:`` / ``--parity`` and the report key each bounds.
BOUND_KEYS = {"score": "score_max_abs", "map": "map_max_abs", "decisions": "decision_flips"}
#: Rows in the worst-images table.
WORST_ROWS = 5


def parse_parity(spec: Any, *, where: str) -> dict[str, float]:
    """Validate parity bounds ``{score, map, decisions}`` (any subset; non-negative numbers).

    ``where`` names the source in errors (a suite key or ``--parity``).
    """
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a mapping of {sorted(BOUND_KEYS)}, got {spec!r}")
    bounds: dict[str, float] = {}
    for key, value in spec.items():
        if key not in BOUND_KEYS:
            raise ConfigError(
                f"{where}: unknown parity bound {key!r}; allowed: {', '.join(BOUND_KEYS)}"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigError(f"{where}.{key}: expected a number >= 0, got {value!r}")
        bounds[str(key)] = float(value)
    return bounds


def parse_parity_text(text: str) -> dict[str, float]:
    """``"score=1e-3,map=1e-2,decisions=0"`` → bounds (the CLI's ``--parity``)."""
    spec: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"--parity {text!r}: expected NAME=VALUE pairs, got {part!r}")
        try:
            spec[key.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"--parity {text!r}: {key.strip()}={value!r} is not a number"
            ) from None
    return parse_parity(spec, where="--parity")


@dataclass
class ParityAccumulator:
    """Collects per-image differences batch by batch (maps may stay on their device).

    ``threshold`` is the reference's decision threshold on its score scale, when known.
    """

    n_images: int
    threshold: float | None = None
    scores: np.ndarray = field(init=False)
    reference_scores: np.ndarray = field(init=False)
    labels: list[int | None] = field(init=False)
    reference_labels: list[int | None] = field(init=False)
    map_abs: list[float | None] = field(init=False)

    def __post_init__(self) -> None:
        self.scores = np.full(self.n_images, np.nan)
        self.reference_scores = np.full(self.n_images, np.nan)
        self.labels = [None] * self.n_images
        self.reference_labels = [None] * self.n_images
        self.map_abs = [None] * self.n_images

    def update(self, index: int, artifact: Any, reference: Any) -> None:
        """Record image ``index``'s artifact and reference :class:`~pyimgano.outputs.Prediction`."""
        self.scores[index] = artifact.score
        self.reference_scores[index] = reference.score
        self.labels[index] = artifact.pred_label
        self.reference_labels[index] = reference.pred_label
        self.map_abs[index] = map_max_abs(artifact.anomaly_map, reference.anomaly_map)

    def result(self, bounds: Mapping[str, float], paths: Sequence[str]) -> dict[str, Any]:
        """The report's ``parity`` object (see the module docstring)."""
        return parity_result(
            self.scores,
            self.reference_scores,
            self.labels,
            self.reference_labels,
            self.map_abs,
            bounds=bounds,
            threshold=self.threshold,
            paths=paths,
        )


def map_max_abs(amap: Any, reference: Any) -> float | None:
    """Max |Δ| of two 2-D maps (numpy or torch, any device), at the reference's size.

    A device out of memory is a :class:`~pyimgano.errors.DeviceError` (``device_errors``).
    """
    if amap is None or reference is None:
        return None
    from pyimgano.alignment import align_map

    shape = tuple(reference.shape)
    if tuple(amap.shape) != shape:
        amap = align_map(amap, shape)
    if hasattr(reference, "detach") or hasattr(amap, "detach"):
        import torch

        ref = torch.as_tensor(reference)
        with device_errors(str(ref.device), "comparing the artifact's and the reference's maps"):
            art = torch.as_tensor(amap, device=ref.device)
            return float((art.double() - ref.double()).abs().max().item())
    diff = np.abs(np.asarray(amap, dtype=np.float64) - np.asarray(reference, dtype=np.float64))
    return float(diff.max()) if diff.size else 0.0


def degenerate_reason(scores: np.ndarray) -> str | None:
    """Why the artifact's scores carry no information, or None (see the module docstring)."""
    if scores.size >= 2 and np.all(scores == scores[0]):
        return f"every image scores {float(scores[0])!r}: the artifact outputs a constant"
    if scores.size and np.all((scores == 0.0) | (scores == 1.0)):
        return "every score is saturated at 0 or 1 (saturated_fraction 1)"
    return None


def parity_result(
    scores: np.ndarray,
    reference_scores: np.ndarray,
    labels: Sequence[int | None],
    reference_labels: Sequence[int | None],
    map_abs: Sequence[float | None],
    *,
    bounds: Mapping[str, float],
    threshold: float | None,
    paths: Sequence[str],
) -> dict[str, Any]:
    """Summarise per-image differences into the report's ``parity`` object.

    Returns a dict with ``score_max_abs``, ``map_max_abs``, ``decision_flips``, ``borderline``
    (flips not counted because the reference score is within :data:`BORDERLINE` of
    ``threshold``), ``degenerate`` (reason or None), ``bounds``, ``checks`` (one row per bound:
    name, value, bound, passed, note), ``worst`` (the images with the largest score |Δ|) and
    ``passed``: False for a degenerate artifact or an exceeded bound, True when every bound
    holds, None when no bound was given (measured, not gated).
    """
    delta = np.abs(np.asarray(scores, dtype=np.float64) - reference_scores)
    score_max = float(delta.max()) if delta.size else 0.0
    maps_known = [m for m in map_abs if m is not None]
    map_max = max(maps_known) if maps_known and len(maps_known) == len(map_abs) else None
    flips: int | None = None
    borderline = 0
    if all(x is not None for x in labels) and all(x is not None for x in reference_labels):
        flips = 0
        for index, (a, r) in enumerate(zip(labels, reference_labels, strict=True)):
            if a == r:
                continue
            near = threshold is not None and abs(reference_scores[index] - threshold) <= BORDERLINE
            if near:
                borderline += 1
            else:
                flips += 1
    values = {"score_max_abs": score_max, "map_max_abs": map_max, "decision_flips": flips}
    reasons = {
        "map_max_abs": "the artifact or the reference yields no anomaly map",
        "decision_flips": "the artifact or the reference gives no pred_label",
    }
    checks = []
    for name, bound in bounds.items():
        key = BOUND_KEYS[name]
        value = values[key]
        ok = value is not None and value <= bound
        checks.append(
            {
                "name": key,
                "value": value,
                "bound": bound,
                "passed": ok,
                "note": None if value is not None else reasons[key],
            }
        )
    degenerate = degenerate_reason(np.asarray(scores, dtype=np.float64))
    order = np.argsort(-delta, kind="stable")[:WORST_ROWS]
    worst = [
        {
            "path": str(paths[i]),
            "score": float(scores[i]),
            "reference_score": float(reference_scores[i]),
            "score_delta": float(scores[i] - reference_scores[i]),
            "map_max_abs": map_abs[i],
        }
        for i in order
    ]
    return {
        **values,
        "borderline": borderline,
        "degenerate": degenerate,
        "bounds": dict(bounds),
        "checks": checks,
        "worst": worst,
        "passed": _verdict(degenerate, checks),
    }


def _verdict(degenerate: str | None, checks: Sequence[Mapping[str, Any]]) -> bool | None:
    if degenerate is not None:
        return False
    if not checks:
        return None
    return all(c["passed"] for c in checks)


def parity_verdict(parity: Mapping[str, Any]) -> str:
    """``passed``, ``FAILED`` or ``measured (no bounds)`` for a report's ``parity`` object."""
    from pyimgano.gates import parity_failed

    if parity_failed(parity):
        return "FAILED"
    return "passed" if parity.get("passed") is True else "measured (no bounds)"


def parity_failure_table(parity: Mapping[str, Any]) -> str:
    """A plain-text table of a failed parity check: bounds, then the worst images."""
    lines = []
    if parity.get("degenerate"):
        lines.append(f"degenerate artifact: {parity['degenerate']}")
    rows = [("check", "value", "bound", "result")]
    for check in parity.get("checks", []):
        value = "null" if check["value"] is None else f"{check['value']:.6g}"
        result = "ok" if check["passed"] else "FAIL"
        if check["note"]:
            result += f" ({check['note']})"
        rows.append((check["name"], value, f"<= {check['bound']:g}", result))
    if len(rows) > 1:
        lines.extend(text_table(rows))
    worst = parity.get("worst") or []
    if worst:
        lines.append("worst images (by score |Δ|):")
        rows = [("image", "score", "reference", "Δ score", "map |Δ|")]
        for row in worst:
            map_text = "null" if row["map_max_abs"] is None else f"{row['map_max_abs']:.4g}"
            rows.append(
                (
                    row["path"],
                    f"{row['score']:.6g}",
                    f"{row['reference_score']:.6g}",
                    f"{row['score_delta']:+.3g}",
                    map_text,
                )
            )
        lines.extend(text_table(rows))
    return "\n".join(lines)
