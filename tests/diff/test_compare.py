"""Pure comparison functions of pyimgano.diff (no files)."""

from __future__ import annotations

import pytest

from pyimgano.diff import (
    BEYOND,
    EQUAL,
    NULLNESS,
    UNGATED,
    WITHIN,
    Tolerances,
    diff_records,
    diff_reports,
    f1_max_threshold,
    image_key,
    parse_tolerances,
)
from pyimgano.errors import ConfigError
from pyimgano.metrics import f1_max


def record(path, label, score, pred_label=None, defect=None):
    return {
        "path": path,
        "label": label,
        "defect": defect or ("crack" if label else "good"),
        "score": score,
        "pred_label": pred_label,
    }


def test_parse_tolerances():
    t = parse_tolerances(["0.01", "aupro=0.02", "ms_per_image=5"])
    assert t.default == 0.01
    assert t.for_metric("aupro") == 0.02
    assert t.for_metric("image_auroc") == 0.01
    assert t.for_metric("crack/image_auroc") == 0.01
    assert t.for_metric("ms_per_image") == 5
    assert t.for_metric("images_per_s") is None  # timing: only an explicit tolerance gates
    assert parse_tolerances([]) == Tolerances(0.0, {})
    with pytest.raises(ConfigError, match="already given"):
        parse_tolerances(["aupro=1", "aupro=2"])
    with pytest.raises(ConfigError, match="expected METRIC=VALUE"):
        parse_tolerances(["=1"])
    with pytest.raises(ConfigError, match="finite number >= 0"):
        parse_tolerances(["nan"])


def test_per_defect_override_beats_metric_tolerance():
    t = Tolerances(0.0, {"image_auroc": 0.1, "crack/image_auroc": 0.3})
    assert t.for_metric("crack/image_auroc") == 0.3
    assert t.for_metric("hole/image_auroc") == 0.1


def test_diff_reports_rows_and_verdicts():
    old = {
        "metrics": {"image_auroc": 0.95, "image_ap": 0.9, "aupro": 0.8, "pixel_ap": None},
        "metrics_by_defect": {"crack": {"image_auroc": 0.9}},
        "timing": {"ms_per_image": 10.0, "images_per_s": 100.0, "total_s": 1.0},
    }
    new = {
        "metrics": {"image_auroc": 0.96, "image_ap": 0.9, "aupro": None, "pixel_ap": None,
                    "pixel_auroc": 0.9},
        "metrics_by_defect": {"crack": {"image_auroc": 0.7}},
        "timing": {"ms_per_image": 20.0, "images_per_s": 50.0, "total_s": 9.0},
    }
    item = diff_reports(old, new, Tolerances(0.01, {}), key="k")
    verdicts = {row.metric: row.status for row in item.rows}
    assert verdicts == {
        "image_auroc": WITHIN,  # 0.96 - 0.95 is 0.010000000000000009
        "image_ap": EQUAL,
        "aupro": NULLNESS,
        "pixel_auroc": NULLNESS,  # absent on the old side
        "pixel_ap": EQUAL,
        "crack/image_auroc": BEYOND,
        "ms_per_image": UNGATED,
        "images_per_s": UNGATED,
    }
    assert [row.metric for row in item.rows] == [
        "image_auroc", "image_ap", "pixel_auroc", "pixel_ap", "aupro", "crack/image_auroc",
        "ms_per_image", "images_per_s",
    ]
    pixel_auroc = next(row for row in item.rows if row.metric == "pixel_auroc")
    assert (pixel_auroc.old_present, pixel_auroc.new_present) == (False, True)
    assert item.failed and item.status == "failed"


def test_timing_noise_alone_leaves_an_item_equal():
    old = {"metrics": {"image_auroc": 0.95}, "timing": {"ms_per_image": 10.0}}
    new = {"metrics": {"image_auroc": 0.95}, "timing": {"ms_per_image": 30.0}}
    item = diff_reports(old, new, Tolerances(0.0, {}), key="k")
    assert {row.metric: row.status for row in item.rows}["ms_per_image"] == UNGATED
    assert item.status == "equal" and not item.failed
    gated = diff_reports(old, new, Tolerances(0.0, {"ms_per_image": 5.0}), key="k")
    assert gated.status == "failed"


def test_zero_tolerance_means_exact():
    item = diff_reports({"metrics": {"a": 0.3}}, {"metrics": {"a": 0.1 + 0.2}}, Tolerances())
    assert item.rows[0].status == BEYOND


def test_context_notes():
    old = {"metrics": {}, "dataset": {"fingerprint": "a", "n_test": 10},
           "model": {"checkpoint_sha256": "c"}}
    new = {"metrics": {}, "dataset": {"fingerprint": "b", "n_test": 12},
           "model": {"checkpoint_sha256": "d"}}
    notes = diff_reports(old, new, Tolerances()).notes
    assert notes == (
        "dataset fingerprint differs: the test data changed",
        "checkpoint sha256 differs: not the same checkpoint file",
        "dataset.n_test: 10 → 12",
    )


def test_image_key():
    assert image_key("/d/mvtec/bottle/test/good/000.png", "/d/mvtec") == "bottle/test/good/000.png"
    assert image_key("/other/000.png", "/d/mvtec") == "/other/000.png"
    assert image_key("rel/000.png", None) == "rel/000.png"


def test_f1_max_threshold_is_the_lowest_one_reaching_the_max():
    # P = 4: at 0.8 (TP 2, FP 0) and at 0.2 (TP 4, FP 4) F1 = 2/3, the maximum
    labels = [1, 1, 0, 0, 0, 0, 1, 1]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    assert f1_max(labels, scores) == pytest.approx(2 / 3)
    assert f1_max_threshold(labels, scores) == 0.2
    assert f1_max_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.35
    assert f1_max_threshold([0, 0], [0.1, 0.2]) is None
    assert f1_max_threshold([1, 1], [0.3, 0.2]) == 0.2


def test_top_moved_order_limit_and_ties():
    old = [record(f"/r/{i}.png", i % 2, 0.5) for i in range(6)]
    new_scores = [0.5, 0.9, 0.1, 0.5 + 1e-9, 0.9, 0.5]  # |Δ| 0, .4, .4, 1e-9, .4, 0
    new = [record(f"/r/{i}.png", i % 2, s) for i, s in enumerate(new_scores)]
    images = diff_records(old, new, old_root="/r", new_root="/r", top=3)
    assert [c.image for c in images.top_moved] == ["1.png", "2.png", "4.png"]  # ties by name
    assert [c.delta for c in images.top_moved] == pytest.approx([0.4, -0.4, 0.4])
    assert diff_records(old, new, top=10).top_moved[-1].image == "/r/3.png"
    assert len(diff_records(old, new, top=10).top_moved) == 4  # unmoved images not listed


def test_images_on_one_side_only_and_label_mismatch():
    old = [record("/a/x.png", 0, 0.1), record("/a/y.png", 1, 0.9), record("/a/gone.png", 0, 0.2)]
    new = [record("/b/x.png", 1, 0.1), record("/b/y.png", 1, 0.9), record("/b/new.png", 1, 0.5)]
    images = diff_records(old, new, old_root="/a", new_root="/b")
    assert images.matched == 2
    assert images.only_old == ("gone.png",)
    assert images.only_new == ("new.png",)
    assert images.notes == ("x.png: label 0 in old, 1 in new (old used)",)


def test_flips_at_pred_label():
    old = [
        record("/r/a.png", 1, 0.9, pred_label=1),
        record("/r/b.png", 1, 0.2, pred_label=0),
        record("/r/c.png", 0, 0.1, pred_label=0),
        record("/r/d.png", 0, 0.8, pred_label=1),
        record("/r/e.png", 0, 0.3, pred_label=0),
    ]
    new = [
        record("/r/a.png", 1, 0.4, pred_label=0),  # now missed
        record("/r/b.png", 1, 0.7, pred_label=1),  # now caught
        record("/r/c.png", 0, 0.6, pred_label=1),  # now rejected
        record("/r/d.png", 0, 0.3, pred_label=0),  # now accepted
        record("/r/e.png", 0, 0.35, pred_label=0),
    ]
    images = diff_records(old, new, old_root="/r", new_root="/r")
    assert images.flip_basis == "pred_label"
    assert [(f.image, f.kind, f.old_decision, f.new_decision) for f in images.flips] == [
        ("a.png", "now missed", 1, 0),
        ("c.png", "now rejected", 0, 1),
        ("b.png", "now caught", 0, 1),
        ("d.png", "now accepted", 1, 0),
    ]


def test_flips_at_each_sides_f1_max_threshold_when_labels_are_missing():
    labels = [0, 0, 1, 1]
    # old: F1-max threshold 0.35 (TP 2, FP 1); new: 0.35 (TP 2, FP 0)
    old = [record(f"/r/{i}.png", label, s) for i, (label, s) in
           enumerate(zip(labels, [0.1, 0.4, 0.35, 0.8], strict=True))]
    new = [record(f"/r/{i}.png", label, s, pred_label=label) for i, (label, s) in
           enumerate(zip(labels, [0.1, 0.3, 0.35, 0.8], strict=True))]
    images = diff_records(old, new, old_root="/r", new_root="/r")
    assert images.flip_basis == "f1_max_threshold"  # only one side has pred_label
    assert (images.old_threshold, images.new_threshold) == (0.35, 0.35)
    assert [(f.image, f.kind) for f in images.flips] == [("1.png", "now accepted")]


def test_no_flips_without_an_anomalous_image():
    old = [record("/r/a.png", 0, 0.1), record("/r/b.png", 0, 0.2)]
    new = [record("/r/a.png", 0, 0.3), record("/r/b.png", 0, 0.2)]
    images = diff_records(old, new, old_root="/r", new_root="/r")
    assert images.flip_basis is None and images.flips == ()
    assert "no decision flips" in images.notes[0]
    assert [c.image for c in images.top_moved] == ["a.png"]


def test_repeated_image_paths_are_noted():
    old = [record("/r/a.png", 0, 0.1), record("/r/a.png", 0, 0.2), record("/r/b.png", 1, 0.9)]
    new = [record("/r/a.png", 0, 0.2), record("/r/b.png", 1, 0.9)]
    images = diff_records(old, new, old_root="/r", new_root="/r")
    assert images.matched == 2 and images.top_moved == ()
    assert images.notes[0] == "1 old record(s) repeat an image path; the last one used"


def _brute_force_f1_threshold(labels, scores):
    """Independent reference: F1 of ``score >= t`` at every distinct score, counted directly."""
    n_pos = sum(labels)
    best, best_t = -1.0, None
    for t in sorted(set(scores), reverse=True):
        tp = sum(1 for y, s in zip(labels, scores, strict=True) if y == 1 and s >= t)
        fp = sum(1 for y, s in zip(labels, scores, strict=True) if y == 0 and s >= t)
        f1 = 2 * tp / (tp + fp + n_pos)
        if f1 >= best:  # ascending thresholds come later: ties keep the lowest
            best, best_t = f1, t
    return best, best_t


def test_f1_threshold_comes_from_pyimgano_metrics_and_matches_direct_counts():
    import numpy as np

    from pyimgano.metrics import f1_max_threshold as metric_threshold

    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(4, 40))
        labels = [int(v) for v in rng.integers(0, 2, n)]
        labels[0], labels[1] = 0, 1
        # few distinct values: many ties, and F1 maxima reached at several thresholds
        scores = [float(v) for v in rng.integers(0, 6, n) / 5]
        best, expected = _brute_force_f1_threshold(labels, scores)
        assert f1_max(labels, scores) == pytest.approx(best), trial
        assert metric_threshold(labels, scores) == expected, trial
        assert f1_max_threshold(labels, scores) == expected, trial
    assert metric_threshold([0, 0], [0.1, 0.2]) is None
    assert metric_threshold([1, 1], [0.1, 0.2]) is None  # the diff's all-anomalous rule is its own
