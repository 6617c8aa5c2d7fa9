"""Build report sets on disk for diff and merge tests (reports validate against the schema)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pyimgano.report import Report, dumps, records_path, write_report, write_text_atomic

ROOT = "/data/mvtec"

BASE_METRICS: dict[str, float | None] = {
    "image_auroc": 0.95,
    "image_ap": 0.9,
    "image_f1_max": 0.85,
    "image_miss_rate": None,
    "image_false_reject_rate": None,
    "pixel_auroc": 0.97,
    "pixel_ap": 0.6,
    "pixel_f1_max": 0.55,
    "aupro": 0.88,
}


def make_report(
    category: str,
    *,
    metrics: Mapping[str, float | None] | None = None,
    by_defect: Mapping[str, Mapping[str, float | None]] | None = None,
    nodeid: str | None = None,
    records: Sequence[Mapping[str, Any]] = (),
    root: str = ROOT,
    ms_per_image: float | None = 12.0,
    thresholds: Mapping[str, Any] | None = None,
    anomalib: str = "2.0.0",
) -> Report:
    values = {**BASE_METRICS, **(metrics or {})}
    notes = {name: "undefined here" for name, value in values.items() if value is None}
    item = None
    if nodeid is not None:
        suite, _, rest = nodeid.partition("::")
        model_id = rest.split("[", 1)[0]
        item = {"suite": suite, "id": model_id, "nodeid": nodeid, "category": category}
    return Report(
        metrics=values,
        metric_notes=notes,
        metrics_by_defect={k: dict(v) for k, v in (by_defect or {}).items()}
        or {"crack": {"image_auroc": 0.9, "image_ap": 0.8}},
        model={
            "name": "vision_patchcore_anomalib",
            "checkpoint": f"ckpt/{category}/model.pt",
            "checkpoint_sha256": "a" * 64,
            "kwargs": {},
            "outputs_normalized": True,
            "saturated_fraction": 0.0,
        },
        dataset={
            "format": "mvtec",
            "root": root,
            "category": category,
            "n_test": max(len(records), 3),
            "n_anomalous": 1,
            "fingerprint": "b" * 64,
        },
        timing={
            "load_s": 0.1,
            "inference_s": 0.2,
            "metrics_s": 0.01,
            "total_s": 0.31,
            "images_per_s": None if ms_per_image is None else 1000.0 / ms_per_image,
            "ms_per_image": ms_per_image,
        },
        environment={
            "pyimgano": "0.1.0",
            "anomalib": anomalib,
            "torch": "2.4.0",
            "torchvision": "0.19.0",
            "python": "3.11.7",
            "device": "cpu",
            "gpu": None,
            "cuda": None,
            "threads": 2,
            "batch_size": 16,
            "workers": 1,
        },
        thresholds=dict(thresholds or {}),
        item=item,
        records=[dict(r) for r in records],
        resolution={"image_auroc": 0.01},
    )


def records_for(category: str, scores: Sequence[float], labels: Sequence[int], *,
                root: str = ROOT, pred_labels: Sequence[int | None] | None = None) -> list[dict]:
    """One record per score: ``<root>/<category>/test/<good|crack>/<i>.png``."""
    out = []
    for index, (score, label) in enumerate(zip(scores, labels, strict=True)):
        defect = "crack" if label else "good"
        out.append({
            "path": f"{root}/{category}/test/{defect}/{index:03d}.png",
            "label": label,
            "defect": defect,
            "score": score,
            "pred_label": None if pred_labels is None else pred_labels[index],
        })
    return out


SUITE = "suites/release.yaml"
CATEGORIES = ("bottle", "cable", "screw")


def nodeid_of(category: str, model_id: str = "patchcore") -> str:
    return f"{SUITE}::{model_id}[{category}]"


def relative_of(category: str, model_id: str = "patchcore") -> str:
    return f"{SUITE}/{model_id}/{category}.json"


def write_set(
    base: Path,
    reports: Mapping[str, Report],
    *,
    summary: bool = False,
    outcomes: Mapping[str, str] | None = None,
) -> Path:
    """Write ``{category: Report}`` under ``base/<suite>/<id>/<category>.json`` (+ JSONL);
    with ``summary=True`` also ``base/summary.json`` as the pytest plugin writes it."""
    items = []
    for category, report in sorted(reports.items()):
        path = base / relative_of(category)
        write_report(report, path)
        items.append({
            "nodeid": nodeid_of(category),
            "suite": SUITE,
            "id": "patchcore",
            "category": category,
            "outcome": (outcomes or {}).get(category, "passed"),
            "report": relative_of(category),
            "metrics": dict(report.metrics),
            "thresholds": {},
            "message": None,
        })
    if summary:
        write_summary(base, items)
    return base


def write_summary(base: Path, items: Sequence[Mapping[str, Any]], version: str = "1.0") -> Path:
    data = {"schema_version": version, "kind": "pyimgano-summary", "items": list(items)}
    return write_text_atomic(base / "summary.json", dumps(data))


def standard_reports(**changes: Mapping[str, Any]) -> dict[str, Report]:
    """One report per category of CATEGORIES, nodeids set, metrics overridden per category."""
    return {
        category: make_report(category, nodeid=nodeid_of(category), **changes.get(category, {}))
        for category in CATEGORIES
    }


def rewrite_json(path: Path, **top_level: Any) -> None:
    data = json.loads(path.read_text("utf-8"))
    data.update(copy.deepcopy(top_level))
    path.write_text(json.dumps(data), "utf-8")


def drop_records(path: Path) -> None:
    records_path(path).unlink()
