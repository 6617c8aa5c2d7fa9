"""Error types of pyimgano.

Every error a user can cause derives from :class:`PyImganoError`; its message names the
offending file, key or value and what was expected. The CLIs turn any of them into exit code 2
with that one message on stderr.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class PyImganoError(Exception):
    """Base class of every error pyimgano raises on purpose."""


class ConfigError(PyImganoError, ValueError):
    """A bad option, model kwarg or command-line value."""


class SuiteError(ConfigError):
    """A suite YAML file that does not follow docs/REFERENCE.md §8 (collection error)."""


class UnknownModelError(PyImganoError, LookupError):
    """A model name that is not in the registry."""


class CheckpointError(PyImganoError):
    """A checkpoint that is missing, unreadable, untrusted or of the wrong format."""


class DatasetError(PyImganoError):
    """A dataset root, category, image or mask that cannot be used as asked."""


class DeviceError(PyImganoError):
    """A device string that is unknown or not available, or a device that failed (out of memory,
    a CUDA error) while pyimgano used it."""


class ModelOutputError(PyImganoError):
    """A model output that cannot be read as a finite score and a 2-D anomaly map."""


class MetricInputError(PyImganoError, ValueError):
    """Arrays handed to a metric that do not fit its contract (shape, length, finiteness)."""


class ReportError(PyImganoError):
    """A report file that cannot be read or does not follow the report schema."""


class GateFailure(PyImganoError, AssertionError):
    """A metric missed its threshold or moved beyond its snapshot tolerance.

    ``rows`` holds one dict per metric checked (metric, value, bound, snapshot, delta,
    tolerance, passed, reason) so that callers can render the docs/REFERENCE.md §8 failure table.
    """

    def __init__(self, message: str, rows: list[dict] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []


class PyImganoWarning(UserWarning):
    """Base of the warnings pyimgano issues (name them in ``-W`` / ``filterwarnings``)."""


class BatchDependenceWarning(PyImganoWarning):
    """A model's batched outputs differed from per-image inference; it ran one image at a time."""


def first_line(exc: BaseException, *, limit: int | None = None, empty: str | None = None) -> str:
    """The first line of ``str(exc)`` (surrounding whitespace stripped), for a one-line message.

    ``limit`` cuts it to that many characters. An exception with an empty message gives
    ``empty``, or its type name when ``empty`` is None. The one "first line of an exception"
    rule of pyimgano's messages (the graph runtimes' nested messages have their own reader,
    :func:`pyimgano.backends.exported.runtime_message`).
    """
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else (type(exc).__name__ if empty is None else empty)
    return text if limit is None else text[:limit]


@contextmanager
def device_errors(device: str, stage: str, *, batch_size: int | None = None) -> Iterator[None]:
    """Turn a device failure during ``stage`` into one :class:`DeviceError` line.

    The one translation of device failures, wherever pyimgano uses a device: the forward pass,
    map alignment, the pixel metrics' sort on the maps' device, the parity maps' comparison.
    An out-of-memory error (``torch.OutOfMemoryError``, or a message saying "out of memory")
    names ``device``, ``stage``, the batch size when one applies and what to try: a smaller
    batch where the work scales with it (``batch_size`` given), else ``--device cpu`` (maps and
    metrics then stay on the host). A CUDA error (``torch.AcceleratorError``, "CUDA error: …")
    says to check the GPU or run on the CPU. Any other exception propagates unchanged.
    """
    try:
        yield
    except DeviceError:
        raise
    except Exception as exc:
        text = first_line(exc)
        kind = type(exc).__name__
        at = "" if batch_size is None else f" at batch size {batch_size}"
        if kind == "OutOfMemoryError" or "out of memory" in text.lower():
            if batch_size is not None:
                smaller = max(batch_size // 2, 1)
                advice = (
                    f"try a smaller batch (--batch-size {smaller} / --pyimgano-batch-size "
                    f"{smaller}), or another device (--device cpu / --pyimgano-device cpu)"
                )
            else:
                advice = (
                    "try --device cpu / --pyimgano-device cpu (maps and metrics then stay on "
                    "the host), or free memory on the device (other processes)"
                )
            raise DeviceError(
                f"{device}: out of memory in {stage}{at} ({text[:200]}); {advice}"
            ) from None
        if kind == "AcceleratorError" or text.startswith("CUDA error"):
            raise DeviceError(
                f"{device}: the device failed during {stage}{at} ({text[:200]}); check the GPU "
                "(nvidia-smi) or run on cpu"
            ) from None
        raise
