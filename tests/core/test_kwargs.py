"""Model kwargs handling (docs/REFERENCE.md §7): parsing, checkpoint precedence, defaults, unknown
keys."""

from __future__ import annotations

import pytest

from pyimgano.errors import ConfigError
from pyimgano.models import get_entry, parse_model_kwargs, register_model, resolve_model_kwargs
from pyimgano.models.registry import unregister_model


class Strict:
    def __init__(self, checkpoint_path=None, device="cpu", threshold=0.5):
        self.kwargs = dict(checkpoint_path=checkpoint_path, device=device, threshold=threshold)


class Loose:
    def __init__(self, checkpoint_path=None, **kwargs):
        self.kwargs = kwargs


@pytest.fixture
def entries():
    register_model("t_strict", Strict, metadata={"requires_checkpoint": False})
    register_model("t_needs_ckpt", Strict, metadata={"requires_checkpoint": True})
    register_model("t_loose", Loose)
    yield
    for name in ("t_strict", "t_needs_ckpt", "t_loose"):
        unregister_model(name)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "expected a JSON object.*list"),
        ('"x"', "expected a JSON object.*str"),
        ("{bad json", "not valid JSON"),
        ("3", "expected a JSON object.*int"),
    ],
)
def test_parse_rejects_non_objects(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_model_kwargs(text)


def test_parse_accepts_object_and_empty():
    assert parse_model_kwargs('{"k": 1, "n": null}') == {"k": 1, "n": None}
    assert parse_model_kwargs(None) == {}
    assert parse_model_kwargs("  ") == {}


def test_checkpoint_path_fills_unless_present(entries):
    entry = get_entry("t_strict")
    assert resolve_model_kwargs(entry, {}, checkpoint_path="a.pt")["checkpoint_path"] == "a.pt"
    same = resolve_model_kwargs(entry, {"checkpoint_path": "./a.pt"}, checkpoint_path="a.pt")
    assert same["checkpoint_path"] == "./a.pt"


def test_checkpoint_conflict_names_both(entries):
    with pytest.raises(ConfigError, match=r"a\.pt.*b\.pt"):
        resolve_model_kwargs(get_entry("t_strict"), {"checkpoint_path": "b.pt"},
                             checkpoint_path="a.pt")


def test_required_checkpoint(entries):
    with pytest.raises(ConfigError, match="requires a checkpoint.*--checkpoint-path"):
        resolve_model_kwargs(get_entry("t_needs_ckpt"), {})


def test_defaults_injected_only_when_accepted_and_unset(entries):
    defaults = {"device": "cuda", "contamination": 0.1, "pretrained": False}
    strict = resolve_model_kwargs(get_entry("t_strict"), {}, defaults=defaults)
    assert strict == {"device": "cuda"}
    user_set = resolve_model_kwargs(get_entry("t_strict"), {"device": "cpu"}, defaults=defaults)
    assert user_set == {"device": "cpu"}
    # **kwargs constructors do not get defaults they did not name
    assert resolve_model_kwargs(get_entry("t_loose"), {}, defaults=defaults) == {}


def test_unknown_keys_list_accepted(entries):
    with pytest.raises(ConfigError, match="'thresh'.*accepted keys: checkpoint_path, device, "
                       "threshold"):
        resolve_model_kwargs(get_entry("t_strict"), {"thresh": 1})
    assert resolve_model_kwargs(get_entry("t_loose"), {"anything": 1}) == {"anything": 1}


def test_alias_preset_cannot_be_overridden():
    entry = get_entry("vision_padim_anomalib")
    with pytest.raises(ConfigError, match="fixes anomalib_model='padim'"):
        resolve_model_kwargs(entry, {"anomalib_model": "patchcore"}, checkpoint_path="m.pt")
