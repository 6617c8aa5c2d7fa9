"""Error types of pyimgano.

Every error a user can cause derives from :class:`PyImganoError`; its message names the
offending file, key or value and what was expected. The CLIs turn any of them into exit code 2
with that one message on stderr.
"""

from __future__ import annotations


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
    """A device string that is unknown or not available on this machine."""


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
