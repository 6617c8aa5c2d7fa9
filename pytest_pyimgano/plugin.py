"""pytest11 entry point of pyimgano (hooks only; docs/REFERENCE.md §8).

Loaded in every pytest run of the user, so it imports nothing heavy: torch, anomalib and numpy
are imported only when a suite item runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from pyimgano.testing import EvaluationResult
from pytest_pyimgano.nodes import OPTIONS_KEY, CaseItem, SuiteFile, plugin_options, suite_relpath
from pytest_pyimgano.options import WORKER_REPORT_DIR, read_options
from pytest_pyimgano.session import PyImganoSession
from pytest_pyimgano.suite_yaml import looks_like_suite

SESSION_KEY = pytest.StashKey[PyImganoSession]()


def _syrupy_available(pluginmanager: pytest.PytestPluginManager) -> bool:
    return importlib.util.find_spec("syrupy") is not None and not pluginmanager.is_blocked(
        "syrupy"
    )


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("pyimgano", "pyimgano suites (YAML suites of checkpoints)")
    group.addoption(
        "--pyimgano-device", default=None, metavar="DEVICE",
        help="auto (default: cuda:0 if available, else cpu), cpu, cuda or cuda:N; "
        "overrides the suites' device",
    )
    group.addoption(
        "--pyimgano-report-dir", default=None, metavar="DIR",
        help="where reports and summary.json/summary.md go (default pyimgano-reports/, "
        "relative to the invocation dir)",
    )
    group.addoption(
        "--pyimgano-strict", action="store_true", default=False,
        help="suite items that would be skipped (unset ${VAR}) fail instead",
    )
    group.addoption(
        "--pyimgano-batch-size", default=None, metavar="N",
        help="images per forward pass; overrides the suites' batch_size",
    )
    group.addoption(
        "--pyimgano-memory-budget", default=None, metavar="SIZE",
        help="memory the pixel metrics may use (512MiB, 4GiB, auto: half the available memory "
        "shared by the xdist workers); overrides the suites' memory_budget",
    )
    group.addoption(
        "--pyimgano-trust-checkpoints", action="store_true", default=False,
        help="load unpinned pickled checkpoints (.pt/.pth); command line only, never ini",
    )
    group.addoption(
        "--pyimgano-no-plots", action="store_true", default=False,
        help="do not draw ROC/PRO curves and overlays beside the reports",
    )
    if not _syrupy_available(pluginmanager):
        group.addoption(
            "--snapshot-update", action="store_true", default=False, dest="update_snapshots",
            help="write or update pyimgano suite snapshots (syrupy's flag, when installed)",
        )
    parser.addini("pyimgano_device", "default device of suite items (auto, cpu, cuda, cuda:N)")
    parser.addini("pyimgano_report_dir", "report dir, relative to this ini file's directory")
    parser.addini("pyimgano_strict", "skipped suite items fail instead", type="bool",
                  default=False)
    parser.addini("pyimgano_batch_size", "default batch size of suite items (an integer)",
                  type="int", default=None)
    parser.addini("pyimgano_memory_budget",
                  "default memory budget of the pixel metrics (512MiB, 4GiB, auto)")
    parser.addini("pyimgano_no_plots", "do not draw plots beside reports", type="bool",
                  default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pyimgano: an item of a pyimgano YAML suite")
    options = read_options(config)
    config.stash[OPTIONS_KEY] = options
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistGlue(options.report_dir), "pyimgano-xdist")
    if not hasattr(config, "workerinput"):
        session = PyImganoSession(options.report_dir)
        config.stash[SESSION_KEY] = session
        config.pluginmanager.register(session, "pyimgano-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        del config.stash[SESSION_KEY]
        config.pluginmanager.unregister(session)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    if looks_like_suite(file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remove stale reports of the suites with selected items (see :mod:`pytest_pyimgano.stale`)."""
    if session.config.option.collectonly:
        return
    from pytest_pyimgano.stale import remove_stale_reports

    options = plugin_options(session.config)
    suites = {item.parent for item in session.items if isinstance(item, CaseItem)}
    removed = []
    for suite in sorted(suites, key=lambda s: str(s.path)):
        assert isinstance(suite, SuiteFile)
        rel = suite_relpath(suite.path, session.config.rootpath).with_suffix("")
        items = [(spec.id, spec.category) for spec in suite.specs]
        gone, kept = remove_stale_reports(options.report_dir / rel, items,
                                          suite.path.with_suffix(""), options.report_dir)
        removed += gone
        if kept:
            import warnings

            from pytest_pyimgano.warnings import StaleReportWarning

            warnings.warn_explicit(StaleReportWarning(
                f"kept {len(kept)} stale report file(s) changed since pyimgano wrote them (a "
                f"changed file is never deleted): {', '.join(map(str, kept))}"
            ), StaleReportWarning, str(suite.path), 1)
    own = session.config.stash.get(SESSION_KEY, None)
    if own is not None:
        own.removed.extend(removed)


def pytest_report_header(config: pytest.Config) -> str:
    options = plugin_options(config)
    device = options.device or options.ini_device or "auto"
    return f"pyimgano: device {device} (suites may set their own), reports in {options.report_dir}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if (
        report.when == "call"
        and isinstance(item, CaseItem)
        and item.config.pluginmanager.hasplugin("html")
    ):
        import pytest_html

        report.extras = [*getattr(report, "extras", []), *item.html_extras(pytest_html)]
    return report


@pytest.fixture
def pyimgano_evaluate(request: pytest.FixtureRequest) -> Any:
    """Evaluate a suite model entry from a Python test: ``pyimgano_evaluate(model=..., ...)``.

    See :mod:`pytest_pyimgano.fixture` (docs/REFERENCE.md §15).
    """
    from pytest_pyimgano.fixture import Evaluator

    return Evaluator(request.node)


@pytest.hookimpl(wrapper=True)
def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> Any:
    """A failed ``result == snapshot(...)`` reads as the plugin's snapshot table."""
    explanations = yield
    if isinstance(left, EvaluationResult) or isinstance(right, EvaluationResult):
        from pyimgano.testing.extension import explain_comparison

        ours = explain_comparison(op, left, right, style=config.option.tbstyle)
        if ours:
            return [ours, *explanations]
    return explanations


class XdistGlue:
    """Hands the controller's report dir to every xdist worker."""

    def __init__(self, report_dir: Path) -> None:
        self.report_dir = report_dir

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKER_REPORT_DIR] = str(self.report_dir)
