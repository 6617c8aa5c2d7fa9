"""The resize rule of docs/REFERENCE.md §5 against values worked out by hand.

bilinear, ``align_corners=False``, ``antialias=False``: output pixel ``d`` samples the source at
``s = (d + 0.5) * in / out - 0.5`` (clamped at 0 below, at the last pixel above) and mixes the
two neighbours linearly. Any other mode, corner rule or anti-aliasing gives other numbers here.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from pyimgano.alignment import align_map, align_maps  # noqa: E402


def test_upsampling_2x2_to_4x4_matches_hand_computed_values():
    amap = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    expected = np.array(
        [
            [0.0, 0.25, 0.75, 1.0],
            [0.5, 0.75, 1.25, 1.5],
            [1.5, 1.75, 2.25, 2.5],
            [2.0, 2.25, 2.75, 3.0],
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(align_map(amap, (4, 4)), expected)


def test_downsampling_averages_without_antialiasing():
    # 4 -> 2: s = (d + 0.5) * 2 - 0.5 = 0.5 and 2.5, halfway between two source pixels, so each
    # output pixel is the mean of a 2x2 block; an anti-aliased filter would reach further.
    amap = np.arange(16, dtype=np.float32).reshape(4, 4)
    expected = np.array([[2.5, 4.5], [10.5, 12.5]], dtype=np.float32)
    np.testing.assert_array_equal(align_map(amap, (2, 2)), expected)


def test_non_integer_ratio_against_the_formula():
    amap = np.array([[0.0, 10.0, 20.0]], dtype=np.float32)  # one row, three columns -> 1 x 2

    # width 3 -> 2: s = (d + 0.5) * 1.5 - 0.5 -> 0.25 and 1.75
    expected = np.array([[0.75 * 0 + 0.25 * 10, 0.25 * 10 + 0.75 * 20]], dtype=np.float32)
    np.testing.assert_allclose(align_map(amap, (1, 2)), expected, rtol=0, atol=1e-6)


def test_same_size_is_returned_untouched():
    amap = np.random.default_rng(0).random((3, 5)).astype(np.float64)
    assert align_map(amap, (3, 5)) is amap


def test_tensor_maps_are_resized_on_their_device_with_the_same_values():
    import torch

    rng = np.random.default_rng(1)
    maps = [rng.random((7, 9), dtype=np.float32) for _ in range(3)]
    shapes = [(11, 5), (7, 9), (11, 5)]
    on_host = align_maps(maps, shapes)
    on_device = align_maps([torch.from_numpy(m) for m in maps], shapes)
    for host, device in zip(on_host, on_device, strict=True):
        assert isinstance(device, torch.Tensor)
        np.testing.assert_array_equal(device.numpy(), host)
