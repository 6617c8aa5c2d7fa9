"""Collection nodes: :class:`SuiteFile` (a suite YAML) and :class:`CaseItem` (model × category).

Both delegate: ``SuiteFile.collect`` to :mod:`pytest_pyimgano.suite`, ``CaseItem.runtest`` to
:func:`pytest_pyimgano.item.run_item`; ``repr_failure`` renders only pyimgano's own errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyimgano.errors import GateFailure, PyImganoError, SuiteError
from pytest_pyimgano.options import PluginOptions, cuda_device_count, device_for_worker
from pytest_pyimgano.suite import (
    SUITE_KEY,
    ItemSpec,
    expand_suite,
    load_yaml,
    missing_paths,
    parse_suite,
)

OPTIONS_KEY = pytest.StashKey[PluginOptions]()


def plugin_options(config: pytest.Config) -> PluginOptions:
    """The run's :class:`PluginOptions` (stored by ``pytest_configure``)."""
    return config.stash[OPTIONS_KEY]


def suite_relpath(path: Path, rootdir: Path) -> Path:
    """The suite path relative to rootdir (outside it: the path without its anchor)."""
    try:
        return path.relative_to(rootdir)
    except ValueError:
        return Path(*path.parts[1:])


class SuiteFile(pytest.File):
    """A ``.yaml``/``.yml`` file whose top-level mapping has ``pyimgano_suite``."""

    def collect(self):  # type: ignore[override]
        options = plugin_options(self.config)
        source = suite_relpath(self.path, self.config.rootpath).as_posix()
        try:
            text = self.path.read_text(encoding="utf-8")
            data = load_yaml(text, source)
            if not isinstance(data, dict) or SUITE_KEY not in data:
                return
            suite = parse_suite(data, self.path, source=source)
            specs = expand_suite(suite, options.run_settings)
        except SuiteError as exc:
            raise self.CollectError(str(exc)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise self.CollectError(f"{source}: cannot read suite file: {exc}") from None
        for spec in specs:
            yield CaseItem.from_parent(self, name=spec.name, spec=spec)


class CaseItem(pytest.Item):
    """One (model entry, category) of a suite: evaluate, gate, snapshot, write the report."""

    def __init__(self, *, spec: ItemSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.result: Any = None
        self.user_properties.append(
            ("pyimgano_item", json.dumps(
                {"suite": spec.suite.source, "id": spec.id, "category": spec.category},
                sort_keys=True,
            ))
        )
        self.add_marker(pytest.mark.pyimgano)

    @property
    def report_path(self) -> Path:
        from pytest_pyimgano.item import report_path_for

        options = plugin_options(self.config)
        return report_path_for(
            options.report_dir, suite_relpath(self.path, self.config.rootpath),
            self.spec.id, self.spec.category,
        )

    def runtest(self) -> None:
        from pytest_pyimgano.item import gate_failure, run_item, user_properties

        options = plugin_options(self.config)
        spec = self.spec
        if spec.skip is not None:
            if options.strict:
                pytest.fail(f"{spec.skip} [--pyimgano-strict: skips fail]", pytrace=False)
            pytest.skip(spec.skip)
        if spec.error is not None:
            pytest.fail(spec.error, pytrace=False)
        missing = missing_paths(spec)
        if missing:
            pytest.fail("; ".join(missing), pytrace=False)
        assert spec.case is not None
        device = device_for_worker(spec.case.device, options.worker_id, cuda_device_count)
        self.result = run_item(
            spec,
            nodeid=self.nodeid,
            report_path=self.report_path,
            device=device,
            plots=options.plots,
            update_snapshots=options.update_snapshots,
            update_new_snapshots_only=options.update_new_snapshots_only,
        )
        self.user_properties.extend(user_properties(self.result))
        if not self.result.passed:
            raise gate_failure(self.name, self.result)

    def repr_failure(self, excinfo, style=None):  # type: ignore[no-untyped-def]
        if isinstance(excinfo.value, (GateFailure, PyImganoError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name

    def html_extras(self, pytest_html: Any) -> list[Any]:
        """pytest-html extras: the metrics table and the plots beside the report."""
        from pytest_pyimgano.html import extras_for

        if self.result is None:
            return []
        return extras_for(self.result, pytest_html)
