"""``${VAR}`` expansion and path resolution in suites (docs/REFERENCE.md §8).

Relative paths are relative to the suite file's directory; a path naming an unset or empty
variable is kept unresolved (:class:`~pytest_pyimgano.spec.PathRef` with ``path=None``) so the
item can say which variable is missing, while a dataset option naming one is an error at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyimgano.errors import SuiteError
from pytest_pyimgano.spec import PathRef
from pytest_pyimgano.suite_values import check_string

_VAR = re.compile(r"\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def expand_vars(
    text: str, environ: Mapping[str, str]
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Expand ``${VAR}``.

    Returns
    -------
    tuple
        The text (references to unset or empty variables left as written), the names of unset
        variables and the names of variables set to the empty string, each in order of
        appearance.

    Raises
    ------
    ValueError
        With the bad name as its argument, for ``${...}`` that is not a variable name.
    """
    unset: list[str] = []
    empty: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if not _VAR_NAME.match(name):
            raise ValueError(name)
        value = environ.get(name)
        if not value:
            missing = unset if value is None else empty
            if name not in missing:
                missing.append(name)
            return match.group(0)
        return value

    return _VAR.sub(replace, text), tuple(unset), tuple(empty)


def resolve_path(
    value: Any,
    source: str,
    keypath: str,
    base: Path,
    environ: Mapping[str, str],
    *,
    category_placeholder: bool = False,
) -> PathRef:
    """A path key → :class:`~pytest_pyimgano.spec.PathRef`: ``${VAR}`` expanded, ``~``
    expanded, relative to ``base`` (the suite's directory), normalised. Left unresolved
    (``path=None``, with the unset/empty names) when a variable is missing; ``{category}`` is
    the only placeholder, and only with ``category_placeholder``."""
    text = check_string(value, source, keypath)
    try:
        expanded, unset, empty = expand_vars(text, environ)
    except ValueError as exc:
        raise SuiteError(
            f"{source}: {keypath}: bad variable reference ${{{exc.args[0]}}} in {text!r}; "
            "use ${NAME} with letters, digits and underscores"
        ) from None
    placeholders = set(_PLACEHOLDER.findall(_VAR.sub("", text)))
    allowed = {"category"} if category_placeholder else set()
    if placeholders - allowed:
        bad = sorted(placeholders - allowed)[0]
        hint = "only {category} is allowed here" if category_placeholder else "no placeholders"
        raise SuiteError(f"{source}: {keypath}: unknown placeholder {{{bad}}} in {text!r}; {hint}")
    if unset or empty:
        return PathRef(text, None, unset, empty)
    try:
        path = Path(expanded).expanduser()
    except RuntimeError as exc:  # ~name of an unknown user
        raise SuiteError(f"{source}: {keypath}: cannot expand {text!r}: {exc}") from None
    if not path.is_absolute():
        path = base / path
    return PathRef(text, Path(os.path.normpath(path)))


def expand_option(value: str, source: str, keypath: str, environ: Mapping[str, str]) -> str:
    """A dataset option's ``${VAR}`` expanded; an unset or empty variable is an error here."""
    try:
        text, unset, empty = expand_vars(value, environ)
    except ValueError as exc:
        raise SuiteError(
            f"{source}: {keypath}: bad variable reference ${{{exc.args[0]}}}"
        ) from None
    if unset:
        raise SuiteError(f"{source}: {keypath}: environment variable {unset[0]} is not set")
    if empty:
        raise SuiteError(
            f"{source}: {keypath}: environment variable {empty[0]} is set but empty"
        )
    return text

