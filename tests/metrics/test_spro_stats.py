"""AU-sPRO for the paired bootstrap (:mod:`pyimgano.metrics.spro_stats`) against the slow
reference of the official MVTec LOCO AD evaluation written in ``tests.metrics._reference``
(each mask one defect, saturation clipped per defect, FPR over every defect-free pixel, per
type with every good image, the mean of the two types)."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.comparison import Bound, compare_models, metrics_ci
from pyimgano.errors import ConfigError, MetricInputError
from pyimgano.metrics import auspro, paired_bootstrap
from pyimgano.metrics.spro_stats import auspro_bootstrap_metric, spro_statistics
from tests.metrics._reference import ref_auspro_loco

TOL = 1e-12
TYPES = ("logical_anomalies", "structural_anomalies")


def _loco_case(seed: int, levels: int | None, n: int = 12, size: int = 20, strength=1.5):
    """Every third image good; the others one or two defects of a type, saturation a
    fraction or a pixel count; ``levels``: few distinct scores (each its own bin)."""
    rng = np.random.default_rng(seed)
    maps, defects, groups = [], [], []
    for i in range(n):
        image = []
        signal = np.zeros((size, size))
        if i % 3:
            for k in range(1 + i % 2):
                mask = np.zeros((size, size), np.uint8)
                r, c = rng.integers(0, size - 6, size=2)
                mask[r : r + 5, c : c + 4 + k] = 1
                image.append((mask, 6.0 if k else 0.5 * mask.sum()))
                signal += mask
        noise = rng.standard_normal((size, size)) + strength * signal
        maps.append((np.round(noise * levels / 4) if levels else noise).astype(np.float32))
        defects.append(image)
        groups.append(None if not image else TYPES[i % 2])
    labels = np.array([int(bool(d)) for d in defects])
    return maps, defects, groups, labels


def _channels(defects):
    return [[(np.asarray(m) != 0, min(s, float(np.count_nonzero(m)))) for m, s in image]
            for image in defects]


@pytest.mark.parametrize("limit", [0.05, 0.3])
def test_auspro_statistics_equal_the_official_definition_on_a_grid_that_resolves_every_score(
    limit,
):
    maps, defects, groups, labels = _loco_case(0, levels=10)
    stats = spro_statistics(maps, defects, groups=groups)
    metric = auspro_bootstrap_metric(limit)
    expected = ref_auspro_loco(maps, _channels(defects), groups, limit)["mean"]
    assert metric.value(labels, stats) == pytest.approx(expected, abs=TOL)
    key = f"auspro_{limit!r}"
    assert auspro(maps, defects, limits=[limit], groups=groups).metrics[key] == pytest.approx(
        expected, abs=1e-9)
    rng = np.random.default_rng(1)
    good, bad = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    rows = [np.bincount(np.r_[rng.choice(good, good.size), rng.choice(bad, bad.size)],
                        minlength=labels.size) for _ in range(6)]
    got = metric.resampled(labels, stats, np.array(rows))
    for row, value in zip(rows, got, strict=True):
        pick = np.repeat(np.arange(labels.size), row)
        sub_groups = [groups[i] for i in pick]
        if len({g for g in sub_groups if g}) < 2:
            assert np.isnan(value)  # one type only: no official mean
            continue
        expected = ref_auspro_loco([maps[i] for i in pick], _channels([defects[i] for i in pick]),
                                   sub_groups, limit)["mean"]
        assert value == pytest.approx(expected, abs=TOL)


def test_auspro_statistics_on_continuous_maps_are_within_the_grid_error():
    maps, defects, groups, labels = _loco_case(2, levels=None, n=15, size=64)
    stats = spro_statistics(maps, defects, groups=groups)
    exact = auspro(maps, defects, limits=[0.05], groups=groups).metrics["auspro_0.05"]
    assert auspro_bootstrap_metric(0.05).value(labels, stats) == pytest.approx(exact, abs=2e-3)


@pytest.mark.parametrize("worse", [True, False])
def test_compare_models_auspro_fails_a_worse_candidate_and_passes_an_equal_one(worse):
    maps, defects, groups, labels = _loco_case(3, levels=None, n=30, size=32, strength=3.0)
    rng = np.random.default_rng(4)
    cand = ([m * 0.1 + rng.standard_normal(m.shape).astype(np.float32) for m in maps] if worse
            else [m + np.float32(0.5) for m in maps])
    exact = tuple(auspro(x, defects, limits=[0.05], groups=groups).metrics["auspro_0.05"]
                  for x in (cand, maps))
    spro = {"candidate": spro_statistics(cand, defects, groups=groups),
            "baseline": spro_statistics(maps, defects, groups=groups)}
    scores = np.array([m.max() for m in maps], np.float64)
    entry = compare_models(labels, scores, scores, {"auspro_0.05": Bound(0.01)},
                           pixel={"spro": spro, "exact": {"auspro_0.05": exact}})["auspro_0.05"]
    assert (entry["candidate"], entry["baseline"]) == exact
    expected = paired_bootstrap(labels, auspro_bootstrap_metric(0.05), spro["baseline"],
                                spro["candidate"], exact=exact[::-1], max_drop=0.01)
    assert entry == pytest.approx(expected.as_dict(), abs=TOL)
    assert entry["passed"] is (not worse), entry
    ci = metrics_ci(labels, scores, {"auspro_0.05": exact[1]}, level=0.9,
                    pixel={"spro": spro["baseline"]})["auspro_0.05"]
    assert ci[0] <= exact[1] <= ci[1]


def test_auspro_without_statistics_is_named_and_bad_defects_refused():
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ConfigError, match="auspro_0.05: .* needs per-image sPRO statistics"):
        compare_models(labels, scores, scores, {"auspro_0.05": Bound(0.01)})
    with pytest.raises(MetricInputError, match="defects has 1"):
        spro_statistics([np.zeros((2, 2)), np.zeros((2, 2))], [[]])
