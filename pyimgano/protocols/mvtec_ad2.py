"""MVTec AD 2 (``mvtec_ad2``): AU-PRO at 0.05 and the SegF1 threshold (docs/REFERENCE.md §5).

MVTec AD 2 (Heckler-Kram et al., arXiv:2503.21622, 2025) ranks methods by AU-PRO up to an FPR
of 0.05 and by SegF1, the pixel F1 of binarised maps at a threshold the method picks without
test data. What pyimgano does, and where it comes from:

- ``aupro_0.05`` is always reported for ``mvtec_ad2`` with the pixel metrics
  (:data:`PROTOCOL_AUPRO_LIMITS`, added to any ``aupro_limits``): the paper's localisation
  metric.
- The threshold is calibrated on the category's ``validation/good`` images, inferred through
  the evaluation's own inference path (:func:`calibrate`); their maps are aligned to the
  image size (as the test maps are aligned to their masks). Default rule ``mean_std``: mean +
  3 standard deviations (population, ``ddof=0``) of all validation map pixels together — the
  baseline MVTec's own ``check_and_prepare_data_for_upload.py`` suggests
  (``np.mean(anomaly_scores_val) + 3 * np.std(anomaly_scores_val)``). Alternative
  ``{rule: quantile, q: 0.999}``: NumPy's default (linear) quantile of the same pixels.
- ``seg_f1`` (:func:`pyimgano.metrics.seg_f1`) binarises with ``map >= threshold`` and pools
  true/false positives over every test pixel of the category: pyimgano's documented choice
  (the paper gives SegF1 per category; the pooling is not spelled out there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pyimgano.errors import ConfigError, DatasetError, MetricInputError

__all__ = [
    "DEFAULT_K",
    "DEFAULT_Q",
    "PROTOCOL_AUPRO_LIMITS",
    "RULES",
    "VALIDATION_SPLIT",
    "Calibration",
    "CalibrationRule",
    "calibrate",
    "calibration_threshold",
    "infer_aligned",
    "parse_calibration",
    "protocol_aupro_limits",
    "validation_images",
]

#: AU-PRO limits every ``mvtec_ad2`` evaluation with pixel metrics reports.
PROTOCOL_AUPRO_LIMITS = (0.05,)
#: The split the SegF1 threshold is calibrated on, relative to ``<root>/<category>``.
VALIDATION_SPLIT = "validation/good"
#: Calibration rules: ``mean_std`` (mean + k·std, the default) and ``quantile``.
RULES = ("mean_std", "quantile")
DEFAULT_K = 3.0
DEFAULT_Q = 0.999


def protocol_aupro_limits(dataset_format: str, limits: Sequence[float]) -> tuple[float, ...]:
    """``limits`` plus the format's protocol limits (``mvtec_ad2``: 0.05), each once."""
    extra = PROTOCOL_AUPRO_LIMITS if dataset_format == "mvtec_ad2" else ()
    return tuple(dict.fromkeys([*(float(x) for x in limits), *extra]))


@dataclass(frozen=True)
class CalibrationRule:
    """How the SegF1 threshold is computed from the validation map pixels.

    ``rule="mean_std"``: ``mean + k * std`` (``k`` default 3); ``rule="quantile"``: the
    ``q``-quantile (``q`` default 0.999).
    """

    rule: str = "mean_std"
    k: float = DEFAULT_K
    q: float = DEFAULT_Q

    def as_dict(self) -> dict[str, Any]:
        """``{rule, k}`` or ``{rule, q}``: what the report's ``calibration`` says."""
        if self.rule == "quantile":
            return {"rule": "quantile", "q": self.q}
        return {"rule": "mean_std", "k": self.k}


def parse_calibration(spec: Any, *, where: str = "calibration") -> CalibrationRule:
    """``None`` (the default rule), ``{rule: mean_std[, k: 3]}`` or ``{rule: quantile[, q]}``.

    Raises :class:`~pyimgano.errors.ConfigError` naming ``where``, the key and the value.
    """
    if spec is None:
        return CalibrationRule()
    if isinstance(spec, CalibrationRule):
        return spec
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{where}: expected a mapping such as {{rule: quantile, q: 0.999}}, got {spec!r}"
        )
    rule = spec.get("rule", "mean_std")
    if rule not in RULES:
        raise ConfigError(f"{where}.rule={rule!r}: expected one of {', '.join(RULES)}")
    allowed = {"rule", "k"} if rule == "mean_std" else {"rule", "q"}
    unknown = sorted(set(spec) - allowed, key=repr)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for rule {rule!r}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    if rule == "quantile":
        q = _number(spec.get("q", DEFAULT_Q), f"{where}.q")
        if not 0.0 <= q <= 1.0:
            raise ConfigError(f"{where}.q={q!r}: expected a number in [0, 1]")
        return CalibrationRule("quantile", q=q)
    return CalibrationRule("mean_std", k=_number(spec.get("k", DEFAULT_K), f"{where}.k"))


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}={value!r}: expected a finite number")
    return float(value)


def calibration_threshold(maps: Sequence[Any], rule: CalibrationRule | None = None) -> float:
    """The SegF1 threshold from the pixels of all ``maps`` together.

    Parameters
    ----------
    maps : sequence of 2-D arrays (NumPy or torch)
        Validation anomaly maps; their pixels are pooled.
    rule : CalibrationRule, optional
        Default: mean + 3 std (population standard deviation); both rules compute in float64
        (the quantile with NumPy's default linear interpolation).

    Returns
    -------
    float

    Raises
    ------
    MetricInputError
        No map, no pixel, or a NaN/Inf pixel (naming the map).
    """
    from pyimgano.outputs import to_numpy

    rule = rule or CalibrationRule()
    arrays = [np.asarray(to_numpy(amap)).ravel() for amap in maps]
    if not arrays or not sum(a.size for a in arrays):
        raise MetricInputError(
            "calibration needs at least one validation map pixel; got none: give the maps of "
            "the validation/good images"
        )
    for index, array in enumerate(arrays):
        if not np.all(np.isfinite(array)):
            bad = int(array.size - np.count_nonzero(np.isfinite(array)))
            raise MetricInputError(
                f"validation map {index} holds {bad} NaN or Inf value(s); the threshold is "
                "calibrated on finite maps only: fix the model's output for that image"
            )
    if rule.rule == "quantile":
        pooled = np.concatenate([a.astype(np.float64, copy=False) for a in arrays])
        return float(np.quantile(pooled, rule.q))
    # mean and variance of the pooled pixels, map by map (Chan et al.'s pairwise update)
    count, mean, m2 = 0, 0.0, 0.0
    for array in arrays:
        if not array.size:
            continue
        values = array.astype(np.float64, copy=False)
        n = values.size
        part_mean = float(values.mean())
        part_m2 = float(np.square(values - part_mean).sum())
        delta = part_mean - mean
        total = count + n
        mean += delta * n / total
        m2 += part_m2 + delta * delta * count * n / total
        count = total
    return mean + rule.k * math.sqrt(m2 / count)


@dataclass(frozen=True)
class Calibration:
    """The calibrated threshold and how it was made (the report's ``calibration``)."""

    threshold: float
    rule: CalibrationRule
    n_images: int
    n_pixels: int

    def to_report(self) -> dict[str, Any]:
        """``{threshold, rule, k|q, n_images, n_pixels, split}``."""
        return {
            "threshold": self.threshold,
            **self.rule.as_dict(),
            "n_images": self.n_images,
            "n_pixels": self.n_pixels,
            "split": VALIDATION_SPLIT,
        }


def validation_images(root: Path, category: str) -> list[Path]:
    """The images of ``<root>/<category>/validation/good``, sorted by name.

    Raises :class:`DatasetError` naming the directory when it is missing or holds no image.
    """
    from pyimgano.datasets._files import list_images

    directory = Path(root) / category / VALIDATION_SPLIT
    if not directory.is_dir():
        raise DatasetError(
            f"mvtec_ad2 category {category!r}: no {VALIDATION_SPLIT} directory at {directory}; "
            "the seg_f1 threshold is calibrated on those images"
        )
    images = list_images(directory)
    if not images:
        raise DatasetError(
            f"mvtec_ad2 category {category!r}: {directory} holds no images; the seg_f1 "
            "threshold is calibrated on them"
        )
    return images


def infer_aligned(
    model: Any,
    paths: Sequence[Path],
    *,
    batch_size: int,
    progress: bool,
    desc: str,
    on_map: Callable[[int, Path, np.ndarray | None], None],
) -> None:
    """Infer ``paths`` with the evaluation's inference path; hand each map, aligned to its
    image's size and copied to the host, to ``on_map(index, path, map)`` as batches arrive
    (``map`` is ``None`` for an image the model gives no map for).
    """
    from pyimgano.alignment import align_maps
    from pyimgano.datasets.masks import image_size
    from pyimgano.inference import image_progress, run_inference
    from pyimgano.outputs import to_numpy

    def take(indices: Sequence[int], predictions: Sequence[Any]) -> None:
        with_map = [(i, p) for i, p in zip(indices, predictions, strict=True)
                    if p.anomaly_map is not None]
        for index, prediction in zip(indices, predictions, strict=True):
            if prediction.anomaly_map is None:
                on_map(index, paths[index], None)
        if not with_map:
            return
        aligned = align_maps(
            [p.anomaly_map for _, p in with_map],
            [image_size(paths[i]) for i, _ in with_map],
            images=[str(paths[i]) for i, _ in with_map],
        )
        for (index, _), amap in zip(with_map, aligned, strict=True):
            on_map(index, paths[index], to_numpy(amap))

    with image_progress(len(paths), progress, desc) as bar:
        run_inference(model, list(paths), batch_size=batch_size, on_batch=take,
                      advance=bar.update)


def calibrate(
    model: Any,
    root: Path,
    category: str,
    rule: CalibrationRule | None = None,
    *,
    batch_size: int = 16,
    progress: bool = False,
) -> Calibration | None:
    """Infer the category's ``validation/good`` images and calibrate the SegF1 threshold.

    ``None`` when the model gives no anomaly map (``seg_f1`` is then null, as every pixel
    metric). Raises :class:`DatasetError` without validation images.
    """
    rule = rule or CalibrationRule()
    paths = validation_images(root, category)
    maps: dict[int, np.ndarray | None] = {}
    infer_aligned(
        model,
        paths,
        batch_size=batch_size,
        progress=progress,
        desc=f"{category} {VALIDATION_SPLIT}",
        on_map=lambda index, _path, amap: maps.__setitem__(index, amap),
    )
    ordered = [maps[i] for i in range(len(paths))]
    if any(amap is None for amap in ordered):
        return None
    return Calibration(
        threshold=calibration_threshold(ordered, rule),
        rule=rule,
        n_images=len(ordered),
        n_pixels=int(sum(m.size for m in ordered)),
    )
