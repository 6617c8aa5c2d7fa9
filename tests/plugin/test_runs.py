"""Real pytest sessions over YAML suites (docs/REFERENCE.md §8): items, gates, skips, reports,
summaries."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pyimgano.report import SCHEMA_VERSION, read_report, validate_report
from tests.plugin.conftest import DATA_VAR, INI, suite_text, write_suite

BASE = ["-p", "no:cacheprovider", "--pyimgano-no-plots", "--snapshot-update"]


def reports(pytester: pytest.Pytester) -> Path:
    return pytester.path / "pyimgano-reports"


def test_one_item_per_category_with_spec_node_ids(suite_dir):
    write_suite(suite_dir, suite_text())
    result = suite_dir.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "suites/release.yaml::fake[disk]",
        "suites/release.yaml::fake[tiles]",
        "2 tests collected*",
    ])


def test_k_selects_a_category_and_thresholds_pass(suite_dir):
    write_suite(suite_dir, suite_text(defaults="thresholds: {image_auroc: 0.0}"))
    result = suite_dir.runpytest(*BASE, "-k", "tiles", "-v")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*suites/release.yaml::fake[[]tiles[]] PASSED*"])
    assert (reports(suite_dir) / "suites/release/fake/tiles.json").is_file()
    assert not (reports(suite_dir) / "suites/release/fake/disk.json").exists()


def test_gate_failure_prints_the_table(suite_dir):
    write_suite(suite_dir, suite_text(
        categories="[tiles]",
        defaults="thresholds: {image_auroc: 0.0, image_ap: 0.0}",
        model_extra="thresholds: {image_auroc: {min: 1.5}}",
    ))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    value = read_report(reports(suite_dir) / "suites/release/fake/tiles.json")["metrics"]
    out = result.stdout.str()
    delta = value["image_auroc"] - 1.5
    assert (f"image_auroc={value['image_auroc']:.6g} (>= 1.5, Δ {delta:+.4g}); "
            "1 of 2 checks failed: image_auroc") in out
    result.stdout.fnmatch_lines([
        "metric*value*bound*snapshot*delta*tolerance*result",
        f"image_ap*{value['image_ap']:.6g}*>= 0*-*-*-*ok",
        f"image_auroc*{value['image_auroc']:.6g}*>= 1.5*-*-*-*FAIL",
    ])
    # the failure is the table only: no traceback noise from the plugin
    assert "Traceback" not in out and "runtest" not in out
    thresholds = read_report(reports(suite_dir) / "suites/release/fake/tiles.json")["thresholds"]
    assert thresholds["image_auroc"] == {"min": 1.5, "passed": False,
                                         "value": value["image_auroc"]}


def test_null_metric_gate_fails_with_its_reason(suite_dir):
    write_suite(suite_dir, suite_text(
        categories="[tiles]",
        defaults="pixel: true",
        model_extra="model_kwargs: {with_map: false}\nthresholds: {aupro: 0.0}",
    ))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "aupro*null*>= 0*FAIL",
        "aupro: the model yields no anomaly map",
    ])


def test_threshold_typo_is_a_collection_error_naming_file_and_key(suite_dir):
    write_suite(suite_dir, suite_text(model_extra="thresholds: {image_aucroc: 0.9}"))
    result = suite_dir.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR collecting suites/release.yaml*",
        "suites/release.yaml: models[[]0[]].thresholds.image_aucroc: unknown metric "
        "'image_aucroc'; allowed: *image_auroc*",
    ])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("name: test\n", "name: test\nvesion: 2\n"),
         "suites/release.yaml: vesion: unknown key 'vesion'; allowed keys: pyimgano_suite, "
         "name, defaults, datasets, models"),
        (("    format: mvtec\n", "    format: mvtec\n    rot: x\n"),
         "suites/release.yaml: datasets.syn.rot: unknown key 'rot'; allowed keys: format, root, "
         "fingerprint"),
        (("  batch_size: 4\n", "  batch_size: 4\n  snapshot: {tolerence: 1}\n"),
         "suites/release.yaml: defaults.snapshot.tolerence: unknown key 'tolerence'; allowed "
         "keys: tolerance"),
        (("name: test\n", "name: !!python/object/apply:os.system ['echo hi']\n"),
         "suites/release.yaml (line 2): YAML tag refused: *python/object/apply:os.system*"),
    ],
    ids=["top", "dataset", "snapshot", "python-tag"],
)
def test_bad_suites_are_collection_errors(suite_dir, change, expected):
    old, new = change
    write_suite(suite_dir, suite_text().replace(old, new, 1))
    result = suite_dir.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([expected])


def test_other_yaml_files_are_ignored(suite_dir):
    write_suite(suite_dir, "a: 1\nb: [1, 2]\n", name="suites/config.yaml")
    write_suite(suite_dir, "- pyimgano_suite\n", name="suites/list.yml")
    result = suite_dir.runpytest("-p", "no:cacheprovider", "suites")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_unset_variable_skips_with_its_name_and_fails_under_strict(suite_dir, monkeypatch):
    monkeypatch.delenv("PYIMGANO_NOT_SET", raising=False)
    write_suite(suite_dir, suite_text(root="${PYIMGANO_NOT_SET}/mvtec"))
    result = suite_dir.runpytest(*BASE, "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED*environment variable ${PYIMGANO_NOT_SET} is not set*"])
    strict = suite_dir.runpytest(*BASE, "--pyimgano-strict")
    strict.assert_outcomes(failed=2)
    strict.stdout.fnmatch_lines(["*${PYIMGANO_NOT_SET} is not set*--pyimgano-strict*"])


def test_all_categories_with_unset_root_is_one_skipped_item(suite_dir, monkeypatch):
    monkeypatch.delenv("PYIMGANO_NOT_SET", raising=False)
    write_suite(suite_dir, suite_text(categories="all", root="${PYIMGANO_NOT_SET}"))
    result = suite_dir.runpytest(*BASE, "-v", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([
        "*suites/release.yaml::fake[[]all[]] SKIPPED*",
        "*PYIMGANO_NOT_SET*",
    ])


def test_all_categories_lists_the_dataset(suite_dir):
    write_suite(suite_dir, suite_text(categories="all"))
    result = suite_dir.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["suites/release.yaml::fake[[]disk[]]",
                                 "suites/release.yaml::fake[[]tiles[]]"])


def test_set_but_missing_path_fails_naming_it(suite_dir, tmp_path):
    missing = tmp_path / "nowhere"
    write_suite(suite_dir, suite_text(categories="[tiles]", root=str(missing)))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*dataset 'syn' root*{missing} does not exist*"])
    write_suite(suite_dir, suite_text(categories="all", root=str(missing)))
    result = suite_dir.runpytest(*BASE, "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fake[[]all[]] FAILED*", f"*{missing} does not exist*"])


def test_missing_checkpoint_fails_naming_it(suite_dir):
    write_suite(suite_dir, suite_text(
        categories="[tiles]", model_extra="checkpoint: ckpts/{category}/model.pt"
    ))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    expected = suite_dir.path / "suites" / "ckpts" / "tiles" / "model.pt"
    result.stdout.fnmatch_lines([f"*checkpoint*{expected} does not exist*"])


def test_runner_errors_fail_with_one_message(suite_dir):
    write_suite(suite_dir, suite_text(categories="[tiles]", model_extra="model_kwargs: {nois: 1}"))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "nois" in out and "Traceback" not in out and "def runtest" not in out


def test_precedence_command_line_over_model_over_defaults_over_ini(suite_dir):
    suite_dir.makeini(INI + "pyimgano_batch_size = 2\n")
    write_suite(suite_dir, suite_text(categories="[tiles]").replace("  batch_size: 4\n", ""))

    def batch_size(*args: str) -> int:
        suite_dir.runpytest(*BASE, *args).assert_outcomes(passed=1)
        report = read_report(reports(suite_dir) / "suites/release/fake/tiles.json")
        return report["environment"]["batch_size"]

    assert batch_size() == 2
    write_suite(suite_dir, suite_text(categories="[tiles]"))  # defaults: batch_size 4
    assert batch_size() == 4
    write_suite(suite_dir, suite_text(categories="[tiles]", model_extra="batch_size: 3"))
    assert batch_size() == 3
    assert batch_size("--pyimgano-batch-size", "5") == 5


def test_reports_summary_and_junit(suite_dir):
    write_suite(suite_dir, suite_text(defaults="pixel: true\nthresholds: {image_auroc: 0.0}",
                                      model_extra="thresholds:\n"
                                                  "  per_category: {disk: {image_auroc: 1.5}}"))
    result = suite_dir.runpytest(*BASE, "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    out_dir = reports(suite_dir)
    for category in ("disk", "tiles"):
        path = out_dir / "suites/release/fake" / f"{category}.json"
        data = read_report(path)
        validate_report(data)
        assert data["item"] == {"suite": "suites/release.yaml", "id": "fake",
                                "nodeid": f"suites/release.yaml::fake[{category}]",
                                "category": category}
        assert path.with_suffix(".jsonl").is_file()

    summary = json.loads((out_dir / "summary.json").read_text("utf-8"))
    # the summary carries the report schema's version (1.1 since the export-parity keys)
    assert summary["schema_version"] == SCHEMA_VERSION and summary["kind"] == "pyimgano-summary"
    items = {item["category"]: item for item in summary["items"]}
    assert set(items["disk"]) == {"nodeid", "suite", "id", "category", "outcome", "report",
                                  "metrics", "thresholds", "message", "snapshot",
                                  "failure_cause", "resources"}
    assert (items["disk"]["failure_cause"], items["tiles"]["failure_cause"]) == ("threshold", None)
    assert items["disk"]["snapshot"] == items["tiles"]["snapshot"] == "created"
    assert items["disk"]["outcome"] == "failed" and items["tiles"]["outcome"] == "passed"
    assert items["disk"]["report"] == "suites/release/fake/disk.json"
    assert items["disk"]["message"].startswith("image_auroc=")
    assert items["disk"]["message"].endswith("(>= 1.5, Δ {:+.4g}); 1 of 1 checks failed: "
                                             "image_auroc".format(
                                                 items["disk"]["metrics"]["image_auroc"] - 1.5))
    assert items["tiles"]["message"] is None
    tiles = read_report(out_dir / "suites/release/fake/tiles.json")
    assert items["tiles"]["metrics"] == tiles["metrics"]
    assert items["tiles"]["thresholds"] == tiles["thresholds"]
    assert items["tiles"]["resources"] == {
        key: tiles["resources"][key] for key in ("peak_rss_mb", "peak_device_mb")
    }
    assert items["tiles"]["resources"]["peak_rss_mb"] > 0

    markdown = (out_dir / "summary.md").read_text("utf-8")
    assert ("| item | image_auroc | image_ap | pixel_auroc | aupro | peak MB | result | snapshot "
            "| cause | note |") in markdown
    assert "| **failed** | created | threshold |" in markdown
    assert "| `suites/release.yaml::fake[disk]` |" in markdown and "**failed**" in markdown

    result.stdout.fnmatch_lines([
        "*pyimgano summary*",
        "item*image_auroc*image_ap*pixel_auroc*aupro*result",
        "suites/release.yaml::fake[[]disk[]]*FAILED",
        f"suites/release.yaml::fake[[]tiles[]]*{tiles['metrics']['image_auroc']:.4f}*PASSED",
        f"pyimgano: 2 items (1 passed, 1 failed); reports in {out_dir}; device *",
    ])

    cases = {case.get("name"): case for case in ET.parse(suite_dir.path / "junit.xml").iter(
        "testcase")}
    props = {p.get("name"): p.get("value") for p in cases["fake[tiles]"].iter("property")}
    assert props["pyimgano_report"] == str(out_dir / "suites/release/fake/tiles.json")
    assert float(props["image_auroc"]) == tiles["metrics"]["image_auroc"]
    assert float(props["aupro"]) == tiles["metrics"]["aupro"]


def test_report_dir_option_and_no_summary_without_items(suite_dir):
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    result = suite_dir.runpytest(*BASE, "--pyimgano-report-dir", "out/r")
    result.assert_outcomes(passed=1)
    assert (suite_dir.path / "out/r/suites/release/fake/tiles.json").is_file()
    assert (suite_dir.path / "out/r/summary.json").is_file()
    suite_dir.makepyfile(test_plain="def test_x():\n    pass\n")
    result = suite_dir.runpytest("-p", "no:cacheprovider", "test_plain.py",
                                 "--pyimgano-report-dir", "other")
    result.assert_outcomes(passed=1)
    assert not (suite_dir.path / "other").exists()


def test_plots_and_html_extras(suite_dir):
    pytest.importorskip("pytest_html")
    write_suite(suite_dir, suite_text(categories="[tiles]", defaults="pixel: true"))
    result = suite_dir.runpytest("-p", "no:cacheprovider", "--snapshot-update",
                                 "--html=report.html")
    result.assert_outcomes(passed=1)
    pngs = sorted(p.name for p in (reports(suite_dir) / "suites/release/fake").glob("*.png"))
    assert pngs, "plots are written beside the report"
    html = (suite_dir.path / "report.html").read_text("utf-8")
    assert "pyimgano report:" in html and "image_auroc" in html
    for name in pngs:
        assert name in html


def test_device_option_reaches_the_report(suite_dir):
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    result = suite_dir.runpytest(*BASE, "--pyimgano-device", "cpu")
    result.assert_outcomes(passed=1)
    report = read_report(reports(suite_dir) / "suites/release/fake/tiles.json")
    assert report["model"]["kwargs"]["device"] == "cpu"
    result.stdout.fnmatch_lines(["pyimgano: device cpu*", "*reports in*; device cpu*"])
    bad = suite_dir.runpytest("-p", "no:cacheprovider", "--pyimgano-device", "gpu")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--pyimgano-device: unknown device 'gpu'*"])


def test_variable_expansion_in_root_is_used(suite_dir, plugin_data):
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    suite_dir.runpytest(*BASE).assert_outcomes(passed=1)
    report = read_report(reports(suite_dir) / "suites/release/fake/tiles.json")
    assert Path(report["dataset"]["root"]) == plugin_data
    assert DATA_VAR in (suite_dir.path / "suites/release.yaml").read_text("utf-8")


def test_ini_keys(suite_dir, monkeypatch):
    suite_dir.makeini(INI + "pyimgano_report_dir = ini-reports\npyimgano_strict = true\n"
                      "pyimgano_device = cpu\npyimgano_no_plots = true\n")
    monkeypatch.delenv("PYIMGANO_NOT_SET", raising=False)
    text = suite_text(categories="[tiles]") + (
        "  - id: unset\n"
        "    model: test_fake_detector\n"
        "    dataset: nowhere\n"
        "    categories: [x]\n"
    )
    unset = "datasets:\n  nowhere: {format: mvtec, root: '${PYIMGANO_NOT_SET}'}\n"
    write_suite(suite_dir, text.replace("datasets:\n", unset))
    result = suite_dir.runpytest("--snapshot-update")
    result.assert_outcomes(passed=1, failed=1)  # strict: the skip fails
    report = read_report(suite_dir.path / "ini-reports/suites/release/fake/tiles.json")
    assert report["model"]["kwargs"]["device"] == "cpu"
    assert not list((suite_dir.path / "ini-reports/suites/release/fake").glob("*.png"))


def test_summary_shows_parity_against_the_reference(suite_dir):
    """An item with a reference gets the parity columns; one without shows '-'."""
    (suite_dir.path / "suites").mkdir(exist_ok=True)
    for name in ("model.pt", "ref.pt"):  # paths are relative to the suite file
        (suite_dir.path / "suites" / name).write_bytes(b"weights")
    write_suite(suite_dir, suite_text(categories="[tiles]") + textwrap.indent(textwrap.dedent("""\
        - id: art
          model: test_fake_detector
          dataset: syn
          categories: [tiles]
          checkpoint: model.pt
          reference: ref.pt
          parity: {score: 1.0e-3}
        """), "  "))
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "item * parity Δscore  flips  peak MB  result",
        "suites/release.yaml::art[[]tiles[]] * 0.0e+00      - * PASSED",
        "suites/release.yaml::fake[[]tiles[]] *       -      - * PASSED",
    ])
    summary = json.loads((reports(suite_dir) / "summary.json").read_text("utf-8"))
    items = {item["id"]: item for item in summary["items"]}
    assert items["art"]["parity"] == {"score_max_abs": 0.0, "map_max_abs": 0.0,
                                      "decision_flips": None, "passed": True}
    assert "parity" not in items["fake"]
