"""Model keyword arguments: parsing, checkpoint precedence, defaults and validation
(docs/REFERENCE.md §7).

The CLI and the plugin build a model's kwargs through :func:`resolve_model_kwargs`, so both
apply the same rules:

- ``--checkpoint-path`` (or a suite's ``checkpoint``) fills ``checkpoint_path`` unless the user's
  kwargs already hold it; both given and different is an error naming both.
- a model whose registry metadata says ``requires_checkpoint`` needs one.
- defaults (``device``, ``contamination``, ``pretrained``, ...) are injected only when the
  constructor names them as parameters and the user has not set them.
- unknown user keys for a constructor without ``**kwargs`` are an error listing the accepted keys.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyimgano.errors import ConfigError
from pyimgano.models.registry import ModelEntry

#: What a model kwargs value may be (they are recorded in strict-JSON reports).
JSON_DATA = "strings, finite numbers, booleans, null, lists and mappings (JSON data)"
_MAX_VALUES = 100_000


def _clip(shown: str, limit: int = 80) -> str:
    """``shown`` cut to about ``limit`` characters (messages stay one readable line)."""
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}... ({len(shown)} chars)"


def _shorten(text: str) -> str:
    return _clip(repr(text))


def _not_allowed(where: str, what: str) -> ConfigError:
    return ConfigError(f"{where}: {what} is not allowed in model kwargs; use {JSON_DATA}")


def parse_model_kwargs(text: str | None, *, source: str = "--model-kwargs") -> dict[str, Any]:
    """Parse a JSON object string into a dict; ``None`` or empty gives ``{}``.

    Raises :class:`ConfigError` naming ``source`` when ``text`` is not valid JSON or not an
    object, or holds ``NaN``/``Infinity`` or a number that overflows a float (reports are strict
    JSON, so such a value could not be recorded).
    """
    if text is None or not text.strip():
        return {}

    def refuse_constant(name: str) -> Any:
        raise _not_allowed(source, name)

    def finite_float(literal: str) -> float:
        number = float(literal)
        if not math.isfinite(number):
            raise _not_allowed(source, f"{literal} (overflows to {number})")
        return number

    expected = "expected a JSON object like '{\"key\": value}'"
    try:
        value = json.loads(text, parse_constant=refuse_constant, parse_float=finite_float)
    except ConfigError:
        raise
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source}: not valid JSON ({exc.msg} at position {exc.pos}); {expected}, got "
            f"{_shorten(text)}"
        ) from None
    except (ValueError, RecursionError) as exc:  # an int of > 4300 digits; deep nesting
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ConfigError(
            f"{source}: not valid JSON ({detail}); {expected}, got {_shorten(text)}"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {expected}, got {type(value).__name__} {_shorten(text)}")
    return value


def check_json_data(value: Any, where: str) -> None:
    """Raise :class:`ConfigError` unless ``value`` is JSON data (see :data:`JSON_DATA`).

    For kwargs that did not come from JSON (a suite's YAML ``model_kwargs``): NaN/infinite
    floats, dates, bytes, sets, non-string keys and self-containing values are refused, so that
    the report can record them. ``where`` names the value (``"suite.yaml: models[0]..."``).
    """
    on_path: set[int] = set()
    seen = 0

    def visit(item: Any, here: str) -> None:
        nonlocal seen
        seen += 1
        if seen > _MAX_VALUES:
            raise ConfigError(f"{where}: more than {_MAX_VALUES} values; model kwargs are small")
        if isinstance(item, float) and not math.isfinite(item):
            raise _not_allowed(here, repr(item))
        if item is None or isinstance(item, (str, bool, int, float)):
            return
        if not isinstance(item, (list, tuple, Mapping)):
            raise _not_allowed(here, f"{type(item).__name__} {_clip(repr(item))}")
        if id(item) in on_path:
            raise _not_allowed(here, "a value that contains itself")
        on_path.add(id(item))
        if isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise _not_allowed(here, f"the non-string key {_clip(repr(key))}")
                visit(child, f"{here}.{key}")
        else:
            for index, child in enumerate(item):
                visit(child, f"{here}[{index}]")
        on_path.discard(id(item))

    try:
        visit(value, where)
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply for model kwargs") from None


def expect_bool(key: str, value: Any, *, optional: bool = False) -> bool | None:
    """``value`` when it is a boolean (or None when ``optional``); else :class:`ConfigError`.

    A string is never read as a boolean (``"false"`` would be truthy): the message names the
    key, the value and the expected type.
    """
    if isinstance(value, bool) or (optional and value is None):
        return value
    expected = "true, false or null" if optional else "true or false"
    raise ConfigError(
        f"{key}={_clip(repr(value))}: expected a boolean ({expected}), got "
        f"{type(value).__name__}"
    )


def expect_int(key: str, value: Any, *, minimum: int = 0) -> int:
    """``value`` when it is an integer >= ``minimum`` (not a boolean); else :class:`ConfigError`
    naming the key, the value and the expected type."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"{key}={_clip(repr(value))}: expected an integer >= {minimum}, got "
            f"{type(value).__name__}"
        )
    return value


def check_backend_options(
    *, decode_workers: Any, maps_on_device: Any, trust_checkpoint: Any
) -> None:
    """The keyword arguments every checkpoint backend takes (torch, onnxruntime, openvino),
    checked by one rule: ``decode_workers`` an integer >= 0, ``maps_on_device`` a boolean or
    None, ``trust_checkpoint`` a boolean. Raises :class:`ConfigError` (see :func:`expect_bool`,
    :func:`expect_int`)."""
    expect_int("decode_workers", decode_workers, minimum=0)
    expect_bool("maps_on_device", maps_on_device, optional=True)
    expect_bool("trust_checkpoint", trust_checkpoint)


def constructor_parameters(entry: ModelEntry) -> tuple[list[str], bool]:
    """Names the entry's factory accepts as keywords, and whether it takes ``**kwargs``.

    Preset keys are excluded: the entry fixes them.
    """
    factory = entry.resolve_factory()
    target = factory.__init__ if inspect.isclass(factory) else factory
    signature = inspect.signature(target)
    names: list[str] = []
    var_keyword = False
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = True
        elif parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ) and parameter.name not in ("self", "cls"):
            names.append(parameter.name)
    return [n for n in names if n not in entry.preset], var_keyword


def keywords_for_checkpoint(entry: ModelEntry, checkpoint_path: Any) -> list[str]:
    """The keys defaults may be injected under for this checkpoint.

    A factory that picks its class by the checkpoint's format (the anomalib entries'
    ``open_checkpoint``) says which keys that class takes (``keywords_for``), so a default
    such as the plugin's ``cache_dir`` reaches only a backend that uses it; any other factory:
    :func:`constructor_parameters`. Preset keys are excluded.
    """
    factory = entry.resolve_factory()
    keywords_for = getattr(factory, "keywords_for", None)
    if not callable(keywords_for):
        return constructor_parameters(entry)[0]
    return [k for k in keywords_for(checkpoint_path) if k not in entry.preset]


def _same_path(a: Any, b: Any) -> bool:
    try:
        return os.path.normpath(os.fspath(a)) == os.path.normpath(os.fspath(b))
    except TypeError:
        return a == b


def validate_model_kwargs(entry: ModelEntry, kwargs: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for keys the factory cannot take or presets it fixes."""
    for key in kwargs:
        if key in entry.preset and kwargs[key] != entry.preset[key]:
            raise ConfigError(
                f"model {entry.name!r} fixes {key}={entry.preset[key]!r}; got {key}="
                f"{kwargs[key]!r} (use the generic model to choose it)"
            )
    accepted, var_keyword = constructor_parameters(entry)
    if var_keyword:
        return
    unknown = sorted(k for k in kwargs if k not in accepted and k not in entry.preset)
    if unknown:
        raise ConfigError(
            f"model {entry.name!r} does not accept {', '.join(map(repr, unknown))}; "
            f"accepted keys: {', '.join(accepted) or '(none)'}"
        )


def resolve_model_kwargs(
    entry: ModelEntry,
    user_kwargs: Mapping[str, Any],
    *,
    checkpoint_path: str | os.PathLike[str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Combine the user's kwargs, the checkpoint path and defaults per docs/REFERENCE.md §7.

    Returns a new dict; raises :class:`ConfigError` on a checkpoint conflict, a missing required
    checkpoint, or unknown keys.
    """
    kwargs = dict(user_kwargs)
    if checkpoint_path is not None:
        held = kwargs.get("checkpoint_path")
        if held is None:
            kwargs["checkpoint_path"] = os.fspath(checkpoint_path)
        elif not _same_path(held, checkpoint_path):
            raise ConfigError(
                f"two different checkpoints given: --checkpoint-path {os.fspath(checkpoint_path)!r}"
                f" and model kwargs checkpoint_path {held!r}; give one"
            )
    if entry.requires_checkpoint and not kwargs.get("checkpoint_path"):
        raise ConfigError(
            f"model {entry.name!r} requires a checkpoint: pass --checkpoint-path FILE "
            "(or checkpoint_path in the model kwargs / the suite's checkpoint key)"
        )
    validate_model_kwargs(entry, kwargs)
    accepted = keywords_for_checkpoint(entry, kwargs.get("checkpoint_path"))
    for key, value in (defaults or {}).items():
        if key in accepted and key not in kwargs:
            kwargs[key] = value
    if isinstance(kwargs.get("checkpoint_path"), Path):
        kwargs["checkpoint_path"] = os.fspath(kwargs["checkpoint_path"])
    return kwargs
