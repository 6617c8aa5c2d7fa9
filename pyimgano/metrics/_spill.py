"""The pooled pixels of :mod:`pyimgano.metrics._pixels` within a memory budget: sorted runs
spilled to a temporary directory and merged while sweeping.

The packed uint64 keys (``score key << 32 | label``) of the images are written run by run:
each image's score keys and labels go straight into a run buffer (an image may straddle two
runs), which is sorted in place and written to ``run-<i>.u64`` in a private temporary
directory. The sweep then reads the runs from their top (highest keys) in rounds: from each
run the next ``merge`` keys, read into one round buffer; every key not below ``t`` — the
largest, over runs that still hold keys below their window, of the smallest key read — is
certainly among the highest keys left, so those are kept (each run's kept keys moved down the
buffer), merged and swept, and the rest is read again in the next round. The merge is NumPy's
stable sort (timsort), which finds the round's sorted pieces and merges them: 2-3x faster than
sorting the round afresh. The keys come out in exactly the order of the in-memory sort (equal
keys are equal pixels for every metric), and they are cut into the in-memory path's chunks, so
every metric is the in-memory one bit for bit — unless the budget is too small for those
chunks (under about 100 MB), when smaller chunks change the order of floating-point sums
(differences ~1e-15).

Memory (bytes, ``L`` the largest image's pixels): at most ``32 L`` while one image's keys and
labels are made, ``8`` per run-buffer pixel, ``12 * runs * merge`` while merging (the round's
keys, and the stable sort's buffer of at most half of them), about ``100`` per sweep-chunk
pixel. :func:`plan` sizes the three from the budget. The directory is removed by
:meth:`SpilledKeys.close` (called on success, error and Ctrl-C by the caller) and on any
error while the runs are written.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pyimgano.errors import MetricInputError
from pyimgano.memory import format_size
from pyimgano.metrics._pixels import (
    ID_WORD,
    KEY_WORD,
    Layout,
    PooledPixels,
    float32_keys,
    sweep_chunk_size,
)
from pyimgano.metrics._regions import Regions
from pyimgano.metrics._sweep import Chunk

__all__ = ["SpilledKeys", "in_memory_need", "plan", "pool_spilled"]

#: Bytes per pixel of the largest image while its keys and labels are made.
IMAGE_BYTES = 32
#: Bytes per key of a merge round: the keys (8) and the stable sort's buffer (at most 4).
MERGE_BYTES = 12
#: Bytes of sweep temporaries per chunk pixel.
CHUNK_BYTES = 100
_MIN_CHUNK = 256
_MIN_RUN = 1024
_MIN_MERGE = 64


def in_memory_need(sizes: Sequence[int]) -> int:
    """Bytes the in-memory packed path needs beyond the maps for images of ``sizes`` pixels."""
    n_pixels = int(sum(sizes))
    largest = max(sizes, default=0)
    return 8 * n_pixels + CHUNK_BYTES * sweep_chunk_size(n_pixels) + IMAGE_BYTES * largest


@dataclass(frozen=True)
class Plan:
    """How a budget is spent: pixels per run, keys read per run and round, sweep chunk."""

    run: int
    merge: int
    chunk: int
    runs: int


def _too_small(budget: int, n_pixels: int, largest: int, need: int) -> MetricInputError:
    return MetricInputError(
        f"the memory budget {format_size(budget)} ({budget} bytes) is too small for the pixel "
        f"metrics of {n_pixels} pixels (largest image {largest} pixels): streamed, they need "
        f"at least {format_size(need)} ({need} bytes); raise the memory budget "
        "(--memory-budget, suite memory_budget) or leave it unset"
    )


def plan(sizes: Sequence[int], budget: int) -> Plan:
    """Split ``budget`` bytes between run buffer, merge buffers and sweep chunk.

    Raises
    ------
    MetricInputError
        The budget cannot hold one image's keys plus the smallest run, merge and chunk
        (the message names the budget and the least that would do).
    """
    n_pixels = int(sum(sizes))
    largest = max(sizes, default=0)
    chunk = sweep_chunk_size(n_pixels)  # the in-memory chunks: the same sums, bit for bit
    if CHUNK_BYTES * chunk > budget // 4:  # unless the budget is tiny (then equal to ~1e-15)
        chunk = max(_MIN_CHUNK, budget // (8 * CHUNK_BYTES))
    sweep_bytes = CHUNK_BYTES * chunk
    run = (budget - sweep_bytes - IMAGE_BYTES * largest) // 8
    least_run = IMAGE_BYTES * largest + 8 * _MIN_RUN + CHUNK_BYTES * _MIN_CHUNK
    if run < _MIN_RUN:
        raise _too_small(budget, n_pixels, largest, least_run)
    run = min(run, max(n_pixels, 1))
    runs = max(1, math.ceil(n_pixels / run))
    merge = (budget - sweep_bytes) // (MERGE_BYTES * runs)
    if merge < _MIN_MERGE:
        # the runs alone need this much to be merged _MIN_MERGE keys at a time
        need = sweep_bytes + MERGE_BYTES * _MIN_MERGE * runs
        raise _too_small(budget, n_pixels, largest, max(need, least_run))
    return Plan(run=int(run), merge=int(merge), chunk=int(chunk), runs=runs)


class SpilledKeys:
    """Sorted runs of packed keys in a temporary directory (see the module docstring)."""

    def __init__(self, directory: Path, merge: int) -> None:
        self.directory = directory
        self._merge = merge
        self._runs: list[tuple[Path, int]] = []
        # the rounds being read (their run files are open until they end or are closed)
        self._reading: list[Generator[np.ndarray, None, None]] = []

    def add_run(self, keys: np.ndarray) -> None:
        """Sort ``keys`` in place and write them as the next run."""
        keys.sort()
        path = self.directory / f"run-{len(self._runs)}.u64"
        keys.tofile(path)
        self._runs.append((path, int(keys.size)))

    @property
    def n_runs(self) -> int:
        return len(self._runs)

    def _rounds(self) -> Generator[np.ndarray, None, None]:
        """Ascending arrays of keys; each round's keys are all above the next round's."""
        ends = [count for _, count in self._runs]
        with contextlib.ExitStack() as stack:
            files = [stack.enter_context(open(path, "rb", buffering=0)) for path, _ in self._runs]
            while any(ends):
                sizes = [min(self._merge, end) for end in ends]
                firsts = [
                    _read(file, end - size, np.empty(1, dtype=np.uint64))[0]
                    for file, end, size in zip(files, ends, sizes, strict=True)
                    if end > size
                ]
                threshold = max(firsts) if firsts else None
                merged = np.empty(sum(sizes), dtype=np.uint64)
                filled = 0
                for index, (file, size) in enumerate(zip(files, sizes, strict=True)):
                    window = _read(file, ends[index] - size, merged[filled : filled + size])
                    start = 0 if threshold is None else int(np.searchsorted(window, threshold))
                    kept = size - start
                    if start:  # keep the window's top: a forward copy within the buffer
                        np.copyto(merged[filled : filled + kept], window[start:])
                    filled += kept
                    ends[index] -= kept
                    del window
                merged = merged[:filled]
                # a merge of sorted pieces: NumPy's stable sort (timsort) finds the pieces and
                # merges them, 2-3x faster here than sorting afresh; its buffer is at most
                # half the keys (4 bytes per key, counted by plan)
                merged.sort(kind="stable")
                yield merged
                del merged

    def chunks(self, chunk_size: int) -> Iterator[Chunk]:
        """``(scores, ids, next_score)`` chunks over every run, highest score first."""
        rounds = self._rounds()
        self._reading.append(rounds)
        return _joined(rounds, chunk_size)

    def close(self) -> None:
        """Close the run files still open, remove the temporary directory (idempotent)."""
        while self._reading:
            self._reading.pop().close()
        shutil.rmtree(self.directory, ignore_errors=True)


def _read(file: BinaryIO, first: int, out: np.ndarray) -> np.ndarray:
    """Read keys ``first, first + 1, ...`` of a run file into all of ``out``; return ``out``."""
    file.seek(8 * first)
    view = memoryview(out).cast("B")
    done = 0
    while done < len(view):
        got = file.readinto(view[done:])
        if not got:
            raise OSError(f"{getattr(file, 'name', 'a run file')} ended early")
        done += got
    return out


def _fixed_chunks(rounds: Iterable[np.ndarray], chunk_size: int) -> Iterator[tuple]:
    """``(scores, ids)`` in descending order, cut at the in-memory path's chunk borders.

    The in-memory path cuts the sorted keys into ``chunk_size`` pieces from the top (the last,
    lowest piece shorter); so does this, whatever the rounds' sizes, so the sweep sees the
    same chunks and gives the same floating-point sums, bit for bit. Chunks that straddle
    rounds are assembled in copies; the last two pieces of a round are copies too (the
    consumer still holds them while the next round is read, and the round must be released).
    """
    carry: list[tuple[np.ndarray, np.ndarray]] = []
    carried = 0
    for merged in rounds:
        words = merged.view(np.uint32)
        scores = words[KEY_WORD::2][::-1]
        ids = words[ID_WORD::2][::-1]
        size = scores.size
        position = 0
        if carried:
            take = min(chunk_size - carried, size)
            carry.append((scores[:take].copy(), ids[:take].copy()))
            carried += take
            position = take
            if carried == chunk_size:
                yield np.concatenate([c[0] for c in carry]), np.concatenate([c[1] for c in carry])
                carry, carried = [], 0
        while size - position >= chunk_size:
            stop = position + chunk_size
            piece = scores[position:stop], ids[position:stop]
            if size - stop < 2 * chunk_size:  # one of the round's last two pieces
                piece = piece[0].copy(), piece[1].copy()
            yield piece
            del piece
            position = stop
        if position < size:
            carry.append((scores[position:].copy(), ids[position:].copy()))
            carried += size - position
        del merged, words, scores, ids
    if carried:
        yield np.concatenate([c[0] for c in carry]), np.concatenate([c[1] for c in carry])


def _joined(rounds: Iterable[np.ndarray], chunk_size: int) -> Iterator[Chunk]:
    """:func:`_fixed_chunks` with each chunk told the next chunk's first score."""
    previous: tuple | None = None
    for chunk in _fixed_chunks(rounds, chunk_size):
        if previous is not None:
            yield previous[0], previous[1], chunk[0][0]
        previous = chunk
        del chunk
    if previous is not None:
        yield previous[0], previous[1], None


def pool_spilled(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    regions: Sequence[Regions] | None,
    defects: Sequence[Sequence[np.ndarray]] | None,
    budget: int,
) -> tuple[PooledPixels, Plan]:
    """:func:`~pyimgano.metrics._pixels.pool_pixels` on the packed path, spilled in runs.

    The caller must :meth:`PooledPixels.close` the result (its temporary directory).
    """
    sizes = [int(amap.size) for amap in maps]
    layout_plan = plan(sizes, budget)
    spill = SpilledKeys(Path(tempfile.mkdtemp(prefix="pyimgano-metrics-")), layout_plan.merge)
    try:
        layout = Layout(masks, regions, defects)
        run = np.empty(min(layout_plan.run, max(sum(sizes), 1)), dtype=np.uint64)
        run_words = run.view(np.uint32)
        labels = np.empty(max(sizes, default=0), dtype=np.uint32)
        filled = 0
        for index, amap in enumerate(maps):
            scores = float32_keys(amap)
            ids = labels[: scores.size]
            layout.fill(index, ids)
            start = 0
            while start < scores.size:  # the image's keys go straight into the run buffer
                take = min(run.size - filled, scores.size - start)
                stop = filled + take
                run_words[2 * filled + KEY_WORD : 2 * stop : 2] = scores[start : start + take]
                run_words[2 * filled + ID_WORD : 2 * stop : 2] = ids[start : start + take]
                filled = stop
                start += take
                if filled == run.size:
                    spill.add_run(run)
                    filled = 0
            del scores, ids
        if filled:
            spill.add_run(run[:filled])
        del run, run_words, labels
        dtype = np.result_type(*(amap.dtype for amap in maps))
        return layout.pooled(dtype, spill=spill), layout_plan
    except BaseException:
        spill.close()
        raise
