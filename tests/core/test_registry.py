"""Registry (SPEC §3): names, metadata, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pyimgano.errors import ConfigError, UnknownModelError
from pyimgano.models import create_model, list_models, model_info, register_model

SPEC_ALIASES = [
    "patchcore", "padim", "stfpm", "fastflow", "efficient_ad", "reverse_distillation", "draem",
    "cflow", "csflow", "dfm", "dfkde", "ganomaly", "uflow", "supersimplenet",
]


def test_import_does_not_pull_torch_or_anomalib():
    code = (
        "import sys, json, pyimgano, pyimgano.models, pyimgano.metrics, pyimgano.datasets;"
        "pyimgano.models.list_models(); pyimgano.models.model_info('vision_padim_anomalib');"
        "import pyimgano.backends.anomalib;"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('torch', 'anomalib', 'torchvision', 'lightning'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_diff_and_merge_do_not_pull_pytest_or_torch():
    code = (
        "import sys, json, pyimgano.merge, pyimgano.cli.diff, pyimgano.summary;"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('torch', 'anomalib', 'pytest', '_pytest'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("name", SPEC_ALIASES)
def test_alias_metadata(name):
    info = model_info(f"vision_{name}_anomalib")
    assert info["metadata"]["backend"] == "anomalib"
    assert info["metadata"]["requires_checkpoint"] is True
    assert info["metadata"]["anomalib_model"] == name


def test_generic_entry():
    info = model_info("vision_anomalib_checkpoint")
    assert info["metadata"] == {"backend": "anomalib", "requires_checkpoint": True}
    assert "anomalib_model" not in info["metadata"]


def test_list_models_filters_by_tags():
    everything = list_models()
    padim_only = list_models(tags=["padim"])
    assert padim_only == ["vision_padim_anomalib"]
    assert set(list_models(tags="anomalib")) <= set(everything)
    assert everything == sorted(everything)


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError, match="vision_padim_anomalib"):
        model_info("vision_padim_anomlib")


def test_create_model_rejects_unknown_kwargs(fake_model_name):
    with pytest.raises(ConfigError, match="accepted keys: .*noise"):
        create_model(fake_model_name, bogus=1)


def test_register_twice_is_an_error(fake_model_name):
    with pytest.raises(ValueError, match="already registered"):
        register_model(fake_model_name, lambda: None)
