"""How the catalogue's tests drive pyimgano: the CLI in-process, the API, and one child pytest
session over every suite scenario (parsed from its JUnit XML)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyimgano.errors import GateFailure
from tests.bad_inputs.catalogue import CASES, Case

REPO = Path(__file__).resolve().parents[2]
PROG = "pyimgano-benchmark"

#: ini of child sessions: no hypothesis plugin (slow to load), no cache.
CHILD_INI = (
    "[pytest]\n"
    "addopts = -p no:hypothesispytest -p no:cacheprovider\n"
    "filterwarnings = ignore::pytest.PytestAssertRewriteWarning\n"
)
#: conftest.py of child sessions: registers the misbehaving fake detector.
CHILD_CONFTEST = (
    "from tests.bad_inputs import fakes\n"
    "\n"
    "fakes.register()\n"
)


# ------------------------------------------------------------------------------------------
# CLI and API


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


def run_cli(argv: Sequence[object]) -> CliResult:
    """``pyimgano-benchmark`` in this process (stdout/stderr captured). Without ``--output``
    the per-image records go to a temporary ``--jsonl`` (never into the working directory)."""
    import tempfile

    from pyimgano.cli.benchmark import main

    args = [os.fspath(a) if isinstance(a, Path) else str(a) for a in argv]
    out, err = io.StringIO(), io.StringIO()
    with tempfile.TemporaryDirectory(prefix="pyimgano-cli-") as scratch:
        if "--output" not in args and "--jsonl" not in args:
            args += ["--jsonl", os.path.join(scratch, "records.jsonl")]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
    return CliResult(code, out.getvalue(), err.getvalue())


def cli_args(root: Path, *extra: object, category: str = "tiles", model: str = "bad_fake",
             fmt: str = "mvtec") -> list[object]:
    return ["--dataset", fmt, "--root", root, "--category", category, "--model", model,
            "--no-progress", "--no-plots", *extra]


def expect_cli(case: Case | str, argv: Sequence[object], **values: Any) -> str:
    """Exit 2, nothing on stdout, ONE stderr line without traceback, matching the case."""
    case = CASES[case] if isinstance(case, str) else case
    result = run_cli(argv)
    assert result.code == 2, f"{case.id}: exit {result.code}\n{result.err}"
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, f"{case.id}: expected one stderr line, got:\n{result.err}"
    assert "Traceback" not in result.err
    assert lines[0].startswith(f"{PROG}: error: ")
    return case.check(lines[0], **values)


def expect_raise(case: Case | str, call: Callable[[], object], **values: Any) -> str:
    """``call()`` raises exactly the case's error type, with a matching one-line message."""
    case = CASES[case] if isinstance(case, str) else case
    assert case.error is not None
    with pytest.raises(BaseException) as info:
        call()
    message = case.check_error(info.value, **values)
    if not isinstance(info.value, GateFailure):  # a gate failure is the docs/REFERENCE.md §8 table
        assert "\n" not in message, f"{case.id}: message is not one line: {message}"
    return message


def run_argv(argv: Sequence[object]) -> object:
    """What the CLI does for ``argv``, without its error handling (errors propagate)."""
    from pyimgano.cli.benchmark import parse_options
    from pyimgano.runner import run_case

    options = parse_options([os.fspath(a) if isinstance(a, Path) else str(a) for a in argv])
    return run_case(options.case)


# ------------------------------------------------------------------------------------------
# the plugin batch


@dataclass(frozen=True)
class Outcome:
    kind: str  # passed | failed | skipped | error
    text: str


@dataclass
class PluginRun:
    """One child pytest session over ``suites/<slug>.yaml`` of every scenario."""

    path: Path
    stdout: str
    outcomes: dict[str, Outcome]  # junit "classname::name" (or the file's name) -> outcome

    def data(self, case_id: str) -> Path:
        """The data directory the scenario of ``case_id`` built."""
        return self.path / "data" / slug(case_id)

    def suite(self, case_id: str) -> str:
        """The suite's path as messages name it (relative to the child's rootdir)."""
        return f"suites/{slug(case_id)}.yaml"

    def outcome(self, case_id: str, item: str | None = None) -> Outcome:
        suite = self.suite(case_id).replace("/", ".")
        key = suite if item is None else f"{suite}::{item}"
        assert key in self.outcomes, f"{key} not in the child session:\n{self.stdout[-3000:]}"
        return self.outcomes[key]

    def expect(self, case: Case | str, kind: str, item: str | None = None, **values: Any) -> str:
        """The scenario's file (``item=None``: a collection error) or item has ``kind`` and a
        text matching the case."""
        case = CASES[case] if isinstance(case, str) else case
        found = self.outcome(case.id, item)
        assert found.kind == kind, f"{case.id}: {found.kind}, expected {kind}:\n{found.text}"
        assert "Traceback" not in found.text
        return case.check(found.text, **values)


def run_scenario_item(run: PluginRun, case_id: str, report_dir: Path) -> object:
    """What the scenario's (only) item does in ``CaseItem.runtest``, in this process: run,
    gates, snapshot; raises what the item would raise (``GateFailure`` included)."""
    from pytest_pyimgano.evaluate_item import run_item
    from pytest_pyimgano.expand import expand_suite
    from pytest_pyimgano.failure import gate_failure
    from pytest_pyimgano.parse import read_suite
    from tests.bad_inputs.scenarios import set_var

    suite = read_suite(run.path / run.suite(case_id), source=run.suite(case_id),
                       environ=set_var(run.path))
    (spec,) = expand_suite(suite)
    result = run_item(spec, nodeid=f"{run.suite(case_id)}::{spec.name}",
                      report_path=report_dir / f"{spec.category}.json", plots=False,
                      update_snapshots=True)
    if not result.passed:
        raise gate_failure(result)
    return result


def slug(case_id: str) -> str:
    return case_id.replace(".", "_")


def child_env(**extra: str) -> dict[str, str]:
    """This environment for a child pytest, minus what would make it think it is a worker."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def prepare_child_dir(path: Path) -> None:
    (path / "pytest.ini").write_text(CHILD_INI, encoding="utf-8")
    (path / "conftest.py").write_text(CHILD_CONFTEST, encoding="utf-8")


def run_plugin_batch(path: Path, base_data: Path) -> PluginRun:
    """Build every scenario under ``path`` and run one pytest session over them."""
    from tests.bad_inputs.scenarios import SCENARIOS, UNSET_VAR, set_var

    prepare_child_dir(path)
    (path / "suites").mkdir()
    for case_id, build in SCENARIOS.items():
        data = path / "data" / slug(case_id)
        data.mkdir(parents=True)
        text = build(data, base_data)
        (path / "suites" / f"{slug(case_id)}.yaml").write_text(text, encoding="utf-8")
    env = child_env(**set_var(path))
    env.pop(UNSET_VAR, None)
    junit = path / "junit.xml"
    command = [sys.executable, "-m", "pytest", "suites", "--continue-on-collection-errors",
               f"--junitxml={junit}", "--pyimgano-no-plots", "--snapshot-update",
               "--pyimgano-device", "cpu", "-q", "-rA"]
    done = subprocess.run(command, cwd=path, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    return PluginRun(path, done.stdout + done.stderr, read_junit(junit))


def read_junit(path: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        key = f"{classname}::{name}" if classname else name
        kind, text = "passed", ""
        for child in case:
            tag = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(child.tag)
            if tag is not None:
                kind = tag
                text = f"{child.get('message', '')}\n{child.text or ''}"
        outcomes[key] = Outcome(kind, text)
    return outcomes


def run_child(child: pytest.Pytester, *args: str, subprocess: bool = False,
              timeout: float = 300) -> tuple[pytest.RunResult, dict[str, Outcome]]:
    """A child session in ``child`` (in-process unless ``subprocess``) and its outcomes."""
    junit = child.path / "junit.xml"
    junit.unlink(missing_ok=True)
    args = (*args, f"--junitxml={junit}", "--pyimgano-no-plots")
    if subprocess:
        result = child.runpytest_subprocess(*args, timeout=timeout)
    else:
        result = child.runpytest_inprocess(*args)
    return result, (read_junit(junit) if junit.exists() else {})


def item_failure(child: pytest.Pytester, text: str, *args: str) -> str:
    """Run a one-item suite in-process; the item fails; returns its failure text."""
    (child.path / "suites").mkdir(exist_ok=True)
    (child.path / "suites" / "ckpt.yaml").write_text(text, encoding="utf-8")
    result, outcomes = run_child(child, "suites", "--snapshot-update", *args)
    (outcome,) = outcomes.values()
    assert outcome.kind == "failed", outcome.text
    assert "Traceback" not in outcome.text
    return outcome.text
