"""Silencing Lightning's and anomalib's chatter while the demo trains and exports.

:func:`quiet_lightning` sets their loggers to ERROR, ignores warnings and captures stdout/stderr
(tqdm bars, Lightning's tips, the ONNX exporter's progress lines); the captured text is written
back to stderr when training or exporting fails, so nothing that explains a failure is lost.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import warnings
from collections.abc import Iterator

_NOISY_LOGGERS = ("lightning", "lightning_fabric", "pytorch_lightning", "anomalib")


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning/anomalib chatter while training.

    Their loggers are set to ERROR, warnings are ignored, and stderr and stdout (tqdm bars
    such as PatchCore's coreset selection, Lightning's tips, the ONNX exporter's progress
    lines) are captured; they are written back to stderr when training or exporting fails, so
    nothing that explains a failure is lost.
    """
    loggers = [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in _NOISY_LOGGERS
    ]
    saved = [(log, log.level) for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    captured = io.StringIO()
    try:
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stderr(captured),
            contextlib.redirect_stdout(captured),
        ):
            warnings.simplefilter("ignore")
            yield
    except BaseException:
        sys.stderr.write(captured.getvalue())
        raise
    finally:
        for log, level in saved:
            log.setLevel(level)


__all__ = ["quiet_lightning"]
