"""The plugin's settings, read once per pytest run from command line and ini (docs/REFERENCE.md §8).

:class:`PluginOptions` is built in ``pytest_configure`` and kept in ``config.stash``; nothing
here imports torch (the GPU count for per-worker devices is asked for only when needed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyimgano.backends.device import parse_device
from pyimgano.errors import DeviceError
from pytest_pyimgano.spec import RunSettings

DEFAULT_REPORT_DIR = "pyimgano-reports"
#: workerinput key through which the xdist controller hands its report dir to workers.
WORKER_REPORT_DIR = "pyimgano_report_dir"

_WORKER = re.compile(r"^gw(\d+)$")


@dataclass(frozen=True)
class PluginOptions:
    """Resolved options of one pytest run.

    ``device``/``batch_size`` are the command-line values (``None`` when not given) and
    ``ini_device``/``ini_batch_size`` the ini ones: suites sit between the two in precedence.
    """

    report_dir: Path
    rootdir: Path
    device: str | None = None
    batch_size: int | None = None
    ini_device: str | None = None
    ini_batch_size: int | None = None
    strict: bool = False
    trust_checkpoints: bool = False
    plots: bool = True
    update_snapshots: bool = False
    update_new_snapshots_only: bool = False
    worker_id: str | None = None
    memory_budget: int | str | None = None
    ini_memory_budget: int | str | None = None

    @property
    def run_settings(self) -> RunSettings:
        """What suite expansion needs."""
        return RunSettings(
            device=self.device,
            batch_size=self.batch_size,
            ini_device=self.ini_device,
            ini_batch_size=self.ini_batch_size,
            trust_checkpoints=self.trust_checkpoints,
            memory_budget=self.memory_budget,
            ini_memory_budget=self.ini_memory_budget,
        )


def parse_device_option(value: Any, where: str) -> str | None:
    """``None`` for an absent value, else a validated ``auto|cpu|cuda|cuda:N``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_device(str(value))
    except DeviceError as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None


def parse_batch_size_option(value: Any, where: str) -> int | None:
    """``None`` for an absent value, else a positive integer."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):  # a typed ini (TOML) true/false is no batch size
        number = 0
    elif isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = 0
    if number < 1:
        raise pytest.UsageError(f"{where}: expected a positive integer, got {value!r}")
    return number


def parse_memory_budget_option(value: Any, where: str) -> int | str | None:
    """``None`` for an absent value, else ``"auto"`` or a size in bytes."""
    from pyimgano.errors import ConfigError
    from pyimgano.memory import parse_budget

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_budget(value, name=where)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def _ini_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def getini(config: pytest.Config, name: str) -> Any:
    """``config.getini(name)``, with a value of the wrong type (a TOML string for an int, ``4``
    for a bool, an ini ``batch_size = four``) a ``pytest.UsageError`` naming the key."""
    try:
        return config.getini(name)
    except (TypeError, ValueError, pytest.UsageError) as exc:  # pytest 9.2 raises UsageError
        raise pytest.UsageError(f"ini {name}: {exc}") from None


def resolve_report_dir(
    cli_value: str | None, ini_value: str | None, invocation_dir: Path, ini_dir: Path
) -> Path:
    """Command line (relative to the invocation dir) > ini (relative to the ini file's dir) >
    ``pyimgano-reports/`` in the invocation dir; always absolute."""
    if cli_value:
        path, base = Path(cli_value), invocation_dir
    elif ini_value:
        path, base = Path(ini_value), ini_dir
    else:
        path, base = Path(DEFAULT_REPORT_DIR), invocation_dir
    path = path.expanduser()
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def read_options(config: pytest.Config) -> PluginOptions:
    """Build :class:`PluginOptions` from ``config`` (raises ``pytest.UsageError`` on bad values)."""
    option = config.option
    workerinput = getattr(config, "workerinput", None)
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    if workerinput and workerinput.get(WORKER_REPORT_DIR):
        report_dir = Path(workerinput[WORKER_REPORT_DIR])
    else:
        report_dir = resolve_report_dir(
            option.pyimgano_report_dir,
            getini(config, "pyimgano_report_dir") or None,
            Path(config.invocation_params.dir),
            ini_dir,
        )
    return PluginOptions(
        report_dir=report_dir,
        rootdir=config.rootpath,
        device=parse_device_option(option.pyimgano_device, "--pyimgano-device"),
        batch_size=parse_batch_size_option(option.pyimgano_batch_size, "--pyimgano-batch-size"),
        ini_device=parse_device_option(getini(config, "pyimgano_device"), "ini pyimgano_device"),
        ini_batch_size=parse_batch_size_option(
            getini(config, "pyimgano_batch_size"), "ini pyimgano_batch_size"
        ),
        strict=bool(option.pyimgano_strict) or _ini_bool(getini(config, "pyimgano_strict")),
        trust_checkpoints=bool(option.pyimgano_trust_checkpoints),
        plots=not (option.pyimgano_no_plots or _ini_bool(getini(config, "pyimgano_no_plots"))),
        update_snapshots=bool(getattr(option, "update_snapshots", False)),
        update_new_snapshots_only=bool(getattr(option, "update_new_snapshots_only", False)),
        worker_id=workerinput.get("workerid") if workerinput else None,
        memory_budget=parse_memory_budget_option(
            option.pyimgano_memory_budget, "--pyimgano-memory-budget"
        ),
        ini_memory_budget=parse_memory_budget_option(
            getini(config, "pyimgano_memory_budget"), "ini pyimgano_memory_budget"
        ),
    )


# ------------------------------------------------------------------------------------------
# devices


def worker_index(worker_id: str | None) -> int | None:
    """``gw3`` → 3; ``None`` outside pytest-xdist (or for an id of another form)."""
    match = _WORKER.match(worker_id or "")
    return int(match.group(1)) if match else None


def device_for_worker(spec: str, worker_id: str | None, gpu_count: Callable[[], int]) -> str:
    """The device an item runs on: xdist worker ``gwN`` maps ``auto``/``cuda`` to
    ``cuda:(N mod count)`` when GPUs are visible; everything else is passed on unchanged.

    ``gpu_count`` is only called for ``auto``/``cuda`` on a worker, so torch is not imported
    otherwise. Without GPUs the spec stays as it is: ``auto`` falls back to the CPU and ``cuda``
    fails (it never falls back).
    """
    index = worker_index(worker_id)
    if spec not in ("auto", "cuda") or index is None:
        return spec
    count = gpu_count()
    if count < 1:
        return spec
    return f"cuda:{index % count}"

