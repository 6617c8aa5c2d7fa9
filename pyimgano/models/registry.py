"""Model registry: names to lazily imported factories with metadata (docs/REFERENCE.md §3).

Factories are given as ``"module:attribute"`` strings so that registering and listing models
never imports torch or anomalib; the module is imported when a model is created or its
constructor signature is inspected.

This module knows no model: the built-in entries (:mod:`pyimgano.models.anomalib_entries`)
register themselves when :mod:`pyimgano.models` is imported, which happens before any import of
this module completes (it is a submodule of that package), so a lower layer never imports a
higher one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pyimgano.errors import UnknownModelError


@dataclass(frozen=True)
class ModelEntry:
    """One registered model.

    Attributes
    ----------
    name : str
    factory : str or callable
        ``"package.module:attr"`` (imported lazily) or a callable returning a Detector.
    tags : frozenset of str
    metadata : mapping
        At least ``backend`` (e.g. ``"anomalib"``) and ``requires_checkpoint`` (bool); alias
        entries also carry ``anomalib_model``.
    preset : mapping
        Keyword arguments the entry always passes to the factory (e.g. the anomalib model
        name of an alias); the user cannot override them.
    description : str
    """

    name: str
    factory: str | Callable[..., Any]
    tags: frozenset[str] = frozenset()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    preset: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def requires_checkpoint(self) -> bool:
        return bool(self.metadata.get("requires_checkpoint", False))

    def resolve_factory(self) -> Callable[..., Any]:
        """Import and return the factory callable."""
        if callable(self.factory):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute)


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(
    name: str,
    factory: str | Callable[..., Any],
    *,
    tags: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    preset: Mapping[str, Any] | None = None,
    description: str = "",
    overwrite: bool = False,
) -> ModelEntry:
    """Add a model to the registry and return its entry.

    Raises ``ValueError`` when ``name`` is taken and ``overwrite`` is false.
    """
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"model {name!r} is already registered")
    entry = ModelEntry(
        name=name,
        factory=factory,
        tags=frozenset(tags),
        metadata=MappingProxyType(dict(metadata or {})),
        preset=MappingProxyType(dict(preset or {})),
        description=description,
    )
    _REGISTRY[name] = entry
    return entry


def unregister_model(name: str) -> None:
    """Remove ``name`` from the registry (tests register temporary fakes)."""
    _REGISTRY.pop(name, None)


def get_entry(name: str) -> ModelEntry:
    """Return the entry of ``name``; :class:`UnknownModelError` lists close names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}{hint} (pyimgano.models.list_models() lists them)"
        ) from None


def list_models(tags: Iterable[str] | str | None = None) -> list[str]:
    """Sorted names of registered models, optionally only those carrying every tag in ``tags``."""
    wanted = {tags} if isinstance(tags, str) else set(tags or ())
    return sorted(name for name, entry in _REGISTRY.items() if wanted <= entry.tags)


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively (model_info returns JSON data the caller may change)."""
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    return value


def model_info(name: str) -> dict[str, Any]:
    """A plain dict describing ``name``.

    Returns
    -------
    dict
        ``name``, ``tags``, ``metadata`` (``backend``, ``requires_checkpoint``; anomalib aliases
        add ``anomalib_model``, ``anomalib_class``, ``verified`` — the checkpoint formats the
        zoo test verified —, ``batch_independent`` (bool, or None for unknown) and
        ``limitations``), ``description``, ``factory``. Sequences are lists.
    """
    entry = get_entry(name)
    factory = entry.factory if isinstance(entry.factory, str) else repr(entry.factory)
    return {
        "name": entry.name,
        "tags": sorted(entry.tags),
        "metadata": _plain(dict(entry.metadata)),
        "description": entry.description,
        "factory": factory,
    }


def describe_models(tags: Iterable[str] | str | None = None) -> list[dict[str, Any]]:
    """One row per registered model, sorted by name: what ``--list-models`` prints.

    Parameters
    ----------
    tags : str or iterable of str, optional
        Only models carrying every tag (as :func:`list_models`).

    Returns
    -------
    list of dict
        Keys ``name``, ``backend``, ``formats`` (checkpoint suffixes the model loads, from its
        metadata; ``[]`` where the entry names none), ``verified`` (the formats pyimgano's zoo
        test verified against the backend's own inference; ``[]`` = not verified),
        ``batch_independent`` (True, False, or None = unknown), ``limitations`` (list of str)
        and ``description``. Values are JSON data.
    """
    rows = []
    for name in list_models(tags):
        metadata = _REGISTRY[name].metadata
        rows.append(
            {
                "name": name,
                "backend": metadata.get("backend"),
                "formats": _plain(metadata.get("formats", ())),
                "verified": _plain(metadata.get("verified", ())),
                "batch_independent": metadata.get("batch_independent"),
                "limitations": _plain(metadata.get("limitations", ())),
                "description": _REGISTRY[name].description,
            }
        )
    return rows


