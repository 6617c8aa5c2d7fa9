"""A suite's run options (``defaults:`` and each model entry; docs/REFERENCE.md §8) →
:class:`~pytest_pyimgano.spec.Options`: pixel, batch size, device, precision, FPR limits,
protocol, calibration and memory budget, each checked by the library's own parser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyimgano.errors import DeviceError, SuiteError
from pytest_pyimgano.spec import Options, frozen
from pytest_pyimgano.suite_keys import PRECISIONS
from pytest_pyimgano.suite_values import (
    as_suite_error,
    check_bool,
    check_number,
    check_positive_int,
)


def parse_options(entry: Mapping[str, Any], source: str, keypath: str) -> Options:
    """The option keys of ``entry`` (the others are left to the caller); ``None`` where unset."""
    from pyimgano.backends.device import parse_device

    pixel = batch_size = device = aupro_limit = precision = None
    aupro_limits = auspro_limits = aupimo_bounds = fpr_limits = None
    if entry.get("pixel") is not None:
        pixel = check_bool(entry["pixel"], source, f"{keypath}.pixel")
    if entry.get("batch_size") is not None:
        batch_size = check_positive_int(entry["batch_size"], source, f"{keypath}.batch_size")
    if entry.get("device") is not None:
        with as_suite_error(f"{source}: {keypath}.device", (DeviceError,)):
            device = parse_device(entry["device"])
    if entry.get("aupro_limit") is not None:
        aupro_limit = _fraction(entry["aupro_limit"], source, f"{keypath}.aupro_limit")
    if entry.get("precision") is not None:
        precision = entry["precision"]
        if precision not in PRECISIONS:
            raise SuiteError(
                f"{source}: {keypath}.precision: unknown precision {precision!r}; expected one "
                f"of {', '.join(PRECISIONS)}"
            )
    if entry.get("aupro_limits") is not None:
        aupro_limits = _limits(entry["aupro_limits"], source, f"{keypath}.aupro_limits")
    if entry.get("auspro_limits") is not None:
        auspro_limits = _limits(entry["auspro_limits"], source, f"{keypath}.auspro_limits")
    if entry.get("aupimo_fpr_bounds") is not None:
        aupimo_bounds = _fpr_bounds(
            entry["aupimo_fpr_bounds"], source, f"{keypath}.aupimo_fpr_bounds"
        )
    if entry.get("fpr_limits") is not None:
        fpr_limits = _limits(entry["fpr_limits"], source, f"{keypath}.fpr_limits")
    protocol = None
    if entry.get("protocol") is not None:
        from pyimgano.protocols import check_protocol

        with as_suite_error(source):
            protocol = check_protocol(entry["protocol"], f"{keypath}.protocol")
    calibration = None
    if entry.get("calibration") is not None:
        calibration = _calibration(entry["calibration"], source, f"{keypath}.calibration")
    memory_budget = None
    if entry.get("memory_budget") is not None:
        from pyimgano.memory import parse_budget

        with as_suite_error(source):
            memory_budget = parse_budget(entry["memory_budget"], name=f"{keypath}.memory_budget")
    return Options(pixel, batch_size, device, aupro_limit, precision, aupro_limits,
                   auspro_limits, aupimo_bounds, fpr_limits, protocol, calibration,
                   memory_budget)


def _calibration(value: Any, source: str, keypath: str) -> Mapping[str, Any]:
    """``{rule: mean_std[, k]}`` or ``{rule: quantile[, q]}`` (mvtec_ad2's seg_f1 threshold)."""
    from pyimgano.protocols.mvtec_ad2 import parse_calibration

    with as_suite_error(source):
        rule = parse_calibration(value, where=keypath)
    return frozen(rule.as_dict())


def _fraction(value: Any, source: str, keypath: str) -> float:
    """A number in (0, 1] (an FPR limit)."""
    number = check_number(value, source, keypath)
    if not 0.0 < number <= 1.0:
        raise SuiteError(f"{source}: {keypath}: must be in (0, 1], got {value!r}")
    return number


def _limits(value: Any, source: str, keypath: str) -> tuple[float, ...]:
    """A non-empty list of distinct FPR limits in (0, 1], kept in the order given."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise SuiteError(
            f"{source}: {keypath}: expected a non-empty list of numbers in (0, 1], got {value!r}"
        )
    limits: list[float] = []
    for index, item in enumerate(value):
        limit = _fraction(item, source, f"{keypath}[{index}]")
        if limit in limits:
            raise SuiteError(f"{source}: {keypath}: limit {item!r} is listed twice")
        limits.append(limit)
    return tuple(limits)


def _fpr_bounds(value: Any, source: str, keypath: str) -> tuple[float, float]:
    """``[low, high]`` with ``0 < low < high <= 1``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise SuiteError(
            f"{source}: {keypath}: expected [low, high], two FPRs with 0 < low < high <= 1, "
            f"got {value!r}"
        )
    low = _fraction(value[0], source, f"{keypath}[0]")
    high = _fraction(value[1], source, f"{keypath}[1]")
    if not low < high:
        raise SuiteError(f"{source}: {keypath}: low bound {value[0]!r} must be below the high "
                         f"bound {value[1]!r}")
    return low, high

