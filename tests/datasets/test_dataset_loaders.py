"""load_dataset / list_categories for every format of docs/REFERENCE.md §4, on tiny trees."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from pyimgano.datasets import (
    Dataset,
    check_category,
    list_categories,
    load_dataset,
    load_mask,
    require_masks,
)
from pyimgano.errors import ConfigError, DatasetError

# ------------------------------------------------------------------------------------- mvtec


@pytest.fixture
def mvtec(tree):
    tree.mvtec_category("cable")
    tree.mvtec_category("bottle", defects=("broken_large",))
    tree.image("docs/figure.png")  # no test/ -> not a category
    tree.text("readme.txt")
    (tree.root / ".cache" / "test").mkdir(parents=True)  # hidden -> not a category
    return tree


def test_mvtec_categories_sorted_from_disk(mvtec):
    assert list_categories("mvtec", mvtec.root) == ["bottle", "cable"]


def test_mvtec_all_via_list_categories(mvtec):
    datasets = [load_dataset("mvtec", mvtec.root, c) for c in list_categories("mvtec", mvtec.root)]
    assert [d.category for d in datasets] == ["bottle", "cable"]
    assert [len(d) for d in datasets] == [4, 6]


def test_mvtec_samples_ordered_with_masks(mvtec):
    ds = load_dataset("mvtec", mvtec.root, "cable")
    assert isinstance(ds, Dataset)
    assert (ds.format, ds.root, ds.category) == ("mvtec", mvtec.root, "cable")
    got = [(s.defect_type, s.label, s.image_path.name) for s in ds]
    assert got == [
        ("good", 0, "000.png"),
        ("good", 0, "001.png"),
        ("crack", 1, "000.png"),
        ("crack", 1, "001.png"),
        ("scratch", 1, "000.png"),
        ("scratch", 1, "001.png"),
    ]
    assert ds.n_anomalous == 4
    assert ds[0].mask_paths is None
    assert ds[2].mask_paths == (mvtec.root / "cable/ground_truth/crack/000_mask.png",)
    assert ds.missing_masks() == []
    require_masks(ds)  # no error


def test_mvtec_ignores_hidden_and_non_image_files(mvtec):
    mvtec.text("cable/test/good/notes.txt")
    mvtec.text("cable/test/good/.DS_Store")
    mvtec.image("cable/test/good/.hidden.png")
    (mvtec.root / "cable/test/good/subdir").mkdir()
    mvtec.image("cable/test/stray.png")  # file directly in test/: not a label folder
    (mvtec.root / "cable/test/.ipynb_checkpoints").mkdir()
    ds = load_dataset("mvtec", mvtec.root, "cable")
    assert [s.image_path.name for s in ds if s.label == 0] == ["000.png", "001.png"]
    assert len(ds) == 6


def test_extensions_match_case_insensitively(tree):
    tree.image("c/test/good/a.JPG")
    tree.image("c/test/good/b.jpeg")
    tree.image("c/test/good/c.Bmp")
    tree.image("c/test/good/d.TIFF")
    tree.image("c/test/dent/e.PNG", value=10)
    tree.mask("c/ground_truth/dent/e_mask.PNG")
    ds = load_dataset("mvtec", tree.root, "c")
    assert [s.image_path.name for s in ds] == ["a.JPG", "b.jpeg", "c.Bmp", "d.TIFF", "e.PNG"]
    assert ds[-1].mask_paths == (tree.root / "c/ground_truth/dent/e_mask.PNG",)


def test_mask_without_suffix_is_accepted(tree):
    tree.image("c/test/good/0.png")
    tree.image("c/test/dent/0.png")
    tree.mask("c/ground_truth/dent/0.png")
    assert load_dataset("mvtec", tree.root, "c")[1].mask_paths == (
        tree.root / "c/ground_truth/dent/0.png",
    )


def test_ambiguous_masks_are_an_error(tree):
    tree.image("c/test/good/0.png")
    tree.image("c/test/dent/0.png")
    tree.mask("c/ground_truth/dent/0_mask.png")
    tree.mask("c/ground_truth/dent/0_mask.bmp")
    with pytest.raises(DatasetError, match=r"several mask files match image .*0\.png"):
        load_dataset("mvtec", tree.root, "c")


def test_missing_root(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match=f"dataset root {missing} does not exist"):
        load_dataset("mvtec", missing, "bottle")
    with pytest.raises(DatasetError, match="does not exist"):
        list_categories("mvtec", missing)


def test_root_is_a_file(tree):
    path = tree.text("file.txt")
    with pytest.raises(DatasetError, match="is not a directory"):
        list_categories("mvtec", path)


def test_missing_category_lists_found(mvtec):
    with pytest.raises(DatasetError) as err:
        load_dataset("mvtec", mvtec.root, "carpet")
    message = str(err.value)
    assert "'carpet'" in message and str(mvtec.root / "carpet" / "test") in message
    assert f"category 'carpet' not in dataset mvtec at {mvtec.root} (found: bottle, cable)" in (
        message
    )


def test_all_is_not_a_category(mvtec):
    with pytest.raises(DatasetError, match="list_categories"):
        load_dataset("mvtec", mvtec.root, "all")


def test_category_with_path_separator(mvtec):
    with pytest.raises(DatasetError, match="directory name"):
        load_dataset("mvtec", mvtec.root, "../cable")


def test_no_categories_names_root_and_layout(tree):
    tree.image("bottle/train/good/0.png")
    with pytest.raises(DatasetError) as err:
        list_categories("mvtec", tree.root)
    assert str(tree.root) in str(err.value) and "test/{good,<defect>}" in str(err.value)


def test_empty_test_folder(mvtec):
    (mvtec.root / "cable/test/hole").mkdir()
    mvtec.text("cable/test/hole/readme.txt")
    with pytest.raises(DatasetError, match=f"{mvtec.root / 'cable/test/hole'} holds no images"):
        load_dataset("mvtec", mvtec.root, "cable")


def test_test_dir_without_label_folders(tree):
    (tree.root / "c/test").mkdir(parents=True)
    with pytest.raises(DatasetError, match="holds no label folders"):
        load_dataset("mvtec", tree.root, "c")


def test_anomalous_without_mask(mvtec):
    (mvtec.root / "cable/ground_truth/scratch/001_mask.png").unlink()
    shutil.rmtree(mvtec.root / "cable/ground_truth/crack")
    ds = load_dataset("mvtec", mvtec.root, "cable")  # no error at load time
    missing = ds.missing_masks()
    assert [(s.defect_type, s.image_path.name) for s in missing] == [
        ("crack", "000.png"),
        ("crack", "001.png"),
        ("scratch", "001.png"),
    ]
    with pytest.raises(DatasetError) as err:
        require_masks(ds)
    message = str(err.value)
    assert "3 of 4 anomalous images" in message
    assert str(mvtec.root / "cable/test/crack/000.png") in message
    assert str(mvtec.root / "cable/test/scratch/001.png") in message
    with pytest.raises(DatasetError, match="has no ground-truth mask"):
        load_mask(missing[0])


def test_require_masks_truncates_list(tree):
    tree.image("c/test/good/0.png")
    for i in range(8):
        tree.image(f"c/test/dent/{i}.png")
    with pytest.raises(DatasetError, match="and 3 more"):
        require_masks(load_dataset("mvtec", tree.root, "c"))


def test_symlinked_dirs(mvtec, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    shutil.move(mvtec.root / "cable", elsewhere)
    os.symlink(elsewhere, mvtec.root / "cable", target_is_directory=True)
    linked_root = tmp_path / "linked_root"
    os.symlink(mvtec.root, linked_root, target_is_directory=True)
    assert list_categories("mvtec", linked_root) == ["bottle", "cable"]
    ds = load_dataset("mvtec", linked_root, "cable")
    assert len(ds) == 6 and ds[0].image_path == linked_root / "cable/test/good/000.png"
    assert load_mask(ds[2]).sum() == 4


def test_dangling_image_symlink(mvtec, tmp_path):
    os.symlink(tmp_path / "gone.png", mvtec.root / "cable/test/good/002.png")
    with pytest.raises(DatasetError, match="002.png is not a readable file"):
        load_dataset("mvtec", mvtec.root, "cable")


def test_fingerprint_stable_moves_and_changes(mvtec, tmp_path):
    ds = load_dataset("mvtec", mvtec.root, "cable")
    again = load_dataset("mvtec", mvtec.root, "cable")
    assert ds.fingerprint == again.fingerprint and len(ds.fingerprint) == 64
    moved = tmp_path / "moved"
    shutil.copytree(mvtec.root, moved)
    assert load_dataset("mvtec", moved, "cable").fingerprint == ds.fingerprint
    mvtec.mask("cable/ground_truth/crack/000_mask.png", box=(0, 0, 2, 2))
    assert load_dataset("mvtec", mvtec.root, "cable").fingerprint != ds.fingerprint


def test_fingerprint_of_vanished_file(mvtec):
    ds = load_dataset("mvtec", mvtec.root, "cable")
    ds[0].image_path.unlink()
    with pytest.raises(DatasetError, match="000.png"):
        _ = ds.fingerprint


def test_unknown_format_and_option(mvtec):
    with pytest.raises(ConfigError, match="unknown dataset format 'mvtec_ad'.*mvtec, btad, visa"):
        load_dataset("mvtec_ad", mvtec.root, "cable")
    with pytest.raises(ConfigError, match="unknown option.*normal_dir.*accepted: none"):
        load_dataset("mvtec", mvtec.root, "cable", normal_dir="x")
    with pytest.raises(ConfigError, match="accepted: layout"):
        list_categories("visa", mvtec.root, bogus=1)


# -------------------------------------------------------------------------------------- visa

CSV_HEADER = "object,split,label,image,mask\n"


@pytest.fixture
def visa_raw(tree):
    rows = [CSV_HEADER]
    for obj in ("pcb1", "candle"):
        for i in range(2):
            rel = f"{obj}/Data/Images/Normal/{i:04d}.JPG"
            tree.image(rel)
            rows.append(f"{obj},train,normal,{rel},\n")
        rel = f"{obj}/Data/Images/Normal/0100.JPG"
        tree.image(rel)
        rows.append(f"{obj},test,normal,{rel},\n")
        for i in range(2):
            rel = f"{obj}/Data/Images/Anomaly/{i:03d}.JPG"
            mask = f"{obj}/Data/Masks/Anomaly/{i:03d}.png"
            tree.image(rel, value=20)
            tree.mask(mask, value=1 + i)  # small non-zero values, as in raw VisA
            rows.append(f"{obj},test,anomaly,{rel},{mask}\n")
    tree.text("split_csv/1cls.csv", "".join(rows))
    return tree


def test_visa_raw_categories_from_csv(visa_raw):
    assert list_categories("visa", visa_raw.root) == ["candle", "pcb1"]


def test_visa_raw_loads_test_rows(visa_raw):
    ds = load_dataset("visa", visa_raw.root, "pcb1")
    got = [(s.label, s.defect_type, s.image_path.name) for s in ds]
    assert got == [(0, "good", "0100.JPG"), (1, "bad", "000.JPG"), (1, "bad", "001.JPG")]
    assert ds[1].mask_paths == (visa_raw.root / "pcb1/Data/Masks/Anomaly/000.png",)
    for sample in ds[1:]:
        mask = load_mask(sample)
        assert mask.dtype == bool and mask.shape == (6, 8) and mask.sum() == 4
    assert not load_mask(ds[0]).any()


def test_visa_raw_missing_category(visa_raw):
    with pytest.raises(DatasetError, match=r"not in dataset visa at .* \(found: candle, pcb1\)"):
        load_dataset("visa", visa_raw.root, "fryum")


def test_visa_raw_anomaly_without_mask(visa_raw):
    csv = visa_raw.root / "split_csv/1cls.csv"
    csv.write_text(csv.read_text().replace(",pcb1/Data/Masks/Anomaly/001.png", ","))
    ds = load_dataset("visa", visa_raw.root, "pcb1")
    assert [s.image_path.name for s in ds.missing_masks()] == ["001.JPG"]
    with pytest.raises(DatasetError, match="001.JPG"):
        require_masks(ds)


def test_visa_raw_row_with_missing_file(visa_raw):
    (visa_raw.root / "pcb1/Data/Images/Anomaly/001.JPG").unlink()
    with pytest.raises(DatasetError, match=r"1cls\.csv line \d+: image .*001\.JPG does not exist"):
        load_dataset("visa", visa_raw.root, "pcb1")


def test_visa_raw_bad_label_and_header(visa_raw):
    csv = visa_raw.root / "split_csv/1cls.csv"
    text = csv.read_text()
    csv.write_text(text.replace("pcb1,test,normal", "pcb1,test,good"))
    with pytest.raises(DatasetError, match="label 'good' is not one of normal, anomaly"):
        load_dataset("visa", visa_raw.root, "pcb1")
    csv.write_text(text.replace("object,split", "obj,split"))
    with pytest.raises(DatasetError, match="lacks column.*object"):
        list_categories("visa", visa_raw.root)


@pytest.fixture
def visa_prepared(tree):
    for cat in ("macaroni1", "capsules"):
        tree.image(f"{cat}/train/good/0000.JPG")
        tree.image(f"{cat}/test/good/0001.JPG")
        tree.image(f"{cat}/test/bad/000.JPG", value=20)
        tree.image(f"{cat}/test/bad/001.JPG", value=20)
        tree.mask(f"{cat}/ground_truth/bad/000.png")  # anomalib's naming: <stem>.png
        tree.mask(f"{cat}/ground_truth/bad/001_mask.png")
    return tree


def test_visa_prepared_auto_detected(visa_prepared):
    assert list_categories("visa", visa_prepared.root) == ["capsules", "macaroni1"]
    ds = load_dataset("visa", visa_prepared.root, "capsules")
    assert [(s.label, s.defect_type) for s in ds] == [(0, "good"), (1, "bad"), (1, "bad")]
    assert ds[1].mask_paths == (visa_prepared.root / "capsules/ground_truth/bad/000.png",)
    assert ds[2].mask_paths == (visa_prepared.root / "capsules/ground_truth/bad/001_mask.png",)


def test_visa_layout_option(visa_prepared, visa_raw):
    # the fixtures share one root: raw csv present -> auto picks raw, prepared can be forced
    assert list_categories("visa", visa_raw.root) == ["candle", "pcb1"]
    assert list_categories("visa", visa_raw.root, layout="prepared") == ["capsules", "macaroni1"]
    with pytest.raises(ConfigError, match="layout='csv'"):
        list_categories("visa", visa_raw.root, layout="csv")


def test_visa_prepared_unexpected_folder(visa_prepared):
    visa_prepared.image("capsules/test/crack/0.png")
    with pytest.raises(DatasetError, match="unexpected folder.*crack.*bad, good"):
        load_dataset("visa", visa_prepared.root, "capsules")


def test_visa_raw_forced_without_csv(visa_prepared):
    with pytest.raises(DatasetError, match=r"split_csv/1cls\.csv does not exist"):
        list_categories("visa", visa_prepared.root, layout="raw")


# -------------------------------------------------------------------------------------- btad


def test_btad_bmp_images_png_and_bmp_masks(tree):
    for cat in ("01", "03"):
        tree.image(f"{cat}/train/ok/0000.bmp")
        tree.image(f"{cat}/test/ok/0001.bmp")
        tree.image(f"{cat}/test/ko/0002.bmp", value=20)
        tree.image(f"{cat}/test/ko/0003.png", value=20)
    tree.mask("01/ground_truth/ko/0002.png")
    tree.mask("01/ground_truth/ko/0003.png")
    tree.mask("03/ground_truth/ko/0002.bmp")
    assert list_categories("btad", tree.root) == ["01", "03"]
    ds = load_dataset("btad", tree.root, "01")
    assert [(s.label, s.defect_type, s.image_path.name) for s in ds] == [
        (0, "good", "0001.bmp"),
        (1, "ko", "0002.bmp"),
        (1, "ko", "0003.png"),
    ]
    assert ds[1].mask_paths == (tree.root / "01/ground_truth/ko/0002.png",)
    assert load_mask(ds[1]).sum() == 4
    ds3 = load_dataset("btad", tree.root, "03")
    assert ds3[1].mask_paths == (tree.root / "03/ground_truth/ko/0002.bmp",)
    assert load_mask(ds3[1]).sum() == 4
    assert [s.image_path.name for s in ds3.missing_masks()] == ["0003.png"]


def test_btad_rejects_mvtec_folders(tree):
    tree.image("01/test/good/0.bmp")
    with pytest.raises(DatasetError, match="btad test folders are ko, ok"):
        load_dataset("btad", tree.root, "01")


# -------------------------------------------------------------------------------- mvtec_loco


def test_mvtec_loco_multi_mask_or(tree):
    tree.image("juice_bottle/train/good/000.png")
    tree.image("juice_bottle/validation/good/000.png")
    tree.image("juice_bottle/test/good/000.png")
    tree.image("juice_bottle/test/logical_anomalies/000.png", value=10)
    tree.image("juice_bottle/test/logical_anomalies/001.png", value=10)
    tree.image("juice_bottle/test/structural_anomalies/000.png", value=10)
    tree.mask("juice_bottle/ground_truth/logical_anomalies/000/000.png", box=(0, 0, 2, 2))
    tree.mask("juice_bottle/ground_truth/logical_anomalies/000/001.png", box=(5, 3, 8, 6))
    tree.text("juice_bottle/ground_truth/logical_anomalies/000/info.txt")
    tree.mask("juice_bottle/ground_truth/structural_anomalies/000/000.png", value=7)
    assert list_categories("mvtec_loco", tree.root) == ["juice_bottle"]
    ds = load_dataset("mvtec_loco", tree.root, "juice_bottle")
    assert [s.defect_type for s in ds] == [
        "good",
        "logical_anomalies",
        "logical_anomalies",
        "structural_anomalies",
    ]
    gt = tree.root / "juice_bottle/ground_truth"
    assert ds[1].mask_paths == (
        gt / "logical_anomalies/000/000.png",
        gt / "logical_anomalies/000/001.png",
    )
    mask = load_mask(ds[1])
    expected = np.zeros((6, 8), bool)
    expected[0:2, 0:2] = True
    expected[3:6, 5:8] = True
    np.testing.assert_array_equal(mask, expected)
    assert ds[2].mask_paths is None  # no 001/ folder
    assert load_mask(ds[3]).sum() == 4


# ------------------------------------------------------------------------------------ folder


@pytest.fixture
def custom(tree):
    for i in range(3):
        tree.image(f"normal/{i}.png")
    tree.image("normal_test/t0.png")
    tree.image("abnormal/a0.jpg", value=10)
    tree.image("abnormal/a1.jpg", value=10)
    tree.image("crack/c0.png", value=10)
    tree.mask("masks/a0_mask.png")
    tree.mask("masks/a1.PNG")
    return tree


def test_folder_with_normal_test_dir(custom):
    ds = load_dataset(
        "folder",
        custom.root,
        "widgets",
        normal_dir="normal",
        abnormal_dir="abnormal",
        normal_test_dir="normal_test",
        mask_dir="masks",
    )
    assert ds.category == "widgets" and ds.notes == ()
    got = [(s.label, s.defect_type, s.image_path.name) for s in ds]
    assert got == [(0, "good", "t0.png"), (1, "abnormal", "a0.jpg"), (1, "abnormal", "a1.jpg")]
    assert ds[1].mask_paths == (custom.root / "masks/a0_mask.png",)
    assert ds[2].mask_paths == (custom.root / "masks/a1.PNG",)


def test_folder_without_normal_test_dir_uses_normal_dir(custom):
    with pytest.warns(UserWarning, match="no normal_test_dir: the 3 normal test images are the "
                                         "normal_dir images"):
        ds = load_dataset(
            "folder",
            custom.root,
            "widgets",
            normal_dir="normal",
            abnormal_dir=["abnormal", custom.root / "crack"],
        )
    assert [s.image_path.name for s in ds if s.label == 0] == ["0.png", "1.png", "2.png"]
    (note,) = ds.notes
    assert str(custom.root / "normal") in note and "optimistic" in note
    assert [s.defect_type for s in ds if s.label == 1] == ["abnormal", "abnormal", "crack"]
    assert len(ds.missing_masks()) == 3


def test_folder_categories_and_errors(custom):
    assert list_categories("folder", custom.root) == ["data"]
    with pytest.raises(ConfigError, match="needs option normal_dir"):
        load_dataset("folder", custom.root, "data")
    with pytest.raises(DatasetError, match=r"abnormal_dir: .*missing does not exist"):
        load_dataset("folder", custom.root, "data", normal_dir="normal", abnormal_dir="missing")
    (custom.root / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"normal_test_dir: .*empty holds no images"):
        load_dataset("folder", custom.root, "data", normal_dir="normal", normal_test_dir="empty")


@pytest.fixture
def per_defect(tree):
    tree.image("normal/0.png")
    tree.image("normal_test/0.png")
    for defect, box in (("crack", (0, 0, 2, 2)), ("hole", (4, 2, 7, 5))):
        for i in range(2):
            tree.image(f"{defect}/{i:03d}.png", value=10)
            tree.mask(f"masks/{defect}/{i:03d}_mask.png", box=box)
    return tree


@pytest.mark.parametrize("mask_dir", ["masks", ["masks/crack", "masks/hole"]])
def test_folder_per_defect_mask_folders(per_defect, mask_dir):
    """Stems repeat across defects; each image takes the mask of its own defect's folder."""
    ds = load_dataset(
        "folder",
        per_defect.root,
        "parts",
        normal_dir="normal",
        normal_test_dir="normal_test",
        abnormal_dir=["crack", "hole"],
        mask_dir=mask_dir,
    )
    got = [(s.defect_type, s.image_path.name, s.mask_paths) for s in ds if s.label]
    masks = per_defect.root / "masks"
    assert got == [
        ("crack", "000.png", (masks / "crack/000_mask.png",)),
        ("crack", "001.png", (masks / "crack/001_mask.png",)),
        ("hole", "000.png", (masks / "hole/000_mask.png",)),
        ("hole", "001.png", (masks / "hole/001_mask.png",)),
    ]
    assert load_mask(ds[1]).sum() == 4 and load_mask(ds[3]).sum() == 9


def test_folder_truly_ambiguous_masks_say_what_to_do(per_defect):
    # abnormal images in a folder named like no mask folder: both per-defect masks match
    for i in range(2):
        per_defect.image(f"mixed/{i:03d}.png", value=10)
    with pytest.raises(DatasetError) as err:
        load_dataset(
            "folder",
            per_defect.root,
            "parts",
            normal_dir="normal",
            normal_test_dir="normal_test",
            abnormal_dir="mixed",
            mask_dir=["masks/crack", "masks/hole"],
        )
    message = str(err.value)
    assert "several mask files match image" in message and "mixed/000.png" in message
    assert "masks/crack/000_mask.png" in message and "masks/hole/000_mask.png" in message
    assert "put each defect's masks in a folder named like its abnormal directory" in message


# ------------------------------------------------------------------------- check_category


def test_check_category_typo_is_named_before_anything_else(tree):
    for cat in ("disk", "plate", "tiles"):
        tree.mvtec_category(cat)
    check_category("mvtec", tree.root, "plate")  # no error
    with pytest.raises(DatasetError) as err:
        check_category("mvtec", tree.root, "plates")
    assert str(err.value).startswith(
        f"category 'plates' not in dataset mvtec at {tree.root} (found: disk, plate, tiles)"
    )
    with pytest.raises(DatasetError, match="directory name"):
        check_category("mvtec", tree.root, "../plate")
    with pytest.raises(ConfigError, match="unknown dataset format"):
        check_category("mvtecc", tree.root, "plate")
    with pytest.raises(DatasetError, match="does not exist"):
        check_category("mvtec", tree.root / "nope", "plate")
    check_category("folder", tree.root, "any name")  # folder: the category is a label


def test_check_category_reads_no_image(tree, monkeypatch):
    tree.mvtec_category("disk")
    import pyimgano.datasets.masks as masks

    def boom(*args, **kwargs):
        raise AssertionError("an image was opened")

    monkeypatch.setattr(masks.Image, "open", boom)
    check_category("mvtec", tree.root, "disk")
    with pytest.raises(DatasetError, match="not in dataset"):
        check_category("mvtec", tree.root, "disc")


def test_check_category_visa_raw(visa_raw):
    check_category("visa", visa_raw.root, "pcb1")
    with pytest.raises(DatasetError, match=r"category 'pcb' not in dataset visa .*"
                                           r"\(found: candle, pcb1\)"):
        check_category("visa", visa_raw.root, "pcb")
