"""Collection nodes: :class:`SuiteFile` (a suite YAML) and :class:`CaseItem` (model × category).

Both delegate: ``SuiteFile.collect`` to :mod:`~pytest_pyimgano.parse` and
:mod:`~pytest_pyimgano.expand`, ``CaseItem.runtest`` to
:func:`pytest_pyimgano.evaluate_item.run_item`; ``repr_failure`` renders only pyimgano's own
errors (:mod:`pytest_pyimgano.failure`), honouring ``--tb``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyimgano.backends.device import cuda_device_count
from pyimgano.errors import GateFailure, PyImganoError, SuiteError
from pytest_pyimgano.expand import expand_suite, missing_paths
from pytest_pyimgano.options import PluginOptions, device_for_worker
from pytest_pyimgano.parse import parse_suite
from pytest_pyimgano.spec import SUITE_KEY, ItemSpec
from pytest_pyimgano.suite_yaml import load_yaml_with_lines

OPTIONS_KEY = pytest.StashKey[PluginOptions]()
#: ``.cache`` in the report dir: where runtimes may write caches (OpenVINO), never the CWD.
CACHE_DIRNAME = ".cache"


def plugin_options(config: pytest.Config) -> PluginOptions:
    """The run's :class:`PluginOptions` (stored by ``pytest_configure``)."""
    return config.stash[OPTIONS_KEY]


def suite_relpath(path: Path, rootdir: Path) -> Path:
    """The suite path relative to rootdir (outside it: the path without its anchor)."""
    try:
        return path.relative_to(rootdir)
    except ValueError:
        return Path(*path.parts[1:])


def item_node_id(parent: pytest.Collector, spec: ItemSpec) -> Any:
    """The structured node id of an item, where pytest has them (9.2+), else ``None``.

    pytest 9.2 builds a custom item's id as one name ``fake[disk]`` without params, while ids
    read back from the cache (``--lf``, ``--ff``, ``--sw``) parse as name ``fake`` with params
    ``disk``: the two never compare equal, so every item would run again
    (pytest-dev/pytest#15045). Building the id as pytest builds a parametrized function's makes
    them equal; its text, ``suite.yaml::fake[disk]``, is unchanged.
    """
    parent_id = getattr(parent, "id", None)
    if parent_id is None or not hasattr(parent_id, "with_params"):
        return None  # pytest <= 9.1: string node ids, nothing to do
    return parent_id.child(spec.id).with_params(spec.category)


class SuiteFile(pytest.File):
    """A ``.yaml``/``.yml`` file whose top-level mapping has ``pyimgano_suite``."""

    specs: tuple[ItemSpec, ...] = ()
    migrated: tuple[Path, ...] = ()

    def collect(self):  # type: ignore[override]
        options = plugin_options(self.config)
        source = suite_relpath(self.path, self.config.rootpath).as_posix()
        try:
            text = self.path.read_text(encoding="utf-8-sig")
            data, lines = load_yaml_with_lines(text, source)
            if not isinstance(data, dict) or SUITE_KEY not in data:
                return
            suite = parse_suite(data, self.path, source=source, lines=lines)
            specs = expand_suite(suite, options.run_settings)
        except SuiteError as exc:
            raise self.CollectError(str(exc)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise self.CollectError(f"{source}: cannot read suite file: {exc}") from None
        self.specs = tuple(specs)
        if options.update_snapshots and not self.config.option.collectonly:
            from pytest_pyimgano.snapshots import migrate_suite_snapshots

            # Before any item runs (and before syrupy's cleanup at session end could see them).
            self.migrated = tuple(migrate_suite_snapshots(self.path))
        for spec in specs:
            kwargs: dict[str, Any] = {}
            node_id = item_node_id(self, spec)
            if node_id is not None:
                kwargs["nodeid"] = node_id
            yield CaseItem.from_parent(self, name=spec.name, spec=spec, **kwargs)


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
        from pytest_pyimgano.evaluate_item import report_path_for

        options = plugin_options(self.config)
        return report_path_for(
            options.report_dir, suite_relpath(self.path, self.config.rootpath),
            self.spec.id, self.spec.category,
        )

    def runtest(self) -> None:
        try:
            self._run()
        except (pytest.skip.Exception, GateFailure):
            raise
        except BaseException as exc:
            if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
                self.user_properties.append(("pyimgano_failure_cause", "error"))
            raise

    def _run(self) -> None:
        from pytest_pyimgano.evaluate_item import run_item, user_properties
        from pytest_pyimgano.failure import gate_failure

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
            cache_dir=options.report_dir / CACHE_DIRNAME,
            report_dir=options.report_dir,
        )
        self.user_properties.extend(user_properties(self.result))
        if not self.result.passed:
            raise gate_failure(self.result, self.config.option.tbstyle)

    def repr_failure(self, excinfo, style=None):  # type: ignore[no-untyped-def]
        if isinstance(excinfo.value, (GateFailure, PyImganoError)):
            from pytest_pyimgano.failure import failure_repr

            return failure_repr(
                excinfo.value, path=self.spec.suite.source, line=self.spec.line,
                style=style or self.config.option.tbstyle,
            )
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.spec.line - 1, self.name

    def html_extras(self, pytest_html: Any) -> list[Any]:
        """pytest-html extras: the metrics table and the plots beside the report."""
        from pytest_pyimgano.html import extras_for

        if self.result is None:
            return []
        return extras_for(self.result, pytest_html,
                          html_path=getattr(self.config.option, "htmlpath", None))
