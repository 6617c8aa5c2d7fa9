"""AU-PRO and the PRO curve against hand-computed cases and a plain MVTec reference."""

from __future__ import annotations

import numpy as np
import pytest

from pyimgano.errors import MetricInputError
from pyimgano.metrics import aupro, pixel_metrics, pro_curve

from ._reference import ref_aupro, ref_pro_curve

TOL = 1e-12


def test_hand_computed_two_regions() -> None:
    # One 1x4 image: scores [0.9, 0.8, 0.3, 0.1], defects at 0 and 2 (not adjacent: two
    # regions of one pixel each), normal pixels 0.8 and 0.1 (n_ok = 2).
    # Descending: t=0.9 -> (fpr 0, pro 1/2); 0.8 -> (1/2, 1/2); 0.3 -> (1/2, 1); 0.1 -> (1, 1).
    amap = np.array([[0.9, 0.8, 0.3, 0.1]])
    mask = np.array([[1, 0, 1, 0]])
    fpr, pro = pro_curve([amap], [mask])
    assert fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
    assert pro.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0, 1.0]
    # limit 0.3: segment (0, .5)-(.5, .5) cut at 0.3 -> 0.3 * 0.5 = 0.15; / 0.3 = 0.5.
    assert aupro([amap], [mask], 0.3) == pytest.approx(0.5, abs=TOL)
    # limit 0.5 is a curve x (no interpolation): 0.5 * 0.5 = 0.25; / 0.5 = 0.5.
    assert aupro([amap], [mask], 0.5) == pytest.approx(0.5, abs=TOL)
    # limit 1: 0.25 + 0 (vertical step) + 0.5 * 1 = 0.75.
    assert aupro([amap], [mask], 1.0) == pytest.approx(0.75, abs=TOL)


def test_eight_connectivity() -> None:
    # Defect pixels (0,0), (1,1), (1,2): (0,0)-(1,1) touch only diagonally. 8-connected they
    # are ONE region of 3 pixels; 4-connected they would be two regions ({(0,0)}, 2 pixels).
    # Only (0,0) scores above every normal pixel, so the first curve point has
    # PRO = 1/3 (8-connected), not (1 + 0) / 2 (4-connected).
    amap = np.array([[0.9, 0.2, 0.3], [0.4, 0.05, 0.01], [0.5, 0.6, 0.7]])
    mask = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    fpr, pro = pro_curve([amap], [mask])
    assert (fpr[1], pro[1]) == (0.0, pytest.approx(1 / 3, abs=TOL))
    np.testing.assert_allclose(pro, ref_pro_curve([amap], [mask])[1], rtol=0, atol=TOL)


def test_regions_of_different_images_are_separate() -> None:
    # Two 1x2 images with a defect pixel each: two regions (a region never spans images,
    # even where pooled pixels are neighbours). Only the first is above t=0.9 -> PRO 1/2.
    maps = [np.array([[0.1, 0.9]]), np.array([[0.2, 0.5]])]
    masks = [np.array([[0, 1]]), np.array([[0, 1]])]
    fpr, pro = pro_curve(maps, masks)
    assert pro[1] == pytest.approx(0.5, abs=TOL)


def _random_masks(rng, shape, density):
    return rng.random(shape) < density


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("density", [0.02, 0.3])  # many tiny regions / large merged ones
@pytest.mark.parametrize("levels", [None, 5])
def test_curve_and_area_match_reference(seed: int, density: float, levels: int | None) -> None:
    rng = np.random.default_rng(seed)
    shapes = [(9, 14), (20, 20), (3, 30), (11, 7)]
    masks = [_random_masks(rng, s, density) for s in shapes]
    masks.append(np.zeros((6, 6), dtype=bool))  # a good image
    maps = [rng.standard_normal(m.shape) + m for m in masks]
    if levels:
        maps = [np.round(m * levels) / levels for m in maps]
    fpr, pro = pro_curve(maps, masks)
    ref_fpr, ref_pro = ref_pro_curve(maps, masks)
    np.testing.assert_allclose(fpr, ref_fpr, rtol=0, atol=TOL)
    np.testing.assert_allclose(pro, ref_pro, rtol=0, atol=TOL)
    for limit in (0.3, 0.05, 1.0):
        assert aupro(maps, masks, limit) == pytest.approx(
            ref_aupro(maps, masks, limit), abs=TOL, rel=0
        )


def test_masks_touching_borders() -> None:
    rng = np.random.default_rng(3)
    mask = np.zeros((10, 12), dtype=bool)
    mask[0, :] = True  # top edge
    mask[:, -1] = True  # right edge, joins the top one at the corner
    mask[-1, 0] = True  # lone corner pixel
    mask[5:7, 0] = True  # left edge
    amap = rng.random(mask.shape) + 0.5 * mask
    assert aupro([amap], [mask]) == pytest.approx(ref_aupro([amap], [mask]), abs=TOL)
    fpr, pro = pro_curve([amap], [mask])
    np.testing.assert_allclose(pro, ref_pro_curve([amap], [mask])[1], rtol=0, atol=TOL)


def test_limit_exactly_on_a_curve_x() -> None:
    # 10 normal pixels with distinct scores: the curve passes x = 3/10, which is the
    # float64 value 0.3, so MVTec's trapezoid takes no interpolation there.
    normal = np.linspace(0.0, 0.45, 10)
    amap = np.concatenate([normal, [0.3, 0.31, 0.5, 0.05]]).reshape(2, 7)
    mask = np.concatenate([np.zeros(10), np.ones(4)]).reshape(2, 7)
    fpr, _ = pro_curve([amap], [mask])
    assert 0.3 in fpr
    assert aupro([amap], [mask], 0.3) == pytest.approx(ref_aupro([amap], [mask], 0.3), abs=TOL)
    assert pixel_metrics([amap], [mask], 0.3)["aupro"] == aupro([amap], [mask], 0.3)


def test_undefined() -> None:
    amap = np.zeros((3, 3))
    assert aupro([amap], [np.zeros((3, 3))]) is None
    assert aupro([amap], [np.ones((3, 3))]) is None
    with pytest.raises(MetricInputError, match="no ground-truth regions"):
        pro_curve([amap], [np.zeros((3, 3))])
    with pytest.raises(MetricInputError, match=r"limit is 0; expected a number in \(0, 1\]"):
        aupro([amap], [np.eye(3)], 0)
