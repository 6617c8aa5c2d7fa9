"""Catalogue: datasets (SPEC §4). CLI (exit 2, one line), API (exact type) and, where a suite
can say it, the child pytest session (item failure)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
