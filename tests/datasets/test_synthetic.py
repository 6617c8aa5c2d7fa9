"""pyimgano.datasets.synthetic: determinism, exact masks, idempotence, loadability."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pyimgano.datasets import list_categories, load_dataset, load_mask, require_masks
from pyimgano.datasets.synthetic import (
    DEFAULT_CATEGORIES,
    MANIFEST_NAME,
    category_defects,
    generate,
    render_image,
)
from pyimgano.errors import ConfigError, DatasetError

SMALL = {"size": 48, "n_train": 2, "n_test_good": 2, "n_test_bad_per_defect": 3}


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _open(path: Path) -> tuple[str, tuple[int, int], np.ndarray]:
    with Image.open(path) as image:
        return image.mode, image.size, np.asarray(image)


def _mtimes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("syn") / "a", **SMALL)


def test_layout_and_counts(generated):
    assert sorted(p.name for p in generated.iterdir()) == sorted(
        [*DEFAULT_CATEGORIES, MANIFEST_NAME]
    )
    for cat in DEFAULT_CATEGORIES:
        assert len(list((generated / cat / "train/good").iterdir())) == 2
        assert sorted(p.name for p in (generated / cat / "test/good").iterdir()) == [
            "000.png",
            "001.png",
        ]
        defects = category_defects(cat)
        assert len(defects) >= 3
        for defect in defects:
            assert len(list((generated / cat / "test" / defect).iterdir())) == 3
            masks = sorted(p.name for p in (generated / cat / "ground_truth" / defect).iterdir())
            assert masks == ["000_mask.png", "001_mask.png", "002_mask.png"]
    kinds = {d for cat in DEFAULT_CATEGORIES for d in category_defects(cat)}
    assert kinds == {"scratch", "stain", "hole", "color"}


def test_same_seed_same_bytes_different_seed_differs(generated, tmp_path):
    again = generate(tmp_path / "b", **SMALL)
    assert _hashes(again) == _hashes(generated)
    other = _hashes(generate(tmp_path / "c", seed=1, **SMALL))
    base = _hashes(generated)
    images = [k for k in base if k.endswith(".png")]
    assert all(other[k] != base[k] for k in images)


def test_files_are_rgb_and_binary_masks(generated):
    mode, size, _ = _open(generated / "tiles/test/hole/000.png")
    assert (mode, size) == ("RGB", (48, 48))
    mode, size, mask = _open(generated / "tiles/ground_truth/hole/000_mask.png")
    assert (mode, size) == ("L", (48, 48))
    assert set(np.unique(mask)) == {0, 255}


def test_masks_exactly_cover_drawn_defects(generated):
    touching = {cat: 0 for cat in DEFAULT_CATEGORIES}
    for cat in DEFAULT_CATEGORIES:
        for defect in category_defects(cat):
            for i in range(3):
                image, mask, clean = render_image(cat, "test", defect, i, size=48)
                on_disk = _open(generated / f"{cat}/test/{defect}/{i:03d}.png")[2]
                np.testing.assert_array_equal(on_disk, image)
                file_mask = _open(generated / f"{cat}/ground_truth/{defect}/{i:03d}_mask.png")[2]
                assert mask is not None and mask.shape == image.shape[:2]
                np.testing.assert_array_equal(file_mask > 0, mask)
                np.testing.assert_array_equal((image != clean).any(axis=-1), mask)
                assert mask.sum() >= 6
                edge = mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()
                assert edge == (i == 2)  # every third defect touches a border
                touching[cat] += edge
    assert all(touching.values())


def test_normals_differ_between_images_and_categories():
    a = render_image("tiles", "train", "good", 0)[0]
    b = render_image("tiles", "train", "good", 1)[0]
    c = render_image("plate", "train", "good", 0)[0]
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    assert not np.array_equal(a, b) and not np.array_equal(a, c)


def test_rectangular_size(tmp_path):
    root = generate(
        tmp_path / "r", ("disk",), size=(40, 64), n_train=1, n_test_good=1, n_test_bad_per_defect=1
    )
    assert _open(root / "disk/test/good/000.png")[1] == (64, 40)
    ds = load_dataset("mvtec", root, "disk")
    assert all(load_mask(s).shape == (40, 64) for s in ds)


def test_idempotent_rewrites_nothing(generated):
    before = _mtimes(generated)
    assert generate(generated, **SMALL) == generated
    assert _mtimes(generated) == before


def test_changed_parameters_regenerate(tmp_path):
    root = generate(
        tmp_path / "p",
        ("tiles", "disk"),
        size=40,
        n_train=1,
        n_test_good=1,
        n_test_bad_per_defect=1,
    )
    generate(root, ("tiles",), size=40, n_train=2, n_test_good=1, n_test_bad_per_defect=1)
    assert not (root / "disk").exists()  # category of the old manifest removed
    assert len(list((root / "tiles/train/good").iterdir())) == 2
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["complete"] is True and manifest["params"]["n_train"] == 2


def test_missing_file_triggers_regeneration(tmp_path):
    root = generate(
        tmp_path / "m", ("plate",), size=40, n_train=1, n_test_good=1, n_test_bad_per_defect=1
    )
    victim = root / "plate/test/good/000.png"
    victim.unlink()
    generate(root, ("plate",), size=40, n_train=1, n_test_good=1, n_test_bad_per_defect=1)
    assert victim.is_file()


def test_refuses_foreign_category_dir(tmp_path):
    (tmp_path / "x" / "tiles").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"refusing to overwrite .*tiles"):
        generate(tmp_path / "x", ("tiles",), size=40)
    assert not (tmp_path / "x" / MANIFEST_NAME).exists()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"categories": ()},
        {"categories": ("../evil",)},
        {"categories": ("a", "a")},
        {"seed": -1},
        {"size": 16},
        {"size": (64,)},
        {"size": True},
        {"n_train": 0},
    ],
)
def test_bad_parameters(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        generate(tmp_path / "bad", **kwargs)
    assert not (tmp_path / "bad").exists()


def test_loads_as_mvtec_with_stable_fingerprint(generated, tmp_path):
    assert list_categories("mvtec", generated) == sorted(DEFAULT_CATEGORIES)
    copy = generate(tmp_path / "copy", **SMALL)
    for cat in DEFAULT_CATEGORIES:
        ds = load_dataset("mvtec", generated, cat)
        require_masks(ds)
        assert len(ds) == 2 + 3 * len(category_defects(cat))
        assert ds.n_anomalous == 3 * len(category_defects(cat))
        for sample in ds:
            assert load_mask(sample).any() == bool(sample.label)
        assert ds.fingerprint == load_dataset("mvtec", copy, cat).fingerprint


def test_unknown_category_name_gets_a_style(tmp_path):
    root = generate(
        tmp_path / "u", ("widget",), size=40, n_train=1, n_test_good=1, n_test_bad_per_defect=1
    )
    assert sorted(p.name for p in (root / "widget/test").iterdir()) == [
        "color",
        "good",
        "hole",
        "scratch",
        "stain",
    ]


def test_independent_of_hash_seed_and_torch_free(generated, tmp_path):
    """A fresh interpreter with another hash seed writes the same bytes, importing no torch."""
    code = (
        "import sys; from pyimgano.datasets.synthetic import generate; "
        f"generate(sys.argv[1], **{SMALL!r}); "
        "import pyimgano.datasets; "
        "assert 'torch' not in sys.modules and 'anomalib' not in sys.modules"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "h")], check=True, env=env)
    assert _hashes(tmp_path / "h") == _hashes(generated)
