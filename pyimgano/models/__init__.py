"""Model registry API (docs/REFERENCE.md §3). Importing this module never imports torch or
anomalib."""

from __future__ import annotations

from typing import Any

from pyimgano.models import anomalib_entries as _builtin_entries  # noqa: F401 - registers them
from pyimgano.models.base import Batch, Detector, ModelDescription
from pyimgano.models.kwargs import parse_model_kwargs, resolve_model_kwargs, validate_model_kwargs
from pyimgano.models.registry import (
    ModelEntry,
    describe_models,
    get_entry,
    list_models,
    model_info,
    register_model,
    unregister_model,
)


def create_model(name: str, **kwargs: Any) -> Detector:
    """Create the registered model ``name`` with ``kwargs``.

    Raises :class:`~pyimgano.errors.UnknownModelError` for an unknown name and
    :class:`~pyimgano.errors.ConfigError` for keys the model does not accept.
    """
    entry = get_entry(name)
    validate_model_kwargs(entry, kwargs)
    factory = entry.resolve_factory()
    return factory(**{**kwargs, **entry.preset})


__all__ = [
    "Batch",
    "Detector",
    "ModelDescription",
    "ModelEntry",
    "create_model",
    "describe_models",
    "get_entry",
    "list_models",
    "model_info",
    "parse_model_kwargs",
    "register_model",
    "resolve_model_kwargs",
    "unregister_model",
]
