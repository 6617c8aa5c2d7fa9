"""The plugin as a native pytest citizen (issue 14): --lf/--ff/--sw, --tb, typed ini, summaries,
stale reports, YAML lines in items and warnings, skip reasons, -x, BOM, empty ${VAR}."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.plugin.conftest import CHILD_CONFTEST, INI, suite_text, write_suite

BASE = ["--pyimgano-no-plots", "--snapshot-update"]
#: one item passes, one fails its gate (tiles' image_auroc is below 1.5, disk's above 0)
FAILING_DISK = "thresholds:\n  per_category: {disk: {image_auroc: 1.5}}"


def lf_dir(suite_dir: pytest.Pytester) -> pytest.Pytester:
    """The suite dir with the cache provider on (the shared ini turns it off)."""
    suite_dir.makeini(INI.replace(" -p no:cacheprovider", ""))
    return suite_dir


@pytest.mark.parametrize("flag", ["--lf", "--ff", "--sw"])
def test_rerun_flags_select_the_failed_item(suite_dir, flag):
    """pytest 9.2's NodeId made ``--lf``/``--ff``/``--sw`` run every custom item whose name has
    brackets (pytest-dev/pytest#15045); the plugin builds the ids so the cache matches them."""
    lf_dir(suite_dir)
    write_suite(suite_dir, suite_text(model_extra=FAILING_DISK))
    first = suite_dir.runpytest(*BASE)
    first.assert_outcomes(passed=1, failed=1)
    again = suite_dir.runpytest(*BASE, flag, "-v")
    if flag == "--lf":
        again.assert_outcomes(failed=1)
        again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*",
                                    "pyimgano: 1 item (1 failed)*"])
    elif flag == "--ff":
        again.assert_outcomes(passed=1, failed=1)
        again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure first*",
                                    "*fake[[]disk[]] FAILED*", "*fake[[]tiles[]] PASSED*"])
    else:  # --sw: stops at the failure, then starts again from it
        again.assert_outcomes(failed=1)
        again.stdout.fnmatch_lines(["*fake[[]disk[]] FAILED*"])
        third = suite_dir.runpytest(*BASE, flag, "-v")
        third.stdout.fnmatch_lines(["*fake[[]disk[]] FAILED*"])
        assert "fake[tiles]" not in third.stdout.str().split("pyimgano summary")[0].split(
            "FAILED", 1)[1]
    assert "known failures not in selected tests" not in again.stdout.str()


def test_node_ids_are_unchanged_and_parse_back(suite_dir):
    write_suite(suite_dir, suite_text())
    items, _ = suite_dir.inline_genitems("-p", "no:cacheprovider")
    assert [item.nodeid for item in items] == ["suites/release.yaml::fake[disk]",
                                               "suites/release.yaml::fake[tiles]"]
    nodeid_type = type(getattr(items[0], "id", None))
    if hasattr(nodeid_type, "parse"):  # pytest 9.2+: what the cache reads back equals the id
        assert all(nodeid_type.parse(item.nodeid) == item.id for item in items)


# -- --tb and the short summary ------------------------------------------------------------


def gate_suite(suite_dir: pytest.Pytester) -> int:
    """Write a suite whose item fails one of two gates; the model entry's YAML line."""
    text = suite_text(categories="[tiles]", defaults="thresholds: {image_ap: 0.0}",
                      model_extra="thresholds: {image_auroc: 1.5}")
    write_suite(suite_dir, text)
    return text.splitlines().index("  - id: fake") + 1


@pytest.mark.parametrize("style", ["auto", "long", "short", "line", "no"])
def test_tb_styles(suite_dir, style):
    line = gate_suite(suite_dir)
    result = suite_dir.runpytest(*BASE, f"--tb={style}", "-rf")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    head = "image_auroc=* (>= 1.5, Δ -*); 1 of 2 checks failed: image_auroc"
    failures = out.split("pyimgano summary")[0]
    # the headline once in the failures section (``line`` printed it twice)
    assert failures.count("1 of 2 checks failed") == (0 if style == "no" else 1), out
    result.stdout.fnmatch_lines(["FAILED suites/release.yaml::fake[[]tiles[]] - image_auroc=*"])
    if style in ("auto", "long"):
        result.stdout.fnmatch_lines([head, "metric*value*bound*result", "image_ap*ok",
                                     "image_auroc*FAIL", "report: *tiles.json"])
    elif style == "short":
        result.stdout.fnmatch_lines([head, "metric*value*bound*result", "image_auroc*FAIL"])
        assert "image_ap " not in failures.split("metric", 1)[1]
    elif style == "line":
        result.stdout.fnmatch_lines([f"suites/release.yaml:{line}: {head}"])
        assert "metric " not in failures
    else:
        assert "FAILURES" not in out


def test_junit_message_is_one_line_and_properties_hold_state_and_cause(suite_dir):
    write_suite(suite_dir, suite_text(model_extra=FAILING_DISK))
    suite_dir.runpytest(*BASE, "--junitxml=junit.xml").assert_outcomes(passed=1, failed=1)
    cases = {c.get("name"): c for c in ET.parse(suite_dir.path / "junit.xml").iter("testcase")}
    failure = cases["fake[disk]"].find("failure")
    assert "\n" not in failure.get("message")
    assert failure.get("message").startswith("image_auroc=")
    assert "metric" in failure.text and "report:" in failure.text  # the table is the body
    props = {n: {p.get("name"): p.get("value") for p in c.iter("property")}
             for n, c in cases.items()}
    assert props["fake[disk]"]["pyimgano_snapshot"] == "created"
    assert props["fake[disk]"]["pyimgano_failure_cause"] == "threshold"
    assert "pyimgano_failure_cause" not in props["fake[tiles]"]


def test_snapshot_failure_cause_and_counts(suite_dir):
    write_suite(suite_dir, suite_text())
    first = suite_dir.runpytest("--pyimgano-no-plots")
    first.assert_outcomes(failed=2)
    first.stdout.fnmatch_lines(["pyimgano: 0 snapshots written, 0 updated, 0 unchanged "
                                "(2 missing)"])
    summary = json.loads((suite_dir.path / "pyimgano-reports/summary.json").read_text("utf-8"))
    assert [(i["snapshot"], i["failure_cause"]) for i in summary["items"]] == [
        ("missing", "snapshot"), ("missing", "snapshot")]
    suite_dir.runpytest(*BASE).stdout.fnmatch_lines(
        ["pyimgano: 2 snapshots written, 0 updated, 0 unchanged"])
    suite_dir.runpytest(*BASE).stdout.fnmatch_lines(
        ["pyimgano: 0 snapshots written, 0 updated, 2 unchanged"])
    md = (suite_dir.path / "pyimgano-reports/summary.md").read_text("utf-8")
    assert "| passed | matched | - |" in md


def test_runner_error_has_cause_error(suite_dir):
    write_suite(suite_dir, suite_text(categories="[tiles]", model_extra="model_kwargs: {nois: 1}"))
    suite_dir.runpytest(*BASE, "--tb=line").assert_outcomes(failed=1)
    (item,) = json.loads(
        (suite_dir.path / "pyimgano-reports/summary.json").read_text("utf-8"))["items"]
    assert (item["failure_cause"], item["snapshot"]) == ("error", None)
    assert "nois" in item["message"]


# -- typed ini -----------------------------------------------------------------------------


def test_native_toml_ini_takes_typed_values(suite_dir):
    (suite_dir.path / "tox.ini").unlink()
    suite_dir.makepyprojecttoml(
        "[tool.pytest]\n"
        'addopts = ["-p", "no:hypothesispytest", "-p", "no:cacheprovider"]\n'
        'filterwarnings = ["ignore::pytest.PytestAssertRewriteWarning"]\n'
        "pyimgano_batch_size = 3\n"
        "pyimgano_no_plots = true\n"
        'pyimgano_device = "cpu"\n'
    )
    write_suite(suite_dir, suite_text(categories="[tiles]").replace("  batch_size: 4\n", ""))
    suite_dir.runpytest("--snapshot-update").assert_outcomes(passed=1)
    report = json.loads((suite_dir.path / "pyimgano-reports/suites/release/fake/tiles.json")
                        .read_text("utf-8"))
    assert report["environment"]["batch_size"] == 3
    assert not list((suite_dir.path / "pyimgano-reports/suites/release/fake").glob("*.png"))
    suite_dir.makepyprojecttoml('[tool.pytest]\npyimgano_batch_size = "four"\n')
    bad = suite_dir.runpytest()
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*pyimgano_batch_size*expects an int, got str: 'four'*"])


def test_ini_file_int_is_checked(suite_dir):
    suite_dir.makeini(INI + "pyimgano_batch_size = four\n")
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    bad = suite_dir.runpytest()
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*ini pyimgano_batch_size: *four*"])


# -- stale reports -------------------------------------------------------------------------


def test_stale_reports_of_the_suites_run_are_removed_and_nothing_else(suite_dir):
    """Only files pyimgano wrote and recorded go (more in test_manifest.py): a removed entry's
    reports; not a deselected item's, not another suite's, not the user's files."""
    write_suite(suite_dir, suite_text() + (
        "  - id: gone\n"
        "    model: test_fake_detector\n"
        "    dataset: syn\n"
        "    categories: [disk]\n"
    ))
    write_suite(suite_dir, suite_text(categories="[tiles]"), name="other/keep.yaml")
    suite_dir.runpytest(*BASE).assert_outcomes(passed=4)
    out = suite_dir.path / "pyimgano-reports"
    fake = out / "suites/release/fake"
    old_model = out / "suites/release/gone"
    (old_model / "notes.txt").write_text("mine")
    (fake / "cable.json").write_text("{}")  # the user's, though named like a report
    (fake / "cable_roc.png").write_bytes(b"")
    user_file = out / "suites/release/README.md"
    user_file.write_text("mine")
    write_suite(suite_dir, suite_text())  # the entry `gone` is removed
    # -k: tiles runs, disk is deselected but still an item of the suite: its report stays
    result = suite_dir.runpytest(*BASE, "suites", "-k", "tiles")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["pyimgano: removed 2 stale report file(s) of the suites run"])
    assert sorted(p.name for p in fake.iterdir()) == ["cable.json", "cable_roc.png", "disk.json",
                                                      "disk.jsonl", "tiles.json", "tiles.jsonl"]
    assert sorted(p.name for p in old_model.iterdir()) == ["notes.txt"]
    assert user_file.is_file()
    assert (out / "other/keep/fake/tiles.json").is_file()  # another suite: not run, untouched
    collect = suite_dir.runpytest("--collect-only", "-p", "no:cacheprovider")
    assert collect.ret == 0 and (fake / "disk.json").is_file()


# -- YAML lines, public warnings -----------------------------------------------------------


def test_items_and_warnings_point_at_yaml_lines(suite_dir):
    text = suite_text(categories="[tiles]", defaults="snapshot: {tolerance: 0.000001}")
    write_suite(suite_dir, text)
    model_line = text.splitlines().index("  - id: fake") + 1
    snapshot_line = text.splitlines().index("  snapshot: {tolerance: 0.000001}") + 1
    items, _ = suite_dir.inline_genitems("-p", "no:cacheprovider")
    assert items[0].location[1] == model_line - 1  # 0-based, as pytest keeps it
    result = suite_dir.runpytest(*BASE)
    result.stdout.fnmatch_lines([
        f"*suites/release.yaml:{snapshot_line}: SnapshotToleranceWarning: snapshot tolerance*"])
    strict = suite_dir.runpytest(
        *BASE, "-W", "error::pytest_pyimgano.warnings.SnapshotToleranceWarning")
    strict.assert_outcomes(failed=1)


def test_warning_classes_are_public():
    from pytest_pyimgano import warnings as public

    for name in public.__all__:
        cls = getattr(public, name)
        assert issubclass(cls, UserWarning) and cls.__module__ == "pytest_pyimgano.warnings"
        assert issubclass(cls, public.PyImganoWarning)


# -- skips, -x, empty ${VAR}, BOM ----------------------------------------------------------


def test_skip_reasons_are_in_the_pyimgano_summary(suite_dir, monkeypatch):
    monkeypatch.delenv("PYIMGANO_NOT_SET", raising=False)
    write_suite(suite_dir, suite_text(root="${PYIMGANO_NOT_SET}/mvtec"))
    result = suite_dir.runpytest(*BASE)  # no -rs
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines([
        "*pyimgano summary*", "*",
        "SKIPPED suites/release.yaml::fake[disk]: environment variable ${PYIMGANO_NOT_SET} is "
        "not set (datasets.syn.root)",
    ])


def test_maxfail_lists_items_not_run(suite_dir):
    write_suite(suite_dir, suite_text(categories="all", model_extra=FAILING_DISK)
                + "  - id: second\n    model: test_fake_detector\n    dataset: syn\n"
                  "    categories: [tiles]\n")
    result = suite_dir.runpytest(*BASE, "-x")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fake[[]disk[]]*FAILED", "*fake[[]tiles[]]*NOT RUN",
                                 "*second[[]tiles[]]*NOT RUN",
                                 "pyimgano: 3 items (1 failed, 2 not run)*"])
    out = suite_dir.path / "pyimgano-reports"
    md = (out / "summary.md").read_text("utf-8")
    assert "3 items: 1 failed, 2 not run." in md
    items = json.loads((out / "summary.json").read_text("utf-8"))["items"]
    assert [i["outcome"] for i in items] == ["failed", "not_run", "not_run"]


def test_empty_variable_fails_naming_it(suite_dir, monkeypatch):
    monkeypatch.setenv("PYIMGANO_EMPTY", "")
    write_suite(suite_dir, suite_text(root="${PYIMGANO_EMPTY}"))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*environment variable ${PYIMGANO_EMPTY} is set but empty "
                                 "(datasets.syn.root)*"])
    write_suite(suite_dir, suite_text(categories="all", root="${PYIMGANO_EMPTY}"))
    suite_dir.runpytest(*BASE).assert_outcomes(failed=1)


def test_suite_with_a_byte_order_mark_is_collected(suite_dir):
    path = write_suite(suite_dir, suite_text())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = suite_dir.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["suites/release.yaml::fake[disk]",
                                 "suites/release.yaml::fake[tiles]"])


# -- pytest-html ---------------------------------------------------------------------------


def test_html_extras_link_the_report_show_whole_plots_and_tolerance(suite_dir):
    pytest.importorskip("pytest_html")
    write_suite(suite_dir, suite_text(categories="[tiles]", defaults="pixel: true\n"
                                      "snapshot: {tolerance: 0.25}"))
    suite_dir.runpytest("-p", "no:cacheprovider", "--snapshot-update", "--html=out/r.html")
    result = suite_dir.runpytest("-p", "no:cacheprovider", "--html=out/r.html")
    result.assert_outcomes(passed=1)
    page = (suite_dir.path / "out/r.html").read_text("utf-8")
    assert "&lt;th&gt;tolerance&lt;/th&gt;" in page or "<th>tolerance</th>" in page
    assert "0.25" in page
    assert "../pyimgano-reports/suites/release/fake/tiles.json" in page
    assert "object-fit:contain" in page and "data:image/png;base64," in page


assert "test_fake_detector" in CHILD_CONFTEST
