"""pyimgano: a regression-test harness for visual anomaly detection checkpoints.

Importing this package is cheap: it never imports torch or anomalib (docs/REFERENCE.md §3).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
