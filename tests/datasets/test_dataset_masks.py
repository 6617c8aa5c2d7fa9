"""load_mask / read_mask / image_size: binarisation, sizes, corrupt files (docs/REFERENCE.md §4)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pyimgano.datasets import Sample, image_size, load_mask, read_mask
from pyimgano.errors import DatasetError


def _save(tree, rel, array, mode):
    path = tree.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    assert image.mode == mode
    image.save(path)
    return path


def _pattern() -> np.ndarray:
    array = np.zeros((6, 8), np.uint8)
    array[1:3, 2:5] = 1
    return array


@pytest.mark.parametrize("mode", ["L", "1", "P", "I;16", "I", "F"])
def test_single_channel_modes_binarised_above_zero(tree, mode):
    raw = _pattern()
    if mode == "L":
        image = Image.fromarray(raw)
    elif mode == "1":
        image = Image.fromarray(raw.astype(bool))
    elif mode == "P":
        image = Image.fromarray(raw).convert("P")  # palette index 1 = (1, 1, 1)
    elif mode == "I;16":
        image = Image.fromarray(raw.astype(np.uint16))
    elif mode == "I":
        image = Image.fromarray(raw.astype(np.int32))
    else:
        image = Image.fromarray(raw.astype(np.float32))
    assert image.mode == mode
    path = tree.root / ("m.tif" if mode in ("I", "F") else "m.png")
    image.save(path)
    got = read_mask(path)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, raw > 0)


def test_palette_index_mapped_to_black_is_background(tree):
    raw = _pattern()
    image = Image.fromarray(raw).convert("P")
    image.putpalette([0, 0, 0, 0, 0, 0] + [255] * 762)  # index 1 drawn black
    image.save(tree.root / "p.png")
    assert not read_mask(tree.root / "p.png").any()


def test_multichannel_any_channel_alpha_ignored(tree):
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[0, 0] = (0, 0, 1)
    rgb[5, 7] = (200, 0, 0)
    _save(tree, "rgb.png", rgb, "RGB")
    expected = np.zeros((6, 8), bool)
    expected[0, 0] = expected[5, 7] = True
    np.testing.assert_array_equal(read_mask(tree.root / "rgb.png"), expected)
    rgba = np.zeros((6, 8, 4), np.uint8)
    rgba[..., 3] = 255  # opaque black background
    rgba[2, 3] = (0, 9, 0, 255)
    _save(tree, "rgba.png", rgba, "RGBA")
    assert read_mask(tree.root / "rgba.png").sum() == 1
    la = np.zeros((6, 8, 2), np.uint8)
    la[..., 1] = 255
    la[4, 4, 0] = 3
    _save(tree, "la.png", la, "LA")
    assert read_mask(tree.root / "la.png").sum() == 1


def test_normal_sample_is_all_false_of_image_size(tree):
    image = tree.image("good.png", size=(8, 6))
    mask = load_mask(Sample(image, 0, None, "good"))
    assert mask.shape == (6, 8) and mask.dtype == bool and not mask.any()
    assert image_size(image) == (6, 8)


def test_anomalous_without_mask_is_an_error(tree):
    image = tree.image("bad.png")
    with pytest.raises(DatasetError, match=r"anomalous image .*bad\.png \(dent\) has no"):
        load_mask(Sample(image, 1, None, "dent"))


def test_mask_size_mismatch_names_both(tree):
    image = tree.image("img.png", size=(8, 6))
    mask = tree.mask("img_mask.png", size=(9, 6))
    with pytest.raises(DatasetError) as err:
        load_mask(Sample(image, 1, (mask,), "dent"))
    message = str(err.value)
    assert str(image) in message and str(mask) in message
    assert "9x6" in message and "8x6" in message


def test_multiple_masks_or_ed(tree):
    image = tree.image("img.png")
    a = tree.mask("a.png", box=(0, 0, 1, 1))
    b = tree.mask("b.png", box=(7, 5, 8, 6), value=2)
    mask = load_mask(Sample(image, 1, (a, b), "dent"))
    assert mask.sum() == 2 and mask[0, 0] and mask[5, 7]


def test_given_image_size_skips_the_image(tree):
    corrupt = tree.text("img.png", "not a png")
    mask = tree.mask("m.png")
    assert load_mask(Sample(corrupt, 1, (mask,), "dent"), image_size=(6, 8)).sum() == 4
    with pytest.raises(DatasetError, match="m.png is 8x6"):
        load_mask(Sample(corrupt, 1, (mask,), "dent"), image_size=(6, 9))


def test_corrupt_image_names_file(tree):
    corrupt = tree.text("img.png", "not a png")
    with pytest.raises(DatasetError, match=r"cannot read image .*img\.png"):
        load_mask(Sample(corrupt, 0, None, "good"))
    with pytest.raises(DatasetError, match=r"cannot read image .*missing\.png"):
        image_size(tree.root / "missing.png")


def test_truncated_mask_names_file(tree):
    image = tree.image("img.png", size=(64, 64))
    noise = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    mask = _save(tree, "m.png", noise, "L")
    data = mask.read_bytes()
    mask.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"cannot read mask .*m\.png"):
        load_mask(Sample(image, 1, (mask,), "dent"))
    garbage = tree.text("g.png", "garbage")
    with pytest.raises(DatasetError, match=r"cannot read mask .*g\.png"):
        read_mask(garbage)
