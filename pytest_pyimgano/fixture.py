"""The ``pyimgano_evaluate`` fixture: a suite model entry evaluated from a Python test
(docs/REFERENCE.md §15).

:func:`entry_spec` turns the keyword arguments of one call into the :class:`ItemSpec` a YAML
item of the same entry would get, by the suite parser and expander themselves (one validation,
one precedence of options); :class:`Evaluator` (what the fixture returns) runs it with
:func:`pytest_pyimgano.evaluate_item.evaluate_spec`, the YAML items' runner, and writes the same
report. Relative paths are relative to the test file's directory, as a suite's are to the suite
file; the report goes to
``<report-dir>/<test file from rootdir, suffix dropped>/<id>/<category>.json``, with ``id`` the
test's name unless the entry gives one.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pyimgano.errors import GateFailure, PyImganoError, SuiteError
from pytest_pyimgano.spec import SUITE_KEY, SUITE_VERSION, ItemSpec, RunSettings
from pytest_pyimgano.suite_keys import MODEL_KEYS

#: the keys of one ``pyimgano_evaluate(...)`` call: a suite model entry's, with one
#: ``category`` for ``categories`` and the ``dataset`` given inline; no ``snapshot`` (the
#: tolerance belongs to the snapshot extension).
ENTRY_KEYS = tuple(
    "category" if key == "categories" else key for key in MODEL_KEYS if key != "snapshot"
)
REQUIRED_KEYS = ("model", "dataset", "category")
_DATASET = "dataset"
_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]+")
#: the suite's key paths in messages → the call's keywords (in this order).
_MESSAGES = (
    ("models[0].categories[0]", "category"),
    ("models[0].categories", "category"),
    ("models[0].", ""),
    (f"datasets.{_DATASET}", "dataset"),
)


def default_id(test_name: str) -> str:
    """A test name as an entry id: ``test_x[a b]`` → ``test_x-a-b`` (letters, digits, ``_.-``)."""
    return _NOT_ID.sub("-", test_name).strip("-.") or "test"


def _words(text: str) -> str:
    """A suite message in the call's words: ``models[0].checkpoint`` → ``checkpoint``."""
    for suite_key, name in _MESSAGES:
        text = text.replace(suite_key, name)
    return text


def entry_spec(
    entry: Mapping[str, Any],
    *,
    test_path: Path,
    source: str,
    where: str,
    test_id: str,
    settings: RunSettings | None = None,
    environ: Mapping[str, str] | None = None,
) -> ItemSpec:
    """The :class:`ItemSpec` of one call, validated as a suite model entry is.

    ``source`` is the test file (rootdir-relative; ``report.item.suite``), ``where`` how
    messages name the call, ``test_id`` the entry id when the call gives none.

    Raises
    ------
    SuiteError
        An unknown or missing key (naming it and the allowed ones), a value of the wrong type,
        or anything a suite would refuse; ``where`` starts the message.
    """
    from pytest_pyimgano.expand import expand_suite
    from pytest_pyimgano.parse import parse_suite

    for key in entry:
        if key == "snapshot":
            raise SuiteError(
                f"{where}: snapshot: not a key of pyimgano_evaluate(); the tolerance is the "
                "snapshot extension's: MetricsSnapshotExtension.with_tolerance(...)"
            )
        if key == "categories":
            raise SuiteError(f"{where}: categories: pyimgano_evaluate() evaluates one "
                             "category: give category='name'")
        if key not in ENTRY_KEYS:
            raise SuiteError(f"{where}: unknown key {key!r}; allowed keys: "
                             f"{', '.join(ENTRY_KEYS)}")
    for key in REQUIRED_KEYS:
        if entry.get(key) is None:
            raise SuiteError(f"{where}: missing required key {key!r}")
    dataset = entry[_DATASET]
    if not isinstance(dataset, Mapping):
        raise SuiteError(
            f"{where}: dataset: expected a mapping such as {{'format': 'mvtec', 'root': "
            f"'data'}}, got {type(dataset).__name__} {dataset!r}"
        )
    model = {key: _plain(value) for key, value in entry.items() if key not in ("category",
                                                                               _DATASET)}
    model.setdefault("id", test_id)
    model["dataset"] = _DATASET
    model["categories"] = [entry["category"]]
    data = {
        SUITE_KEY: SUITE_VERSION,
        "datasets": {_DATASET: {key: _plain(value) for key, value in dataset.items()}},
        "models": [model],
    }
    try:
        suite = parse_suite(data, test_path, source=where, environ=environ)
        (spec,) = expand_suite(suite, settings)
    except SuiteError as exc:
        raise SuiteError(_words(str(exc))) from None
    return dataclasses.replace(
        spec, suite=dataclasses.replace(spec.suite, source=source),
        skip=_words(spec.skip) if spec.skip else None,
        error=_words(spec.error) if spec.error else None,
    )


def _plain(value: Any) -> Any:
    """Paths as text (the suite parser takes strings, with ``${VAR}`` and ``~``)."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


class Evaluator:
    """What the ``pyimgano_evaluate`` fixture returns: call it with a model entry's keys."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.reports: dict[Path, str] = {}  # report path → the call that wrote it

    def __call__(self, **entry: Any) -> Any:
        """Evaluate, gate the entry's thresholds, write the report; an :class:`EvaluationResult`.

        Bad input fails the test with one message (no traceback); an unset ``${VAR}`` skips it
        (fails under ``--pyimgano-strict``); a missed threshold or parity bound raises
        :class:`~pyimgano.errors.GateFailure` with the suite items' table.
        """
        __tracebackhide__ = True
        from pyimgano.backends.device import cuda_device_count
        from pyimgano.testing import EvaluationResult
        from pytest_pyimgano import snapshots
        from pytest_pyimgano.evaluate_item import (
            SNAPSHOT_MATCHED,
            ItemResult,
            SnapshotCheck,
            evaluate_spec,
            report_path_for,
        )
        from pytest_pyimgano.expand import missing_paths
        from pytest_pyimgano.failure import gate_failure
        from pytest_pyimgano.nodes import CACHE_DIRNAME, plugin_options, suite_relpath
        from pytest_pyimgano.options import device_for_worker

        config = self.item.config
        options = plugin_options(config)
        test_path = Path(self.item.path)
        where = f"pyimgano_evaluate() in {self.item.nodeid}"
        try:
            spec = entry_spec(entry, test_path=test_path, where=where,
                              source=suite_relpath(test_path, config.rootpath).as_posix(),
                              test_id=default_id(self.item.name),
                              settings=options.run_settings)
        except SuiteError as exc:
            bad_input = str(exc)
        else:
            bad_input = None
        if bad_input is not None:  # outside the except block: no chained exception shown
            pytest.fail(bad_input, pytrace=False)
        if spec.skip is not None:
            if options.strict:
                pytest.fail(f"{where}: {spec.skip} [--pyimgano-strict: skips fail]",
                            pytrace=False)
            pytest.skip(spec.skip)
        problems = ([spec.error] if spec.error else []) + missing_paths(spec)
        if problems:
            pytest.fail(f"{where}: {'; '.join(problems)}", pytrace=False)
        assert spec.case is not None
        report_path = report_path_for(options.report_dir, suite_relpath(test_path,
                                      config.rootpath), spec.id, spec.category)
        if report_path in self.reports:
            pytest.fail(
                f"{where}: id {spec.id!r}, category {spec.category!r} was evaluated before in "
                f"this test; its report {report_path} would be overwritten: give each call its "
                "own id=", pytrace=False,
            )
        self.reports[report_path] = spec.name
        device = device_for_worker(spec.case.device, options.worker_id, cuda_device_count)
        try:
            report, path, gate_rows = evaluate_spec(
                spec, nodeid=self.item.nodeid, report_path=report_path, device=device,
                plots=options.plots, cache_dir=options.report_dir / CACHE_DIRNAME,
                report_dir=options.report_dir,
            )
        except GateFailure:
            raise
        except PyImganoError as exc:
            bad_input = f"{where}: {exc}"
        if bad_input is not None:
            pytest.fail(bad_input, pytrace=False)
        self.item.user_properties.append(("pyimgano_report", str(path)))
        checked = ItemResult(report, path, gate_rows, SnapshotCheck(path, SNAPSHOT_MATCHED))
        if not checked.passed:
            raise gate_failure(checked, config.option.tbstyle)
        return EvaluationResult(name=spec.name, report=report, report_path=path,
                                snapshot_data=snapshots.serialize(report))
