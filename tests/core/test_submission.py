"""MVTec AD 2 submission: layout, names, types, counts, archive, and the errors naming what is
wrong — on a synthetic layout with its own counts table (the real counts are 142..321).

The TIFFs are read back with ``tifffile`` (what MVTec's checker reads them with), the PNGs
with Pillow; the expected maps and masks are computed here from the image files.
"""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from pyimgano.cli.benchmark import main
from pyimgano.protocols.submission import (
    FILE_COUNTS,
    SubmissionError,
    check_submission,
    export_submission,
    write_float16_tiff,
)
from tests.core.ad2_layout import fake_map, write_ad2
from tests.fakes import FakeDetector

tifffile = pytest.importorskip("tifffile")
COUNTS = {"can": 3, "vial": 2}


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may land in the checkout


@pytest.fixture
def ad2(tmp_path):
    root = tmp_path / "ad2"
    write_ad2(root, "can", n_private=3)
    write_ad2(root, "vial", n_private=2)
    return root


def test_float16_tiff_reads_back_as_a_2d_float16_image(tmp_path):
    values = np.array([[0.0, 1.5, -2.25], [65504.0, 1e-3, 0.333]], dtype=np.float32)
    path = tmp_path / "m.tiff"
    write_float16_tiff(path, values)
    read = tifffile.imread(path)
    assert read.dtype == np.float16 and read.ndim == 2
    assert np.array_equal(read, values.astype(np.float16))
    with pytest.raises(SubmissionError, match=r"m2.tiff: map values up to 70000 do not fit"):
        write_float16_tiff(tmp_path / "m2.tiff", np.array([[70000.0]]))


def test_export_two_categories_then_archive(ad2, tmp_path):
    out = tmp_path / "submission"
    first = export_submission(FakeDetector(), ad2, "can", out, 0.05, counts=COUNTS)
    assert first.archive is None and first.missing_categories == ("vial",)
    assert "categories still missing: vial" in first.describe()
    assert not (tmp_path / "submission.tar.gz").exists()
    second = export_submission(FakeDetector(), ad2, "vial", out, 0.05, counts=COUNTS)
    assert second.archive == tmp_path / "submission.tar.gz"
    expected = set()
    for category, count in COUNTS.items():
        for split, suffix in (("test_private", "regular"), ("test_private_mixed", "mixed")):
            for i in range(count):
                stem = f"{i:03d}_{suffix}"
                amap = fake_map(ad2 / category / split / f"{stem}.png")
                tiff = out / "anomaly_images" / category / split / f"{stem}.tiff"
                png = out / "anomaly_images_thresholded" / category / split / f"{stem}.png"
                read = tifffile.imread(tiff)
                assert read.dtype == np.float16 and read.shape == amap.shape
                assert np.array_equal(read, amap.astype(np.float16))
                mask = np.asarray(Image.open(png))
                assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 255}
                assert np.array_equal(mask == 255, amap.astype(np.float64) >= 0.05)
                expected |= {f"submission/{p.relative_to(out).as_posix()}" for p in (tiff, png)}
    with tarfile.open(second.archive) as tar:
        assert set(tar.getnames()) == expected
    assert check_submission(out, COUNTS) == ([], [])


def test_private_images_that_are_not_the_servers_are_named(ad2, tmp_path):
    extra = ad2 / "can/test_private/003_regular.png"
    extra.write_bytes((ad2 / "can/test_private/000_regular.png").read_bytes())
    (ad2 / "can/test_private_mixed/001_mixed.png").unlink()
    with pytest.raises(SubmissionError, match=r"extra images \[003_regular\] in .*test_private"):
        export_submission(FakeDetector(), ad2, "can", tmp_path / "s", 0.1, counts=COUNTS)
    extra.unlink()
    with pytest.raises(SubmissionError, match=r"missing images \[001_mixed\] in .*mixed"):
        export_submission(FakeDetector(), ad2, "can", tmp_path / "s", 0.1, counts=COUNTS)
    with pytest.raises(SubmissionError, match="not an MVTec AD 2 category"):
        export_submission(FakeDetector(), ad2, "can", tmp_path / "s", 0.1, counts={"vial": 2})


def test_a_stray_file_or_category_in_the_directory_is_named(ad2, tmp_path):
    out = tmp_path / "s"
    stray = out / "anomaly_images/can/test_private/notes.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("x")
    with pytest.raises(SubmissionError, match=r"extra files \[notes.txt\] in .*can/test_private"):
        export_submission(FakeDetector(), ad2, "can", out, 0.1, counts=COUNTS)
    stray.unlink()
    (out / "anomaly_images/bottle").mkdir()
    with pytest.raises(SubmissionError, match=r"extra entries \[bottle\] in .*anomaly_images"):
        export_submission(FakeDetector(), ad2, "can", out, 0.1, counts=COUNTS)


def test_checker_counts_and_missing_files(ad2, tmp_path):
    out = tmp_path / "s"
    export_submission(FakeDetector(), ad2, "can", out, 0.1, counts=COUNTS)
    (out / "anomaly_images_thresholded/can/test_private/002_regular.png").unlink()
    problems, missing = check_submission(out, COUNTS)
    assert missing == ["vial"]
    assert any("expected 3 files, found 2" in p and "thresholded/can/test_private" in p
               for p in problems)
    assert any(p.startswith("missing files [002_regular.png]") for p in problems)


def test_the_real_counts_table():
    assert FILE_COUNTS == {"can": 321, "fabric": 314, "fruit_jelly": 255, "rice": 277,
                           "sheet_metal": 142, "vial": 276, "wallplugs": 232, "walnuts": 228}


def test_cli_export_submission(ad2, tmp_path, capsys, fake_model_name, monkeypatch):
    import pyimgano.protocols.submission as submission

    monkeypatch.setattr(submission, "FILE_COUNTS", {"can": 3})
    out = tmp_path / "sub"
    base = ["--dataset", "mvtec_ad2", "--root", str(ad2), "--category", "can", "--model",
            fake_model_name, "--no-progress", "--output", str(tmp_path / "r.json"),
            "--no-plots", "--export-submission", str(out)]
    code = main(base[:-2])
    assert code == 0
    code = main([a for a in base if a != "--pixel"])
    err = capsys.readouterr().err
    assert code == 2 and "--export-submission needs --pixel" in err
    code = main([*base, "--pixel"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "submission complete" in err and str(tmp_path / "sub.tar.gz") in err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["calibration"]["rule"] == "mean_std"
    threshold = report["calibration"]["threshold"]
    amap = fake_map(ad2 / "can/test_private_mixed/002_mixed.png")
    mask = np.asarray(Image.open(out / "anomaly_images_thresholded/can/test_private_mixed/"
                                       "002_mixed.png"))
    assert np.array_equal(mask == 255, amap.astype(np.float64) >= threshold)
    code = main(["--dataset", "mvtec", *base[2:], "--pixel"])
    assert code == 2 and "is for --dataset mvtec_ad2" in capsys.readouterr().err


def test_run_case_checks_the_private_images_before_any_inference(ad2, fake_model_name,
                                                                  monkeypatch, tmp_path):
    import pyimgano.protocols.submission as submission
    import pyimgano.runner as runner
    from pyimgano.runner import Case, run_case

    monkeypatch.setattr(submission, "FILE_COUNTS", {"can": 3})

    def no_inference(*args, **kwargs):
        raise AssertionError("evaluate must not run")

    monkeypatch.setattr(runner, "evaluate", no_inference)
    (ad2 / "can/test_private/002_regular.png").rename(ad2 / "can/test_private/02_regular.png")
    case = Case(model=fake_model_name, dataset_format="mvtec_ad2", root=ad2, category="can",
                pixel=True, export_submission=tmp_path / "sub")
    with pytest.raises(SubmissionError, match=r"extra images \[02_regular\] in .*test_private;"
                       r" missing images \[002_regular\]"):
        run_case(case)
    assert not (tmp_path / "sub").exists()
