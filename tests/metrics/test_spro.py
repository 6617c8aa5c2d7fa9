"""AU-sPRO (MVTec LOCO AD) against the official evaluation's definition.

The reference (``_reference.ref_auspro_loco`` and friends) is a slow, threshold-by-threshold
transcription of the official MVTec LOCO AD evaluation: FPR over the defect-free pixels of every
evaluated image (the good images and the anomalous images' pixels outside all of their mask
channels), per type its anomalous images with every good image, the overall value the mean of
the two types. Each case also checks that the former rule (FPR on the good images alone) gives
another number there, so the case can tell the rules apart.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyimgano.errors import MetricInputError
from pyimgano.metrics import auspro

from ._reference import ref_auspro_loco, ref_auspro_of, ref_saturation_area

TOL = 1e-12
TYPES = ("logical_anomalies", "structural_anomalies")
# (saturation_threshold, relative_saturation) as in defects_config.json
CONFIGS = ((0.5, True), (0.37, True), (1.0, True), (3, False), (1000, False))


def _channels(defects):
    """The reference's view of ``auspro`` defects: per image (bool mask, saturation area)."""
    return [[(np.asarray(mask) != 0, sat) for mask, sat in image] for image in defects]


def _case(seed, *, n_good=3, n_bad=5, shape=(9, 11), levels=None, dtype=np.float64):
    """Random maps; anomalous images with 1-3 (often overlapping) rectangular channels whose
    saturation follows a random relative or absolute config; types alternate."""
    rng = np.random.default_rng(seed)
    maps, defects, types = [], [], []
    for index in range(n_good + n_bad):
        amap = rng.standard_normal(shape)
        image_defects = []
        if index >= n_good:
            for _ in range(int(rng.integers(1, 4))):  # several masks per image, may overlap
                mask = np.zeros(shape, dtype=np.uint8)
                y, x = rng.integers(0, shape[0] - 2), rng.integers(0, shape[1] - 2)
                h, w = rng.integers(1, 5), rng.integers(1, 6)
                mask[y : y + h, x : x + w] = 255
                area = int(np.count_nonzero(mask))
                threshold, relative = CONFIGS[int(rng.integers(0, len(CONFIGS)))]
                if relative and int(threshold * area) < 1:
                    threshold, relative = 1, False  # no real config saturates at 0 pixels
                image_defects.append((mask, ref_saturation_area(area, threshold, relative)))
                amap = amap + 0.8 * (mask != 0) * rng.uniform(0.5, 2)
        if levels is not None:
            amap = np.round(amap * levels) / levels
        maps.append(amap.astype(dtype))
        defects.append(image_defects)
        types.append(None if not image_defects else TYPES[index % 2])
    return maps, defects, types


def _assert_official(result, maps, defects, types, limits, *, tol=TOL):
    """``result`` per type and overall equals the reference, which the old rule does not."""
    channels = _channels(defects)
    for limit in limits:
        key = f"auspro_{limit!r}"
        expected = ref_auspro_loco(maps, channels, types, limit)
        old = ref_auspro_loco(maps, channels, types, limit, fpr_rule="good_only")
        assert result.metrics[key] == pytest.approx(expected["mean"], abs=tol), key
        for name in TYPES:
            assert result.by_group[name][key] == pytest.approx(expected[name], abs=tol), name
        if limit < 1.0:  # at limit 1 both rules integrate the whole curve to similar numbers
            assert abs(expected["mean"] - old["mean"]) > 1e-6, "the case cannot tell the rules"


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("levels", [None, 2, 10])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_the_official_definition(seed, levels, dtype) -> None:
    # float64 random maps take the argsort path, float32 and coarse levels the packed one
    maps, defects, types = _case(seed, levels=levels, dtype=dtype)
    limits = (0.05, 0.3, 1.0)
    result = auspro(maps, defects, limits=limits, groups=types)
    _assert_official(result, maps, defects, types, limits)
    assert list(result.metrics) == ["auspro_0.05", "auspro_0.3", "auspro_1.0"]
    assert list(result.by_group) == [types[3], types[4]]  # first-seen order


def test_by_hand_where_the_fpr_rules_differ() -> None:
    # 1 x 4 images. Good: 4 defect-free pixels. Logical: channel A = pixel 0 (relative 1.0 ->
    # 1 pixel); its defect-free pixel 1 scores 0.8, above A. Structural: overlapping channels
    # B = pixels 0-1 (relative 0.5 -> int(1.0) = 1 pixel) and C = pixels 1-2 (absolute 5 ->
    # min(5, 2) = 2 pixels); its defect-free pixel 3 scores 0.05.
    good = np.array([[0.1, 0.2, 0.3, 0.4]])
    logical = np.array([[0.7, 0.8, 0.1, 0.0]])
    structural = np.array([[0.6, 0.35, 0.5, 0.05]])
    a, b, c = (np.array([row]) for row in ([1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0]))
    maps = [good, logical, structural]
    defects = [[], [(a, ref_saturation_area(1, 1.0, True))],
               [(b, ref_saturation_area(2, 0.5, True)), (c, ref_saturation_area(2, 5, False))]]
    types = [None, TYPES[0], TYPES[1]]
    # Logical (7 defect-free pixels): (0, 0) -> (1/7, 0) at 0.8 -> (1/7, 1) at 0.7 -> (2/7, 1)
    # at 0.4 -> (3/7, 1): area to 0.3 is 0.3 - 1/7, / 0.3 = 11/21.
    # Structural (5 defect-free pixels): (0, 1/2) at 0.6 (B full), (0, 3/4) at 0.5 (C half),
    # (1/5, 3/4) at 0.4, (1/5, 1) at 0.35, (2/5, 1) at 0.3: (0.2 * 3/4 + 0.1) / 0.3 = 5/6.
    # Good-images-only FPR instead: logical 1 (A found before any good pixel), structural
    # (0.25 * 3/4 + 0.05) / 0.3 = 19/24.
    result = auspro(maps, defects, limits=(0.3,), groups=types)
    assert result.by_group[TYPES[0]]["auspro_0.3"] == pytest.approx(11 / 21, abs=TOL)
    assert result.by_group[TYPES[1]]["auspro_0.3"] == pytest.approx(5 / 6, abs=TOL)
    assert result.metrics["auspro_0.3"] == pytest.approx(0.5 * (11 / 21 + 5 / 6), abs=TOL)
    channels = _channels(defects)
    expected = ref_auspro_loco(maps, channels, types, 0.3)
    assert expected == pytest.approx({TYPES[0]: 11 / 21, TYPES[1]: 5 / 6,
                                      "mean": 0.5 * (11 / 21 + 5 / 6)}, abs=TOL)
    old = ref_auspro_loco(maps, channels, types, 0.3, fpr_rule="good_only")
    assert old == pytest.approx({TYPES[0]: 1.0, TYPES[1]: 19 / 24,
                                 "mean": 0.5 * (1.0 + 19 / 24)}, abs=TOL)


def test_defect_free_pixels_of_anomalous_images_raise_the_fpr() -> None:
    # Lifting the anomalous images' pixels outside their channels above every other score
    # makes them the first false positives: the value drops, as the reference says.
    maps, defects, types = _case(4)
    before = auspro(maps, defects, groups=types).metrics["auspro_0.05"]
    lifted = []
    for amap, image_defects in zip(maps, defects, strict=True):
        if image_defects:
            union = np.logical_or.reduce([k != 0 for k, _ in image_defects])
            amap = np.where(union, amap, 100.0)
        lifted.append(amap)
    result = auspro(lifted, defects, groups=types)
    assert result.metrics["auspro_0.05"] < before - 0.1
    _assert_official(result, lifted, defects, types, (0.05,))


def test_adversarial_one_type_has_hot_backgrounds() -> None:
    # Only the structural images have hot defect-free pixels: the logical value keeps the
    # structural images' pixels out of its FPR (each type is evaluated with its own images).
    maps, defects, types = _case(6, n_bad=6)
    for index, (amap, image_defects) in enumerate(zip(maps, defects, strict=True)):
        if types[index] == TYPES[1]:
            union = np.logical_or.reduce([k != 0 for k, _ in image_defects])
            maps[index] = np.where(union, amap, amap + 3.0)
    result = auspro(maps, defects, limits=(0.05, 0.2), groups=types)
    _assert_official(result, maps, defects, types, (0.05, 0.2))
    only_logical = [i for i, t in enumerate(types) if t != TYPES[1]]
    alone = auspro([maps[i] for i in only_logical], [defects[i] for i in only_logical])
    assert result.by_group[TYPES[0]]["auspro_0.05"] == pytest.approx(
        alone.metrics["auspro_0.05"], abs=TOL
    )


@pytest.mark.parametrize("chunk_size", [1, 3, 17, 1 << 20])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunks_inside_tied_runs(chunk_size, dtype) -> None:
    maps, defects, types = _case(3, levels=2, n_bad=5, dtype=dtype)
    maps = [m + (1e-9 if dtype == np.float64 else 0) * i for i, m in enumerate(maps)]
    limits = (0.05, 0.5)
    chunked = auspro(maps, defects, limits=limits, groups=types, chunk_size=chunk_size)
    _assert_official(chunked, maps, defects, types, limits)


def test_without_groups_one_curve_over_every_image() -> None:
    # No groups: one evaluated set of all images (the official get_auc_spros_for_metrics on
    # the whole category), FPR over every defect-free pixel.
    maps, defects, _ = _case(7)
    channels = _channels(defects)
    result = auspro(maps, defects, limits=(0.05, 0.3))
    assert result.by_group == {}
    for limit in (0.05, 0.3):
        expected = ref_auspro_of(maps, channels, limit)
        assert result.metrics[f"auspro_{limit!r}"] == pytest.approx(expected, abs=TOL)
        assert abs(expected - ref_auspro_of(maps, channels, limit, "good_only")) > 1e-6


def test_one_type_only_has_no_overall_value() -> None:
    # The official overall value is the mean of the two types; with one type there is none
    # (the official script fails there). The type's own value is still given.
    maps, defects, types = _case(2)
    keep = [i for i, t in enumerate(types) if t != TYPES[1]]
    maps, defects, types = [maps[i] for i in keep], [defects[i] for i in keep], [
        types[i] for i in keep
    ]
    result = auspro(maps, defects, limits=(0.05,), groups=types)
    assert result.metrics == {"auspro_0.05": None}
    assert "mean of the defect groups" in result.metrics.notes["auspro_0.05"]
    assert "'logical_anomalies'" in result.metrics.notes["auspro_0.05"]
    assert list(result.by_group) == [TYPES[0]]
    assert result.by_group[TYPES[0]]["auspro_0.05"] == pytest.approx(
        ref_auspro_of(maps, _channels(defects), 0.05), abs=TOL
    )


def test_defect_covering_a_whole_image_and_overlaps() -> None:
    maps, defects, types = _case(5)
    whole = np.ones(maps[-1].shape, dtype=bool)
    # overlapping channels; the image keeps no defect-free pixel. A saturation above the
    # area is capped at it (the official absolute rule, min(threshold, area)).
    given = [*defects[-1], (whole, 10.0), (whole, 1e9)]
    defects[-1] = [*defects[-1], (whole, 10.0), (whole, float(whole.size))]
    limits = (0.05, 0.3)
    result = auspro(maps, [*defects[:-1], given], limits=limits, groups=types)
    _assert_official(result, maps, defects, types, limits)
    for limit in limits:
        assert auspro(maps, [*defects[:-1], given], limits=(limit,)).metrics[
            f"auspro_{limit!r}"
        ] == pytest.approx(ref_auspro_of(maps, _channels(defects), limit), abs=TOL)


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
    maps, defects, types = _case(1)
    maps = [np.full(m.shape, 0.25) for m in maps]
    result = auspro(maps, defects, limits=(0.05,), groups=types)
    # one threshold: (0,0) -> (1,1), so at 0.05 the area is 0.05 * 0.05 / 2, / 0.05 = 0.025
    assert result.metrics["auspro_0.05"] == pytest.approx(0.025, abs=TOL)
    assert result.by_group[TYPES[0]]["auspro_0.05"] == pytest.approx(0.025, abs=TOL)


def test_float32_ties_are_not_merged_in_float64() -> None:
    maps, defects, types = _case(2, dtype=np.float64)
    maps = [m + 1e-12 * (i % 2) for i, m in enumerate(maps)]
    result = auspro(maps, defects, limits=(0.3,), groups=types)
    _assert_official(result, maps, defects, types, (0.3,))


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_small_cases_with_ties_match_the_official_definition(data) -> None:
    # Tiny images with few score levels (many ties, between and across images), one to three
    # possibly overlapping or image-filling channels, and both types, under several limits.
    shape = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    levels = data.draw(st.integers(1, 5))
    n_good = data.draw(st.integers(1, 2))
    maps, defects, types = [], [], []
    for index in range(n_good + 2 * data.draw(st.integers(1, 2))):
        values = data.draw(st.lists(st.integers(0, levels), min_size=shape[0] * shape[1],
                                    max_size=shape[0] * shape[1]))
        maps.append(np.array(values, dtype=np.float64).reshape(shape) / levels)
        image_defects = []
        if index >= n_good:
            for _ in range(data.draw(st.integers(1, 3))):
                flat = data.draw(st.lists(st.booleans(), min_size=maps[-1].size,
                                          max_size=maps[-1].size).filter(any))
                mask = np.array(flat).reshape(shape)
                threshold, relative = data.draw(st.sampled_from(CONFIGS))
                if relative and int(threshold * mask.sum()) < 1:
                    threshold, relative = 1, False
                image_defects.append((mask, ref_saturation_area(int(mask.sum()), threshold,
                                                                relative)))
        defects.append(image_defects)
        types.append(None if index < n_good else TYPES[index % 2])
    limits = (0.05, 0.3, 1.0)
    result = auspro(maps, defects, limits=limits, groups=types)
    channels = _channels(defects)
    for limit in limits:
        expected = ref_auspro_loco(maps, channels, types, limit)
        key = f"auspro_{limit!r}"
        assert result.metrics[key] == pytest.approx(expected["mean"], abs=TOL)
        for name in TYPES:
            assert result.by_group[name][key] == pytest.approx(expected[name], abs=TOL)


# --- definedness and errors -----------------------------------------------------------------


def test_undefined() -> None:
    maps, defects, groups = _case(0)
    no_good = auspro(maps[3:], defects[3:], groups=groups[3:])
    assert no_good.metrics == {"auspro_0.05": None}
    assert no_good.metrics.notes["auspro_0.05"].startswith("no good images")
    assert no_good.by_group[TYPES[0]]["auspro_0.05"] is None
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
        (lambda d: d.pop(), r"maps has 8 images but defects has 7"),
    ],
)
def test_bad_defects(change, match) -> None:
    maps, defects, _ = _case(0)
    change(defects)
    with pytest.raises(MetricInputError, match=match):
        auspro(maps, defects)


def test_bad_groups_and_limits() -> None:
    maps, defects, groups = _case(0)
    with pytest.raises(MetricInputError, match=r"groups has 2 entries but maps has 8"):
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
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_sweep_as_the_pixel_metrics(levels, dtype) -> None:
    from pyimgano.metrics import evaluate_pixels, pixel_metrics

    maps, defects, types = _case(8, levels=levels, dtype=dtype)
    masks = _masks(defects, maps)
    limits = (0.05, 0.3)
    evaluation = evaluate_pixels(
        maps, masks, defects=defects, defect_groups=types, auspro_limits=limits
    )
    _assert_official(evaluation.spro, maps, defects, types, limits)
    for key in ("auspro_0.05", "auspro_0.3"):
        assert evaluation.metrics[key] == evaluation.spro.metrics[key]
    # cells instead of regions change nothing for the other metrics
    plain = pixel_metrics(maps, masks)
    for key, value in plain.items():
        if value is not None:
            assert evaluation.metrics[key] == pytest.approx(value, abs=TOL), key


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("levels", [None, 4])
def test_torch_path_gives_the_official_spro(dtype, levels) -> None:
    # The torch path (here CPU tensors; CUDA in the device check) must give the host values.
    torch = pytest.importorskip("torch")
    from pyimgano.metrics import evaluate_pixels

    maps, defects, types = _case(9, levels=levels, dtype=dtype)
    masks = _masks(defects, maps)
    limits = (0.05, 0.3)
    host = evaluate_pixels(maps, masks, defects=defects, defect_groups=types,
                           auspro_limits=limits)
    on_torch = evaluate_pixels(
        [torch.from_numpy(m) for m in maps], masks, defects=defects, defect_groups=types,
        auspro_limits=limits,
    )
    assert on_torch.metrics_device == "cpu (torch)"
    _assert_official(on_torch.spro, maps, defects, types, limits)
    for key in ("auspro_0.05", "auspro_0.3"):
        assert on_torch.metrics[key] == pytest.approx(host.metrics[key], abs=1e-12)
        for name in TYPES:
            assert on_torch.spro.by_group[name][key] == pytest.approx(
                host.spro.by_group[name][key], abs=1e-12
            )


def test_defects_must_make_up_the_mask() -> None:
    from pyimgano.metrics import evaluate_pixels

    maps, defects, _ = _case(1)
    masks = _masks(defects, maps)
    masks[4] = masks[4].copy()
    masks[4][0, 0] = not masks[4][0, 0]
    with pytest.raises(MetricInputError, match=r"the defects of image 4 do not cover exactly"):
        evaluate_pixels(maps, masks, defects=defects)
