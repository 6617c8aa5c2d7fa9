"""``pyimgano-diff --merge``: sharded report dirs combine into one summary."""

from __future__ import annotations

import json

import pytest

from pyimgano.cli.diff import main
from pyimgano.errors import ReportError
from pyimgano.merge import merge_paths, summary_markdown
from pyimgano.report import SCHEMA_VERSION
from tests.diff.helpers import (
    CATEGORIES,
    make_report,
    nodeid_of,
    records_for,
    relative_of,
    standard_reports,
    write_set,
    write_summary,
)


def shards(tmp_path, *, conflict=False):
    reports = standard_reports()
    reports["bottle"] = make_report(
        "bottle", nodeid=nodeid_of("bottle"),
        records=records_for("bottle", [0.1, 0.9], [0, 1]),
    )
    first = write_set(tmp_path / "shard1", {"bottle": reports["bottle"]}, summary=True)
    second_reports = {c: reports[c] for c in ("cable", "screw")}
    if conflict:
        second_reports["bottle"] = make_report(
            "bottle", nodeid=nodeid_of("bottle"), metrics={"aupro": 0.5}
        )
    second = write_set(tmp_path / "shard2", second_reports, summary=True)
    return first, second, reports


def test_disjoint_shards_combine(tmp_path, capsys):
    first, second, reports = shards(tmp_path)
    (first / relative_of("bottle")).with_name("bottle.roc.png").write_bytes(b"png")
    out = tmp_path / "merged"
    assert main(["--merge", str(out), str(first), str(second / "summary.json")]) == 0
    err = capsys.readouterr().err
    assert "merged 3 item(s) from 2 input(s)" in err

    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["kind"] == "pyimgano-summary" and summary["schema_version"] == SCHEMA_VERSION
    assert [i["nodeid"] for i in summary["items"]] == [nodeid_of(c) for c in CATEGORIES]
    for item in summary["items"]:
        assert (out / item["report"]).is_file()
        assert item["outcome"] == "passed"
    assert (out / relative_of("bottle")).with_suffix(".jsonl").is_file()
    assert (out / relative_of("bottle")).with_name("bottle.roc.png").read_bytes() == b"png"
    markdown = (out / "summary.md").read_text("utf-8")
    assert "3 items: 3 passed." in markdown  # the pytest plugin's summary.md layout
    assert f"`{nodeid_of('screw')}`" in markdown

    # the merged set diffs clean against the same run done in one piece
    whole = write_set(tmp_path / "whole", reports, summary=True)
    assert main([str(whole / "summary.json"), str(out / "summary.json")]) == 0
    assert main([str(whole), str(out)]) == 0


def test_conflicting_duplicates_are_refused_naming_both_files(tmp_path, capsys):
    first, second, _ = shards(tmp_path, conflict=True)
    out = tmp_path / "merged"
    assert main(["--merge", str(out), str(first), str(second)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert nodeid_of("bottle") in err
    assert str(first / "summary.json") in err and str(second / "summary.json") in err
    assert "aupro" in err
    assert not (out / "summary.json").exists()


def test_identical_duplicates_are_kept_once(tmp_path):
    first, _, _ = shards(tmp_path)
    result = merge_paths([first, first / "summary.json"], tmp_path / "merged")
    assert [i["nodeid"] for i in result.items] == [nodeid_of("bottle")]


def test_report_dirs_without_summary_use_their_reports(tmp_path):
    reports = {"bottle": make_report("bottle"), "cable": make_report(
        "cable", thresholds={"image_auroc": {"min": 0.99, "value": 0.95, "passed": False}})}
    base = write_set(tmp_path / "cli", reports)  # no summary.json, no item (CLI reports)
    result = merge_paths([base], tmp_path / "merged")
    items = {i["nodeid"]: i for i in result.items}
    assert set(items) == {relative_of("bottle"), relative_of("cable")}
    assert items[relative_of("cable")]["outcome"] == "failed"
    assert items[relative_of("bottle")]["category"] == "bottle"


def test_merge_in_place_into_an_input(tmp_path):
    first, second, _ = shards(tmp_path)
    result = merge_paths([first, second], first)
    assert len(result.items) == 3
    assert (first / relative_of("screw")).is_file()


def test_missing_report_is_a_warning_and_keeps_summary_metrics(tmp_path):
    first, _, _ = shards(tmp_path)
    (first / relative_of("bottle")).unlink()
    result = merge_paths([first], tmp_path / "merged")
    assert result.items[0]["report"] is None
    assert result.items[0]["metrics"]["aupro"] == 0.88
    assert "not found" in result.warnings[0]


def test_bad_inputs(tmp_path, capsys):
    report = write_set(tmp_path / "a", {"bottle": make_report("bottle")}) / relative_of("bottle")
    with pytest.raises(ReportError, match="not a summary.json"):
        merge_paths([report], tmp_path / "out")
    with pytest.raises(ReportError, match="no such file"):
        merge_paths([tmp_path / "nope"], tmp_path / "out")
    assert main(["--merge", str(tmp_path / "out"), str(tmp_path / "a"), "--format", "json"]) == 2
    assert "--merge takes no --format" in capsys.readouterr().err


def test_summary_md_is_the_plugins_rendering(tmp_path):
    items = [{"nodeid": "s::m[a]", "suite": "s", "id": "m", "category": "a", "outcome": "failed",
              "metrics": {"image_auroc": 0.5}, "thresholds": {}, "report": "s/m/a.json",
              "message": "image_auroc 0.5 < 0.9"}]
    text = summary_markdown(items, tmp_path)
    # columns: item, headline metrics, result, snapshot state, failure cause, note
    assert "| `s::m[a]` | 0.5000 | **failed** | - | - | image_auroc 0.5 < 0.9 |" in text


def test_report_outside_the_summary_dir_is_referenced_not_copied(tmp_path):
    elsewhere = write_set(tmp_path / "elsewhere", {"bottle": make_report("bottle")})
    report = (elsewhere / relative_of("bottle")).resolve()
    shard = tmp_path / "shard"
    shard.mkdir()
    write_summary(shard, [{
        "nodeid": nodeid_of("bottle"), "suite": "s", "id": "patchcore", "category": "bottle",
        "outcome": "passed", "report": str(report), "metrics": {}, "thresholds": {},
        "message": None,
    }])
    result = merge_paths([shard], tmp_path / "merged")
    assert result.items[0]["report"] == report.as_posix()
    assert not (tmp_path / "merged" / "suites").exists()


# ------------------------------------------------------------------------------------------
# every gate recorded in a report decides the merged outcome (not the thresholds alone)

SHIFTED = "test_shifted_fake_detector"


@pytest.fixture
def shifted_model():
    from pyimgano.models import register_model, unregister_model

    register_model(SHIFTED, "tests.fakes:CheckpointFakeDetector",
                   metadata={"backend": "test", "requires_checkpoint": False}, overwrite=True)
    yield SHIFTED
    unregister_model(SHIFTED)


def _cli_parity_report(tmp_path, synthetic_root, shift: str, *bounds: str) -> tuple[int, str]:
    """A real ``pyimgano-benchmark --output`` run of an artifact whose scores are ``shift``
    above its reference's; returns the exit code and the report dir."""
    from pyimgano.cli.benchmark import main as benchmark

    (tmp_path / "artifact.txt").write_text(shift)
    (tmp_path / "reference.txt").write_text("0")
    out = tmp_path / "cli"
    code = benchmark([
        "--dataset", "mvtec", "--root", str(synthetic_root), "--category", "tiles",
        "--model", SHIFTED, "--checkpoint-path", str(tmp_path / "artifact.txt"),
        "--reference-checkpoint", str(tmp_path / "reference.txt"), *bounds,
        "--output", str(out / "tiles.json"), "--no-plots", "--no-progress",
    ])
    return code, out


def test_a_report_whose_parity_failed_merges_as_failed(tmp_path, synthetic_root, shifted_model,
                                                       capsys):
    code, out = _cli_parity_report(tmp_path, synthetic_root, "0.01", "--parity", "score=1e-3")
    assert code == 1  # the run's own verdict: a gate failed
    report = json.loads((out / "tiles.json").read_text("utf-8"))
    assert report["thresholds"] == {} and report["parity"]["passed"] is False
    assert main(["--merge", str(tmp_path / "merged"), str(out)]) == 0
    (item,) = json.loads((tmp_path / "merged" / "summary.json").read_text("utf-8"))["items"]
    assert item["outcome"] == "failed"
    assert item["failure_cause"] == "parity"
    assert "parity score_max_abs" in item["message"] and "> 0.001" in item["message"]
    assert "1 failed" in (tmp_path / "merged" / "summary.md").read_text("utf-8")


def test_parity_measured_without_bounds_merges_as_passed(tmp_path, synthetic_root,
                                                         shifted_model, capsys):
    code, out = _cli_parity_report(tmp_path, synthetic_root, "0.01")
    assert code == 0
    assert "parity measured (no bounds)" in capsys.readouterr().err
    assert json.loads((out / "tiles.json").read_text("utf-8"))["parity"]["passed"] is None
    (item,) = merge_paths([out], tmp_path / "merged").items
    assert item["outcome"] == "passed" and item["message"] is None


def test_a_degenerate_artifact_fails_the_merged_item(tmp_path):
    """A degenerate artifact fails whatever ``passed`` says (a report edited or written by an
    older pyimgano)."""
    base = write_set(tmp_path / "cli", {"bottle": make_report("bottle")})
    from tests.diff.helpers import rewrite_json

    rewrite_json(base / relative_of("bottle"), parity={
        "score_max_abs": 0.0, "map_max_abs": None, "decision_flips": None, "borderline": 0,
        "degenerate": "every image scores 0.5: the artifact outputs a constant", "bounds": {},
        "checks": [], "worst": [], "passed": None,
    })
    (item,) = merge_paths([base], tmp_path / "merged").items
    assert item["outcome"] == "failed" and item["failure_cause"] == "parity"
    assert "degenerate artifact: every image scores 0.5" in item["message"]


def test_a_summary_item_whose_report_failed_a_gate_is_failed(tmp_path):
    """A summary that says ``passed`` for a report recording a failed gate does not win."""
    failing = make_report("bottle", nodeid=nodeid_of("bottle"), thresholds={
        "aupro": {"min": 0.9, "value": 0.88, "passed": False}})
    base = write_set(tmp_path / "shard", {"bottle": failing}, summary=True)
    (item,) = merge_paths([base], tmp_path / "merged").items
    assert item["outcome"] == "failed" and item["failure_cause"] == "threshold"
    assert "threshold aupro 0.88 outside min 0.9" in item["message"]


def test_merge_never_overwrites_a_file_pyimgano_did_not_write(tmp_path, capsys):
    first, second, _ = shards(tmp_path)
    out = tmp_path / "merged"
    foreign = out / relative_of("cable")
    foreign.parent.mkdir(parents=True)
    foreign.write_text("my notes", "utf-8")
    assert main(["--merge", str(out), str(first), str(second)]) == 2
    err = capsys.readouterr().err
    assert str(foreign) in err and "not written by pyimgano" in err
    assert foreign.read_text("utf-8") == "my notes"
    # refused before anything was written: no other report, no summary
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["cable.json"]


def test_merge_never_overwrites_a_foreign_summary(tmp_path):
    first, second, _ = shards(tmp_path)
    out = tmp_path / "merged"
    out.mkdir()
    (out / "summary.md").write_text("# my summary\n", "utf-8")
    with pytest.raises(ReportError, match=r"summary\.md: exists and was not written by pyimgano"):
        merge_paths([first, second], out)
    assert (out / "summary.md").read_text("utf-8") == "# my summary\n"
    assert not (out / "summary.json").exists()


def test_a_second_merge_replaces_what_the_first_wrote(tmp_path):
    first, second, _ = shards(tmp_path)
    out = tmp_path / "merged"
    merge_paths([first], out)
    manifest = json.loads((out / ".pyimgano-manifest.json").read_text("utf-8"))
    assert {"summary.json", "summary.md", relative_of("bottle")} <= set(manifest["files"])
    result = merge_paths([first, second], out)
    assert len(result.items) == 3
    # a merged file changed by hand since is no longer pyimgano's
    (out / relative_of("bottle")).write_text("{}", "utf-8")
    with pytest.raises(ReportError, match="changed since"):
        merge_paths([first, second], out)
