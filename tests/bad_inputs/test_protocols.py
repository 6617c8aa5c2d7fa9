"""Catalogue: MVTec AD 2 and Real-IAD protocol inputs (docs/REFERENCE.md §5, §7)."""

from __future__ import annotations

import json
import shutil

from tests.bad_inputs.catalogue import covers
from tests.bad_inputs.helpers import cli_args, expect_cli, expect_raise, run_argv
from tests.core.ad2_layout import write_ad2
from tests.core.test_realiad_samples import write_multiview


@covers("dataset.realiad_sample_id")
def test_realiad_image_without_sample_id(tmp_path):
    from pyimgano.datasets import load_dataset

    write_multiview(tmp_path)
    split = tmp_path / "realiad_jsons/realiad_jsons/toy.json"
    data = json.loads(split.read_text())
    base = tmp_path / "realiad_256/toy"
    old = base / data["test"][2]["image_path"]
    image = old.with_name("front.png")
    old.rename(image)
    data["test"][2]["image_path"] = image.relative_to(base).as_posix()
    split.write_text(json.dumps(data))
    expect_raise("dataset.realiad_sample_id", lambda: load_dataset("realiad", tmp_path, "toy"),
                 file=split, index=2, image=image)


@covers("dataset.ad2_validation_missing")
def test_ad2_without_validation_images(tmp_path):
    root = tmp_path / "ad2"
    write_ad2(root, "can")
    shutil.rmtree(root / "can/validation")
    argv = cli_args(root, "--pixel", category="can", fmt="mvtec_ad2")
    values = {"category": "can", "directory": root / "can/validation/good"}
    expect_raise("dataset.ad2_validation_missing", lambda: run_argv(argv), **values)
    expect_cli("dataset.ad2_validation_missing", argv, **values)


@covers("dataset.ad2_private_images")
def test_ad2_private_images_not_the_servers(tmp_path):
    root = tmp_path / "ad2"
    write_ad2(root, "can", n_private=3)  # the server expects 321 per split for can
    argv = cli_args(root, "--pixel", "--export-submission", tmp_path / "sub", category="can",
                    fmt="mvtec_ad2")
    values = {"split": "test_private", "category": "can", "count": 321}
    expect_raise("dataset.ad2_private_images", lambda: run_argv(argv), **values)
    expect_cli("dataset.ad2_private_images", argv, **values)
    assert not (tmp_path / "sub").exists()
