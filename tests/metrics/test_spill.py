"""Pixel metrics within a memory budget: spilled sorted runs give the in-memory numbers."""

from __future__ import annotations

import contextlib
import tempfile

import numpy as np
import pytest

from pyimgano.errors import ConfigError, MetricInputError
from pyimgano.memory import parse_budget, resolve_budget
from pyimgano.metrics import _spill as spill_module
from pyimgano.metrics import evaluate_pixels
from pyimgano.metrics import pixel as pixel_module

from ._reference import ref_auspro_loco, ref_pixel_metrics
from .test_spro import _case as _loco_case
from .test_spro import _channels
from .test_spro import _masks as _loco_masks

TOL = 1e-12
BOUNDS = (1e-3, 1e-2)  # reachable on these small cases, so that AUPIMO is defined


def _case(kind: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(7)
    maps = [rng.random((64, 64), dtype=np.float32) for _ in range(8)]
    masks = [np.zeros((64, 64), dtype=bool) for _ in range(8)]
    masks[1][5:20, 5:20] = True
    masks[3][30:40, 10:50] = masks[3][50:52, 50:60] = True
    masks[5][:, :3] = True
    masks[6][10:12, 10:12] = True
    for amap, mask in zip(maps, masks, strict=True):
        amap[mask] += np.float32(0.3)
    if kind == "ties":
        maps = [np.round(amap * 6) / 6 for amap in maps]  # float32 values, many ties
        maps[2][:] = 0.5  # and a constant map
    elif kind == "constant":
        maps = [np.full((64, 64), 0.25, dtype=np.float32) for _ in maps]
    return maps, masks


def _spilled_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of runs of every spilled pooling."""
    runs: list[int] = []
    real = spill_module.pool_spilled

    def recording(*args, **kwargs):
        pooled, plan = real(*args, **kwargs)
        runs.append(pooled._spill.n_runs)
        return pooled, plan

    monkeypatch.setattr(pixel_module, "pool_spilled", recording)
    return runs


def _assert_same(result, expected) -> None:
    assert list(result.metrics) == list(expected.metrics)
    for key, value in expected.metrics.items():
        if value is None:
            assert result.metrics[key] is None, key
        else:
            assert result.metrics[key] == pytest.approx(value, abs=TOL, rel=0), key
    assert len(result.aupimo_per_image) == len(expected.aupimo_per_image)
    for got, want in zip(result.aupimo_per_image, expected.aupimo_per_image, strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, abs=TOL, rel=0)


@pytest.mark.parametrize("kind", ["noise", "ties", "constant"])
@pytest.mark.parametrize("budget", [400_000, 200_000, 175_000])
def test_streamed_equals_in_memory(kind, budget, monkeypatch) -> None:
    maps, masks = _case(kind)
    limits = (0.05, 0.1, 0.3, 1.0)
    kwargs = {"aupro_limits": limits, "aupimo_fpr_bounds": BOUNDS}
    expected = evaluate_pixels(maps, masks, **kwargs)
    runs = _spilled_runs(monkeypatch)
    result = evaluate_pixels(maps, masks, memory_budget=budget, **kwargs)
    assert runs and runs[0] >= 2  # it did stream, in several runs
    _assert_same(result, expected)
    # and both are the official values
    reference = ref_pixel_metrics(maps, masks)
    for key, value in reference.items():
        if expected.metrics[key] is not None:
            assert result.metrics[key] == pytest.approx(value, abs=1e-9), key
    if kind == "noise":
        assert result.metrics["aupimo_mean"] is not None


def test_a_generous_budget_stays_in_memory(monkeypatch) -> None:
    maps, masks = _case("noise")
    runs = _spilled_runs(monkeypatch)
    evaluate_pixels(maps, masks, memory_budget="1GiB")
    assert runs == []


@pytest.mark.parametrize("budget", [150_000, 125_000])
def test_streamed_auspro_equals_in_memory_on_a_loco_layout(budget, monkeypatch) -> None:
    maps, defects, types = _loco_case(4, n_good=3, n_bad=5, shape=(48, 56), dtype=np.float32)
    masks = _loco_masks(defects, maps)
    limits = (0.05, 0.3)
    kwargs = {"defects": defects, "defect_groups": types, "auspro_limits": limits}
    expected = evaluate_pixels(maps, masks, **kwargs)
    runs = _spilled_runs(monkeypatch)
    result = evaluate_pixels(maps, masks, memory_budget=budget, **kwargs)
    assert runs and runs[0] >= 2
    _assert_same(result, expected)
    for group, values in expected.spro.by_group.items():
        for key, value in values.items():
            assert result.spro.by_group[group][key] == pytest.approx(value, abs=TOL, rel=0)
    channels = _channels(defects)
    for limit in limits:
        official = ref_auspro_loco(maps, channels, types, limit)["mean"]
        assert result.metrics[f"auspro_{limit!r}"] == pytest.approx(official, abs=TOL)


def _tempdir(tmp_path, monkeypatch):
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def test_temporary_files_are_removed_on_success(tmp_path, monkeypatch) -> None:
    directory = _tempdir(tmp_path, monkeypatch)
    made = []
    real = spill_module.SpilledKeys.add_run

    def spying(self, keys):
        real(self, keys)
        made.append(list(self.directory.iterdir()))

    monkeypatch.setattr(spill_module.SpilledKeys, "add_run", spying)
    maps, masks = _case("noise")
    evaluate_pixels(maps, masks, memory_budget=200_000)
    assert made and made[-1] and all(p.parent.parent == directory for p in made[-1])
    assert list(directory.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
@pytest.mark.parametrize("where", ["sweep", "pooling"])
def test_temporary_files_are_removed_on_failure_and_interrupt(
    error, where, tmp_path, monkeypatch
) -> None:
    directory = _tempdir(tmp_path, monkeypatch)
    maps, masks = _case("noise")
    if where == "sweep":
        real = pixel_module.sweep

        def failing(chunks, *args, **kwargs):
            def some():
                for index, chunk in enumerate(chunks):
                    if index == 3:
                        raise error
                    yield chunk

            real(some(), *args, **kwargs)

        monkeypatch.setattr(pixel_module, "sweep", failing)
    else:
        real_keys = spill_module.float32_keys
        calls = []

        def failing_keys(amap):
            calls.append(1)
            if len(calls) == 6:  # after some runs were written
                raise error
            return real_keys(amap)

        monkeypatch.setattr(spill_module, "float32_keys", failing_keys)
    with pytest.raises(type(error)):
        evaluate_pixels(maps, masks, memory_budget=175_000)
    assert list(directory.iterdir()) == []


def test_a_budget_too_small_names_the_budget_and_the_need() -> None:
    maps, masks = _case("noise")
    with pytest.raises(MetricInputError, match=r"memory budget .*\(50000 bytes\).*at least"):
        evaluate_pixels(maps, masks, memory_budget=50_000)
    # float64 maps that a float32 cannot hold are sorted in memory only
    wide = [amap.astype(np.float64) + 1e-12 for amap in maps]
    with pytest.raises(MetricInputError, match=r"\(200000 bytes\).*float32"):
        evaluate_pixels(wide, masks, memory_budget=200_000)


def test_budget_values() -> None:
    assert parse_budget("512MiB") == 512 << 20
    assert parse_budget("4GiB") == 4 << 30
    assert parse_budget("1.5GB") == 1_500_000_000
    assert parse_budget(" 300 kib ") == 300 << 10
    assert parse_budget(12345) == 12345
    assert parse_budget("AUTO") == "auto"
    assert parse_budget(None) is None
    for bad in ("lots", "4 parsecs", "-1GiB", 0, "0", True, "1e9"):
        with pytest.raises(ConfigError, match="memory_budget is"):
            parse_budget(bad)


def test_auto_is_half_the_available_memory_shared_by_the_workers(monkeypatch) -> None:
    import pyimgano.memory as memory

    monkeypatch.setattr(memory, "available_memory", lambda: 24 << 30)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    assert resolve_budget("auto") == 12 << 30
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    assert resolve_budget("auto") == 3 << 30
    assert resolve_budget("1GiB") == 1 << 30  # an explicit size is not divided


def test_evaluate_streams_within_its_budget(synthetic_root, monkeypatch) -> None:
    from pyimgano.datasets import load_dataset
    from pyimgano.evaluation import evaluate
    from tests.fakes import FakeDetector

    dataset = load_dataset("mvtec", synthetic_root, "tiles")
    plain = evaluate(FakeDetector(noise=1e-3), dataset, pixel=True).report.metrics
    runs = _spilled_runs(monkeypatch)
    budgeted = evaluate(
        FakeDetector(noise=1e-3), dataset, pixel=True, memory_budget="200KB"
    ).report.metrics
    assert runs and runs[0] >= 2
    for key, value in plain.items():
        if value is None or not isinstance(value, float):
            assert budgeted[key] == value, key
        else:
            assert budgeted[key] == pytest.approx(value, abs=TOL, rel=0), key


@pytest.mark.parametrize("kind", ["noise", "ties"])
def test_streamed_with_the_in_memory_chunks_is_bit_identical(kind, monkeypatch) -> None:
    maps, masks = _case(kind)
    kwargs = {"chunk_size": 1000, "aupro_limits": (0.05, 0.1), "aupimo_fpr_bounds": BOUNDS}
    expected = evaluate_pixels(maps, masks, **kwargs)
    runs = _spilled_runs(monkeypatch)
    result = evaluate_pixels(maps, masks, memory_budget=175_000, **kwargs)
    assert runs and runs[0] >= 2
    assert dict(result.metrics) == dict(expected.metrics)
    assert result.aupimo_per_image == expected.aupimo_per_image


@pytest.mark.parametrize("merge", [64, 100, 1000])
def test_merged_rounds_are_the_sorted_keys(merge, tmp_path) -> None:
    """The rounds, read from the top, are every key of every run in descending order."""
    rng = np.random.default_rng(3)
    runs = [
        rng.integers(0, 2**64 - 1, 700, dtype=np.uint64, endpoint=True),
        rng.integers(0, 50, 1500, dtype=np.uint64),  # heavy ties, below the others
        np.full(300, 2**63, dtype=np.uint64),  # one value
        rng.integers(2**62, 2**63, 1, dtype=np.uint64),
        rng.integers(0, 2**64 - 1, 2049, dtype=np.uint64, endpoint=True),
    ]
    spilled = spill_module.SpilledKeys(tmp_path, merge)
    for keys in runs:
        spilled.add_run(keys.copy())
    rounds = list(spilled._rounds())
    expected = np.sort(np.concatenate(runs))[::-1]  # the official order: all keys, descending
    for high, low in zip(rounds, rounds[1:], strict=False):
        assert high.size and low.size and high[0] >= low[-1]
    for merged in rounds:
        assert merged.size <= merge * len(runs)
        assert np.all(merged[:-1] <= merged[1:])
    np.testing.assert_array_equal(np.concatenate(rounds[::-1])[::-1], expected)
    chunks = list(spilled.chunks(256))
    scores = np.concatenate([chunk[0] for chunk in chunks])
    np.testing.assert_array_equal(scores, (expected >> np.uint64(32)).astype(np.uint32))
    assert all(chunk[0].size == 256 for chunk in chunks[:-1])


def test_close_mid_read_closes_the_run_files(tmp_path) -> None:
    import os

    def open_runs() -> list[str]:
        links = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own descriptor is gone
                links.append(os.readlink(f"/proc/self/fd/{fd}"))
        return [link for link in links if link.startswith(str(tmp_path))]

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    spilled = spill_module.SpilledKeys(tmp_path / "runs", 64)
    spilled.directory.mkdir()
    rng = np.random.default_rng(5)
    for _ in range(3):
        spilled.add_run(rng.integers(0, 2**63, 1000, dtype=np.uint64))
    chunks = spilled.chunks(256)
    next(chunks)  # reading: every run file is open
    assert len(open_runs()) == 3
    spilled.close()
    assert open_runs() == []
    assert not spilled.directory.exists()
