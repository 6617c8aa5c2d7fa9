"""Reading a suite file's YAML (docs/REFERENCE.md §8); no validation, no pytest.

:func:`looks_like_suite` is the cheap check at collection; :func:`load_yaml_with_lines` loads
with ``yaml.safe_load`` semantics (duplicate keys and object-building tags refused, every
failure a :class:`~pyimgano.errors.SuiteError` naming the file and position) and also returns
the YAML line of every key path, which items and warnings point at.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pyimgano.errors import SuiteError
from pytest_pyimgano.spec import SUITE_SUFFIXES

_SNIFF_BYTES = 64 * 1024
_SNIFF = re.compile(rb"""(?m)^(?:\{\s*)?["']?pyimgano_suite["']?\s*:""")
_BOM = b"\xef\xbb\xbf"


def looks_like_suite(path: Path) -> bool:
    """Cheap check used at collection: does a top-level ``pyimgano_suite`` key appear?

    Reads at most 64 KiB and parses nothing, so other YAML files cost one small read. A UTF-8
    byte order mark at the start is ignored (editors on Windows write one).
    """
    if path.suffix not in SUITE_SUFFIXES:
        return False
    try:
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError:
        return False
    return _SNIFF.search(head.removeprefix(_BOM)) is not None


def _safe_loader() -> type:
    import yaml

    class _Loader(yaml.SafeLoader):
        """``yaml.SafeLoader`` that refuses duplicate mapping keys (a silent typo otherwise)."""

    def construct_mapping(loader, node, deep=False):  # type: ignore[no-untyped-def]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # unhashable key: the base class reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found duplicate key {key!r}", key_node.start_mark,
                )
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    _Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return _Loader


def load_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load`` semantics; tags that would build Python objects are a SuiteError."""
    return load_yaml_with_lines(text, source)[0]


def load_yaml_with_lines(text: str, source: str) -> tuple[Any, dict[str, int]]:
    """Like :func:`load_yaml`, plus the 1-based line of every key path of the document.

    Key paths are spelled as in error messages: ``defaults.snapshot``, ``models[1]``,
    ``models[1].thresholds.image_auroc``; a mapping key gives the line of the key, a list
    item the line where the item starts. A leading byte order mark is dropped.
    """
    import yaml

    text = text.removeprefix("\ufeff")
    try:
        loader = _safe_loader()(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
        return data, _node_lines(node)
    except yaml.constructor.ConstructorError as exc:
        problem = exc.problem or str(exc)
        where = f" (line {exc.problem_mark.line + 1})" if exc.problem_mark else ""
        if "tag" in problem:
            raise SuiteError(
                f"{source}{where}: YAML tag refused: {problem}; suites are plain data and "
                "YAML tags that construct Python objects are not allowed"
            ) from None
        raise SuiteError(f"{source}{where}: {problem}") from None
    except yaml.MarkedYAMLError as exc:
        # One line naming the file and position (the default text says "<unicode string>").
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = "; ".join(p for p in (exc.context, exc.problem) if p) or type(exc).__name__
        raise SuiteError(f"{source}: not valid YAML: {what}{where}") from None
    except yaml.reader.ReaderError as exc:  # a control character, bad encoding
        raise SuiteError(
            f"{source}: not valid YAML: {exc.reason} (character {exc.character!r} at "
            f"position {exc.position})"
        ) from None
    except yaml.YAMLError as exc:
        text = " ".join(str(exc).split())
        raise SuiteError(f"{source}: not valid YAML: {text}") from None
    except RecursionError:
        raise SuiteError(
            f"{source}: YAML value cannot be read: nested too deeply for the YAML parser"
        ) from None
    except (ValueError, OverflowError, TypeError) as exc:
        # Values PyYAML parses but cannot build: 2001-02-30, an int of over 4300 digits, ...
        raise SuiteError(f"{source}: YAML value cannot be read: {exc}") from None


def _node_lines(root: Any) -> dict[str, int]:
    """Key path → 1-based line for a composed YAML node tree (iterative: deep trees are fine)."""
    import yaml

    lines: dict[str, int] = {}
    stack: list[tuple[Any, str]] = [(root, "")] if root is not None else []
    seen: set[int] = set()
    while stack:
        node, keypath = stack.pop()
        if id(node) in seen:  # an alias: already walked
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                here = f"{keypath}.{key_node.value}" if keypath else str(key_node.value)
                lines.setdefault(here, key_node.start_mark.line + 1)
                stack.append((value_node, here))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                here = f"{keypath}[{index}]"
                lines.setdefault(here, item.start_mark.line + 1)
                stack.append((item, here))
    return lines

