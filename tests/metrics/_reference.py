"""Independent references for the metric tests.

Ranking metrics come from scikit-learn. AU-PRO is a plain, slow transcription of the MVTec AD
evaluation protocol (per-region loop, one argsort of the pooled float64 scores, cumulative
sums, ties collapsed to the last element of each run, (0, 0) and (1, 1) appended, trapezoid up
to the limit with linear interpolation, divided by the limit). Nothing here imports
pyimgano.metrics.
"""

from __future__ import annotations

import warnings
from bisect import bisect_right

import numpy as np
from scipy import ndimage
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


def pooled(maps, masks):
    """All pixels of all images as float64 scores and 0/1 labels."""
    scores = np.concatenate([np.asarray(m, dtype=np.float64).ravel() for m in maps])
    labels = np.concatenate([(np.asarray(m) != 0).ravel() for m in masks]).astype(int)
    return labels, scores


def ref_auroc(labels, scores):
    return float(roc_auc_score(np.asarray(labels), np.asarray(scores)))


def ref_ap(labels, scores):
    return float(average_precision_score(np.asarray(labels), np.asarray(scores)))


def ref_f1_max(labels, scores):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, _ = precision_recall_curve(np.asarray(labels), np.asarray(scores))
    # The last (precision=1, recall=0) entry is sklearn's padding, not a threshold.
    precision, recall = precision[:-1], recall[:-1]
    denominator = precision + recall
    safe = np.where(denominator > 0, denominator, 1.0)
    f1 = np.where(denominator > 0, 2 * precision * recall / safe, 0.0)
    return float(f1.max())


def ref_pro_curve(maps, masks):
    """MVTec AD ``compute_pro`` semantics, written plainly in float64."""
    eight = np.ones((3, 3), dtype=int)
    all_scores, fp_steps, pro_steps = [], [], []
    n_ok, n_regions = 0, 0
    for amap, mask in zip(maps, masks, strict=True):
        labeled, count = ndimage.label(np.asarray(mask) != 0, structure=eight)
        n_regions += count
        ok = labeled == 0
        n_ok += int(ok.sum())
        pro_step = np.zeros(labeled.shape, dtype=np.float64)
        for region in range(1, count + 1):
            inside = labeled == region
            pro_step[inside] = 1.0 / inside.sum()
        all_scores.append(np.asarray(amap, dtype=np.float64).ravel())
        fp_steps.append(ok.ravel().astype(np.float64))
        pro_steps.append(pro_step.ravel())
    scores = np.concatenate(all_scores)
    order = np.argsort(scores)[::-1]
    scores = scores[order]
    fpr = np.cumsum(np.concatenate(fp_steps)[order]) / n_ok
    pro = np.cumsum(np.concatenate(pro_steps)[order]) / n_regions
    keep = np.append(np.diff(scores) != 0, True)
    fpr = np.minimum(fpr[keep], 1.0)
    pro = np.minimum(pro[keep], 1.0)
    return np.concatenate(([0.0], fpr, [1.0])), np.concatenate(([0.0], pro, [1.0]))


def ref_trapezoid(x, y, x_max):
    """MVTec's ``trapezoid(x, y, x_max)``: area up to ``x_max``, interpolated at ``x_max``."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    correction = 0.0
    if x_max not in x:
        ins = bisect_right(list(x), x_max)
        assert 0 < ins < len(x)
        y_at = y[ins - 1] + (y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1])
        correction = 0.5 * (y_at + y[ins - 1]) * (x_max - x[ins - 1])
    inside = x <= x_max
    x, y = x[inside], y[inside]
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction)


def ref_aupro(maps, masks, limit=0.3):
    fpr, pro = ref_pro_curve(maps, masks)
    return ref_trapezoid(fpr, pro, limit) / limit


def ref_pixel_metrics(maps, masks, limit=0.3):
    labels, scores = pooled(maps, masks)
    return {
        "pixel_auroc": ref_auroc(labels, scores),
        "pixel_ap": ref_ap(labels, scores),
        "pixel_f1_max": ref_f1_max(labels, scores),
        "aupro": ref_aupro(maps, masks, limit),
    }
