"""Build anomalib models from a Lightning ``.ckpt`` without the network (docs/REFERENCE.md §3).

``load_from_checkpoint`` first constructs the model class from the checkpoint's
``hyper_parameters`` and only then loads the ``state_dict`` over it (strictly: every parameter
and buffer of the module must be in it). Many anomalib constructors fetch pretrained weights on
the way — timm backbones (``timm.create_model(..., pretrained=True)``: STFPM, U-Flow, the DINOv2
encoders of AnomalyDINO, Dinomaly, INP-Former, FoundAD, SuperADD), torchvision weights (CS-Flow's
EfficientNet-B5, CFA, UniNet) — which the state dict then overwrites. Offline that is a failure
after a minute of hub retries; air-gapped release runners are common.

:func:`offline_construction` is the context the backend builds the model in:

- pretrained-weight loading of timm (``timm.models._builder.load_pretrained``) and torchvision
  (``WeightsEnum.get_state_dict``) is skipped: the layers keep their random initialisation
  until the checkpoint's state dict (strict) restores every weight;
- every other way to fetch a file (``torch.hub`` downloads, ``urllib.request``,
  ``huggingface_hub.hf_hub_download``, timm's hub helpers, anomalib's ``download_and_extract``)
  raises :class:`NetworkRequested` naming what was asked for, at once — never a hang or a
  retry loop. The backend turns it into one :class:`~pyimgano.errors.CheckpointError` naming
  the model, the file, and that the exported ``.pt`` of the same run can be evaluated instead.

The patches are process-wide for the duration of the ``with`` block (model construction takes
no other thread's downloads into account); they are undone on exit, also on error. torch,
timm, torchvision and anomalib are imported inside the context only.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any


class NetworkRequested(RuntimeError):
    """Raised by the stubs of :func:`offline_construction` when a constructor wants a file.

    Attributes
    ----------
    what : str
        The function that was called and the URL / file / repository it asked for.
    """

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _SkippedWeights(dict):
    """What the torchvision weights stub returns: an empty mapping ``load_state_dict`` ignores."""


def _describe_call(function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``function(first argument)`` with a URL / file / repo id when one was given."""
    shown = [repr(a) for a in args[:2] if isinstance(a, str | bytes) or hasattr(a, "url")]
    for key in ("url", "repo_id", "filename", "model_id"):
        if key in kwargs:
            shown.append(f"{key}={kwargs[key]!r}")
    for value in args[:2]:  # anomalib's DownloadInfo(name, url, hashsum)
        url = getattr(value, "url", None)
        if isinstance(url, str):
            shown = [f"{getattr(value, 'name', 'file')!r} from {url}"]
    return f"{function}({', '.join(shown)})"


def _refusing(function: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkRequested(_describe_call(function, args, kwargs))

    return refuse


#: ``(module, attribute)`` pairs that fetch files; each is replaced by a stub that raises.
_DOWNLOADERS: tuple[tuple[str, str], ...] = (
    ("torch.hub", "load_state_dict_from_url"),
    ("torch.hub", "download_url_to_file"),
    ("torch.hub", "load"),
    ("urllib.request", "urlopen"),
    ("urllib.request", "urlretrieve"),
    ("timm.models._hub", "download_cached_file"),
    ("timm.models._hub", "load_state_dict_from_hf"),
    ("timm.models._builder", "download_cached_file"),
    ("timm.models._builder", "load_state_dict_from_url"),
    ("timm.models._builder", "load_state_dict_from_hf"),
    ("huggingface_hub", "hf_hub_download"),
    ("huggingface_hub", "snapshot_download"),
    ("huggingface_hub.file_download", "hf_hub_download"),
    ("anomalib.data.utils", "download_and_extract"),
    ("anomalib.data.utils.download", "download_and_extract"),
)

#: Names under which anomalib's model modules import a downloader (``from x import f``).
_IMPORTED_NAMES = ("download_and_extract", "urlretrieve", "hf_hub_download")


def _patch(stack: ExitStack, owner: Any, attribute: str, value: Any) -> None:
    original = getattr(owner, attribute)
    setattr(owner, attribute, value)
    stack.callback(setattr, owner, attribute, original)


@contextmanager
def offline_construction() -> Iterator[list[str]]:
    """Build anomalib models with pretrained-weight downloads skipped and all others refused.

    Yields
    ------
    list of str
        Filled with a line per skipped pretrained-weight load (``"timm resnet18"``, ...).

    Raises
    ------
    NetworkRequested
        From inside the block, when a constructor asks for any other remote file.
    """
    import torch
    import torchvision.models._api as torchvision_api

    skipped: list[str] = []
    with ExitStack() as stack:
        for module_name, attribute in _DOWNLOADERS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:  # an optional package that is not installed fetches nothing
                continue
            if hasattr(module, attribute):
                _patch(stack, module, attribute, _refusing(f"{module_name}.{attribute}"))
        for module_name, module in list(sys.modules.items()):
            if not module_name.startswith("anomalib.models.") or module is None:
                continue
            for attribute in _IMPORTED_NAMES:
                if callable(getattr(module, attribute, None)):
                    _patch(stack, module, attribute, _refusing(f"{module_name}.{attribute}"))

        try:
            timm_builder = importlib.import_module("timm.models._builder")
        except ImportError:
            timm_builder = None
        if timm_builder is not None:

            def skip_timm(model: Any, *args: Any, **kwargs: Any) -> None:
                skipped.append(f"timm {type(model).__name__}")

            _patch(stack, timm_builder, "load_pretrained", skip_timm)

        def skip_torchvision(weights: Any, *args: Any, **kwargs: Any) -> _SkippedWeights:
            skipped.append(f"torchvision {weights!r}")
            return _SkippedWeights()

        _patch(stack, torchvision_api.WeightsEnum, "get_state_dict", skip_torchvision)
        original_load = torch.nn.Module.load_state_dict

        def load_state_dict(self: Any, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(state_dict, _SkippedWeights):
                from torch.nn.modules.module import _IncompatibleKeys

                return _IncompatibleKeys([], [])
            return original_load(self, state_dict, *args, **kwargs)

        _patch(stack, torch.nn.Module, "load_state_dict", load_state_dict)
        yield skipped


__all__ = ["NetworkRequested", "offline_construction"]
