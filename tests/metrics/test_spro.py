"""AU-sPRO (MVTec LOCO AD) against a plain transcription of the paper's definition."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.errors import MetricInputError
from pyimgano.metrics import auspro

from ._reference import ref_trapezoid

TOL = 1e-12


def ref_auspro(maps, defects, limit, select=None):
    """Every distinct score of the swept pixels is a threshold (``score >= t``); FPR over all
    pixels of the good images; sPRO = mean over the (selected) defects of
    min(covered / saturation, 1) with saturation = min(given, area); (0, 0) and (1, 1) added;
    trapezoid to the limit, interpolated there, / limit."""
    good = [m for m, d in zip(maps, defects, strict=True) if not d]
    chosen = [
        (amap, mask != 0, min(float(sat), float(np.count_nonzero(mask))))
        for index, (amap, image_defects) in enumerate(zip(maps, defects, strict=True))
        for number, (mask, sat) in enumerate(image_defects)
        if select is None or select(index, number)
    ]
    swept = [m.ravel().astype(np.float64) for m in good]
    for amap, image_defects in zip(maps, defects, strict=True):
        if image_defects:
            union = np.logical_or.reduce([np.asarray(k) != 0 for k, _ in image_defects])
            swept.append(amap[union].astype(np.float64))
    thresholds = np.unique(np.concatenate(swept))[::-1]
    good_scores = np.concatenate([m.ravel().astype(np.float64) for m in good])
    fpr = [np.count_nonzero(good_scores >= t) / good_scores.size for t in thresholds]
    spro = [
        np.mean(
            [
                min(np.count_nonzero(amap[mask].astype(np.float64) >= t) / sat, 1.0)
                for amap, mask, sat in chosen
            ]
        )
        for t in thresholds
    ]
    x = np.concatenate(([0.0], fpr, [1.0]))
    y = np.concatenate(([0.0], spro, [1.0]))
    return ref_trapezoid(x, y, limit) / limit


def _case(seed, *, n_good=3, n_bad=4, shape=(9, 11), levels=None, dtype=np.float64):
    rng = np.random.default_rng(seed)
    maps, defects, groups = [], [], []
    for index in range(n_good + n_bad):
        amap = rng.standard_normal(shape)
        image_defects = []
        if index >= n_good:
            for _ in range(int(rng.integers(1, 4))):  # several masks per image
                mask = np.zeros(shape, dtype=np.uint8)
                y, x = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
                h, w = rng.integers(1, 5), rng.integers(1, 6)
                mask[y : y + h, x : x + w] = 255
                area = np.count_nonzero(mask)
                kind = rng.integers(0, 3)
                # saturated (below the area), unsaturated (area or above), fractional
                sat = [max(1, area // 3), area + 5, area * 0.37 + 0.2][kind]
                image_defects.append((mask, sat))
                amap = amap + 0.8 * (mask != 0) * rng.uniform(0.5, 2)
        if levels is not None:
            amap = np.round(amap * levels) / levels
        maps.append(amap.astype(dtype))
        defects.append(image_defects)
        groups.append(None if not image_defects else ("logical", "structural")[index % 2])
    return maps, defects, groups


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("levels", [None, 2, 10])
def test_matches_reference(seed, levels) -> None:
    maps, defects, groups = _case(seed, levels=levels)
    limits = (0.05, 0.3, 1.0)
    result = auspro(maps, defects, limits=limits, groups=groups)
    for limit in limits:
        key = f"auspro_{limit!r}"
        assert result.metrics[key] == pytest.approx(ref_auspro(maps, defects, limit), abs=TOL)
        for name in ("logical", "structural"):
            expected = ref_auspro(maps, defects, limit, select=lambda i, _n, g=name: groups[i] == g)
            assert result.by_group[name][key] == pytest.approx(expected, abs=TOL), name
    assert list(result.metrics) == ["auspro_0.05", "auspro_0.3", "auspro_1.0"]


@pytest.mark.parametrize("chunk_size", [1, 3, 17, 1 << 20])
def test_chunks_inside_tied_runs(chunk_size) -> None:
    maps, defects, groups = _case(3, levels=2, n_bad=5)
    expected = auspro(maps, defects, limits=(0.05, 0.5), groups=groups)
    chunked = auspro(maps, defects, limits=(0.05, 0.5), groups=groups, chunk_size=chunk_size)
    for limit in (0.05, 0.5):
        key = f"auspro_{limit!r}"
        assert chunked.metrics[key] == pytest.approx(expected.metrics[key], abs=TOL)
        assert chunked.metrics[key] == pytest.approx(ref_auspro(maps, defects, limit), abs=TOL)
        for name in expected.by_group:
            assert chunked.by_group[name][key] == pytest.approx(
                expected.by_group[name][key], abs=TOL
            )


def test_defect_covering_a_whole_image_and_overlaps() -> None:
    maps, defects, _ = _case(5)
    whole = np.ones(maps[-1].shape, dtype=bool)
    defects[-1] = [*defects[-1], (whole, 10.0), (whole, 1e9)]  # overlapping, one unsaturable
    for limit in (0.05, 0.3):
        result = auspro(maps, defects, limits=(limit,))
        assert result.metrics[f"auspro_{limit!r}"] == pytest.approx(
            ref_auspro(maps, defects, limit), abs=TOL
        )


def test_saturation_makes_a_partly_found_defect_count_fully() -> None:
    # One good image (4 pixels), one defect of 4 pixels of which only the top 2 beat every
    # good pixel. Saturated at 2 pixels the defect is fully found at FPR 0 (AU-sPRO 1);
    # unsaturated it is half found at FPR 0.
    good = np.array([[0.5, 0.4, 0.3, 0.2]])
    bad = np.array([[0.9, 0.8, 0.1, 0.0]])
    mask = np.array([[1, 1, 1, 1]])
    saturated = auspro([good, bad], [[], [(mask, 2)]], limits=(0.05,)).metrics["auspro_0.05"]
    plain = auspro([good, bad], [[], [(mask, 4)]], limits=(0.05,)).metrics["auspro_0.05"]
    assert saturated == pytest.approx(1.0, abs=TOL)
    # half found up to FPR 0.05: area 0.05 * 0.5 / 0.05
    assert plain == pytest.approx(0.5, abs=TOL)


def test_constant_maps() -> None:
    maps, defects, _ = _case(1)
    maps = [np.full(m.shape, 0.25) for m in maps]
    result = auspro(maps, defects, limits=(0.05,))
    # one threshold: (0,0) -> (1,1), so at 0.05 the area is 0.05 * 0.05 / 2, / 0.05 = 0.025
    assert result.metrics["auspro_0.05"] == pytest.approx(0.025, abs=TOL)
    assert result.metrics["auspro_0.05"] == pytest.approx(
        ref_auspro(maps, defects, 0.05), abs=TOL
    )


def test_float32_ties_are_not_merged_in_float64() -> None:
    maps, defects, _ = _case(2, dtype=np.float64)
    maps = [m + 1e-12 * (i % 2) for i, m in enumerate(maps)]
    result = auspro(maps, defects, limits=(0.3,))
    assert result.metrics["auspro_0.3"] == pytest.approx(ref_auspro(maps, defects, 0.3), abs=TOL)


def test_normal_pixels_of_anomalous_images_count_nowhere() -> None:
    maps, defects, _ = _case(4)
    before = auspro(maps, defects).metrics["auspro_0.05"]
    changed = []
    for amap, image_defects in zip(maps, defects, strict=True):
        if image_defects:
            union = np.logical_or.reduce([k != 0 for k, _ in image_defects])
            amap = np.where(union, amap, 100.0)  # far above every score, outside the defects
        changed.append(amap)
    # the same curve with repeated points: equal up to the rounding of the area sum
    assert auspro(changed, defects).metrics["auspro_0.05"] == pytest.approx(before, abs=TOL)


# --- definedness and errors -----------------------------------------------------------------


def test_undefined() -> None:
    maps, defects, groups = _case(0)
    no_good = auspro(maps[3:], defects[3:], groups=groups[3:])
    assert no_good.metrics == {"auspro_0.05": None}
    assert no_good.metrics.notes["auspro_0.05"].startswith("no good images")
    assert no_good.by_group["logical"]["auspro_0.05"] is None
    no_defects = auspro(maps[:3], defects[:3])
    assert no_defects.metrics.notes["auspro_0.05"].startswith("no defects")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.__setitem__(4, [(np.zeros((9, 11)), 3)]), r"defects\[4\]\[0\] has no defect"),
        (lambda d: d.__setitem__(4, [(np.ones((9, 10)), 3)]), r"defects\[4\]\[0\] has a mask of"),
        (lambda d: d.__setitem__(4, [(np.ones((9, 11)), 0)]), r"saturation 0; expected a positive"),
        (lambda d: d.__setitem__(4, [(np.ones((9, 11)), "x")]), r"saturation 'x'"),
        (lambda d: d.__setitem__(4, [np.ones((9, 11))]), r"not a \(mask, saturation\) pair"),
        (lambda d: d.pop(), r"maps has 7 images but defects has 6"),
    ],
)
def test_bad_defects(change, match) -> None:
    maps, defects, _ = _case(0)
    change(defects)
    with pytest.raises(MetricInputError, match=match):
        auspro(maps, defects)


def test_bad_groups_and_limits() -> None:
    maps, defects, groups = _case(0)
    with pytest.raises(MetricInputError, match=r"groups has 2 entries but maps has 7"):
        auspro(maps, defects, groups=groups[:2])
    groups[5] = None
    with pytest.raises(MetricInputError, match=r"groups\[5\] is None but image 5 has defects"):
        auspro(maps, defects, groups=groups)
    with pytest.raises(MetricInputError, match=r"limits\[0\] is 0"):
        auspro(maps, defects, limits=(0,))


# --- in the pixel metrics' sweep ----------------------------------------------------------


def _masks(defects, shape_of):
    out = []
    for image_defects, amap in zip(defects, shape_of, strict=True):
        union = np.zeros(amap.shape, dtype=bool)
        for mask, _ in image_defects:
            union |= mask != 0
        out.append(union)
    return out


@pytest.mark.parametrize("levels", [None, 3])
def test_same_sweep_as_the_pixel_metrics(levels) -> None:
    from pyimgano.metrics import evaluate_pixels, pixel_metrics

    maps, defects, groups = _case(8, levels=levels, dtype=np.float32)
    masks = _masks(defects, maps)
    evaluation = evaluate_pixels(
        maps, masks, defects=defects, defect_groups=groups, auspro_limits=(0.05, 0.3)
    )
    alone = auspro(maps, defects, limits=(0.05, 0.3), groups=groups)
    for key in ("auspro_0.05", "auspro_0.3"):
        assert evaluation.metrics[key] == pytest.approx(alone.metrics[key], abs=TOL)
        assert evaluation.metrics[key] == pytest.approx(
            ref_auspro(maps, defects, float(key.split("_")[1])), abs=TOL
        )
        for name in ("logical", "structural"):
            assert evaluation.spro.by_group[name][key] == pytest.approx(
                alone.by_group[name][key], abs=TOL
            )
    # cells instead of regions change nothing for the other metrics
    plain = pixel_metrics(maps, masks)
    for key, value in plain.items():
        if value is not None:
            assert evaluation.metrics[key] == pytest.approx(value, abs=TOL), key


def test_torch_path_gives_the_same_spro() -> None:
    torch = pytest.importorskip("torch")
    from pyimgano.metrics import evaluate_pixels

    maps, defects, groups = _case(9, dtype=np.float32)
    masks = _masks(defects, maps)
    host = evaluate_pixels(maps, masks, defects=defects, defect_groups=groups)
    on_torch = evaluate_pixels(
        [torch.from_numpy(m) for m in maps], masks, defects=defects, defect_groups=groups
    )
    assert on_torch.metrics["auspro_0.05"] == pytest.approx(host.metrics["auspro_0.05"], abs=TOL)
    assert on_torch.spro.by_group.keys() == host.spro.by_group.keys()


def test_defects_must_make_up_the_mask() -> None:
    from pyimgano.metrics import evaluate_pixels

    maps, defects, _ = _case(1)
    masks = _masks(defects, maps)
    masks[4] = masks[4].copy()
    masks[4][0, 0] = not masks[4][0, 0]
    with pytest.raises(MetricInputError, match=r"the defects of image 4 do not cover exactly"):
        evaluate_pixels(maps, masks, defects=defects)
