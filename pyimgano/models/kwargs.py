"""Model keyword arguments: parsing, checkpoint precedence, defaults and validation (SPEC §7).

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
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyimgano.errors import ConfigError
from pyimgano.models.registry import ModelEntry


def parse_model_kwargs(text: str | None, *, source: str = "--model-kwargs") -> dict[str, Any]:
    """Parse a JSON object string into a dict; ``None`` or empty gives ``{}``.

    Raises :class:`ConfigError` naming ``source`` when ``text`` is not valid JSON or not an object.
    """
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source}: not valid JSON ({exc.msg} at position {exc.pos}): {text!r}"
        ) from None
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: expected a JSON object like '{{\"key\": value}}', got "
            f"{type(value).__name__} {text!r}"
        )
    return value


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
    """Combine the user's kwargs, the checkpoint path and defaults per SPEC §7.

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
    accepted, _ = constructor_parameters(entry)
    for key, value in (defaults or {}).items():
        if key in accepted and key not in kwargs:
            kwargs[key] = value
    if isinstance(kwargs.get("checkpoint_path"), Path):
        kwargs["checkpoint_path"] = os.fspath(kwargs["checkpoint_path"])
    return kwargs
