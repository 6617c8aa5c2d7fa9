"""Python tests of checkpoints with syrupy (docs/REFERENCE.md §15).

``pyimgano_evaluate`` (a fixture of the pytest plugin) returns an :class:`EvaluationResult`;
``assert result == snapshot(extension_class=MetricsSnapshotExtension)`` stores and compares it
with a tolerance. :class:`MetricsSnapshotExtension` is built on first use, so importing this
module imports neither syrupy nor anything heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyimgano.report import Report
    from pyimgano.testing.extension import MetricsSnapshotExtension

__all__ = ["EvaluationResult", "MetricsSnapshotExtension"]


@dataclass(eq=False)
class EvaluationResult:
    """What ``pyimgano_evaluate(**entry)`` returns.

    ``snapshot_data`` is the snapshot object of a suite item (the same content as the
    plugin's snapshot files: metrics without the speed metrics, ``n_test``, ``n_anomalous``
    and the environment); ``report`` is the full report, written to ``report_path``.

    ``compared_by`` is the snapshot extension class that last serialised this result (set by
    :class:`MetricsSnapshotExtension`): a failed ``assert result == snapshot(...)`` is
    explained with that extension's table. Results never compare equal to anything but
    themselves, so ``result == snapshot`` is syrupy's comparison.
    """

    name: str
    report: Report
    report_path: Path
    snapshot_data: Mapping[str, Any]
    compared_by: type | None = field(default=None, repr=False)

    @property
    def metrics(self) -> dict[str, float | None]:
        """The snapshotted metrics (``null`` → ``None``; never the speed metrics)."""
        return dict(self.snapshot_data["metrics"])

    @property
    def n_test(self) -> int | None:
        """Number of test images."""
        return self.snapshot_data.get("n_test")

    @property
    def n_anomalous(self) -> int | None:
        """Number of anomalous test images."""
        return self.snapshot_data.get("n_anomalous")

    @property
    def environment(self) -> dict[str, Any]:
        """Versions, device and batch size the result was made with (never compared)."""
        return dict(self.snapshot_data.get("environment") or {})


def __getattr__(name: str) -> Any:
    if name == "MetricsSnapshotExtension":
        from pyimgano.testing.extension import MetricsSnapshotExtension

        return MetricsSnapshotExtension
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
