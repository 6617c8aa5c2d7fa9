"""The warnings of the pyimgano plugin, public so that ``-W`` and ``filterwarnings`` can name
them (``-W error::pytest_pyimgano.warnings.SpeedGateWarning``).

Each points at the suite file and the YAML line it is about (``suites/release.yaml:17``).
"""

from __future__ import annotations

__all__ = [
    "LegacySnapshotWarning",
    "PyImganoWarning",
    "ReportDirWarning",
    "SnapshotToleranceWarning",
    "SpeedGateWarning",
    "StaleReportWarning",
]


class PyImganoWarning(UserWarning):
    """Base class of the plugin's warnings (``-W ignore::pytest_pyimgano.warnings.PyImganoWarning``
    silences all of them)."""


class SpeedGateWarning(PyImganoWarning):
    """A speed gate checked while several xdist workers shared the machine (docs/REFERENCE.md
    §8)."""


class SnapshotToleranceWarning(PyImganoWarning):
    """A snapshot tolerance finer than the metric can move (docs/REFERENCE.md §5 resolution)."""


class LegacySnapshotWarning(PyImganoWarning):
    """A snapshot read from the old ``__snapshots__`` place; ``--snapshot-update`` moves it."""


class StaleReportWarning(PyImganoWarning):
    """A stale report file was kept because it changed since pyimgano wrote it
    (docs/REFERENCE.md §8)."""


class ReportDirWarning(PyImganoWarning):
    """A file in the report dir that pyimgano did not write is in the way of one it writes
    (``summary.json``/``summary.md``); it is left as it is (docs/REFERENCE.md §8)."""
