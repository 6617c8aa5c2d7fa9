"""The dataset fingerprint's serialisation is pinned: users pin its output in their suites.

The golden values below were computed once by hand with coreutils, independently of pyimgano:
``printf '%s' BYTES | sha256sum`` for each file, the records ``<label>:<image>:<masks>`` written
one per line, ``LC_ALL=C sort``, ``sha256sum`` of the result. If one of these tests fails, the
fingerprint of every user's dataset changed and every pin breaks: do not update the constants
unless that break is intended, announced, and the reference (docs/REFERENCE.md §4) says so.
"""

from __future__ import annotations

import hashlib
import shutil

from pyimgano.datasets import Sample, fingerprint_samples, load_dataset

# files hold these bytes, not images: the loaders never decode images
MVTEC_FILES = {
    "c/test/good/000.png": b"good-0",
    "c/test/good/001.png": b"good-1",
    "c/test/crack/000.png": b"crack-0",
    "c/ground_truth/crack/000_mask.png": b"mask-0",
    "c/test/crack/001.png": b"crack-1",  # anomalous without mask
}
MVTEC_GOLDEN = "c48397eccd25a7f51e92c9cf27328b874d0667fae58755c1d06947ea141abe2f"
# the same bytes with test/good/001.png moved to test/crack/ (its label alone changes)
MVTEC_RELABELLED_GOLDEN = "74a34d74f58400383d09c0e62c35742be09d2d95bb1f46a61433535c5b4964d8"

LOCO_FILES = {
    "c/test/good/000.png": b"loco-good",
    "c/test/logical_anomalies/000.png": b"loco-0",
    "c/ground_truth/logical_anomalies/000/000.png": b"m0",
    "c/ground_truth/logical_anomalies/000/001.png": b"m1",
}
LOCO_GOLDEN = "b049a1e9618fd1f9810ebf0f56b91cd241bbf9543b347b84b7cd6683f8c8c4f8"


def write(root, files):
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def documented(records: list[tuple[int, bytes, list[bytes]]]) -> str:
    """The documented serialisation, written out: (label, image bytes, mask bytes...)."""
    lines = sorted(f"{label}:{sha(image)}:{','.join(sha(m) for m in masks)}"
                   for label, image, masks in records)
    return hashlib.sha256("".join(line + "\n" for line in lines).encode("ascii")).hexdigest()


def test_golden_mvtec(tmp_path):
    write(tmp_path, MVTEC_FILES)
    expected = documented([
        (0, b"good-0", []), (0, b"good-1", []), (1, b"crack-0", [b"mask-0"]), (1, b"crack-1", []),
    ])
    assert expected == MVTEC_GOLDEN
    assert load_dataset("mvtec", tmp_path, "c").fingerprint == MVTEC_GOLDEN


def test_golden_several_masks_in_file_order(tmp_path):
    write(tmp_path, LOCO_FILES)
    expected = documented([(0, b"loco-good", []), (1, b"loco-0", [b"m0", b"m1"])])
    assert expected == LOCO_GOLDEN
    assert load_dataset("mvtec_loco", tmp_path, "c").fingerprint == LOCO_GOLDEN


def test_label_change_alone_changes_it(tmp_path):
    write(tmp_path, MVTEC_FILES)
    before = load_dataset("mvtec", tmp_path, "c").fingerprint
    shutil.move(tmp_path / "c/test/good/001.png", tmp_path / "c/test/crack/002.png")
    after = load_dataset("mvtec", tmp_path, "c")
    assert [s.label for s in after] == [0, 1, 1, 1]  # same four files, one label differs
    assert after.fingerprint == MVTEC_RELABELLED_GOLDEN != before == MVTEC_GOLDEN


def test_label_alone_on_samples(tmp_path):
    image = tmp_path / "x.png"
    image.write_bytes(b"same bytes")
    normal = fingerprint_samples([Sample(image, 0, None, "good")])
    anomalous = fingerprint_samples([Sample(image, 1, None, "good")])
    assert normal != anomalous
    assert normal == documented([(0, b"same bytes", [])])
    # defect type and path are not part of it
    assert normal == fingerprint_samples([Sample(image, 0, None, "other")])
