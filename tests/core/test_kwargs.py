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


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("maps_on_device", "false", "maps_on_device='false': expected a boolean (true, false or "
                                    "null), got str"),
        ("maps_on_device", 0, "maps_on_device=0: expected a boolean (true, false or null), got "
                              "int"),
        ("trust_checkpoint", "false", "trust_checkpoint='false': expected a boolean (true or "
                                      "false), got str"),
        ("trust_checkpoint", None, "trust_checkpoint=None: expected a boolean (true or false), "
                                   "got NoneType"),
        ("decode_workers", "2", "decode_workers='2': expected an integer >= 0, got str"),
        ("decode_workers", True, "decode_workers=True: expected an integer >= 0, got bool"),
        ("decode_workers", -1, "decode_workers=-1: expected an integer >= 0, got int"),
    ],
)
def test_every_backend_refuses_a_wrong_type_with_one_message(tmp_path, key, value, expected):
    """One validator for the torch, onnxruntime and openvino backends: a string is never read
    as a boolean ("false" is truthy), and the message names key, value and expected type."""
    from pyimgano.models.formats import FORMATS, open_checkpoint

    for fmt in FORMATS:
        path = tmp_path / f"model{fmt.suffixes[0]}"  # never read: the options come first
        with pytest.raises(ConfigError) as info:
            open_checkpoint(path, **{key: value})
        assert str(info.value) == expected, fmt.name


def test_valid_backend_options_pass_the_validator():
    from pyimgano.models.kwargs import check_backend_options, expect_bool, expect_int

    for maps in (None, True, False):
        check_backend_options(decode_workers=0, maps_on_device=maps, trust_checkpoint=False)
    assert expect_bool("k", None, optional=True) is None
    assert expect_int("k", 3, minimum=1) == 3
    with pytest.raises(ConfigError, match="k=0: expected an integer >= 1"):
        expect_int("k", 0, minimum=1)
