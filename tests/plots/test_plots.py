"""Plots beside a report: ROC, PRO, worst-image overlays, diff scatter (SPEC §6, §9)."""

from __future__ import annotations

import sys
import warnings

import pytest

from pyimgano.artifacts import write_evaluation
from pyimgano.evaluation import evaluate
from pyimgano.datasets import load_dataset
from pyimgano.diff import diff_records
from pyimgano.diff.compare import ItemDiff
from pyimgano.plots import worst_indices, write_diff_plot, write_plots
from tests.fakes import FakeDetector

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def evaluation(synthetic_root):
    dataset = load_dataset("mvtec", synthetic_root, "tiles")
    # maps at half resolution: the overlays align them to the image with align_map
    return evaluate(FakeDetector(downsample=2, labels=True), dataset, pixel=True, batch_size=8)


def check_png(path, *, min_px=200, max_px=1200):
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert 3_000 < len(data) < 300_000, len(data)
    with Image.open(path) as image:
        width, height = image.size
    assert min_px <= width <= max_px and min_px <= height <= max_px, (width, height)


def test_write_plots_draws_roc_pro_and_worst_beside_the_report(tmp_path, evaluation):
    report = write_evaluation(evaluation, tmp_path / "tiles.json", plots=False)
    written = write_plots(evaluation, report)
    assert [p.name for p in written] == ["tiles.roc.png", "tiles.pro.png", "tiles.worst.png"]
    for path in written:
        assert path.parent == tmp_path
        check_png(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "tiles.json", "tiles.jsonl", "tiles.pro.png", "tiles.roc.png", "tiles.worst.png"
    ]


def test_plots_are_deterministic_and_leave_global_state_alone(tmp_path, evaluation):
    import matplotlib

    def params():  # reading rcParams["backend"] would import pyplot
        return {k: matplotlib.rcParams[k] for k in matplotlib.rcParams if k != "backend"}

    had_pyplot = "matplotlib.pyplot" in sys.modules
    with matplotlib.rc_context({"lines.linewidth": 7.0, "axes.facecolor": "black"}):
        before = params()
        first = write_plots(evaluation, tmp_path / "a" / "x.json")
        assert params() == before
    second = write_plots(evaluation, tmp_path / "b" / "x.json")  # user style does not leak in
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot


def test_no_pro_plot_without_maps_or_pixel_metrics(tmp_path, synthetic_root):
    dataset = load_dataset("mvtec", synthetic_root, "disk")
    no_maps = evaluate(FakeDetector(with_map=False), dataset, pixel=True)
    assert [p.name for p in write_plots(no_maps, tmp_path / "a.json")] == [
        "a.roc.png", "a.worst.png"
    ]
    image_only = evaluate(FakeDetector(), dataset, pixel=False)
    assert [p.name for p in write_plots(image_only, tmp_path / "b.json")] == [
        "b.roc.png", "b.worst.png"
    ]


def test_worst_indices():
    labels = [0, 1, 0, 1, 1, 0]
    scores = [0.9, 0.2, 0.1, 0.2, 0.8, 0.95]
    assert worst_indices(labels, scores, 2) == ([1, 3], [5, 0])


def test_without_matplotlib_nothing_is_drawn_and_the_report_is_written(
    tmp_path, evaluation, monkeypatch
):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.warns(UserWarning, match="matplotlib is not installed"):
        report = write_evaluation(evaluation, tmp_path / "tiles.json")
    assert report.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiles.json", "tiles.jsonl"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert write_plots(evaluation, report) == []


def test_diff_scatter(tmp_path):
    old = [{"path": f"/r/{i}.png", "label": i % 2, "score": i / 10, "pred_label": None}
           for i in range(10)]
    new = [{**r, "score": r["score"] + (0.3 if r["label"] else -0.05)} for r in old]
    item = ItemDiff(key="s/m/bottle.json", images=diff_records(old, new, old_root="/r",
                                                               new_root="/r"))
    path = write_diff_plot(item, tmp_path / "bottle.png")
    assert path == tmp_path / "bottle.png"
    check_png(path)
    assert write_diff_plot(ItemDiff(key="x"), tmp_path / "none.png") is None
