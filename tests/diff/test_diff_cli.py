"""``pyimgano-diff OLD NEW`` in-process: exit codes and output forms (docs/REFERENCE.md §9)."""

from __future__ import annotations

import json

import pytest

from pyimgano.cli.diff import main
from tests.diff.helpers import (
    CATEGORIES,
    drop_records,
    make_report,
    nodeid_of,
    records_for,
    relative_of,
    rewrite_json,
    standard_reports,
    write_set,
    write_summary,
)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--format", "json")
    return code, json.loads(out), err


def failing_rows(data):
    return [
        (item["key"], row["metric"], row["status"])
        for item in data["items"]
        for row in item["rows"]
        if row["status"] in ("beyond", "nullness")
    ]


@pytest.fixture
def old_dir(tmp_path):
    return write_set(tmp_path / "old", standard_reports())


def test_one_changed_metric_of_one_category_is_the_one_reported_row(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports(cable={"metrics": {"aupro": 0.86}}))
    code, data, err = run_json(capsys, old_dir, new)
    assert code == 1 and err == ""
    assert failing_rows(data) == [(relative_of("cable"), "aupro", "beyond")]
    (row,) = [r for i in data["items"] for r in i["rows"] if r["status"] != "equal"]
    assert row["old"] == 0.88 and row["new"] == 0.86
    assert row["delta"] == pytest.approx(-0.02)
    assert [i["status"] for i in data["items"]] == ["equal", "failed", "equal"]

    code, out, _ = run(capsys, old_dir, new)
    assert code == 1
    flagged = [line for line in out.splitlines() if "BEYOND" in line]
    assert len(flagged) == 1
    assert flagged[0].split()[:3] == ["aupro", "0.88", "0.86"]
    assert "-0.02" in flagged[0]
    assert out.rstrip().endswith("→ exit 1")


def test_identical_sets_exit_0(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports())
    code, out, err = run(capsys, old_dir, new)
    assert code == 0 and err == ""
    assert out.count("— equal") == len(CATEGORIES)
    assert "BEYOND" not in out


def test_change_within_global_tolerance_exits_0(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports(screw={"metrics": {"image_auroc": 0.96}}))
    assert run(capsys, old_dir, new)[0] == 1  # default tolerance is 0
    code, data, _ = run_json(capsys, old_dir, new, "--tolerance", "0.01")
    assert code == 0  # 0.96 - 0.95 == 0.010000000000000009: within, no float noise
    (row,) = [r for i in data["items"] for r in i["rows"] if r["status"] != "equal"]
    assert (row["metric"], row["status"], row["tolerance"]) == ("image_auroc", "within", 0.01)


def test_per_metric_tolerance_and_global_for_the_rest(tmp_path, capsys, old_dir):
    new = write_set(
        tmp_path / "new",
        standard_reports(bottle={"metrics": {"image_auroc": 0.965, "aupro": 0.885}}),
    )
    code, data, _ = run_json(
        capsys, old_dir, new, "--tolerance", "image_auroc=0.02", "--tolerance", "0.001"
    )
    assert code == 1
    assert failing_rows(data) == [(relative_of("bottle"), "aupro", "beyond")]
    assert data["tolerances"] == {"default": 0.001, "per_metric": {"image_auroc": 0.02}}
    code, _, _ = run_json(
        capsys, old_dir, new, "--tolerance", "image_auroc=0.02", "--tolerance", "aupro=0.01"
    )
    assert code == 0


def test_per_defect_rows_use_the_metric_tolerance(tmp_path, capsys, old_dir):
    new = write_set(
        tmp_path / "new",
        standard_reports(cable={"by_defect": {"crack": {"image_auroc": 0.8, "image_ap": 0.8}}}),
    )
    code, data, _ = run_json(capsys, old_dir, new)
    assert code == 1
    assert failing_rows(data) == [(relative_of("cable"), "crack/image_auroc", "beyond")]
    assert run(capsys, old_dir, new, "--tolerance", "image_auroc=0.1")[0] == 0


def test_nullness_change_exits_1(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports(bottle={"metrics": {"aupro": None}}))
    code, data, _ = run_json(capsys, old_dir, new, "--tolerance", "1")
    assert code == 1
    assert failing_rows(data) == [(relative_of("bottle"), "aupro", "nullness")]
    code, out, _ = run(capsys, old_dir, new, "--tolerance", "1")
    assert "NULLNESS" in next(line for line in out.splitlines() if line.strip().startswith("aupro"))


def test_item_on_one_side_only_is_listed(tmp_path, capsys, old_dir):
    reports = standard_reports()
    del reports["screw"]
    reports["wood"] = make_report("wood", nodeid=nodeid_of("wood"))
    new = write_set(tmp_path / "new", reports)
    code, data, _ = run_json(capsys, old_dir, new)
    assert code == 1
    status = {item["key"]: item["status"] for item in data["items"]}
    assert status[relative_of("screw")] == "old_only"
    assert status[relative_of("wood")] == "new_only"
    assert data["counts"]["old_only"] == 1 and data["counts"]["new_only"] == 1
    code, out, _ = run(capsys, old_dir, new)
    assert f"{relative_of('screw')} — ONLY IN OLD" in out
    assert f"{relative_of('wood')} — ONLY IN NEW" in out


def test_timing_is_shown_but_gated_only_with_its_own_tolerance(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports(bottle={"ms_per_image": 30.0}))
    code, data, _ = run_json(capsys, old_dir, new, "--tolerance", "0.5")
    assert code == 0
    rows = {r["metric"]: r for i in data["items"] for r in i["rows"] if r["status"] != "equal"}
    assert rows["ms_per_image"]["status"] == "ungated"
    assert rows["ms_per_image"]["tolerance"] is None
    code, out, _ = run(capsys, old_dir, new)
    assert "not gated" in out and code == 0
    assert run(capsys, old_dir, new, "--tolerance", "ms_per_image=5")[0] == 1
    assert run(capsys, old_dir, new, "--tolerance", "ms_per_image=20",
               "--tolerance", "images_per_s=100")[0] == 0


def test_summary_inputs_match_by_nodeid(tmp_path, capsys):
    old = write_set(tmp_path / "old", standard_reports(), summary=True)
    new = write_set(
        tmp_path / "new",
        standard_reports(screw={"metrics": {"image_ap": 0.7}}),
        summary=True,
        outcomes={"screw": "failed"},
    )
    code, data, _ = run_json(capsys, old / "summary.json", new / "summary.json")
    assert code == 1
    assert data["input_kind"] == "summary"
    assert failing_rows(data) == [(nodeid_of("screw"), "image_ap", "beyond")]
    (screw,) = [i for i in data["items"] if i["key"] == nodeid_of("screw")]
    assert "outcome: passed → failed" in screw["notes"]
    # the full report was used: per-defect and timing rows are there
    assert {"crack/image_auroc", "ms_per_image"} <= {r["metric"] for r in screw["rows"]}


def test_summary_item_without_report_uses_summary_metrics(tmp_path, capsys):
    old = tmp_path / "old"
    new = tmp_path / "new"
    for base, value in ((old, 0.9), (new, 0.8)):
        base.mkdir()
        write_summary(base, [{
            "nodeid": nodeid_of("bottle"), "suite": "s", "id": "patchcore",
            "category": "bottle", "outcome": "error", "report": None,
            "metrics": {"image_auroc": value}, "thresholds": {}, "message": "boom",
        }])
    code, data, _ = run_json(capsys, old / "summary.json", new / "summary.json")
    assert code == 1
    assert failing_rows(data) == [(nodeid_of("bottle"), "image_auroc", "beyond")]
    assert any("summary's metrics" in note for note in data["items"][0]["notes"])


def test_single_report_files(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports(bottle={"metrics": {"pixel_ap": 0.5}}))
    code, data, _ = run_json(
        capsys, old_dir / relative_of("bottle"), new / relative_of("bottle")
    )
    assert code == 1 and data["input_kind"] == "report"
    assert failing_rows(data) == [(nodeid_of("bottle"), "pixel_ap", "beyond")]
    # different file names still compare with each other
    code, _, _ = run(capsys, old_dir / relative_of("cable"), new / relative_of("screw"))
    assert code == 0


def test_markdown_and_json_formats(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports(cable={"metrics": {"aupro": 0.8}}))
    code, out, _ = run(capsys, old_dir, new, "--format", "markdown")
    assert code == 1
    assert out.startswith("## pyimgano-diff")
    assert "| metric | old | new | Δ | tol | flag |" in out
    assert "| **aupro** | 0.88 | 0.8 | -0.08 | 0 | **BEYOND TOLERANCE** |" in out
    code, text, _ = run(capsys, old_dir, new, "--format", "json")
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert data["exit_code"] == code == 1
    assert data["counts"]["rows_beyond"] == 1


def test_environment_change_is_summarised(tmp_path, capsys, old_dir):
    reports = {
        c: make_report(c, nodeid=nodeid_of(c), anomalib="2.1.0") for c in CATEGORIES
    }
    new = write_set(tmp_path / "new", reports)
    code, out, _ = run(capsys, old_dir, new)
    assert code == 0
    assert "environment: anomalib 2.0.0 → 2.1.0" in out


def test_changed_only_hides_equal_rows(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports(cable={"metrics": {"aupro": 0.8}}))
    _, full, _ = run(capsys, old_dir, new)
    _, short, _ = run(capsys, old_dir, new, "--changed-only")
    assert "image_auroc" in full and "image_auroc" not in short
    assert "aupro" in short


# ------------------------------------------------------------------------------------------
# exit 2


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("pyimgano-diff: error:")
    assert "Traceback" not in err
    return lines[0]


def test_garbage_report_exits_2_naming_the_file(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports())
    (new / relative_of("cable")).write_text("{not json", "utf-8")
    code, out, err = run(capsys, old_dir, new)
    assert code == 2 and out == ""
    assert relative_of("cable") in one_line_error(err)


def test_non_report_json_exits_2(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports())
    (new / "notes.json").write_text('{"hello": 1}', "utf-8")
    code, _, err = run(capsys, old_dir, new)
    assert code == 2 and "notes.json" in one_line_error(err)


def test_garbage_jsonl_exits_2_naming_file_and_line(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports())
    (new / relative_of("bottle")).with_suffix(".jsonl").write_text('{"path": "a"}\n', "utf-8")
    code, _, err = run(capsys, old_dir, new)
    assert code == 2 and "bottle.jsonl:1" in one_line_error(err)


def test_dir_versus_file_exits_2(tmp_path, capsys, old_dir):
    code, _, err = run(capsys, old_dir, old_dir / relative_of("bottle"))
    assert code == 2
    line = one_line_error(err)
    assert "report directory" in line and "report file" in line


def test_missing_path_exits_2(tmp_path, capsys, old_dir):
    code, _, err = run(capsys, old_dir, tmp_path / "nope")
    assert code == 2 and "nope" in one_line_error(err)


def test_empty_dir_exits_2(tmp_path, capsys, old_dir):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, old_dir, tmp_path / "empty")
    assert code == 2 and "no report files" in one_line_error(err)


def test_major_schema_version_mismatch_exits_2(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports())
    rewrite_json(new / relative_of("screw"), schema_version="2.0")
    code, _, err = run(capsys, old_dir, new)
    line = one_line_error(err)
    assert code == 2 and "screw.json" in line and "major 2" in line


def test_newer_minor_schema_version_still_diffs(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports())
    rewrite_json(new / relative_of("screw"), schema_version="1.3", new_section={"x": 1})
    assert run(capsys, old_dir, new)[0] == 0


def test_bad_tolerances_exit_2(tmp_path, capsys, old_dir):
    for args in (["--tolerance", "abc"], ["--tolerance", "-1"], ["--tolerance", "auproo=0.1"],
                 ["--tolerance", "0.1", "--tolerance", "0.2"]):
        code, _, err = run(capsys, old_dir, old_dir, *args)
        assert code == 2, args
        assert "--tolerance" in err


def test_usage_errors_exit_2(capsys, old_dir):
    assert main([str(old_dir)]) == 2
    assert "expected OLD and NEW" in capsys.readouterr().err
    assert main([str(old_dir), str(old_dir), "--format", "xml"]) == 2


# ------------------------------------------------------------------------------------------
# per-image sections from the JSONL


def test_top_moved_images_and_flips_are_listed(tmp_path, capsys):
    labels = [0, 0, 0, 1, 1, 1]
    old_scores = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9]
    new_scores = [0.1, 0.25, 0.6, 0.7, 0.4, 0.9]  # 004 (anomalous) -0.4, 002 (normal) +0.3
    old = write_set(tmp_path / "old", {"bottle": make_report(
        "bottle", records=records_for("bottle", old_scores, labels,
                                      pred_labels=[0, 0, 0, 1, 1, 1]))})
    new = write_set(tmp_path / "new", {"bottle": make_report(
        "bottle", root="/mnt/elsewhere",
        records=records_for("bottle", new_scores, labels, root="/mnt/elsewhere",
                            pred_labels=[0, 0, 1, 1, 0, 1]))})
    code, data, _ = run_json(capsys, old, new, "--top", "2")
    assert code == 0  # per-image changes inform, they do not fail
    images = data["items"][0]["images"]
    assert images["matched"] == 6  # matched relative to each side's dataset root
    assert [(c["image"], c["label"]) for c in images["top_moved"]] == [
        ("bottle/test/crack/004.png", 1),
        ("bottle/test/good/002.png", 0),
    ]
    assert images["flip_basis"] == "pred_label"
    assert [(f["image"], f["kind"]) for f in images["flips"]] == [
        ("bottle/test/crack/004.png", "now missed"),
        ("bottle/test/good/002.png", "now rejected"),
    ]
    code, out, _ = run(capsys, old, new)
    assert "top 3 moved scores" in out
    assert "decision flips at the checkpoints' own pred_label: 2" in out


def test_no_jsonl_on_one_side_is_a_note(tmp_path, capsys, old_dir):
    new = write_set(tmp_path / "new", standard_reports())
    drop_records(new / relative_of("bottle"))
    code, data, _ = run_json(capsys, old_dir, new)
    assert code == 0
    (bottle,) = [i for i in data["items"] if i["key"] == relative_of("bottle")]
    assert bottle["images"] is None
    assert "no per-image records on the new side: images not compared" in bottle["notes"]


def test_plot_dir_gets_a_scatter_per_item(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    labels = [0, 0, 1, 1]
    old = write_set(tmp_path / "old", {"bottle": make_report(
        "bottle", records=records_for("bottle", [0.1, 0.4, 0.35, 0.8], labels))})
    new = write_set(tmp_path / "new", {"bottle": make_report(
        "bottle", records=records_for("bottle", [0.1, 0.3, 0.35, 0.8], labels))})
    code, _, err = run(capsys, old, new, "--plot", tmp_path / "plots")
    assert code == 0
    (png,) = (tmp_path / "plots").iterdir()
    assert png.name == "suites__release.yaml__patchcore__bottle.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "1 plot(s) written" in err


def test_tolerance_for_a_known_metric_absent_from_the_inputs_is_fine(tmp_path, capsys, old_dir):
    assert run(capsys, old_dir, old_dir, "--tolerance", "aupro=0.1")[0] == 0
    image_only = write_set(tmp_path / "image_only", standard_reports())
    for category in CATEGORIES:
        path = image_only / relative_of(category)
        metrics = json.loads(path.read_text("utf-8"))["metrics"]
        rewrite_json(path, metrics={k: v for k, v in metrics.items() if "pixel" not in k})
    code, data, _ = run_json(capsys, image_only, image_only, "--tolerance", "pixel_auroc=0.01")
    assert code == 0
    assert "pixel_auroc" not in {r["metric"] for i in data["items"] for r in i["rows"]}


def test_summary_versus_report_dir_exits_2(tmp_path, capsys):
    base = write_set(tmp_path / "a", standard_reports(), summary=True)
    code, _, err = run(capsys, base / "summary.json", base / relative_of("bottle"))
    assert code == 2 and "a summary.json" in one_line_error(err)


# ------------------------------------------------------------------------------------------
# flips with enough digits, tolerance line, manifests


def test_score_pair_tells_different_scores_apart():
    from pyimgano.diff.render import score_pair

    assert score_pair(0.5, 0.5) == ("0.5", "0.5")
    assert score_pair(0.25, 0.75) == ("0.25", "0.75")
    for old, new in ((0.5, 0.5000001), (0.5, 0.5 + 2**-40), (0.5, 0.5 - 2**-53), (1e-7, 1.1e-7)):
        before, after = score_pair(old, new)
        assert before != after, (old, new)
        assert float(before) == pytest.approx(old, rel=1e-6)
        assert float(after) == pytest.approx(new, rel=1e-6)


def test_flip_at_the_threshold_shows_the_change(tmp_path, capsys):
    labels = [0, 1, 1]
    old_records = records_for("bottle", [0.1, 0.5, 0.9], labels, pred_labels=[0, 1, 1])
    new_records = records_for("bottle", [0.1, 0.4999999, 0.9], labels, pred_labels=[0, 0, 1])
    old = write_set(tmp_path / "old", {"bottle": make_report(
        "bottle", nodeid=nodeid_of("bottle"), records=old_records)})
    new = write_set(tmp_path / "new", {"bottle": make_report(
        "bottle", nodeid=nodeid_of("bottle"), records=new_records)})
    code, out, _ = run(capsys, old, new)
    assert code == 0
    flip = next(line for line in out.splitlines() if "now missed" in line)
    assert flip.split()[-2:] == ["0.5", "0.4999999"]
    code, out, _ = run(capsys, old, new, "--format", "markdown")
    flip = next(line for line in out.splitlines() if "now missed" in line)
    assert "| 0.5 | 0.4999999 |" in flip


def test_a_global_tolerance_is_not_called_the_default(tmp_path, capsys, old_dir):
    _, out, _ = run(capsys, old_dir, old_dir, "--tolerance", "0.002")
    assert "tolerance: 0.002; timing not gated" in out.splitlines()
    assert "(default)" not in out
    _, out, _ = run(capsys, old_dir, old_dir, "--tolerance", "0.002", "--tolerance", "aupro=0.01")
    assert "tolerance: 0.002 for other metrics; aupro 0.01; timing not gated" in out


def test_report_dirs_are_diffed_through_their_manifests(tmp_path, capsys):
    old = write_set(tmp_path / "old", standard_reports(), summary=True)
    # new run of one item only, into a reused dir: the other two reports are stale leftovers
    new = write_set(tmp_path / "new", standard_reports(), summary=True)
    write_set(tmp_path / "rerun", {"bottle": standard_reports()["bottle"]}, summary=True)
    (new / "summary.json").write_bytes((tmp_path / "rerun" / "summary.json").read_bytes())
    code, data, _ = run_json(capsys, old, new)
    assert code == 1  # the stale reports are not compared: their items are missing in new
    assert data["stale"] == {"old": [], "new": [relative_of("cable"), relative_of("screw")]}
    presence = {item["key"]: item["presence"] for item in data["items"]}
    assert presence == {relative_of("bottle"): "both", relative_of("cable"): "old_only",
                        relative_of("screw"): "old_only"}
    bottle = next(i for i in data["items"] if i["key"] == relative_of("bottle"))
    assert bottle["nodeid"] == nodeid_of("bottle")
    _, out, _ = run(capsys, old, new)
    stale = next(line for line in out.splitlines() if line.startswith("stale in new"))
    assert "2 report(s) no summary.json lists" in stale and relative_of("cable") in stale
    # both sides stale alike: only listed items compared, exit 0, stale still shown
    code, data, _ = run_json(capsys, new, new)
    assert code == 0 and [i["key"] for i in data["items"]] == [relative_of("bottle")]
    assert data["stale"]["old"] == data["stale"]["new"] == [relative_of("cable"),
                                                             relative_of("screw")]


def test_dirs_without_manifest_compare_every_report(tmp_path, capsys, old_dir):
    code, data, _ = run_json(capsys, old_dir, old_dir)
    assert code == 0 and len(data["items"]) == len(CATEGORIES)
    assert data["stale"] == {"old": [], "new": []}
