"""Reports: the JSON object per evaluated (model, category) and its per-image JSONL
(docs/REFERENCE.md §6).

Strict JSON (no NaN/Infinity), UTF-8, sorted keys, floats as produced, written atomically
(temporary file in the target directory, then ``os.replace``): a reader never sees a partial
report, and an interrupted run leaves the previous file (or none) in place.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pyimgano.errors import ReportError

#: 1.2: ``metrics`` holds metrics only; ``resolution``, ``decision`` and ``resources`` beside
#: it; MVTec LOCO's per-type AU-sPRO in ``metrics_by_defect_type`` (see :func:`upgrade_report`).
SCHEMA_VERSION = "1.2"


def _no_decision() -> dict[str, Any]:
    return {"borderline": None, "threshold": None, "threshold_source": None,
            "notes": {"borderline": "no decision information was recorded"}}


def _no_resources() -> dict[str, Any]:
    from pyimgano.resources import unmeasured

    return unmeasured("not measured")


@dataclass
class Report:
    """One evaluated (model, category); :meth:`to_dict` gives the docs/REFERENCE.md §6 JSON object.

    ``records`` (per-image path, label, defect, score, pred_label) go to the JSONL file beside
    the report, not into the JSON object. ``metrics`` holds metrics only: the resolutions
    (``resolution``), the decision threshold's facts and borderline count (``decision``) and
    the costs (``resources``) live beside it. ``metrics_by_defect_type`` (MVTec LOCO's
    per-type AU-sPRO) is written only when it has entries.
    """

    metrics: dict[str, float | None]
    metric_notes: dict[str, str]
    metrics_by_defect: dict[str, dict[str, float | None]]
    model: dict[str, Any]
    dataset: dict[str, Any]
    timing: dict[str, float | None]
    environment: dict[str, Any]
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    item: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] | None = None
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)
    schema_version: str = SCHEMA_VERSION
    resolution: dict[str, float] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=_no_decision)
    resources: dict[str, Any] = field(default_factory=_no_resources)
    metrics_by_defect_type: dict[str, dict[str, float | None]] = field(default_factory=dict)
    metrics_anomalib: dict[str, float | None] | None = None
    calibration: dict[str, Any] | None = None
    comparison: dict[str, dict[str, Any]] | None = None
    metrics_ci: dict[str, list[float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = self._required()
        if self.parity is not None:
            data["parity"] = dict(self.parity)
        if self.metrics_by_defect_type:
            data["metrics_by_defect_type"] = {
                k: dict(v) for k, v in self.metrics_by_defect_type.items()
            }
        if self.metrics_anomalib is not None:
            data["metrics_anomalib"] = dict(self.metrics_anomalib)
        if self.calibration is not None:
            data["calibration"] = dict(self.calibration)
        if self.comparison is not None:
            data["comparison"] = {k: dict(v) for k, v in self.comparison.items()}
        if self.metrics_ci is not None:
            data["metrics_ci"] = {k: list(v) for k, v in self.metrics_ci.items()}
        return data

    def _required(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "item": self.item,
            "metrics": dict(self.metrics),
            "metric_notes": dict(self.metric_notes),
            "metrics_by_defect": {k: dict(v) for k, v in self.metrics_by_defect.items()},
            "resolution": dict(self.resolution),
            "decision": _deep(self.decision),
            "resources": _deep(self.resources),
            "model": dict(self.model),
            "dataset": dict(self.dataset),
            "thresholds": {k: dict(v) for k, v in self.thresholds.items()},
            "timing": dict(self.timing),
            "environment": dict(self.environment),
            "settings": dict(self.settings),
        }


def _deep(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep(v) if isinstance(v, Mapping) else v for k, v in value.items()}


def _check_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ReportError(f"report value at {where} is {value}; reports hold no NaN/Infinity")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_finite(item, f"{where}[{index}]")


def dumps(obj: Any) -> str:
    """Strict, stable JSON text: sorted keys, indent 2, trailing newline, NaN refused."""
    _check_finite(obj, "$")
    return json.dumps(obj, sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def _create_temp(target: Path) -> tuple[int, str]:
    """Create a new, empty temporary file beside ``target``; returns ``(fd, name)``.

    ``os.open(..., 0o666)`` lets the kernel apply the process umask, so the report gets the
    usual file mode without reading the umask (``os.umask`` is process-wide: flipping it to
    read it would race with other threads creating files).
    """
    for _ in range(100):
        name = os.path.join(target.parent, f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), name
        except FileExistsError:
            continue
    raise FileExistsError(f"{target}: could not create a temporary file beside it")


@contextlib.contextmanager
def staged_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A fresh temporary path beside ``path``: write it, and on success it replaces ``path``.

    The one atomic-write helper for files that are not text (plots, copied reports). The
    temporary file gets the usual mode (see :func:`_create_temp`); on an error it is removed
    and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = _create_temp(target)
    os.close(handle)
    try:
        yield Path(tmp_name)
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _write_temp(target: Path, text: str) -> str:
    """Write ``text`` to a new temporary file beside ``target``; returns its name.

    The temporary file is removed again if writing fails (or is interrupted).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = _create_temp(target)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError) and exc.filename is None:  # e.g. ENOSPC from fsync
            raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(target)) from exc
        raise
    return tmp_name


def _replace_all(pairs: list[tuple[str, Path]]) -> None:
    """``os.replace`` each temporary file onto its target; on failure remove those left."""
    try:
        for tmp_name, target in pairs:
            os.replace(tmp_name, target)
    except BaseException:
        for tmp_name, _ in pairs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and ``os.replace``."""
    target = Path(path)
    _replace_all([(_write_temp(target, text), target)])
    return target


def records_path(report_path: str | os.PathLike[str]) -> Path:
    """The JSONL path beside a report: ``x.json`` → ``x.jsonl``."""
    path = Path(report_path)
    return path.with_suffix(".jsonl") if path.suffix == ".json" else Path(f"{path}.jsonl")


def jsonl_text(records: Iterable[Mapping[str, Any]]) -> str:
    lines = []
    for index, record in enumerate(records):
        _check_finite(record, f"record[{index}]")
        lines.append(json.dumps(record, sort_keys=True, allow_nan=False, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


def _keep_copy(path: Path) -> str | None:
    """A hard link (or, where links are not possible, a copy) of ``path`` beside it, to put
    back if the write of a pair fails half way; None when ``path`` does not exist."""
    if not path.exists():
        return None
    handle, name = _create_temp(path)
    os.close(handle)
    os.unlink(name)  # reserve a fresh name, then link onto it
    try:
        os.link(path, name)
    except OSError:
        import shutil

        shutil.copy2(path, name)
    return name


def _replace_pair(records_tmp: str, records: Path, report_tmp: str, target: Path) -> None:
    """Rename the JSONL, then the report, into place; all or nothing.

    If the second rename fails (or is interrupted), the first is undone: the previous JSONL
    is put back from a link taken before (or the new one removed when there was none), so
    the old report is never left beside new records. The temporary files are removed.
    """
    kept = None
    try:
        kept = _keep_copy(records)
        os.replace(records_tmp, records)
        try:
            os.replace(report_tmp, target)
        except BaseException:
            if kept is not None:
                os.replace(kept, records)
                kept = None
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(records)
            raise
    finally:
        for name in (records_tmp, report_tmp, kept):
            if name is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)


def write_report(report: Report, path: str | os.PathLike[str]) -> Path:
    """Validate and write ``report`` to ``path`` and its records to the JSONL beside it.

    Both files are first written in full to temporary files, then renamed into place, the
    JSONL first (a report never points to missing records). A failure or interruption at any
    point, the second rename included, leaves both files as they were (and no temporary
    file): the pair is written all or nothing. Only a hard kill of the process between the
    two renames could leave the new JSONL beside the old report. Returns the report path.
    """
    data = report.to_dict()
    validate_report(data)
    text = dumps(data)
    target = Path(path)
    records = records_path(target)
    staged: list[str] = []
    try:
        staged.append(_write_temp(records, jsonl_text(report.records)))
        staged.append(_write_temp(target, text))
    except BaseException:
        for tmp_name in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
        raise
    _replace_pair(staged[0], records, staged[1], target)
    return target


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``pyimgano/schemas`` (``"report"`` or ``"suite"``)."""
    text = resources.files("pyimgano.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def validate_report(data: Mapping[str, Any]) -> None:
    """Raise :class:`ReportError` if ``data`` does not follow the report schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema("report"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise ReportError(f"report does not follow the schema at {where}: {first.message}")


def read_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a report JSON file; :class:`ReportError` names the file on any problem."""
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such report file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not a readable JSON report ({exc})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


#: Values that reports before 1.2 kept inside ``metrics`` → where 1.2 keeps them.
MOVED_OUT_OF_METRICS = {
    "image_borderline": ("decision", "borderline"),
    "image_auroc_step": ("resolution", "image_auroc"),
}
#: Per-defect keys that reports before 1.2 kept in ``metrics_by_defect`` (MVTec LOCO's per-type
#: AU-sPRO) and 1.2 keeps in ``metrics_by_defect_type``.
_BY_TYPE_PREFIX = "auspro_"


def upgrade_report(data: Mapping[str, Any]) -> dict[str, Any]:
    """A report (or a summary item's ``{"metrics": ...}``) in the current layout; a copy.

    Reports before schema 1.2 kept counts and resolutions among the metrics, and MVTec LOCO's
    per-type AU-sPRO among the per-defect metrics. Here ``metrics.image_borderline`` moves to
    ``decision.borderline`` (an integer count), ``metrics.image_auroc_step`` to
    ``resolution.image_auroc``, ``metrics_by_defect.<type>.auspro_<limit>`` to
    ``metrics_by_defect_type.<type>.auspro_<limit>``, and their ``metric_notes`` with them.
    ``schema_version`` is kept as written. A current report comes back equal to the input.
    """
    out = {k: _deep(v) if isinstance(v, Mapping) else v for k, v in data.items()}
    metrics = out.get("metrics")
    notes = out.get("metric_notes") if isinstance(out.get("metric_notes"), dict) else {}
    if isinstance(metrics, dict):
        for name, (section, key) in MOVED_OUT_OF_METRICS.items():
            if name not in metrics:
                continue
            value = metrics.pop(name)
            note = notes.pop(name, None)
            target = out.setdefault(section, {})
            if not isinstance(target, dict):
                continue
            if section == "decision":
                target.setdefault(key, None if value is None else int(value))
                if note:
                    target.setdefault("notes", {}).setdefault(key, note)
            elif value is not None:
                target.setdefault(key, value)
    by_defect = out.get("metrics_by_defect")
    if isinstance(by_defect, dict):
        for group in list(by_defect):
            values = by_defect[group]
            if not isinstance(values, dict):
                continue
            moved = {k: values.pop(k) for k in list(values) if k.startswith(_BY_TYPE_PREFIX)}
            if not moved:
                continue
            out.setdefault("metrics_by_defect_type", {}).setdefault(group, {}).update(moved)
            for name in moved:
                note = notes.pop(f"metrics_by_defect.{group}.{name}", None)
                if note:
                    notes[f"metrics_by_defect_type.{group}.{name}"] = note
            if not values:
                del by_defect[group]
    return out
