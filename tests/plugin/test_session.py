"""Summary bookkeeping without a pytest session (pytest_pyimgano.session)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from pyimgano.summary import markdown, terminal_lines
from pytest_pyimgano.session import PyImganoSession

ITEM = ("pyimgano_item", json.dumps({"suite": "s.yaml", "id": "m", "category": "c"}))


def phase(when, outcome, props=(), longrepr=None, nodeid="s.yaml::m[c]"):
    return SimpleNamespace(
        nodeid=nodeid, when=when, outcome=outcome, passed=outcome == "passed",
        failed=outcome == "failed", skipped=outcome == "skipped", longrepr=longrepr,
        longreprtext=longrepr if isinstance(longrepr, str) else "",
        user_properties=[ITEM, *props],
    )


def test_phases_fold_into_one_record(tmp_path):
    session = PyImganoSession(tmp_path)
    props = [["pyimgano_report", str(tmp_path / "s/m/c.json")],  # lists, as xdist sends them
             ["pyimgano_thresholds", json.dumps({"aupro": {"min": 0.3, "passed": False,
                                                           "value": 0.1}})],
             ["aupro", 0.1], ["image_auroc", None], ["pyimgano_device", "cpu"]]
    session.add_report(phase("setup", "passed"))
    session.add_report(phase("call", "failed", props, "m[c]: 1 of 1 checks failed: aupro\n\nx"))
    session.add_report(phase("teardown", "passed", props))
    (record,) = session.sorted_records()
    assert record.outcome == "failed"
    assert record.message == "m[c]: 1 of 1 checks failed: aupro"
    assert record.to_dict(tmp_path) == {
        "nodeid": "s.yaml::m[c]", "suite": "s.yaml", "id": "m", "category": "c",
        "outcome": "failed", "report": "s/m/c.json",
        "metrics": {"aupro": 0.1, "image_auroc": None},
        "thresholds": {"aupro": {"min": 0.3, "passed": False, "value": 0.1}},
        "message": "m[c]: 1 of 1 checks failed: aupro",
        "snapshot": None, "failure_cause": None,
    }


def test_setup_error_skip_and_foreign_reports(tmp_path):
    session = PyImganoSession(tmp_path)
    session.add_report(phase("setup", "failed", longrepr="boom", nodeid="s.yaml::m[a]"))
    session.add_report(phase("setup", "skipped", longrepr=("s.yaml", 0, "Skipped: $X unset"),
                             nodeid="s.yaml::m[b]"))
    foreign = phase("call", "passed", nodeid="test_x.py::test_x")
    foreign.user_properties = []
    assert session.add_report(foreign) is None
    records = {r.nodeid: r for r in session.sorted_records()}
    assert records["s.yaml::m[a]"].outcome == "error"
    assert records["s.yaml::m[b]"].outcome == "skipped"
    assert records["s.yaml::m[b]"].message == "$X unset"
    assert records["s.yaml::m[b]"].to_dict(tmp_path)["report"] is None


def test_write_and_render(tmp_path):
    session = PyImganoSession(tmp_path / "out")
    session.add_report(phase("call", "passed", [("image_auroc", 0.91234), ("aupro", None)]))
    json_path, md_path = session.write()
    assert json.loads(json_path.read_text())["items"][0]["outcome"] == "passed"
    text = md_path.read_text()
    assert "| item | image_auroc | result | snapshot | cause | note |" in text
    assert "| `s.yaml::m[c]` | 0.9123 | passed | - | - |  |" in text
    lines = terminal_lines(session.sorted_records())
    assert lines[0].split() == ["item", "image_auroc", "result"]
    assert lines[2].split() == ["s.yaml::m[c]", "0.9123", "PASSED"]
    assert markdown([], Path("r")).startswith("# pyimgano summary")


def test_parity_is_kept_compact_and_shown_in_its_own_columns(tmp_path):
    session = PyImganoSession(tmp_path)
    parity = {"score_max_abs": 0.00075, "map_max_abs": 0.002, "decision_flips": 1,
              "borderline": 0, "passed": True, "worst": [{"image": "a.png", "delta": 0.00075}]}
    art = [["pyimgano_parity", json.dumps(parity)], ["image_auroc", 0.9896]]
    session.add_report(phase("call", "passed", art, nodeid="s.yaml::art[c]"))
    session.add_report(phase("call", "passed", [["image_auroc", 1.0]], nodeid="s.yaml::m[c]"))
    art_record, plain = session.sorted_records()
    # the summary keeps the numbers a reader scans, not the per-image table
    assert art_record.to_dict(tmp_path)["parity"] == {
        "score_max_abs": 0.00075, "map_max_abs": 0.002, "decision_flips": 1, "passed": True}
    assert "parity" not in plain.to_dict(tmp_path)
    assert terminal_lines([art_record, plain]) == [
        "item" + " " * 12 + "image_auroc  parity Δscore  flips  result",
        "-" * 14 + "  " + "-" * 11 + "  " + "-" * 13 + "  " + "-" * 5 + "  " + "-" * 6,
        "s.yaml::art[c]" + "       0.9896" + "        7.5e-04" + "      1" + "  PASSED",
        "s.yaml::m[c]  " + "       1.0000" + "              -" + "      -" + "  PASSED",
    ]
    md = markdown([art_record, plain], tmp_path)
    assert "| item | image_auroc | parity Δscore | flips | result | snapshot | cause | note |" in md
    assert "| `s.yaml::art[c]` | 0.9896 | 7.5e-04 | 1 | passed | - | - |  |" in md
    # no item with parity: no parity columns
    assert "parity" not in "\n".join(terminal_lines([plain]))
