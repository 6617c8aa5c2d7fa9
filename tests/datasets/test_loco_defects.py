"""MVTec LOCO ``defects_config.json``: reading it, one defect per mask file, saturation areas as
the official MVTec LOCO AD evaluation defines them, and the errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pyimgano.datasets import load_dataset
from pyimgano.datasets.loco import (
    Defect,
    DefectType,
    defects_config,
    load_defects,
    read_defects_config,
)
from pyimgano.errors import DatasetError

CONFIG = [
    {"defect_name": "missing_banana", "pixel_value": 255, "saturation_threshold": 0.5,
     "relative_saturation": True},
    {"defect_name": "too_many_oranges", "pixel_value": 254, "saturation_threshold": 4,
     "relative_saturation": False},
    {"defect_name": "box_damaged", "pixel_value": 253, "saturation_threshold": 0.3,
     "relative_saturation": True},
    {"defect_name": "huge_threshold", "pixel_value": 252, "saturation_threshold": 100,
     "relative_saturation": False},
]


def write_config(tree, entries=CONFIG, cat="breakfast_box"):
    return tree.text(f"{cat}/defects_config.json", json.dumps(entries))


@pytest.fixture
def loco(tree):
    cat = "breakfast_box"
    tree.image(f"{cat}/test/good/000.png")
    tree.image(f"{cat}/test/logical_anomalies/000.png", value=10)
    tree.image(f"{cat}/test/structural_anomalies/000.png", value=10)
    gt = f"{cat}/ground_truth"
    # two defects in one image, each its own file; area 6 each (3x2 boxes)
    tree.mask(f"{gt}/logical_anomalies/000/000.png", box=(0, 0, 3, 2), value=255)
    tree.mask(f"{gt}/logical_anomalies/000/001.png", box=(4, 3, 7, 5), value=254)
    tree.mask(f"{gt}/structural_anomalies/000/000.png", box=(1, 1, 4, 3), value=253)
    write_config(tree)
    return tree


def test_dataset_knows_its_config(loco):
    ds = load_dataset("mvtec_loco", loco.root, "breakfast_box")
    assert ds.defects_config_path == loco.root / "breakfast_box/defects_config.json"
    assert [s.defect_type for s in ds] == ["good", "logical_anomalies", "structural_anomalies"]


def test_one_defect_per_mask_file_with_official_saturation(loco):
    ds = load_dataset("mvtec_loco", loco.root, "breakfast_box")
    assert load_defects(ds, ds[0]) == []
    defects = load_defects(ds, ds[1])
    assert [type(d) for d in defects] == [Defect, Defect]
    (mask0, sat0, name0, value0), (mask1, sat1, name1, value1) = defects
    expected0 = np.zeros((6, 8), bool)
    expected0[0:2, 0:3] = True
    expected1 = np.zeros((6, 8), bool)
    expected1[3:5, 4:7] = True
    np.testing.assert_array_equal(mask0, expected0)
    np.testing.assert_array_equal(mask1, expected1)
    assert mask0.dtype == bool
    # relative 0.5 of 6 pixels -> int(3.0) = 3; absolute 4 (< area 6) -> 4
    assert (sat0, name0, value0) == (3.0, "missing_banana", 255)
    assert (sat1, name1, value1) == (4.0, "too_many_oranges", 254)
    (defect,) = load_defects(ds, ds[2])
    # relative 0.3 of 6 pixels = 1.8 -> truncated to 1 whole pixel, as the official code does
    assert (defect.saturation_pixels, defect.defect_name) == (1.0, "box_damaged")
    assert isinstance(defect.saturation_pixels, float)


def test_absolute_threshold_is_capped_at_the_defect_area():
    kind = DefectType("huge", 9, 100.0, False)
    assert kind.saturation_pixels(6) == 6.0
    assert kind.saturation_pixels(250) == 100.0
    assert DefectType("rel", 9, 1.0, True).saturation_pixels(7) == 7.0


def test_config_passed_once_for_many_samples(loco):
    entries = [{**CONFIG[0], "comment": "extra keys are ignored"}, *CONFIG[1:]]
    write_config(loco, entries)
    ds = load_dataset("mvtec_loco", loco.root, "breakfast_box")
    config = defects_config(ds)
    assert sorted(config.by_pixel_value) == [252, 253, 254, 255]
    assert config.by_pixel_value[252] == DefectType("huge_threshold", 252, 100.0, False)
    assert len(load_defects(ds, ds[1], config=config, image_size=(6, 8))) == 2


def test_missing_config_is_a_clear_error(loco):
    (loco.root / "breakfast_box/defects_config.json").unlink()
    ds = load_dataset("mvtec_loco", loco.root, "breakfast_box")  # loading works without it
    assert ds.defects_config_path is None
    expected = loco.root / "breakfast_box" / "defects_config.json"
    with pytest.raises(DatasetError, match=f"has no {expected}, which AU-sPRO needs"):
        load_defects(ds, ds[1])


def test_pixel_value_not_in_config(loco):
    loco.mask("breakfast_box/ground_truth/structural_anomalies/000/000.png", value=7)
    ds = load_dataset("mvtec_loco", loco.root, "breakfast_box")
    with pytest.raises(DatasetError) as err:
        load_defects(ds, ds[2])
    message = str(err.value)
    assert "structural_anomalies/000/000.png has pixel value 7" in message
    assert "defects_config.json does not define" in message and "255 (missing_banana)" in message


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ({"defect_name": "x"}, r"top level: expected a non-empty JSON list"),
        ([], r"top level: expected a non-empty JSON list"),
        (["x"], r"entry 0: expected an object"),
        ([{**CONFIG[0]}, {k: v for k, v in CONFIG[1].items() if k != "pixel_value"}],
         r"entry 1 lacks key pixel_value"),
        ([{**CONFIG[0], "defect_name": ""}], r"entry 0\.defect_name=''"),
        ([{**CONFIG[0], "pixel_value": 0}], r"entry 0\.pixel_value=0: expected an integer 1\.\.25"),
        ([{**CONFIG[0], "pixel_value": 2.0}], r"entry 0\.pixel_value=2\.0"),
        ([CONFIG[0], {**CONFIG[1], "pixel_value": 255}],
         r"entry 1\.pixel_value=255: expected a value not already used by 'missing_banana'"),
        ([{**CONFIG[0], "relative_saturation": "yes"}], r"entry 0\.relative_saturation='yes'"),
        ([{**CONFIG[0], "saturation_threshold": 1.5}],
         r"entry 0\.saturation_threshold=1\.5: expected a number in \(0, 1\]"),
        ([{**CONFIG[1], "saturation_threshold": 0.5}],
         r"entry 0\.saturation_threshold=0\.5: expected a positive integer"),
        ([{**CONFIG[1], "saturation_threshold": True}], r"entry 0\.saturation_threshold=True"),
    ],
)
def test_malformed_config_names_file_and_key(tree, entries, expected):
    path = write_config(tree, entries)
    with pytest.raises(DatasetError, match=f"defects config {path}: {expected}"):
        read_defects_config(path)


def test_unreadable_config(tree):
    path = tree.text("c/defects_config.json", "[{broken")
    with pytest.raises(DatasetError, match=f"defects config {path} is not valid JSON"):
        read_defects_config(path)
    with pytest.raises(DatasetError, match="does not exist"):
        read_defects_config(tree.root / "nope.json")


def test_bad_masks(loco):
    gt = "breakfast_box/ground_truth/structural_anomalies/000/000.png"
    ds = load_dataset("mvtec_loco", loco.root, "breakfast_box")
    array = np.zeros((6, 8), np.uint8)
    array[0, 0], array[1, 1] = 255, 254
    Image.fromarray(array).save(loco.root / gt)
    with pytest.raises(DatasetError, match=r"000\.png holds several defect values \(254, 255\)"):
        load_defects(ds, ds[2])
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(loco.root / gt)
    with pytest.raises(DatasetError, match=r"000\.png holds no defect pixel"):
        load_defects(ds, ds[2])
    Image.new("RGB", (8, 6), (255, 255, 255)).save(loco.root / gt)
    with pytest.raises(DatasetError, match=r"000\.png is not a single-channel integer image"):
        load_defects(ds, ds[2])
    loco.mask(gt, size=(9, 6), value=253)
    with pytest.raises(DatasetError, match=r"000\.png is 9x6 \(WxH\) but its image .* is 8x6"):
        load_defects(ds, ds[2])


def test_anomalous_sample_without_masks_and_other_formats(loco):
    loco.image("breakfast_box/test/logical_anomalies/001.png", value=10)
    ds = load_dataset("mvtec_loco", loco.root, "breakfast_box")
    with pytest.raises(DatasetError, match=r"001\.png \(logical_anomalies\) has no ground-truth"):
        load_defects(ds, ds[2])
    loco.mvtec_category("cable")
    mvtec = load_dataset("mvtec", loco.root, "cable")
    assert mvtec.defects_config_path is None
    with pytest.raises(DatasetError, match="belongs to the mvtec_loco format"):
        load_defects(mvtec, mvtec[2])
