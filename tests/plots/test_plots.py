"""Plots beside a report: ROC, PRO, worst-image overlays, diff scatter (docs/REFERENCE.md §6,
§9)."""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pyimgano.artifacts import write_evaluation
from pyimgano.datasets import load_dataset
from pyimgano.diff import diff_records
from pyimgano.diff.result import ItemDiff
from pyimgano.errors import MetricInputError
from pyimgano.evaluation import evaluate
from pyimgano.plots import (
    HIGHEST_NORMAL,
    LOWEST_ANOMALOUS,
    thin_curve,
    worst_indices,
    worst_panels,
    write_diff_plot,
    write_plots,
)
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


# ------------------------------------------------------------------------------------------
# Evaluation-like objects with pixel data (docs/REFERENCE.md §6; issue 10.5, 15.2)

SIZE = 96
N_EACH = 6


@dataclass
class PixelDataLike:
    """What ``Evaluation.pixel`` holds (maps at mask size, masks, the sweep's curves)."""

    maps: list
    masks: list
    roc: tuple | None
    pro: tuple | None


class DatasetLike(list):
    category = "tiles"


def _disk(cy, cx, radius):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2


def _write_images(root: Path):
    """N_EACH textured normals, N_EACH with a dark disc (mask PNGs beside them)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    samples, masks = [], []
    for i in range(2 * N_EACH):
        anomalous = i >= N_EACH
        noise = rng.normal(0, 6, (SIZE, SIZE))
        texture = 140 + 40 * np.sin(xx / 5.0 + i) * np.cos(yy / 7.0) + noise
        rgb = np.stack([texture, texture * 0.9, texture * 0.8], axis=-1)
        mask = _disk(20 + 9 * (i % N_EACH), 30 + 7 * (i % N_EACH), 6 + i % 3) if anomalous else None
        if mask is not None:
            rgb[mask] = (40, 30, 30)
        folder = root / ("dent" if anomalous else "good")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i:03d}.png"
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
        mask_paths = None
        if mask is not None:
            mask_path = root / "ground_truth" / f"{i:03d}_mask.png"
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
            mask_paths = (mask_path,)
        samples.append(
            SimpleNamespace(
                image_path=path,
                label=int(anomalous),
                mask_paths=mask_paths,
                defect_type="dent" if anomalous else "good",
            )
        )
        masks.append(mask)
    return DatasetLike(samples), masks


def _evaluation_like(dataset, masks, maps, scores, pred_labels, *, name):
    """An Evaluation-like object: report (model, metrics), dataset, predictions, pixel data."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    from pyimgano.metrics import image_metrics, pixel_metrics, pro_curve
    from pyimgano.outputs import Prediction

    labels = [s.label for s in dataset]
    full = [np.zeros(m.shape, bool) if k is None else k for m, k in zip(maps, masks, strict=True)]
    metrics = {**image_metrics(labels, scores), **pixel_metrics(maps, full)}
    if all(p is not None for p in pred_labels):
        pred = np.asarray(pred_labels)
        y = np.asarray(labels)
        metrics["image_miss_rate"] = float(np.mean(pred[y == 1] == 0))
        metrics["image_false_reject_rate"] = float(np.mean(pred[y == 0] == 1))
    fpr, tpr, _ = sk_roc_curve(
        np.concatenate([k.ravel() for k in full]),
        np.concatenate([m.ravel() for m in maps]),
        drop_intermediate=False,
    )
    pixel_data = PixelDataLike(maps=maps, masks=masks, roc=(fpr, tpr), pro=pro_curve(maps, full))
    return SimpleNamespace(
        report=SimpleNamespace(model={"name": name}, metrics=metrics),
        dataset=dataset,
        predictions=[
            Prediction(score=s, anomaly_map=m, pred_label=p)
            for s, m, p in zip(scores, maps, pred_labels, strict=True)
        ],
        aupro_limit=0.3,
        pixel=pixel_data,
    )


def padim_like(root):
    """Smooth raw-scale maps (PaDiM: blurred Mahalanobis distances, ~5-40); mixed verdicts."""
    from scipy.ndimage import gaussian_filter

    dataset, masks = _write_images(root)
    rng = np.random.default_rng(7)
    maps = []
    for i, mask in enumerate(masks):
        base = gaussian_filter(rng.normal(0, 1, (SIZE, SIZE)), 6) * 20 + 8
        if mask is not None:
            base = base + gaussian_filter(mask.astype(np.float64), 4) * (12 + 6 * (i % 3))
        if i == 2:  # a normal image with a hot spot: a false alarm
            base = base + gaussian_filter(_disk(60, 30, 5).astype(np.float64), 4) * 20
        maps.append(base.astype(np.float32))
    scores = [float(np.max(m)) for m in maps]
    # the checkpoint's threshold: the second-lowest anomalous score (one real miss)
    threshold = sorted(s for s, k in zip(scores, masks, strict=True) if k is not None)[1]
    pred_labels = [int(s >= threshold) for s in scores]
    return _evaluation_like(dataset, masks, maps, scores, pred_labels, name="padim-like")


def patchcore_like(root):
    """anomalib-normalised, clamped maps: one normal image saturated at 1 over a large area,
    every other map below 0.05; every anomalous image is detected (pred_label 1)."""
    from scipy.ndimage import gaussian_filter

    dataset, masks = _write_images(root)
    rng = np.random.default_rng(11)
    maps, scores, pred_labels = [], [], []
    for i, mask in enumerate(masks):
        amap = np.abs(gaussian_filter(rng.normal(0, 1, (SIZE, SIZE)), 3)) * 0.01
        if mask is not None:
            amap = amap + gaussian_filter(mask.astype(np.float64), 3) * 0.04
        if i == 1:  # the saturated normal image: clamped to 1 over a large area
            amap = np.minimum(amap + 5.0 * _disk(48, 48, 40), 1.0)
        maps.append(amap.astype(np.float32))
        # normalised scores: anomalous above the 0.5 threshold, normals below but the saturated
        scores.append(0.6 + 0.03 * (i - N_EACH) if mask is not None else 1.0 if i == 1 else 0.1 * i)
        pred_labels.append(int(scores[-1] > 0.5))
    return _evaluation_like(dataset, masks, maps, scores, pred_labels, name="patchcore-like")


@pytest.fixture
def captured(monkeypatch):
    """Figures passed to plots.png.save_png, by file name (they are still written)."""
    from pyimgano.plots import png

    figures = {}
    save = png.save_png

    def capture(figure, path):
        figures[Path(path).name] = figure
        return save(figure, path)

    monkeypatch.setattr(png, "save_png", capture)
    return figures


def _panel_axes(figure):
    """The worst plot's image axes (those showing an image), in drawing order."""
    return [ax for ax in figure.axes if ax.images]


def _lines(figure):
    """The first axes' lines by label (up to its first comma: "pixel ROC, AUROC = …")."""
    return {line.get_label().split(",")[0]: line for line in figure.axes[0].lines}


def _texts(figure):
    from matplotlib.text import Text

    return [t.get_text() for t in figure.findobj(Text)]


def _is_subsequence(drawn, given):
    """Every drawn point is a point of the given curve, in the given order."""
    where = {}
    for index, point in enumerate(zip(given[0].tolist(), given[1].tolist(), strict=True)):
        where.setdefault(point, []).append(index)
    last = -1
    for point in zip(np.asarray(drawn[0]).tolist(), np.asarray(drawn[1]).tolist(), strict=True):
        later = [i for i in where.get(point, ()) if i > last]
        if not later:
            return False
        last = later[0]
    return True


def test_plots_take_maps_masks_and_curves_from_the_evaluation(tmp_path, monkeypatch, captured):
    import pyimgano.alignment
    import pyimgano.datasets.masks
    import pyimgano.metrics

    evaluation = padim_like(tmp_path / "data")
    n_images = len(evaluation.dataset)
    # a PRO curve the maps could not give: drawing it proves the given curve is used
    fpr = np.linspace(0, 1, 50_001) ** 2
    evaluation.pixel.pro = (fpr, fpr**0.1)

    def refuse(*args, **kwargs):
        raise AssertionError("plots re-read or re-computed what the evaluation holds")

    image_roc = pyimgano.metrics.roc_curve

    def roc_of_images_only(labels, scores, **kwargs):
        assert len(labels) == n_images, "a pixel ROC was re-sorted"
        return image_roc(labels, scores, **kwargs)

    for name in ("load_mask", "read_mask", "image_size"):
        monkeypatch.setattr(pyimgano.datasets.masks, name, refuse)
    for name in ("align_map", "align_maps"):
        monkeypatch.setattr(pyimgano.alignment, name, refuse)
    monkeypatch.setattr(pyimgano.metrics, "pro_curve", refuse)
    monkeypatch.setattr(pyimgano.metrics, "roc_curve", roc_of_images_only)

    written = write_plots(evaluation, tmp_path / "tiles.json")
    assert [p.name for p in written] == ["tiles.roc.png", "tiles.pro.png", "tiles.worst.png"]
    for path in written:
        check_png(path)

    drawn = _lines(captured["tiles.pro.png"])["PRO curve"].get_data()
    assert 2 < len(drawn[0]) <= 4 * 1000 + 2  # thinned from 50 001 points
    assert _is_subsequence(drawn, evaluation.pixel.pro)
    assert (drawn[0][0], drawn[1][0], drawn[0][-1], drawn[1][-1]) == (0.0, 0.0, 1.0, 1.0)

    roc_lines = _lines(captured["tiles.roc.png"])
    assert {"image ROC", "pixel ROC"} <= set(roc_lines)
    pixel_drawn = roc_lines["pixel ROC"].get_data()
    assert len(evaluation.pixel.roc[0]) > 4 * 1000 + 2 >= len(pixel_drawn[0])
    assert _is_subsequence(pixel_drawn, evaluation.pixel.roc)


def test_curves_missing_from_the_pixel_data_are_computed(tmp_path, captured):
    from pyimgano.metrics import pro_curve

    evaluation = patchcore_like(tmp_path / "data")
    evaluation.pixel.roc = evaluation.pixel.pro = None
    write_plots(evaluation, tmp_path / "tiles.json")
    full = [np.zeros(m.shape, bool) if k is None else k
            for m, k in zip(evaluation.pixel.maps, evaluation.pixel.masks, strict=True)]
    expected = pro_curve(evaluation.pixel.maps, full)
    assert _is_subsequence(_lines(captured["tiles.pro.png"])["PRO curve"].get_data(), expected)
    assert "pixel ROC" in _lines(captured["tiles.roc.png"])


def test_without_pixel_data_maps_are_aligned_to_the_image_and_masks_read(tmp_path, captured):
    evaluation = padim_like(tmp_path / "data")
    half = [m[::2, ::2].copy() for m in evaluation.pixel.maps]  # the model's resolution
    evaluation.predictions = [
        replace(p, anomaly_map=amap) for p, amap in zip(evaluation.predictions, half, strict=True)
    ]
    evaluation.pixel = None
    written = write_plots(evaluation, tmp_path / "tiles.json")
    assert [p.name for p in written] == ["tiles.roc.png", "tiles.pro.png", "tiles.worst.png"]
    for ax in _panel_axes(captured["tiles.worst.png"]):
        assert len(ax.images) == 2  # image and overlay
        assert ax.images[1].get_array().shape[:2] == (SIZE, SIZE)
    axes = _panel_axes(captured["tiles.worst.png"])
    outlined = [len(ax.collections) > 0 for ax in axes]  # ground-truth contours, read from disk
    assert outlined == [True] * 4 + [False] * 4


def _expected_verdict(label, pred_label):
    if pred_label is None:
        return "no pred_label"
    return {(1, 0): "missed", (1, 1): "detected", (0, 1): "false alarm", (0, 0): "passed"}[
        (label, pred_label)
    ]


def test_worst_panels_are_ranked_by_score_and_judged_by_pred_label(tmp_path, captured):
    evaluation = padim_like(tmp_path / "data")
    labels = [s.label for s in evaluation.dataset]
    scores = [p.score for p in evaluation.predictions]
    preds = [p.pred_label for p in evaluation.predictions]
    anomalous_preds = [p for p, y in zip(preds, labels, strict=True) if y == 1]
    assert 0 in anomalous_preds and 1 in anomalous_preds  # a real miss and a detected anomaly
    normal_preds = [p for p, y in zip(preds, labels, strict=True) if y == 0]
    assert 0 in normal_preds and 1 in normal_preds  # a false alarm and a passed image

    rows = worst_panels(evaluation)
    assert [panels[0].row for panels in rows] == [LOWEST_ANOMALOUS, HIGHEST_NORMAL]
    anomalous = sorted((s, i) for i, (s, y) in enumerate(zip(scores, labels, strict=True)) if y)
    normal = sorted((-s, i) for i, (s, y) in enumerate(zip(scores, labels, strict=True)) if not y)
    assert [p.index for p in rows[0]] == [i for _, i in anomalous[:4]]
    assert [p.index for p in rows[1]] == [i for _, i in normal[:4]]
    for panel in rows[0] + rows[1]:
        assert panel.verdict == _expected_verdict(labels[panel.index], preds[panel.index])

    write_plots(evaluation, tmp_path / "tiles.json")
    axes = _panel_axes(captured["tiles.worst.png"])
    assert len(axes) == len(rows[0]) + len(rows[1])
    for ax, panel in zip(axes, rows[0] + rows[1], strict=True):
        title = ax.get_title()
        assert evaluation.dataset[panel.index].image_path.name in title
        assert f"· {panel.verdict}" in title
        label, pred = labels[panel.index], preds[panel.index]
        assert ("missed" in title) == (label == 1 and pred == 0)
        assert ("false alarm" in title) == (label == 0 and pred == 1)
    assert axes[0].get_ylabel() == LOWEST_ANOMALOUS
    assert axes[len(rows[0])].get_ylabel() == HIGHEST_NORMAL


def test_no_missed_or_false_alarm_unless_pred_label_says_so(tmp_path, captured):
    evaluation = patchcore_like(tmp_path / "data")
    evaluation.predictions = [  # every decision right
        replace(p, pred_label=s.label)
        for p, s in zip(evaluation.predictions, evaluation.dataset, strict=True)
    ]
    write_plots(evaluation, tmp_path / "tiles.json")
    text = " ".join(_texts(captured["tiles.worst.png"]))
    assert "missed" not in text and "false alarm" not in text
    assert text.count("detected") == 4 and text.count("passed") == 4

    evaluation.predictions = [replace(p, pred_label=None) for p in evaluation.predictions]
    write_plots(evaluation, tmp_path / "none.json")
    titles = [ax.get_title() for ax in _panel_axes(captured["none.worst.png"])]
    assert all(t.split("\n")[1].endswith("· no pred_label") for t in titles)
    assert not any("missed" in t or "false alarm" in t for t in titles)


def test_each_overlay_is_visible_on_its_own_stated_range(tmp_path, captured):
    """PatchCore-like: one saturated map must not wash out the others (shared scale did)."""
    evaluation = patchcore_like(tmp_path / "data")
    write_plots(evaluation, tmp_path / "tiles.json")
    figure = captured["tiles.worst.png"]
    rows = worst_panels(evaluation)
    panels = rows[0] + rows[1]
    assert 1 in [p.index for p in panels]  # the saturated normal image is shown
    bars = [ax for ax in figure.axes if not ax.images and ax.get_label() == "<colorbar>"]
    assert len(bars) == len(panels)
    bar_ticks = sorted(tuple(t.get_text() for t in bar.get_yticklabels()) for bar in bars)
    expected_ticks = []
    for ax, panel in zip(_panel_axes(figure), panels, strict=True):
        amap = evaluation.pixel.maps[panel.index]
        low, high = float(amap.min()), float(amap.max())
        assert panel.map_range == (low, high)
        overlay = ax.images[1].get_array()
        assert overlay[..., 3].max() == pytest.approx(0.7)  # each map's peak is opaque
        assert overlay[..., 3].min() == pytest.approx(0.0)  # its low end shows the image
        assert f"map {low:.3g} – {high:.3g}" in ax.get_title()
        expected_ticks.append((f"{low:.3g}", f"{high:.3g}"))
    assert bar_ticks == sorted(expected_ticks)
    assert "false alarm" in " ".join(ax.get_title() for ax in _panel_axes(figure))


def test_maps_kept_as_tensors_are_drawn(tmp_path, captured):
    """Maps that stayed on the model's device (torch tensors) are copied only to be drawn."""
    torch = pytest.importorskip("torch")
    evaluation = patchcore_like(tmp_path / "data")
    expected = [m.copy() for m in evaluation.pixel.maps]
    evaluation.pixel.maps = [torch.from_numpy(m) for m in evaluation.pixel.maps]
    evaluation.pixel.masks = [None if k is None else torch.from_numpy(k)
                              for k in evaluation.pixel.masks]
    written = write_plots(evaluation, tmp_path / "tiles.json")
    assert [p.name for p in written] == ["tiles.roc.png", "tiles.pro.png", "tiles.worst.png"]
    for panel in worst_panels(evaluation)[0] + worst_panels(evaluation)[1]:
        assert isinstance(panel.heat, np.ndarray)
        assert np.array_equal(panel.heat, expected[panel.index])
        assert panel.map_range == (expected[panel.index].min(), expected[panel.index].max())
    outlined = [len(ax.collections) > 0 for ax in _panel_axes(captured["tiles.worst.png"])]
    assert outlined == [True] * 4 + [False] * 4


def test_a_constant_map_is_stated_not_drawn(tmp_path, captured):
    evaluation = patchcore_like(tmp_path / "data")
    evaluation.pixel.maps[1] = np.ones((SIZE, SIZE), np.float32)  # fully saturated
    write_plots(evaluation, tmp_path / "tiles.json")
    axes = _panel_axes(captured["tiles.worst.png"])
    (saturated,) = [ax for ax in axes if "001.png" in ax.get_title()]
    assert "map constant 1" in saturated.get_title()
    assert len(saturated.images) == 1  # the image only


def test_demo_like_pictures(tmp_path):
    """The two demo-like cases render (looked at by eye: see the report of the change)."""
    for name, build in (("padim", padim_like), ("patchcore", patchcore_like)):
        evaluation = build(tmp_path / name)
        written = write_plots(evaluation, tmp_path / f"{name}.json")
        assert [p.name for p in written] == [f"{name}.{k}.png" for k in ("roc", "pro", "worst")]
        for path in written:
            check_png(path, max_px=1400)


# ------------------------------------------------------------------------------------------
# curve thinning


def test_thin_curve_keeps_the_shape_of_a_million_point_curve():
    rng = np.random.default_rng(0)
    rise = 300_000  # a vertical rise at FPR 0, as pixel ROCs have
    x = np.concatenate([np.zeros(rise), np.sort(rng.random(1_200_000)) ** 3])
    y = np.concatenate(
        [np.linspace(0, 0.9, rise), 0.9 + 0.1 * np.sqrt(np.linspace(0, 1, 1_200_000))]
    )
    keep = thin_curve(x, y)
    assert keep[0] == 0 and keep[-1] == x.size - 1
    assert np.all(np.diff(keep) > 0)
    assert keep.size <= 4 * 1000 + 2
    assert np.any((x[keep] == 0.0) & (y[keep] >= 0.9 - 1e-3))  # the top of the rise is kept
    # every dropped point is within one cell (1/1000) of the kept point before it
    previous = keep[np.searchsorted(keep, np.arange(x.size), side="right") - 1]
    assert np.max(np.abs(x - x[previous])) < 1e-3
    assert np.max(np.abs(y - y[previous])) < 1e-3


def test_thin_curve_small_and_bad_inputs():
    x = np.linspace(0, 1, 4000)
    assert thin_curve(x, x).tolist() == list(range(4000))
    assert thin_curve([0.0, 0.1, 0.2, 0.3, 1.0], [0, 0, 0, 0, 1], cells=1).tolist() == [0, 3, 4]
    with pytest.raises(MetricInputError, match="shapes"):
        thin_curve(np.zeros(3), np.zeros(4))
    with pytest.raises(MetricInputError, match="cells"):
        thin_curve(np.zeros(3), np.zeros(3), cells=0)
