"""mvtec_ad2, realiad, mpdd, kolektor: tiny trees written in each layout (as anomalib 2.7's
datamodules read them), their errors, and the same bytes in the MVTec layout giving the same
dataset and report."""

from __future__ import annotations

import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pyimgano.datasets import check_category, list_categories, load_dataset, load_mask
from pyimgano.datasets.kolektor import normal_test_indices
from pyimgano.errors import ConfigError, DatasetError

SIZE = 24


def image_bytes(seed: int, box: tuple[int, int, int, int] | None = None, fmt: str = "PNG") -> bytes:
    """A textured RGB image; ``box`` (x0, y0, x1, y1) painted bright: a defect."""
    rng = np.random.default_rng(seed)
    array = rng.integers(90, 110, size=(SIZE, SIZE, 3), dtype=np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        array[y0:y1, x0:x1] = 250
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def mask_bytes(box: tuple[int, int, int, int], fmt: str = "PNG", value: int = 255) -> bytes:
    array = np.zeros((SIZE, SIZE), np.uint8)
    x0, y0, x1, y1 = box
    array[y0:y1, x0:x1] = value
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def put(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


BOXES = [(2, 2, 8, 8), (10, 12, 20, 18), (4, 14, 9, 22)]


def same_dataset_and_report(a, b, extra: tuple[str, ...] = ()) -> None:
    """Two datasets of the same bytes: same fingerprint, samples, masks and report metrics
    (``a`` has exactly the protocol metrics ``extra`` more)."""
    from pyimgano.evaluation import evaluate
    from tests.fakes import FakeDetector

    assert a.fingerprint == b.fingerprint
    assert (len(a), a.n_anomalous) == (len(b), b.n_anomalous)

    def contents(ds):
        return sorted(
            (s.image_path.read_bytes(), s.label, s.defect_type, load_mask(s).tobytes()) for s in ds
        )

    assert contents(a) == contents(b)
    assert any(label for _, label, _, _ in contents(a))
    ra = evaluate(FakeDetector(), a, pixel=True, batch_size=4).report
    rb = evaluate(FakeDetector(), b, pixel=True, batch_size=4).report
    assert set(ra.metrics) - set(rb.metrics) == set(extra)
    assert {k: v for k, v in ra.metrics.items() if k not in extra} == rb.metrics
    assert ra.metrics["pixel_auroc"] is not None
    assert ra.metrics_by_defect == rb.metrics_by_defect
    assert ra.dataset["fingerprint"] == rb.dataset["fingerprint"]


# ------------------------------------------------------------------------------ mvtec_ad2


def write_mvtec_ad2(root: Path, cat: str) -> None:
    put(root, f"{cat}/train/good/000_regular.png", image_bytes(1))
    put(root, f"{cat}/validation/good/000_regular.png", image_bytes(2))
    for i in range(2):
        put(root, f"{cat}/test_public/good/{i:03d}_regular.png", image_bytes(10 + i))
    for i, box in enumerate(BOXES[:2]):
        put(root, f"{cat}/test_public/bad/{i:03d}_regular.png", image_bytes(20 + i, box))
        put(root, f"{cat}/test_public/ground_truth/bad/{i:03d}_regular_mask.png", mask_bytes(box))
    put(root, f"{cat}/test_private/000_regular.png", image_bytes(30))
    put(root, f"{cat}/test_private_mixed/000_regular.png", image_bytes(31))


def test_mvtec_ad2_layout(tmp_path):
    root = tmp_path / "MVTec_AD_2"
    write_mvtec_ad2(root, "sheet_metal")
    write_mvtec_ad2(root, "can")
    put(root, "vial/test_private/000.png", image_bytes(3))  # no test_public: not a category
    assert list_categories("mvtec_ad2", root) == ["can", "sheet_metal"]
    ds = load_dataset("mvtec_ad2", root, "can")
    got = [(s.label, s.defect_type, s.image_path.relative_to(root).as_posix()) for s in ds]
    assert got == [
        (0, "good", "can/test_public/good/000_regular.png"),
        (0, "good", "can/test_public/good/001_regular.png"),
        (1, "bad", "can/test_public/bad/000_regular.png"),
        (1, "bad", "can/test_public/bad/001_regular.png"),
    ]
    assert ds[2].mask_paths == (root / "can/test_public/ground_truth/bad/000_regular_mask.png",)
    assert load_mask(ds[3]).sum() == 10 * 6


def test_mvtec_ad2_errors(tmp_path):
    root = tmp_path / "ad2"
    write_mvtec_ad2(root, "can")
    put(root, "vial/test_private/000.png", image_bytes(3))
    with pytest.raises(DatasetError) as err:
        load_dataset("mvtec_ad2", root, "vial")
    message = str(err.value)
    assert f"category 'vial' not in dataset mvtec_ad2 at {root} (found: can)" in message
    assert str(root / "vial/test_public") in message and "test_private" in message
    put(root, "can/test_public/scratch/000.png", image_bytes(4))
    with pytest.raises(DatasetError, match=r"unexpected folder\(s\) scratch .*bad, good"):
        load_dataset("mvtec_ad2", root, "can")
    with pytest.raises(DatasetError, match=r"no mvtec_ad2 categories found .*test_public"):
        list_categories("mvtec_ad2", tmp_path / "ad2" / "can")


def test_mvtec_ad2_same_bytes_as_mvtec(tmp_path):
    ad2, mvtec = tmp_path / "ad2", tmp_path / "mvtec"
    write_mvtec_ad2(ad2, "can")
    for path in (ad2 / "can/test_public").rglob("*.png"):
        rel = path.relative_to(ad2 / "can/test_public")
        if rel.parts[0] == "ground_truth":
            put(mvtec, f"can/ground_truth/bad/{rel.name}", path.read_bytes())
        else:
            put(mvtec, f"can/test/{rel.as_posix()}", path.read_bytes())
    same_dataset_and_report(  # MVTec AD 2's protocol adds aupro_0.05 and seg_f1
        load_dataset("mvtec_ad2", ad2, "can"), load_dataset("mvtec", mvtec, "can"),
        extra=("aupro_0.05", "seg_f1"),
    )


# -------------------------------------------------------------------------------- realiad


def write_realiad(root: Path, cat: str, resolution: str = "256") -> dict:
    """Two normal and two anomalous objects, each seen by two cameras (C1, C2)."""
    base = f"realiad_{resolution}/{cat}"
    test, train = [], []
    for s in range(2):
        for c in (1, 2):
            rel = f"OK/S{s:04d}/{cat}_{s:04d}_OK_C{c}_20230922.jpg"
            put(root, f"{base}/{rel}", image_bytes(100 + 10 * s + c))
            test.append({"category": cat, "anomaly_class": "OK", "image_path": rel,
                         "mask_path": None})
    for s, (kind, box) in enumerate([("AK", BOXES[0]), ("BX", BOXES[1])], start=2):
        for c in (1, 2):
            stem = f"NG/{kind}/S{s:04d}/{cat}_{s:04d}_NG_C{c}_20230922"
            put(root, f"{base}/{stem}.jpg", image_bytes(100 + 10 * s + c, box))
            put(root, f"{base}/{stem}_mask.png", mask_bytes(box))
            test.append({"category": cat, "anomaly_class": kind, "image_path": f"{stem}.jpg",
                         "mask_path": f"{stem}_mask.png"})
    put(root, f"{base}/OK/S0099/{cat}_0099_OK_C1_20230922.jpg", image_bytes(7))
    train.append({"category": cat, "anomaly_class": "OK",
                  "image_path": f"OK/S0099/{cat}_0099_OK_C1_20230922.jpg", "mask_path": None})
    meta = {"meta": {"prefix": "", "normal_class": "OK"}, "train": train, "test": test}
    put(root, f"realiad_jsons/realiad_jsons/{cat}.json", json.dumps(meta).encode())
    return meta


def test_realiad_layout(tmp_path):
    root = tmp_path / "Real-IAD"
    write_realiad(root, "audiojack")
    write_realiad(root, "toy")
    (root / "realiad_256/usb").mkdir()  # no JSON split file: not a category
    assert list_categories("realiad", root) == ["audiojack", "toy"]
    ds = load_dataset("realiad", root, "toy")
    got = [(s.label, s.defect_type, s.image_path.name) for s in ds]
    assert got == [
        (0, "good", "toy_0000_OK_C1_20230922.jpg"),
        (0, "good", "toy_0000_OK_C2_20230922.jpg"),
        (0, "good", "toy_0001_OK_C1_20230922.jpg"),
        (0, "good", "toy_0001_OK_C2_20230922.jpg"),
        (1, "AK", "toy_0002_NG_C1_20230922.jpg"),
        (1, "AK", "toy_0002_NG_C2_20230922.jpg"),
        (1, "BX", "toy_0003_NG_C1_20230922.jpg"),
        (1, "BX", "toy_0003_NG_C2_20230922.jpg"),
    ]
    assert "0099" not in " ".join(s.image_path.name for s in ds)  # train entries not read
    assert ds[4].mask_paths == (
        root / "realiad_256/toy/NG/AK/S0002/toy_0002_NG_C1_20230922_mask.png",
    )
    assert load_mask(ds[6]).sum() == 10 * 6


def test_realiad_options(tmp_path):
    root = tmp_path / "Real-IAD"
    write_realiad(root, "toy", resolution="512")
    with pytest.raises(DatasetError, match="no realiad categories found"):
        list_categories("realiad", root)
    assert list_categories("realiad", root, resolution=512) == ["toy"]
    assert len(load_dataset("realiad", root, "toy", resolution="512")) == 8
    shutil.move(root / "realiad_jsons/realiad_jsons", root / "realiad_jsons/realiad_jsons_sv")
    sv = "realiad_jsons/realiad_jsons_sv/{category}.json"
    assert len(load_dataset("realiad", root, "toy", resolution="512", json_path=sv)) == 8
    with pytest.raises(ConfigError, match=r"resolution='128': expected one of 256, 512, 1024"):
        load_dataset("realiad", root, "toy", resolution="128")


def test_realiad_errors(tmp_path):
    root = tmp_path / "riad"
    meta = write_realiad(root, "toy")
    json_file = root / "realiad_jsons/realiad_jsons/toy.json"
    with pytest.raises(DatasetError, match=r"category 'usb' not in dataset realiad .*found: toy"):
        load_dataset("realiad", root, "usb")
    broken = json.loads(json.dumps(meta))
    broken["test"][1]["image_path"] = "OK/S0000/gone.jpg"
    json_file.write_text(json.dumps(broken))
    with pytest.raises(DatasetError, match=r"toy\.json: test\[1\]\.image_path: image .*gone\.jpg"):
        load_dataset("realiad", root, "toy")
    broken["test"][1]["image_path"] = "../../../elsewhere.jpg"
    json_file.write_text(json.dumps(broken))
    with pytest.raises(DatasetError, match=r"test\[1\]\.image_path: path .* leaves the dataset"):
        load_dataset("realiad", root, "toy")
    del broken["test"][1]["image_path"]
    json_file.write_text(json.dumps(broken))
    with pytest.raises(DatasetError, match=r"test\[1\]\.image_path=None: expected a relative"):
        load_dataset("realiad", root, "toy")
    json_file.write_text(json.dumps({"train": meta["train"]}))
    with pytest.raises(DatasetError, match=r"toy\.json has no key 'test'"):
        load_dataset("realiad", root, "toy")
    json_file.write_text("{not json")
    with pytest.raises(DatasetError, match=r"toy\.json is not valid JSON"):
        load_dataset("realiad", root, "toy")


def test_realiad_same_bytes_as_mvtec(tmp_path):
    riad, mvtec = tmp_path / "riad", tmp_path / "mvtec"
    meta = write_realiad(riad, "toy")
    base = riad / "realiad_256/toy"
    for entry in meta["test"]:
        image = base / entry["image_path"]
        folder = "good" if entry["anomaly_class"] == "OK" else entry["anomaly_class"]
        put(mvtec, f"toy/test/{folder}/{image.stem}.jpg", image.read_bytes())
        if entry["mask_path"]:
            mask = (base / entry["mask_path"]).read_bytes()
            put(mvtec, f"toy/ground_truth/{folder}/{image.stem}_mask.png", mask)
    same_dataset_and_report(  # Real-IAD adds the sample-level metrics
        load_dataset("realiad", riad, "toy"), load_dataset("mvtec", mvtec, "toy"),
        extra=("sample_auroc", "sample_ap", "sample_f1_max"),
    )


# ----------------------------------------------------------------------------------- mpdd


def write_mpdd(root: Path, cat: str) -> None:
    put(root, f"{cat}/train/good/000.png", image_bytes(1))
    for i in range(2):
        put(root, f"{cat}/test/good/{i:03d}.png", image_bytes(40 + i))
    for defect, seed, box in (("hole", 50, BOXES[0]), ("scratches", 60, BOXES[2])):
        for i in range(2):
            put(root, f"{cat}/test/{defect}/{i:03d}.png", image_bytes(seed + i, box))
            put(root, f"{cat}/ground_truth/{defect}/{i:03d}_mask.png", mask_bytes(box))


def test_mpdd_layout_and_errors(tmp_path):
    root = tmp_path / "MPDD"
    write_mpdd(root, "tubes")
    write_mpdd(root, "bracket_black")
    assert list_categories("mpdd", root) == ["bracket_black", "tubes"]
    ds = load_dataset("mpdd", root, "tubes")
    assert [(s.label, s.defect_type) for s in ds] == [
        (0, "good"), (0, "good"), (1, "hole"), (1, "hole"), (1, "scratches"), (1, "scratches"),
    ]
    assert ds[5].mask_paths == (root / "tubes/ground_truth/scratches/001_mask.png",)
    with pytest.raises(DatasetError, match=r"category 'tube' not in dataset mpdd .*"
                                           r"found: bracket_black, tubes"):
        load_dataset("mpdd", root, "tube")
    (root / "tubes/ground_truth/hole/001_mask.png").unlink()
    assert [s.image_path.name for s in load_dataset("mpdd", root, "tubes").missing_masks()] == [
        "001.png"
    ]


def test_mpdd_same_bytes_as_mvtec_with_other_names(tmp_path):
    """MPDD is the MVTec tree; renaming every file (same bytes) keeps dataset and report."""
    mpdd, other = tmp_path / "mpdd", tmp_path / "other"
    write_mpdd(mpdd, "tubes")
    for path in (mpdd / "tubes").rglob("*.png"):
        rel = path.relative_to(mpdd / "tubes")
        put(other, f"tubes/{rel.parent.as_posix()}/x{rel.name}", path.read_bytes())
    same_dataset_and_report(
        load_dataset("mpdd", mpdd, "tubes"), load_dataset("mvtec", other, "tubes")
    )


# ------------------------------------------------------------------------------- kolektor


def write_kolektor(root: Path, n_items: int = 6) -> dict[str, bool]:
    """KolektorSDD-like: items kos01.. with Part0..Part2; Part1 of every second item defective.

    Returns image path (relative) -> anomalous.
    """
    labels = {}
    for k in range(1, n_items + 1):
        for p in range(3):
            defective = p == 1 and k % 2 == 0
            box = BOXES[k % 3] if defective else None
            rel = f"kos{k:02d}/Part{p}"
            put(root, f"{rel}.jpg", image_bytes(1000 + 10 * k + p, box, fmt="JPEG"))
            mask = mask_bytes(box, fmt="BMP") if box else mask_bytes((0, 0, 0, 0), fmt="BMP")
            put(root, f"{rel}_label.bmp", mask)
            labels[f"{rel}.jpg"] = defective
    return labels


def test_kolektor_split_matches_sklearn(tmp_path):
    from sklearn.model_selection import train_test_split

    root = tmp_path / "KolektorSDD"
    labels = write_kolektor(root)
    assert list_categories("kolektor", root) == ["kolektor"]
    ds = load_dataset("kolektor", root, "kolektor")
    goods = sorted(str(root / r) for r, bad in labels.items() if not bad)
    _, expected = train_test_split(goods, train_size=0.8, random_state=42)
    assert len(expected) == len(goods) - math.floor(0.8 * len(goods)) == 3
    assert sorted(str(s.image_path) for s in ds if s.label == 0) == sorted(expected)
    bad = sorted(str(root / r) for r, b in labels.items() if b)
    assert sorted(str(s.image_path) for s in ds if s.label == 1) == bad
    assert {s.defect_type for s in ds if s.label == 1} == {"bad"}
    sample = next(s for s in ds if s.label == 1)
    label_file = sample.image_path.with_name(f"{sample.image_path.stem}_label.bmp")
    assert sample.mask_paths == (label_file,)
    assert load_mask(sample).any()


@pytest.mark.parametrize("n", [2, 3, 7, 10, 31, 100])
def test_kolektor_split_indices_match_sklearn(n):
    from sklearn.model_selection import train_test_split

    _, test = train_test_split(list(range(n)), train_size=0.8, random_state=42)
    assert normal_test_indices(n) == sorted(test)


def test_kolektor_errors(tmp_path):
    root = tmp_path / "kolektor"
    write_kolektor(root, n_items=2)
    with pytest.raises(DatasetError, match=r"category 'kos01' not in dataset kolektor .*"
                                           r"found: kolektor"):
        load_dataset("kolektor", root, "kos01")
    (root / "kos02/Part2_label.bmp").unlink()
    with pytest.raises(DatasetError, match=r"kos02/Part2\.jpg has no mask .*Part2_label\.bmp"):
        load_dataset("kolektor", root, "kolektor")
    with pytest.raises(DatasetError, match=r"no kolektor categories found .*_label\.bmp"):
        list_categories("kolektor", root / "kos01")  # an item, not the dataset root
    empty = tmp_path / "empty"
    (empty / "kos01").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"no kolektor categories found under .*empty"):
        list_categories("kolektor", empty)


def test_kolektor_needs_two_normal_images(tmp_path):
    root = tmp_path / "k"
    put(root, "kos01/Part0.jpg", image_bytes(1, fmt="JPEG"))
    put(root, "kos01/Part0_label.bmp", mask_bytes((0, 0, 0, 0), fmt="BMP"))
    with pytest.raises(DatasetError, match="at least 2 defect-free images .* found 1"):
        load_dataset("kolektor", root, "kolektor")


def test_kolektor_same_bytes_as_mvtec(tmp_path):
    kol, mvtec = tmp_path / "kol", tmp_path / "mvtec"
    write_kolektor(kol)
    ds = load_dataset("kolektor", kol, "kolektor")
    for sample in ds:
        name = f"{sample.image_path.parent.name}_{sample.image_path.stem}"
        folder = "good" if sample.label == 0 else "bad"
        put(mvtec, f"kolektor/test/{folder}/{name}.jpg", sample.image_path.read_bytes())
        if sample.label:
            put(mvtec, f"kolektor/ground_truth/bad/{name}_mask.bmp",
                sample.mask_paths[0].read_bytes())
    same_dataset_and_report(ds, load_dataset("mvtec", mvtec, "kolektor"))


# ------------------------------------------------------------------------- check_category


def test_check_category_for_every_format(tmp_path):
    write_mvtec_ad2(tmp_path / "ad2", "can")
    write_realiad(tmp_path / "riad", "toy")
    write_mpdd(tmp_path / "mpdd", "tubes")
    write_kolektor(tmp_path / "kol", n_items=2)
    for fmt, root, good, bad in [
        ("mvtec_ad2", "ad2", "can", "cans"),
        ("realiad", "riad", "toy", "toys"),
        ("mpdd", "mpdd", "tubes", "tube"),
        ("kolektor", "kol", "kolektor", "kolector"),
    ]:
        check_category(fmt, tmp_path / root, good)  # no error
        with pytest.raises(DatasetError, match=f"category '{bad}' not in dataset {fmt} at "):
            check_category(fmt, tmp_path / root, bad)
