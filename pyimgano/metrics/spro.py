"""AU-sPRO: area under the saturated per-region overlap curve of MVTec LOCO AD.

The protocol metric of docs/REFERENCE.md §5.

Reference: P. Bergmann, K. Batzner, M. Fauser, D. Sattlegger, C. Steger, "Beyond Dents and
Scratches: Logical Constraints in Unsupervised Anomaly Detection and Localization", IJCV 130
(2022), and the official MVTec LOCO AD evaluation script. Definitions used here:

- *Defects*: each ground-truth mask file of an image is one defect (a *channel*; not its
  connected components), with a saturation area from the dataset's ``defects_config.json``:
  ``int(saturation_threshold * defect_area)`` for a relative threshold, else
  ``min(saturation_threshold, defect_area)``. The caller passes the area; this module uses
  ``min(saturation, area)`` in both cases (a saturation above the area would make the defect
  impossible to cover).
- At threshold ``t`` (a pixel is positive where ``score >= t``): sPRO is the mean over the
  defects of the evaluated images of ``min(covered_pixels / saturation, 1)``; FPR is the
  fraction of the evaluated images' *defect-free* pixels that are positive: every pixel of a
  good image and every pixel of an anomalous image that lies outside all of its defects (the
  official ``get_fp_tn_areas_per_image`` / ``get_fp_rates``).
- The curve runs from (0, 0) through one point per distinct score (ties collapsed; an exact
  sweep over every score, where the official script refines a sampled list of thresholds —
  ``score > t`` there, the same points) to (1, 1); AU-sPRO is its trapezoidal area up to the
  FPR limit, linearly interpolated at the limit, divided by the limit (as
  :func:`~pyimgano.metrics.aupro`).

Evaluated sets. Without groups: one curve over all images. With groups (MVTec LOCO's
``logical_anomalies`` / ``structural_anomalies``): one curve per group over its anomalous
images *together with every good image* (the official ``get_auc_spros_per_subdir`` with
``add_good_images=True``), and the overall value is the official ``mean``: the mean of the
groups' values. It is undefined (``None`` with a note) when only one group has defects: the
official script has no overall value then (it needs both types).

Every group and limit comes from one sort: :class:`SproAccumulator` is a consumer of the pixel
metrics' sweep (:func:`~pyimgano.metrics.evaluate_pixels` with ``defects``), whose labels are
then *cells* (the pixels of one 8-connected region that belong to the same defects), so AU-PRO
and AU-sPRO read the same sorted pixels. :func:`auspro` alone does that sort for itself, and so
does the torch path (on the host), so both paths share this one implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.metrics._curves import Block, ProArea
from pyimgano.metrics._pixels import CHUNK_SIZE, PooledPixels, float32_keys, pool_pixels
from pyimgano.metrics._sweep import group_ends, sweep
from pyimgano.metrics._validation import check_limit, check_maps_masks
from pyimgano.metrics.results import MetricResults, limit_key

__all__ = ["Defect", "SproResults", "auspro", "auspro_key"]

#: One defect of one image: its mask (non-zero pixels) and its saturation area in pixels.
Defect = tuple[Any, float]
DEFAULT_LIMITS = (0.05,)


def auspro_key(limit: float) -> str:
    """Metric name of AU-sPRO at a limit: ``auspro_`` + :func:`limit_key` (``auspro_0.05``)."""
    return f"auspro_{limit_key(limit)}"


@dataclass(frozen=True)
class SproResults:
    """AU-sPRO overall and per group.

    Attributes
    ----------
    metrics : MetricResults
        ``auspro_<limit>`` per limit: without groups over all images, with groups the mean of
        the groups' values.
    by_group : dict of str to MetricResults
        The same keys per group, over its anomalous images and every good image (groups in
        first-seen order).
    """

    metrics: MetricResults
    by_group: dict[str, MetricResults] = field(default_factory=dict)


def auspro(
    maps: Sequence[Any],
    defects: Sequence[Sequence[Defect]],
    *,
    limits: Sequence[float] = DEFAULT_LIMITS,
    groups: Sequence[str | None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> SproResults:
    """AU-sPRO of MVTec LOCO AD at one or more FPR limits, overall and per group.

    Parameters
    ----------
    maps : sequence of ndarray of shape (H_i, W_i)
        Anomaly maps, one per image; finite; used at their own precision.
    defects : sequence of sequences of (mask, saturation)
        Per image, its defects (empty for a good image): each ground-truth mask file is one
        defect, ``mask`` of the map's shape (non-zero = defect), ``saturation`` its saturation
        area in pixels (> 0; see the module docstring for how ``defects_config.json`` gives it).
    limits : sequence of float, default (0.05,)
        FPR limits, each in (0, 1]; key ``auspro_<limit>`` each.
    groups : sequence of str or None, optional
        Per image, the group its defects belong to (``"logical_anomalies"``...), ``None`` for
        good images; gives :attr:`SproResults.by_group` (each group's anomalous images with
        every good image) and makes the overall value the mean of the groups' values.
    chunk_size : int
        Pixels per sweep chunk (tests force small ones; the result does not depend on it).

    Returns
    -------
    SproResults

    Raises
    ------
    MetricInputError
        Bad maps (see :func:`~pyimgano.metrics.pixel_metrics`), a defect mask of another shape
        or without a defect pixel, a saturation that is not a positive finite number, a limit
        outside (0, 1], ``groups`` of the wrong length or without a name for an image with
        defects.

    Notes
    -----
    Undefined (``None`` with a note): without a good image, or without a defect (overall or in
    a group); overall, when ``groups`` name only one group with defects. Overlapping defects
    are allowed (a pixel then counts for each); a pixel is defect-free only outside all of its
    image's defects.

    Examples
    --------
    >>> amap = np.array([[0.9, 0.8, 0.1, 0.0]])
    >>> good = np.array([[0.5, 0.2, 0.1, 0.0]])
    >>> defect = (np.array([[1, 1, 0, 0]]), 1.0)  # saturates at one pixel
    >>> auspro([amap, good], [[defect], []]).metrics["auspro_0.05"]
    1.0
    """
    values = [float(check_limit(limit, name=f"limits[{i}]")) for i, limit in enumerate(limits)]
    limit_list = list(dict.fromkeys(values))
    if not limit_list:
        raise MetricInputError("limits is empty; expected at least one FPR limit in (0, 1]")
    defect_list = check_defects(maps, defects)
    unions = [defect_union(amap_shape, image_defects) for amap_shape, image_defects in defect_list]
    checked_maps, _ = check_maps_masks(maps, unions)
    group_names = check_groups(groups, defect_list)
    return compute_spro(checked_maps, defect_list, group_names, limit_list, chunk_size)


def check_defects(
    maps: Sequence[Any], defects: Sequence[Sequence[Defect]]
) -> list[tuple[tuple[int, ...], list[tuple[np.ndarray, float]]]]:
    """Per image ``(map shape, [(bool mask, saturation), ...])``; package-internal.

    Raises :class:`MetricInputError` for a defect list that does not match the maps.
    """
    try:
        map_list = list(maps)
        defect_lists = [list(image) for image in defects]
    except TypeError:
        raise MetricInputError(
            "maps must be a sequence of 2-D arrays and defects a sequence (one per image) of "
            "(mask, saturation) pairs"
        ) from None
    if len(map_list) != len(defect_lists):
        raise MetricInputError(
            f"maps has {len(map_list)} images but defects has {len(defect_lists)}; expected one "
            "list of defects per image (empty for a good image)"
        )
    out = []
    for index, (amap, image_defects) in enumerate(zip(map_list, defect_lists, strict=True)):
        shape = tuple(np.shape(amap))
        checked = []
        for number, defect in enumerate(image_defects):
            where = f"defects[{index}][{number}]"
            try:
                mask, saturation = defect
            except (TypeError, ValueError):
                raise MetricInputError(f"{where} is not a (mask, saturation) pair") from None
            mask = np.asarray(mask)
            if mask.shape != shape:
                raise MetricInputError(
                    f"{where} has a mask of shape {mask.shape}; expected the map's shape {shape}"
                )
            defect_mask = mask != 0
            area = int(np.count_nonzero(defect_mask))
            if area == 0:
                raise MetricInputError(f"{where} has no defect pixel; expected a non-empty mask")
            try:
                value = float(saturation)
            except (TypeError, ValueError):
                value = float("nan")
            if isinstance(saturation, bool) or not (np.isfinite(value) and value > 0):
                raise MetricInputError(
                    f"{where} has saturation {saturation!r}; expected a positive number of pixels"
                )
            checked.append((defect_mask, min(value, float(area))))
        out.append((shape, checked))
    return out


def defect_union(
    shape: tuple[int, ...], image_defects: list[tuple[np.ndarray, float]]
) -> np.ndarray:
    """The pixels of an image that belong to any of its defects (bool, ``shape``)."""
    union = np.zeros(shape, dtype=bool)
    for mask, _ in image_defects:
        union |= mask
    return union


def check_groups(groups: Sequence[str | None] | None, defects: list) -> list[str | None] | None:
    """The defect group names, one per image (a name wherever an image has defects)."""
    if groups is None:
        return None
    names = list(groups)
    if len(names) != len(defects):
        raise MetricInputError(
            f"groups has {len(names)} entries but maps has {len(defects)}; expected one per image"
        )
    for index, (name, (_, image_defects)) in enumerate(zip(names, defects, strict=True)):
        if image_defects and not (isinstance(name, str) and name):
            raise MetricInputError(
                f"groups[{index}] is {name!r} but image {index} has defects; expected a group name"
            )
    return names


def compute_spro(
    maps: list[np.ndarray],
    defects: list[tuple[tuple[int, ...], list[tuple[np.ndarray, float]]]],
    groups: list[str | None] | None,
    limits: list[float],
    chunk_size: int,
) -> SproResults:
    """AU-sPRO of checked input (:func:`check_defects`, :func:`check_groups`), its own sort."""
    unions = [defect_union(shape, image_defects) for shape, image_defects in defects]
    masks_of = [[mask for mask, _ in image_defects] for _, image_defects in defects]
    accumulator = SproAccumulator.prepare(defects, groups, limits)
    if isinstance(accumulator, SproResults):
        return accumulator
    pooled = pool_pixels(maps, unions, defects=masks_of)
    accumulator.bind(pooled, maps)
    sweep(
        pooled.chunks(chunk_size),
        [],
        first_defect=pooled.first_defect,
        pixel_consumers=[accumulator],
    )
    return accumulator.result()


class SproAccumulator:
    """AU-sPRO as a pixel consumer of the shared sweep (:func:`~pyimgano.metrics._sweep.sweep`).

    One curve per *evaluated set*: all images when there are no groups, else per group its
    anomalous images together with every good image. The pooled labels must be *cells*
    (``pool_pixels(..., defects=...)``): every label from ``first_defect`` on lists the defects
    its pixels belong to. Per chunk and set:

    - FP: the set's defect-free pixels at or above each threshold — the good images' pixels
      (labels ``1 .. n_good``) plus its anomalous images' pixels outside all of their defects.
      The latter are label 0 for every anomalous image alike, so with two or more groups each
      set counts its own from a sorted copy of those pixels' scores (:meth:`bind`), and only
      up to the first point where the good images' false positives alone pass the largest
      limit (every area is done there; extra memory: one score per such pixel).
    - sPRO: each (pixel, defect) pair of the defect pixels gets its saturated weight
      ``(min(k, s) - min(k - 1, s)) / s``, where ``k`` is the pixel's rank in its defect in
      sweep order and ``s`` the saturation area, so the running sum at each distinct score is
      ``sum_d min(covered_d, s_d) / s_d`` over the set's defects.
    """

    def __init__(
        self,
        defects: list[tuple[tuple[int, ...], list[tuple[np.ndarray, float]]]],
        image_group: np.ndarray,
        saturation: np.ndarray,
        defect_group: np.ndarray,
        group_names: list[str],
        limits: list[float],
    ) -> None:
        self._defects = defects
        self._image_group = image_group
        self._saturation = saturation
        self._defect_group = defect_group
        self._group_names = group_names
        self._limits = limits
        self._max_limit = max(limits)
        self._n_defects = saturation.size
        self._covered = np.zeros(self._n_defects, dtype=np.int64)
        # the evaluated sets: None = every image and defect, else a group index
        self._sets: list[int | None] = list(range(len(group_names))) or [None]
        n_sets = len(self._sets)
        self._totals = np.zeros(n_sets, dtype=np.float64)
        self._last_fp = [0] * n_sets
        self._areas: list[list[ProArea]] = []
        self._sorted_other: list[np.ndarray] | None = None
        self._good_seen = 0
        self._other_seen = 0
        self._first_defect = 1
        self._lengths = np.zeros(0, dtype=np.int64)
        self._pointers = np.zeros(1, dtype=np.int64)
        self._flat = np.zeros(0, dtype=np.int64)

    @classmethod
    def prepare(
        cls,
        defects: list[tuple[tuple[int, ...], list[tuple[np.ndarray, float]]]],
        groups: list[str | None] | None,
        limits: list[float],
    ) -> SproAccumulator | SproResults:
        """The accumulator, or the undefined results when no image is good or none has defects."""
        keys = [auspro_key(limit) for limit in limits]
        group_order: list[str] = []
        if groups is not None:
            named = (g for g, (_, d) in zip(groups, defects, strict=True) if d and g is not None)
            group_order = list(dict.fromkeys(named))
        saturation: list[float] = []
        defect_group: list[int] = []
        image_group = np.full(len(defects), -1, dtype=np.int64)  # -1: a good image
        for index, (_, image_defects) in enumerate(defects):
            if not image_defects:
                continue
            group = group_order.index(groups[index]) if groups else 0  # type: ignore[arg-type]
            image_group[index] = group
            for _, sat in image_defects:
                saturation.append(sat)
                defect_group.append(group)
        has_good = any(not image_defects for _, image_defects in defects)
        if not has_good or not saturation:
            reason = (
                "no good images (AU-sPRO's FPR is measured on the good images together with "
                "the defect-free pixels of the anomalous ones, as the MVTec LOCO evaluation)"
                if not has_good
                else "no defects (no image has a ground-truth defect)"
            )
            results = MetricResults()
            results.set_undefined(keys, reason)
            by_group = {name: MetricResults() for name in group_order}
            for group_results in by_group.values():
                group_results.set_undefined(keys, reason)
            return SproResults(results, by_group)
        return cls(
            defects,
            image_group,
            np.asarray(saturation, dtype=np.float64),
            np.asarray(defect_group, dtype=np.int64),
            group_order,
            limits,
        )

    def bind(self, pooled: PooledPixels, maps: Sequence[np.ndarray]) -> None:
        """Read the label tables of the pooled pixels (pooled with ``defects``) of ``maps``.

        With two or more sets, also sorts, per set, the scores of its anomalous images' pixels
        outside all of their defects, in the sweep's score domain (the float32 keys on the
        packed path, the pooled dtype otherwise), to count them at each threshold.
        """
        assert pooled.label_defects is not None, "pool the pixels with defects= for AU-sPRO"
        self._first_defect = pooled.first_defect
        cells = pooled.label_defects
        self._lengths = np.array([c.size for c in cells], dtype=np.int64)
        self._pointers = np.concatenate(([0], np.cumsum(self._lengths)))
        self._flat = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
        n_good_pixels = int(pooled.image_sizes[self._image_group < 0].sum())
        outside: list[list[np.ndarray]] = [[] for _ in self._sets]
        n_outside = [0] * len(self._sets)
        for index, (shape, image_defects) in enumerate(self._defects):
            group = int(self._image_group[index])
            if group < 0:
                continue
            position = 0 if self._sets == [None] else group
            union = defect_union(shape, image_defects)
            n_outside[position] += union.size - int(np.count_nonzero(union))
            if len(self._sets) > 1:
                values = np.asarray(maps[index])[~union]
                if pooled.packed:
                    outside[position].append(float32_keys(values))
                else:
                    outside[position].append(values.astype(pooled.values_dtype, copy=False))
        if len(self._sets) > 1:
            self._sorted_other = [
                np.sort(np.concatenate(parts)) if parts else np.zeros(0) for parts in outside
            ]
        self._areas = [
            [ProArea(n_good_pixels + n_outside[position], size, limit) for limit in self._limits]
            for position, size in enumerate(self._set_sizes())
        ]

    def _set_sizes(self) -> list[int]:
        return [
            self._n_defects if g is None else int(np.count_nonzero(self._defect_group == g))
            for g in self._sets
        ]

    @property
    def done(self) -> bool:
        return bool(self._areas) and all(area.done for row in self._areas for area in row)

    def update_pixels(self, scores: np.ndarray, ids: np.ndarray, next_score: object) -> None:
        ends = group_ends(scores, next_score)
        first_defect = self._first_defect
        running_good = np.cumsum((ids != 0) & (ids < first_defect), dtype=np.int64)
        fp_good = running_good[ends] + self._good_seen
        fp_other = running_other = None
        if self._sorted_other is None:  # one set: every anomalous image's defect-free pixels
            running_other = np.cumsum(ids == 0, dtype=np.int64)
            fp_other = running_other[ends] + self._other_seen
        thresholds = scores[ends]
        positive = np.flatnonzero(ids >= first_defect)
        cells = ids[positive].astype(np.int64) - first_defect
        counts = self._lengths[cells]
        pair_pixel = np.repeat(positive, counts)
        starts = np.repeat(self._pointers[cells], counts)
        within = np.arange(pair_pixel.size) - np.repeat(np.cumsum(counts) - counts, counts)
        pair_defect = self._flat[starts + within]
        # the rank of each pair within its defect, in sweep order
        by_defect = np.argsort(pair_defect, kind="stable")
        sorted_defects = pair_defect[by_defect]
        first_of_run = np.flatnonzero(np.r_[True, sorted_defects[1:] != sorted_defects[:-1]])
        run_start = np.repeat(first_of_run, np.diff(np.r_[first_of_run, sorted_defects.size]))
        rank = np.empty(pair_defect.size, dtype=np.int64)
        rank[by_defect] = np.arange(sorted_defects.size) - run_start + 1
        rank += self._covered[pair_defect]
        saturation = self._saturation[pair_defect]
        weight = (np.minimum(rank, saturation) - np.minimum(rank - 1, saturation)) / saturation
        self._covered += np.bincount(pair_defect, minlength=self._n_defects)
        last_pair = np.searchsorted(pair_pixel, ends, side="right") - 1
        for index, group in enumerate(self._sets):
            row = self._areas[index]
            if all(area.done for area in row):
                continue
            if group is None:
                chosen = weight
            else:
                chosen = weight * (self._defect_group[pair_defect] == group)
            running = np.concatenate(([0.0], np.cumsum(chosen)))
            if ends.size:
                if self._sorted_other is None:
                    assert fp_other is not None
                    fp = fp_good + fp_other
                    points = ends.size
                else:
                    # Only up to the first point whose good-image false positives alone pass
                    # the largest limit: the curve is past every limit there.
                    points = min(ends.size, 1 + int(np.searchsorted(
                        fp_good, self._max_limit * row[0].n_neg, side="right"
                    )))
                    other = self._sorted_other[index]
                    below = np.searchsorted(other, thresholds[:points], side="left")
                    fp = fp_good[:points] + (other.size - below)
                pro = running[last_pair[:points] + 1] + self._totals[index]
                block = Block(fp=fp, tp=np.zeros_like(fp), pro=pro, prev_fp=self._last_fp[index])
                for area in row:
                    area.update(block)
                self._last_fp[index] = int(fp[-1])
            self._totals[index] += running[-1]
        self._good_seen += int(running_good[-1])
        if running_other is not None:
            self._other_seen += int(running_other[-1])

    def result(self) -> SproResults:
        keys = [auspro_key(limit) for limit in self._limits]
        for row in self._areas:
            for area in row:
                area.finish()
        values = [[area.compute() for area in row] for row in self._areas]
        results = MetricResults()
        if self._sets == [None]:
            for key, value in zip(keys, values[0], strict=True):
                results.set(key, value)
            return SproResults(results, {})
        by_group = {name: MetricResults() for name in self._group_names}
        for name, row in zip(self._group_names, values, strict=True):
            for key, value in zip(keys, row, strict=True):
                by_group[name].set(key, value)
        if len(self._group_names) < 2:
            results.set_undefined(
                keys,
                "the overall AU-sPRO is the mean of the defect groups' values (MVTec LOCO: "
                "logical_anomalies and structural_anomalies) and needs two groups; only "
                f"{self._group_names[0]!r} has defects here (its value is reported per group)",
            )
        else:
            for position, key in enumerate(keys):
                column = [row[position] for row in values]
                results.set(key, sum(column) / len(column))
        return SproResults(results, by_group)
