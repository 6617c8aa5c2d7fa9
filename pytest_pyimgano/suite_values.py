"""Typed checks of suite values (docs/REFERENCE.md §8): each returns the checked value or raises a
:class:`~pyimgano.errors.SuiteError` naming the file (``source``), the key path and what was
expected. Pure functions; the registry is imported only to check a model name.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from pyimgano.errors import ConfigError, SuiteError, UnknownModelError
from pytest_pyimgano.spec import ALL, frozen

#: Model ids, dataset names and category names: a letter or digit, then letters, digits, ``_.-``.
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _where(source: str, keypath: str) -> str:
    """``source: keypath``, or ``source`` alone at the top level (empty key path)."""
    return f"{source}: {keypath}" if keypath else source


@contextlib.contextmanager
def as_suite_error(
    prefix: str = "", errors: tuple[type[Exception], ...] = (ConfigError,)
) -> Iterator[None]:
    """Re-raise ``errors`` from the library's own parsers as a :class:`SuiteError`.

    The message is ``"<prefix>: <error>"``, or the error's own text when ``prefix`` is empty
    (for parsers that were given the file and key path themselves); no chained traceback.
    """
    try:
        yield
    except errors as exc:
        raise SuiteError(f"{prefix}: {exc}" if prefix else str(exc)) from None


def check_mapping(value: Any, source: str, keypath: str) -> Mapping[str, Any]:
    """A mapping with string keys."""
    if not isinstance(value, Mapping):
        raise SuiteError(
            f"{_where(source, keypath)}: expected a mapping, got {type(value).__name__} "
            f"{value!r}"
        )
    for key in value:
        if not isinstance(key, str):
            raise SuiteError(f"{_where(source, keypath)}: keys must be strings, got {key!r}")
    return value


def check_keys(
    value: Mapping[str, Any], allowed: Sequence[str], source: str, keypath: str
) -> None:
    """No key outside ``allowed`` (the error names the first unknown one and lists them)."""
    unknown = [key for key in value if key not in allowed]
    if unknown:
        key = unknown[0]
        here = f"{keypath}.{key}" if keypath else key
        raise SuiteError(
            f"{source}: {here}: unknown key {key!r}; allowed keys: {', '.join(allowed)}"
        )


def require(value: Mapping[str, Any], key: str, source: str, keypath: str) -> Any:
    """``value[key]``, which must be present and not null."""
    if key not in value or value[key] is None:
        raise SuiteError(f"{_where(source, keypath)}: missing required key {key!r}")
    return value[key]


def check_string(value: Any, source: str, keypath: str) -> str:
    """A string that is not empty or blank."""
    if not isinstance(value, str) or not value.strip():
        raise SuiteError(f"{source}: {keypath}: expected a non-empty string, got {value!r}")
    return value


def check_bool(value: Any, source: str, keypath: str) -> bool:
    """``true`` or ``false`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise SuiteError(f"{source}: {keypath}: expected true or false, got {value!r}")
    return value


def check_positive_int(value: Any, source: str, keypath: str) -> int:
    """An integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SuiteError(f"{source}: {keypath}: expected a positive integer, got {value!r}")
    return value


def check_number(value: Any, source: str, keypath: str) -> float:
    """A finite int or float (not a bool), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SuiteError(f"{source}: {keypath}: expected a finite number, got {value!r}")
    return float(value)


def check_sha256(value: Any, source: str, keypath: str) -> str:
    """64 hex digits, returned in lower case."""
    from pyimgano.backends.checkpoint import _HEX64  # the one sha256 form (lower-case hex)

    if not isinstance(value, str) or not _HEX64.match(value.lower()):
        raise SuiteError(
            f"{source}: {keypath}: expected a sha256 (64 hex digits), got {value!r}"
        )
    return value.lower()


def check_pins(value: Any, source: str, keypath: str) -> str | Mapping[str, str]:
    """One sha256 for every category, or a ``{category: sha256}`` map."""
    if isinstance(value, Mapping):
        return frozen(check_pin_map(value, source, keypath))
    return check_sha256(value, source, keypath)


def check_pin_map(value: Any, source: str, keypath: str) -> dict[str, str]:
    """A ``{category: sha256}`` map (pins, dataset fingerprints)."""
    pins = check_mapping(value, source, keypath)
    return {c: check_sha256(p, source, f"{keypath}.{c}") for c, p in pins.items()}


def check_categories(value: Any, source: str, keypath: str) -> tuple[str, ...] | None:
    """``all`` (→ ``None``) or a non-empty list of distinct category names."""
    if value == ALL:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise SuiteError(
            f"{source}: {keypath}: expected 'all' or a non-empty list of categories, "
            f"got {value!r}"
        )
    seen: list[str] = []
    for index, category in enumerate(value):
        name = check_string(category, source, f"{keypath}[{index}]")
        if not ID_PATTERN.match(name) or name == ALL:
            raise SuiteError(f"{source}: {keypath}[{index}]: invalid category name {name!r}")
        if name in seen:
            raise SuiteError(f"{source}: {keypath}: category {name!r} is listed twice")
        seen.append(name)
    return tuple(seen)


def check_model_name(name: str, source: str, keypath: str) -> None:
    """``name`` is a registered model (the registry's error, with file and key path)."""
    from pyimgano.models import get_entry

    with as_suite_error(f"{source}: {keypath}", (UnknownModelError,)):
        get_entry(name)


def check_selected(
    keyed: Mapping[str, Any], selected: Iterable[str], source: str, keypath: str
) -> None:
    """SuiteError for a key of ``keyed`` (``per_category``, pins) naming an unselected category."""
    chosen = list(selected)
    for category in keyed:
        if category not in chosen:
            raise SuiteError(
                f"{source}: {keypath}.{category}: category {category!r} is not selected; "
                f"selected categories: {', '.join(chosen) or '(none)'}"
            )

