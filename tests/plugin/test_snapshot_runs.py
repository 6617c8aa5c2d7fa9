"""Snapshots in real sessions (docs/REFERENCE.md §8), and their co-existence with syrupy's own
snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugin.conftest import suite_text, write_suite

BASE = ["--pyimgano-no-plots"]


def snap(pytester: pytest.Pytester, category: str, suite: str = "release") -> Path:
    return pytester.path / "suites" / "__pyimgano_snapshots__" / suite / "fake" / f"{category}.json"


def perturb(path: Path, metric: str, delta: float, **environment: str) -> float:
    data = json.loads(path.read_text("utf-8"))
    data["metrics"][metric] += delta
    data["environment"].update(environment)
    path.write_text(json.dumps(data), encoding="utf-8")
    return data["metrics"][metric]


def test_missing_snapshot_fails_then_update_then_plain_run_passes(suite_dir):
    write_suite(suite_dir, suite_text())
    missing = suite_dir.runpytest(*BASE)
    missing.assert_outcomes(failed=2)
    missing.stdout.fnmatch_lines([f"no snapshot at {snap(suite_dir, 'disk')}; "
                                  "run pytest with --snapshot-update to record it"])
    assert not snap(suite_dir, "disk").exists()

    suite_dir.runpytest(*BASE, "--snapshot-update").assert_outcomes(passed=2)
    stored = json.loads(snap(suite_dir, "tiles").read_text("utf-8"))
    assert set(stored) == {"schema_version", "kind", "metrics", "n_test", "n_anomalous",
                           "environment"}
    assert stored["n_test"] == 10 and stored["kind"] == "pyimgano-snapshot"
    assert "ms_per_image" not in stored["metrics"] and "images_per_s" not in stored["metrics"]
    assert "image_auroc" in stored["metrics"]

    suite_dir.runpytest(*BASE).assert_outcomes(passed=2)


def test_change_beyond_tolerance_fails_with_both_environments(suite_dir):
    write_suite(suite_dir, suite_text(categories="[tiles]", defaults="snapshot: {tolerance: 0.01}"))
    suite_dir.runpytest(*BASE, "--snapshot-update").assert_outcomes(passed=1)
    path = snap(suite_dir, "tiles")
    current = json.loads(path.read_text("utf-8"))["metrics"]["image_ap"]
    old = perturb(path, "image_ap", -0.05, torch="0.0-old")

    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        f"image_ap={current:.6g} (snapshot {old:.6g}, Δ +0.05, tolerance 0.01); "
        "1 of * checks failed: image_ap",
        "metric*value*bound*snapshot*delta*tolerance*result",
        f"image_ap*{current:.6g}*-*{old:.6g}*+0.05*0.01*FAIL",
        "image_auroc*ok",
        "snapshot environment: *torch=0.0-old*",
        "current environment: *torch=*",
        "environment changes: *torch 0.0-old -> *",
    ])
    # within tolerance passes; the update run rewrites only what failed
    perturb(path, "image_ap", 0.045)
    suite_dir.runpytest(*BASE).assert_outcomes(passed=1)


def test_per_metric_tolerance_and_null_change(suite_dir):
    write_suite(suite_dir, suite_text(
        categories="[tiles]", defaults="snapshot: {tolerance: 0.5}",
        model_extra="snapshot: {tolerance: {image_ap: 0.0}}",
    ))
    suite_dir.runpytest(*BASE, "--snapshot-update").assert_outcomes(passed=1)
    path = snap(suite_dir, "tiles")
    perturb(path, "image_auroc", 0.1)  # within the default 0.5
    suite_dir.runpytest(*BASE).assert_outcomes(passed=1)
    perturb(path, "image_ap", 1e-9)  # the model's 0 for image_ap
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*checks failed: image_ap"])

    data = json.loads(path.read_text("utf-8"))
    data["metrics"]["image_ap"] = None
    path.write_text(json.dumps(data), encoding="utf-8")
    result = suite_dir.runpytest(*BASE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["image_ap*null*FAIL", "image_ap: null on one side only"])
    suite_dir.runpytest(*BASE, "--snapshot-update").assert_outcomes(passed=1)
    assert json.loads(path.read_text("utf-8"))["metrics"]["image_ap"] is not None


def test_update_new_only_writes_missing_snapshots_only(suite_dir):
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    suite_dir.runpytest(*BASE, "--snapshot-update-new-only").assert_outcomes(passed=1)
    path = snap(suite_dir, "tiles")
    perturb(path, "image_ap", 0.5)
    changed = path.read_bytes()
    suite_dir.runpytest(*BASE, "--snapshot-update-new-only").assert_outcomes(failed=1)
    assert path.read_bytes() == changed


def test_tolerance_below_resolution_warns(suite_dir):
    write_suite(suite_dir, suite_text(categories="[tiles]",
                                      defaults="snapshot: {tolerance: 0.000001}"))
    result = suite_dir.runpytest(*BASE, "--snapshot-update")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "*SnapshotToleranceWarning: snapshot tolerance 1e-06 for image_auroc is below its "
        "resolution *(resolution.image_auroc in the report)*",
    ])


def test_subset_and_update_runs_delete_no_snapshot(suite_dir):
    write_suite(suite_dir, suite_text())
    suite_dir.runpytest(*BASE, "--snapshot-update").assert_outcomes(passed=2)
    before = {p: p.read_bytes() for p in (snap(suite_dir, "disk"), snap(suite_dir, "tiles"))}
    suite_dir.runpytest(*BASE, "-k", "tiles").assert_outcomes(passed=1, deselected=1)
    suite_dir.runpytest(*BASE, "-k", "tiles", "--snapshot-update").assert_outcomes(
        passed=1, deselected=1)
    # the suite no longer selects disk: its snapshot stays (pyimgano never deletes snapshots)
    write_suite(suite_dir, suite_text(categories="[tiles]"))
    suite_dir.runpytest(*BASE, "--snapshot-update").assert_outcomes(passed=1)
    assert {p: p.read_bytes() for p in before} == before


SYRUPY_TEST = """
def test_syrupy_value(snapshot):
    assert {"answer": 42} == snapshot
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_syrupy_coexistence(suite_dir, workers):
    """A syrupy test and a suite in one directory: neither sees the other's snapshots."""
    pytest.importorskip("syrupy")
    if workers:
        pytest.importorskip("xdist")
    write_suite(suite_dir, suite_text())
    suite_dir.makepyfile(**{"suites/test_values": SYRUPY_TEST})
    ours = [snap(suite_dir, "disk"), snap(suite_dir, "tiles")]
    amber = suite_dir.path / "suites" / "__snapshots__" / "test_values.ambr"
    run = suite_dir.runpytest_subprocess if workers else suite_dir.runpytest

    update = run(*BASE, *workers, "--snapshot-update")
    update.assert_outcomes(passed=3)
    update.stdout.fnmatch_lines(["pyimgano: 2 snapshots written, 0 updated, 0 unchanged"])
    update.stdout.fnmatch_lines(["1 snapshot generated."])
    assert all(p.is_file() for p in ours) and amber.is_file()
    assert sorted(p.name for p in amber.parent.iterdir()) == ["test_values.ambr"]
    contents = {p: p.read_bytes() for p in ours}

    runs = [[], ["--snapshot-update"], ["-k", "tiles"], ["-k", "tiles", "--snapshot-update"],
            ["suites"], ["suites", "--snapshot-update"], ["--snapshot-details"],
            ["-p", "no:pyimgano"], ["-p", "no:pyimgano", "--snapshot-update"]]
    if workers:  # each xdist session costs seconds of worker start-up: the ones that differ
        runs = [[], ["-k", "tiles", "--snapshot-update"],
                ["-p", "no:pyimgano", "--snapshot-update"]]
    for args in runs:
        result = run(*BASE[1:] if "no:pyimgano" in args else BASE, *workers, *args)
        assert result.ret == 0, (args, result.stdout.str())
        out = result.stdout.str()
        assert "unused" not in out and "Deleted" not in out, (args, out)
        assert {p: p.read_bytes() for p in ours} == contents, args
    result.stdout.fnmatch_lines(["1 snapshot passed."])

    # syrupy's own snapshot still works: a changed value fails it
    (suite_dir.path / "suites" / "test_values.py").write_text(
        SYRUPY_TEST.replace("42", "43"), encoding="utf-8")
    changed = run(*BASE, *workers, "-k", "syrupy")
    changed.assert_outcomes(failed=1, deselected=0 if workers else 2)  # xdist: on the workers
    changed.stdout.fnmatch_lines(["1 snapshot failed."])
    assert all(p.is_file() for p in ours)


def test_old_place_is_read_then_moved_by_snapshot_update(suite_dir):
    """Snapshots of an earlier release (``__snapshots__``) still gate, and
    ``--snapshot-update`` moves them out of syrupy's directory before syrupy could delete them."""
    pytest.importorskip("syrupy")
    write_suite(suite_dir, suite_text())
    suite_dir.runpytest(*BASE, "--snapshot-update").assert_outcomes(passed=2)
    legacy = suite_dir.path / "suites" / "__snapshots__" / "release" / "fake"
    legacy.parent.mkdir(parents=True)
    snap(suite_dir, "disk").parent.rename(legacy)
    perturb(legacy / "tiles.json", "image_ap", 0.5)  # an old snapshot that no longer matches
    old_disk = (legacy / "disk.json").read_bytes()

    plain = suite_dir.runpytest(*BASE, "-W", "default::pytest_pyimgano.warnings.PyImganoWarning")
    plain.assert_outcomes(passed=1, failed=1, warnings=2)
    plain.stdout.fnmatch_lines([f"snapshot:    {legacy / 'tiles.json'}"])
    plain.stdout.fnmatch_lines([
        "*suites/release.yaml:10: LegacySnapshotWarning: fake[[]disk[]]: snapshot read from the "
        f"old place {legacy / 'disk.json'}; run pytest with --snapshot-update to move it*",
    ])
    assert (legacy / "disk.json").is_file() and not snap(suite_dir, "disk").exists()

    suite_dir.makepyfile(**{"suites/test_values": SYRUPY_TEST})
    update = suite_dir.runpytest(*BASE, "--snapshot-update")
    update.assert_outcomes(passed=3)
    update.stdout.fnmatch_lines(["pyimgano: 0 snapshots written, 1 updated, 1 unchanged"])
    assert snap(suite_dir, "disk").read_bytes() == old_disk  # moved as it was
    assert not legacy.exists() and not (legacy.parent).exists()
    assert sorted(p.name for p in legacy.parent.parent.iterdir()) == ["test_values.ambr"]
    assert suite_dir.runpytest("-p", "no:pyimgano").ret == 0  # syrupy: nothing unused
