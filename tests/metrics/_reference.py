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


# --- MVTec LOCO AD: AU-sPRO ------------------------------------------------------------------
#
# Written from the official MVTec LOCO AD evaluation's definition (its ``src/image.py``,
# ``src/metrics.py``, ``src/aggregation.py``, ``src/util.py`` and ``evaluate_experiment.py``),
# plainly and slowly, threshold by threshold:
#
# - a ground-truth map is a list of channels (one per mask file); a good image has none;
# - a channel's saturation area is ``int(threshold * area)`` (relative) or
#   ``min(threshold, area)`` (absolute);
# - at an anomaly threshold ``t`` a pixel is positive when ``score > t``;
#   sPRO of a channel = ``min(positives in the channel / saturation area, 1)``; the curve's y is
#   the mean over every channel of every evaluated image;
# - false positives are the positives that lie outside ALL channels of their image (every pixel
#   of a good image); FPR = their total over the evaluated images / the total number of such
#   defect-free pixels (``get_fp_tn_areas_per_image`` and ``get_fp_rates``);
# - thresholds: above the maximum score (the (0, 0) point), below the minimum (the (1, 1)
#   point), and here every distinct score in between (the official script refines a sampled
#   list of thresholds instead; the exact list only adds the points it approaches);
# - ``get_auc_for_max_fpr``: points sorted by FPR, the point at the limit added by linear
#   interpolation when the limit is not a curve FPR, points beyond the limit dropped, the
#   trapezoid rule, divided by the limit;
# - per type: the type's anomalous images together with all good images
#   (``get_auc_spros_per_subdir(..., add_good_images=True)``); the overall ``mean`` is
#   ``0.5 * (structural + logical)``.


def ref_saturation_area(area, threshold, relative):
    """The official ``GroundTruthChannel.get_saturation_area``."""
    return int(threshold * area) if relative else min(threshold, area)


def ref_spro_fpr_curve(maps, channels, fpr_rule="official"):
    """(fpr, mean sPRO) at every threshold, highest threshold first.

    ``channels``: per image a list of ``(bool mask, saturation area)`` (empty: a good image).
    ``fpr_rule="good_only"`` counts the FPR on the good images alone (the rule pyimgano used
    before, kept here only to show that a test case tells the two rules apart).
    """
    maps = [np.asarray(m, dtype=np.float64) for m in maps]
    scores = np.unique(np.concatenate([m.ravel() for m in maps]))
    thresholds = np.concatenate(([np.inf], scores[::-1], [-np.inf]))
    fprs, spros = [], []
    for t in thresholds:
        false_pos = defect_free = 0
        per_channel = []
        for amap, image_channels in zip(maps, channels, strict=True):
            positive = amap > t
            if not image_channels:
                outside = np.ones(amap.shape, dtype=bool)
            elif fpr_rule == "good_only":
                outside = np.zeros(amap.shape, dtype=bool)
            else:
                outside = ~np.logical_or.reduce([mask for mask, _ in image_channels])
            false_pos += int(np.count_nonzero(positive & outside))
            defect_free += int(np.count_nonzero(outside))
            for mask, saturation in image_channels:
                per_channel.append(min(np.count_nonzero(positive & mask) / saturation, 1.0))
        fprs.append(false_pos / defect_free)
        spros.append(float(np.mean(per_channel)))
    return np.array(fprs), np.array(spros)


def ref_auc_for_max_fpr(fprs, ys, max_fpr):
    """The official ``get_auc_for_max_fpr(..., scale_to_one=True)``.

    The points are sorted by (FPR, y); both grow as the threshold falls, so this is the
    threshold order (the official sorts by FPR alone, the same for a monotone curve).
    """
    order = np.lexsort((ys, fprs))
    x, y = np.asarray(fprs, dtype=np.float64)[order], np.asarray(ys, dtype=np.float64)[order]
    if max_fpr < x[0]:
        return 0.0
    if max_fpr not in x:
        at = bisect_right(list(x), max_fpr)  # first point beyond the limit
        y_max = y[at - 1] + (y[at] - y[at - 1]) * (max_fpr - x[at - 1]) / (x[at] - x[at - 1])
        x, y = np.insert(x, at, max_fpr), np.insert(y, at, y_max)
    keep = x <= max_fpr
    x, y = x[keep], y[keep]
    if 0.0 not in x:
        x, y = np.insert(x, 0, 0.0), np.insert(y, 0, np.interp(0.0, x, y))
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0) / max_fpr)


def ref_auspro_of(maps, channels, limit, fpr_rule="official"):
    """AU-sPRO of one evaluated set of images (all of ``maps``)."""
    fprs, spros = ref_spro_fpr_curve(maps, channels, fpr_rule)
    return ref_auc_for_max_fpr(fprs, spros, limit)


def ref_auspro_loco(maps, channels, types, limit, fpr_rule="official"):
    """Per type (its anomalous images + every good image) and the official ``mean``.

    ``types``: per image its type name, ``None`` for a good image. Returns
    ``{type: value, ..., "mean": 0.5 * (structural + logical)}`` (``mean`` of the two types
    present, so exactly two types are expected).
    """
    names = sorted({t for t in types if t is not None})
    assert len(names) == 2, names
    out = {}
    for name in names:
        chosen = [i for i, t in enumerate(types) if t is None or t == name]
        out[name] = ref_auspro_of(
            [maps[i] for i in chosen], [channels[i] for i in chosen], limit, fpr_rule
        )
    out["mean"] = 0.5 * (out[names[0]] + out[names[1]])
    return out
