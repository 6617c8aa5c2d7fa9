"""Catalogue: datasets (docs/REFERENCE.md §4). CLI (exit 2, one line), API (exact type) and, where
a suite
can say it, the child pytest session (item failure)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import cli_args, expect_cli, expect_raise, run_argv, run_cli
from tests.bad_inputs.scenarios import images_dir, masks_dir

ITEM = "fake[tiles]"


def both(case_id: str, argv: list, **values: object) -> str:
    """CLI: exit 2 with one matching line; API: the exact error type."""
    expect_raise(case_id, lambda: run_argv(argv), **values)
    return expect_cli(case_id, argv, **values)


def report_of(argv: list, tmp_path: Path) -> dict:
    """Run the CLI successfully and return the report."""
    out = tmp_path / "report" / "r.json"
    result = run_cli([*argv, "--output", out])
    assert result.code == 0, result.err
    return json.loads(out.read_text("utf-8"))


@covers("dataset.root_missing")
def test_missing_root(plugin_batch, tmp_path):
    root = tmp_path / "nowhere"
    both("dataset.root_missing", cli_args(root), root=root)
    missing = plugin_batch.data("dataset.root_missing") / "missing-root"
    plugin_batch.expect("dataset.root_missing", "failed", ITEM, root=missing)


@covers("dataset.category_missing")
def test_missing_category(base_data, plugin_batch):
    values = {"category": "'tilez'", "root": base_data, "test": base_data / "tilez" / "test",
              "found": "tiles"}
    both("dataset.category_missing", cli_args(base_data, category="tilez"), **values)
    plugin_batch.expect("dataset.category_missing", "failed", "fake[tilez]", **values)


@covers("dataset.no_label_folders")
def test_empty_test_directory(plugin_batch):
    root = plugin_batch.data("dataset.no_label_folders")
    values = {"test": images_dir(root)}
    both("dataset.no_label_folders", cli_args(root), **values)
    plugin_batch.expect("dataset.no_label_folders", "failed", ITEM, **values)


@covers("dataset.empty_folder")
def test_label_folder_without_images(plugin_batch):
    root = plugin_batch.data("dataset.empty_folder")
    (images_dir(root) / "hole" / "notes.txt").write_text("not an image")  # still no image
    values = {"folder": images_dir(root) / "hole"}
    both("dataset.empty_folder", cli_args(root), **values)
    plugin_batch.expect("dataset.empty_folder", "failed", ITEM, **values)


@covers("dataset.empty_train")
def test_empty_or_missing_train_folder_is_accepted(data, tmp_path):
    shutil.rmtree(data / "tiles" / "train")
    report = report_of(cli_args(data, "--pixel"), tmp_path)
    assert report["dataset"]["n_test"] == 6
    assert report["metrics"]["image_auroc"] is not None


@covers("dataset.mask_missing")
def test_anomalous_image_without_mask(plugin_batch, tmp_path):
    root = plugin_batch.data("dataset.mask_missing")
    values = {"n": 3, "category": "'tiles'", "root": root,
              "image": images_dir(root) / "hole" / "000.png"}
    both("dataset.mask_missing", cli_args(root, "--pixel"), **values)
    plugin_batch.expect("dataset.mask_missing", "failed", ITEM, **values)
    # without pixel metrics the mask is not needed: image metrics only
    report = report_of(cli_args(root), tmp_path)
    assert report["metrics"]["image_auroc"] is not None and "pixel_auroc" not in report["metrics"]


@covers("dataset.mask_size")
def test_mask_of_another_size(plugin_batch):
    root = plugin_batch.data("dataset.mask_size")
    values = {"mask": masks_dir(root) / "hole" / "000_mask.png", "mask_size": "32x24",
              "image": images_dir(root) / "hole" / "000.png", "image_size": "32x32"}
    both("dataset.mask_size", cli_args(root, "--pixel"), **values)
    plugin_batch.expect("dataset.mask_size", "failed", ITEM, **values)


@pytest.mark.anomalib
@covers("dataset.corrupt_image")
def test_truncated_or_corrupt_image_fails_at_inference(padim, anomalib_data, tmp_path):
    """The real backend decodes with anomalib's ``read_image``; the error names the image and
    no report is written."""
    root = tmp_path / "data"
    shutil.copytree(anomalib_data, root)
    good = images_dir(root) / "good"
    truncated = good / "001.png"
    truncated.write_bytes(truncated.read_bytes()[:200])
    impostor = good / "000.png"
    impostor.write_text("this is not a PNG")
    out = tmp_path / "out" / "r.json"
    base = [*cli_args(root, model="vision_padim_anomalib"), "--checkpoint-path", padim.pt_path,
            "--checkpoint-sha256", padim.pt_sha256, "--device", "cpu", "--output", out]
    # decoding runs ahead in threads: the first broken image in order is reported
    message = both("dataset.corrupt_image", base, image=impostor)
    assert "cannot identify image file" in message
    impostor.write_bytes((good / "002.png").read_bytes())
    message = both("dataset.corrupt_image", base, image=truncated)
    assert "truncated" in message
    assert not out.parent.exists() or not any(out.parent.iterdir())


@covers("dataset.dangling_symlink")
def test_dangling_symlink(plugin_batch):
    root = plugin_batch.data("dataset.dangling_symlink")
    values = {"path": images_dir(root) / "good" / "999.png"}
    both("dataset.dangling_symlink", cli_args(root), **values)
    plugin_batch.expect("dataset.dangling_symlink", "failed", ITEM, **values)


@covers("dataset.fingerprint_mismatch")
def test_fingerprint_pin_mismatch(base_data, plugin_batch):
    from pyimgano.datasets import load_dataset
    from pyimgano.runner import Case, run_case

    actual = load_dataset("mvtec", base_data, "tiles").fingerprint
    values = {"category": "tiles", "root": base_data, "actual": actual, "pinned": "0" * 64}
    case = Case(model="bad_fake", dataset_format="mvtec", root=base_data, category="tiles",
                fingerprint="0" * 64)
    expect_raise("dataset.fingerprint_mismatch", lambda: run_case(case), **values)
    plugin_batch.expect("dataset.fingerprint_mismatch", "failed", ITEM, **values)


@covers("dataset.non_image_files")
def test_non_image_files_are_ignored(data, tmp_path):
    good = images_dir(data) / "good"
    (good / "README.txt").write_text("notes")
    (good / "Thumbs.db").write_bytes(b"\x00" * 16)
    (good / ".DS_Store").write_bytes(b"\x00" * 16)
    (good / "._000.png").write_bytes(b"\x00" * 16)  # macOS resource fork: hidden
    (good / "extra").mkdir()
    shutil.copy(good / "000.png", good / "extra" / "000.png")  # not in a label folder itself
    report = report_of(cli_args(data, "--pixel"), tmp_path)
    assert report["dataset"]["n_test"] == 6


@covers("dataset.extension_case")
def test_upper_and_mixed_case_extensions(data, tmp_path):
    for image in images_dir(data).rglob("*.png"):
        image.rename(image.with_suffix(".PNG"))
    for mask in masks_dir(data).rglob("*.png"):
        mask.rename(mask.with_suffix(".Png"))
    good = images_dir(data) / "good"
    with Image.open(good / "000.PNG") as image:
        image.convert("RGB").save(good / "003.JPG", format="JPEG")
    report = report_of(cli_args(data, "--pixel"), tmp_path)
    assert report["dataset"]["n_test"] == 7
    assert report["metrics"]["pixel_auroc"] is not None  # every mask was found


@covers("dataset.symlinks")
def test_symlinked_dataset_directories(base_data, tmp_path):
    """Root, category, label folder and image links are followed; paths stay as given."""
    real = tmp_path / "real"
    shutil.copytree(base_data, real)
    linked = tmp_path / "linked"
    (linked / "tiles" / "test").mkdir(parents=True)
    (linked / "tiles" / "ground_truth").symlink_to(masks_dir(real))
    for folder in images_dir(real).iterdir():
        (linked / "tiles" / "test" / folder.name).symlink_to(folder)
    root = tmp_path / "root-link"
    root.symlink_to(linked)
    report = report_of(cli_args(root, "--pixel"), tmp_path)
    assert report["dataset"]["n_test"] == 6
    assert report["metrics"]["pixel_auroc"] is not None
    records = (tmp_path / "report" / "r.jsonl").read_text("utf-8").splitlines()
    assert all(json.loads(r)["path"].startswith(str(root)) for r in records)
    assert CASES["dataset.symlinks"].error is None


def folder_tree(base: Path, root: Path, abnormal: str | None = None) -> dict:
    """``base_data`` in the ``folder`` format with per-defect mask folders (stems repeat).

    Returns the ``--dataset-options``. With ``abnormal``, every defective image goes into one
    folder of that name (``<defect>_000.png``) instead, so no mask folder is named like it.
    """
    for folder in images_dir(base).iterdir():
        for image in folder.iterdir():
            if folder.name == "good":
                target = root / "normal_test" / image.name
            elif abnormal:
                target = root / abnormal / image.name
            else:
                target = root / folder.name / image.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(image, target)
    for folder in masks_dir(base).iterdir():
        shutil.copytree(folder, root / "masks" / folder.name)
    (root / "normal").mkdir()
    shutil.copy(images_dir(base) / "good" / "000.png", root / "normal" / "000.png")
    defects = sorted(f.name for f in masks_dir(base).iterdir())
    return {"normal_dir": "normal", "normal_test_dir": "normal_test",
            "abnormal_dir": [abnormal] if abnormal else defects,
            "mask_dir": [f"masks/{d}" for d in defects]}


@covers("dataset.folder_masks_ambiguous")
def test_folder_masks_ambiguous(base_data, tmp_path):
    root = tmp_path / "custom"
    options = folder_tree(base_data, root, abnormal="mixed")
    defects = sorted(f.name for f in masks_dir(base_data).iterdir())
    masks = ", ".join(str(root / "masks" / d / "000_mask.png") for d in defects)
    argv = cli_args(root, "--dataset-options", json.dumps(options), fmt="folder",
                    category="custom")
    both("dataset.folder_masks_ambiguous", argv, image=root / "mixed" / "000.png", masks=masks)


@covers("dataset.folder_per_defect_masks")
def test_folder_per_defect_mask_folders(base_data, tmp_path):
    root = tmp_path / "custom"
    options = folder_tree(base_data, root)
    argv = cli_args(root, "--pixel", "--dataset-options", json.dumps(options), fmt="folder",
                    category="custom")
    report = report_of(argv, tmp_path)
    assert report["dataset"]["n_test"] == 6 and report["dataset"]["n_anomalous"] == 3
    assert report["metrics"]["pixel_auroc"] is not None  # every mask found, one per defect
    # the same bytes in the MVTec layout: the same dataset
    from pyimgano.datasets import load_dataset

    assert report["dataset"]["fingerprint"] == load_dataset("mvtec", base_data, "tiles").fingerprint


@covers("dataset.folder_train_normals")
def test_folder_without_normal_test_dir_is_noted(base_data, tmp_path):
    from pyimgano.datasets import load_dataset

    root = tmp_path / "custom"
    options = folder_tree(base_data, root)
    del options["normal_test_dir"]
    with pytest.warns(UserWarning, match="no normal_test_dir"):
        dataset = load_dataset("folder", root, "custom", **options)
    assert [s.image_path for s in dataset if s.label == 0] == [root / "normal" / "000.png"]
    (note,) = dataset.notes
    assert "normal_dir images" in note and "optimistic" in note


def loco_data(base: Path, root: Path) -> Path:
    """``base_data``'s images as one MVTec LOCO category ``tiles`` with a defects config."""
    shutil.copytree(images_dir(base) / "good", root / "tiles" / "test" / "good")
    for folder in masks_dir(base).iterdir():
        image = images_dir(base) / folder.name / "000.png"
        target = root / "tiles" / "test" / "structural_anomalies" / f"{folder.name}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(image, target)
        with Image.open(folder / "000_mask.png") as mask:
            values = (np.asarray(mask.convert("L")) > 0).astype(np.uint8) * 255
        gt = root / "tiles" / "ground_truth" / "structural_anomalies" / folder.name / "000.png"
        gt.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(values).save(gt)
    config = [{"defect_name": "scratch", "pixel_value": 255, "saturation_threshold": 1.0,
               "relative_saturation": True}]
    (root / "tiles" / "defects_config.json").write_text(json.dumps(config))
    return root


@covers("dataset.loco_config_missing")
def test_loco_without_defects_config(base_data, tmp_path):
    from pyimgano.datasets import load_dataset
    from pyimgano.datasets.loco import load_defects

    root = loco_data(base_data, tmp_path / "loco")
    path = root / "tiles" / "defects_config.json"
    path.unlink()
    dataset = load_dataset("mvtec_loco", root, "tiles")
    sample = dataset[-1]
    expect_raise("dataset.loco_config_missing", lambda: load_defects(dataset, sample),
                 category="'tiles'", root=root, path=path)


@covers("dataset.loco_config_invalid")
def test_loco_malformed_defects_config(base_data, tmp_path):
    from pyimgano.datasets import load_dataset
    from pyimgano.datasets.loco import load_defects

    root = loco_data(base_data, tmp_path / "loco")
    path = root / "tiles" / "defects_config.json"
    dataset = load_dataset("mvtec_loco", root, "tiles")
    sample = dataset[-1]
    assert len(load_defects(dataset, sample)) == 1  # the valid config works
    path.write_text(json.dumps([{"defect_name": "scratch", "pixel_value": 255,
                                 "relative_saturation": True}]))
    expect_raise("dataset.loco_config_invalid", lambda: load_defects(dataset, sample),
                 path=path, where="entry 0 lacks key saturation_threshold",
                 expected="keys defect_name, pixel_value")
    path.write_text(json.dumps([{"defect_name": "scratch", "pixel_value": 255,
                                 "saturation_threshold": 2.0, "relative_saturation": True}]))
    expect_raise("dataset.loco_config_invalid", lambda: load_defects(dataset, sample),
                 path=path, where="entry 0.saturation_threshold=2.0",
                 expected="a number in (0, 1]")


@covers("dataset.loco_pixel_value")
def test_loco_mask_value_not_in_config(base_data, tmp_path):
    from pyimgano.datasets import load_dataset
    from pyimgano.datasets.loco import load_defects

    root = loco_data(base_data, tmp_path / "loco")
    dataset = load_dataset("mvtec_loco", root, "tiles")
    sample = dataset[-1]
    mask = sample.mask_paths[0]
    with Image.open(mask) as image:
        values = np.asarray(image).copy()
    values[values > 0] = 9
    Image.fromarray(values).save(mask)
    expect_raise("dataset.loco_pixel_value", lambda: load_defects(dataset, sample),
                 mask=mask, value=9, config=root / "tiles" / "defects_config.json")


@covers("dataset.split_file_entry")
def test_realiad_split_file_names_a_missing_image(tmp_path):
    from pyimgano.datasets import load_dataset

    root = tmp_path / "Real-IAD"
    (root / "realiad_256" / "toy").mkdir(parents=True)
    split = root / "realiad_jsons" / "realiad_jsons" / "toy.json"
    split.parent.mkdir(parents=True)
    entry = {"anomaly_class": "OK", "image_path": "OK/S0001/toy_0001_OK_C1.jpg", "mask_path": None}
    split.write_text(json.dumps({"train": [], "test": [entry]}))
    image = root / "realiad_256" / "toy" / entry["image_path"]
    expect_raise("dataset.split_file_entry", lambda: load_dataset("realiad", root, "toy"),
                 file=split, index=0, image=image)


@covers("dataset.kolektor_mask_missing")
def test_kolektor_image_without_label_mask(base_data, tmp_path):
    from pyimgano.datasets import load_dataset

    root = tmp_path / "KolektorSDD"
    for k in (1, 2):
        item = root / f"kos{k:02d}"
        item.mkdir(parents=True)
        for p in range(2):
            with Image.open(images_dir(base_data) / "good" / "000.png") as image:
                image.convert("RGB").save(item / f"Part{p}.jpg", format="JPEG")
            Image.new("L", (32, 32), 0).save(item / f"Part{p}_label.bmp")
    missing = root / "kos02" / "Part1_label.bmp"
    missing.unlink()
    expect_raise("dataset.kolektor_mask_missing",
                 lambda: load_dataset("kolektor", root, "kolektor"),
                 image=root / "kos02" / "Part1.jpg", mask=missing)
