"""Checkpoints across anomalib releases (docs/UPGRADES.md).

Only one anomalib is installed in a test run, so cross-release files are *crafted* from the
session's real checkpoints: a Lightning .ckpt rewritten into the anomalib < 2.7 layout (the
pre-processor pickled into ``hyper_parameters``, as anomalib 2.6.2 writes it), pickles naming a
class or module the installed anomalib lacks, and an "older anomalib" simulated by removing the
hook that reads the 2.7 layout. Each must load correctly or fail with one clear line naming the
format, the installed release and (where recorded) the release that wrote the file.

``test_real_other_release`` loads the session's checkpoints under a second, real anomalib in a
subprocess; it runs only when ``PYIMGANO_OTHER_ANOMALIB`` names an overlay directory
(``pip install --no-deps --target DIR anomalib==2.6.2``; scripts/upgrade-diff.sh makes them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pyimgano.errors import CheckpointError

pytestmark = pytest.mark.anomalib


def _create(path, **kwargs):
    from pyimgano.backends.anomalib import VisionAnomalibCheckpoint

    return VisionAnomalibCheckpoint(path, device="cpu", **kwargs)


def _error(path, **kwargs) -> str:
    """The one-line CheckpointError message of loading ``path`` (no chained traceback)."""
    with pytest.raises(CheckpointError) as info:
        _create(path, **kwargs)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message and "Traceback" not in message
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or info.value.__suppress_context__
    return message


def _installed() -> str:
    from importlib.metadata import version

    return version("anomalib")


def _lightning() -> str:
    from importlib.metadata import version

    return version("lightning")


def _rewrite_pickle(source: Path, target: Path, old: bytes, new: bytes) -> None:
    """Copy a torch zip checkpoint, replacing ``old`` (which must occur once) in its data.pkl."""
    with zipfile.ZipFile(source) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    (pkl,) = [name for name in entries if name.endswith("/data.pkl")]
    assert entries[pkl].count(old) == 1, old
    entries[pkl] = entries[pkl].replace(old, new)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, body in entries.items():
            archive.writestr(name, body)


def _write_manifest(path: Path, anomalib_version: str) -> None:
    """A pyimgano training manifest beside ``path`` that names its sha256."""
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = {"params": {}, "pt_sha256": digest, "ckpt_sha256": digest,
                "written_with": {"anomalib": anomalib_version}}
    (path.parent / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def _pre_2_7_ckpt(trained, target: Path) -> Path:
    """``trained``'s .ckpt in the anomalib < 2.7 layout, as anomalib 2.6.2's Trainer writes it.

    2.6.2's ``save_hyperparameters()`` pickles the constructor's ``pre_processor`` object (and
    ``post_processor``/``evaluator``/``visualizer`` flags) into ``hyper_parameters`` and writes no
    ``anomalib_*_config`` entries. The pre-processor is taken from the same fit's .pt.
    """
    import torch

    checkpoint = torch.load(trained.ckpt_path, map_location="cpu", weights_only=False)
    module = torch.load(trained.pt_path, map_location="cpu", weights_only=False)["model"]
    for key in ("anomalib_components_enabled", "anomalib_pre_processor_config",
                "anomalib_post_processor_config"):
        del checkpoint[key]
    checkpoint["hyper_parameters"] = {
        "pre_processor": module.pre_processor,
        "post_processor": True,
        "evaluator": True,
        "visualizer": True,
        **checkpoint["hyper_parameters"],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, target)
    return target


def _scores(detector, images) -> list[float]:
    return [p.score for b in detector.predict(images, batch_size=8) for p in b.predictions]


# -- what the file says about its origin ---------------------------------------------------


def test_training_manifest_records_the_writing_release(padim):
    from importlib.metadata import version

    from pyimgano.backends.checkpoint import read_checkpoint, written_by

    manifest = json.loads(padim.manifest_path.read_text())
    assert manifest["written_with"] == {
        "anomalib": _installed(), "lightning": version("lightning"), "torch": version("torch")
    }
    for path in (padim.pt_path, padim.ckpt_path):
        assert written_by(read_checkpoint(path)) == f"anomalib {_installed()}"
    detector = _create(padim.ckpt_path, anomalib_model="padim")
    assert detector.describe().extra["checkpoint_written_by"] == f"anomalib {_installed()}"


def test_a_manifest_counts_only_for_the_files_it_names(padim, tmp_path):
    from pyimgano.backends.checkpoint import read_checkpoint, written_by

    copy = tmp_path / "model.pt"
    shutil.copy(padim.pt_path, copy)
    assert written_by(read_checkpoint(copy)) is None  # no manifest
    manifest = json.loads(padim.manifest_path.read_text())
    manifest["pt_sha256"] = manifest["ckpt_sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert written_by(read_checkpoint(copy)) is None  # a manifest of other files
    (tmp_path / "manifest.json").write_text("{not json")
    assert written_by(read_checkpoint(copy)) is None


def test_contents_tell_the_checkpoint_layout(padim, tmp_path):
    from importlib.metadata import version

    from pyimgano.backends.checkpoint import (
        COMPONENT_CONFIG_LAYOUT,
        EXPORTED_MODEL,
        LIGHTNING_CHECKPOINT,
        PICKLED_COMPONENTS_LAYOUT,
        read_checkpoint,
        sniff_contents,
    )

    current = sniff_contents(read_checkpoint(padim.ckpt_path))
    assert current.kind == LIGHTNING_CHECKPOINT
    assert current.layout == COMPONENT_CONFIG_LAYOUT
    assert current.lightning_version == version("lightning")
    assert "anomalib >= 2.7 layout" in current.describe(".ckpt")

    old = sniff_contents(read_checkpoint(_pre_2_7_ckpt(padim, tmp_path / "old" / "model.ckpt")))
    assert (old.kind, old.layout) == (LIGHTNING_CHECKPOINT, PICKLED_COMPONENTS_LAYOUT)
    assert "anomalib < 2.7 layout" in old.describe(".ckpt")

    exported = sniff_contents(read_checkpoint(padim.pt_path))
    assert (exported.kind, exported.layout) == (EXPORTED_MODEL, None)
    assert exported.describe(".pt").startswith("exported torch model (.pt")


# -- a newer layout under an older anomalib -----------------------------------------------


@pytest.fixture
def older_anomalib(monkeypatch):
    """Make the installed anomalib look like 2.6.2: no reader of the 2.7 .ckpt layout."""
    from anomalib.pre_processing import PreProcessor

    import pyimgano.environment

    real = pyimgano.environment.package_version
    monkeypatch.delattr(PreProcessor, "load_checkpoint_config")
    monkeypatch.setattr(
        pyimgano.environment,
        "package_version",
        lambda name: "2.6.2" if name == "anomalib" else real(name),
    )


@pytest.mark.parametrize("model", ["padim", "patchcore"])
@pytest.mark.parametrize("trust", [False, True])
def test_2_7_ckpt_is_refused_by_an_older_anomalib(trained, model, trust, older_anomalib,
                                                  monkeypatch):
    import anomalib.models

    model_class = getattr(anomalib.models, {"padim": "Padim", "patchcore": "Patchcore"}[model])

    def never(*args, **kwargs):
        raise AssertionError("the checkpoint must be refused before anything is unpickled")

    monkeypatch.setattr(model_class, "load_from_checkpoint", never)
    path = trained[model].ckpt_path
    message = _error(path, anomalib_model=model, trust_checkpoint=trust)
    layout = "in the anomalib >= 2.7 layout"
    assert f"Lightning checkpoint (.ckpt, Lightning {_lightning()}) {layout}" in message
    assert f"written by anomalib {_installed()}" in message  # from the training manifest
    assert "the installed anomalib 2.6.2 cannot read that layout" in message
    assert "exported model (.pt)" in message


def test_2_7_ckpt_without_manifest_still_names_the_layout(padim, tmp_path, older_anomalib):
    path = tmp_path / "model.ckpt"
    shutil.copy(padim.ckpt_path, path)
    message = _error(path, anomalib_model="padim")
    assert "written by anomalib >= 2.7" in message and "anomalib 2.6.2" in message


def test_pt_still_loads_under_the_older_anomalib(padim, older_anomalib, test_images):
    """The exported model carries its pre-processor object: the layout check does not apply."""
    detector = _create(padim.pt_path, checkpoint_sha256=padim.pt_sha256)
    assert len(_scores(detector, test_images[:2])) == 2


# -- an older layout under the installed anomalib ------------------------------------------


def test_pre_2_7_ckpt_needs_trust_and_says_why(padim, tmp_path):
    path = _pre_2_7_ckpt(padim, tmp_path / "model.ckpt")
    message = _error(path, anomalib_model="padim")
    assert "anomalib < 2.7 layout" in message and "pickle the pre-processor object" in message
    assert "--checkpoint-sha256" in message


@pytest.mark.parametrize("model", ["padim", "patchcore"])
def test_pre_2_7_ckpt_loads_with_its_own_pre_processor(trained, model, tmp_path, test_images):
    path = _pre_2_7_ckpt(trained[model], tmp_path / "model.ckpt")
    old = _create(path, anomalib_model=model, trust_checkpoint=True)
    exported = _create(trained[model].pt_path, checkpoint_sha256=trained[model].pt_sha256)
    assert str(old.module.pre_processor.transform) == str(exported.module.pre_processor.transform)
    assert _scores(old, test_images) == _scores(exported, test_images)


# -- pickles naming code the installed anomalib lacks --------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (b"lightning_model\nPadim\n", b"lightning_model\nPadimV3\n", "AttributeError"),
        (b"image.padim.lightning_model\n", b"image.padim_v3.lightning_model\n",
         "ModuleNotFoundError"),
    ],
    ids=["missing-class", "missing-module"],
)
def test_pt_naming_missing_code(padim, tmp_path, old, new, error):
    path = tmp_path / "model.pt"
    _rewrite_pickle(padim.pt_path, path, old, new)
    message = _error(path, trust_checkpoint=True)
    assert "cannot load this exported torch model (.pt" in message
    assert f"with the installed anomalib {_installed()}" in message
    assert error in message and "another anomalib version" in message
    assert "the file does not record which release wrote it" in message
    assert "re-export it" in message

    _write_manifest(path, "9.0.0")
    message = _error(path, trust_checkpoint=True)
    assert "it was written by anomalib 9.0.0 (manifest.json)" in message


def test_pt_the_installed_release_cannot_read_back_is_not_called_a_version_mismatch(
    padim, tmp_path
):
    """The manifest says the installed anomalib wrote it (general_ad's export bug in 2.7.0)."""
    path = tmp_path / "model.pt"
    _rewrite_pickle(padim.pt_path, path, b"lightning_model\nPadim\n",
                    b"lightning_model\nPadimV3\n")
    _write_manifest(path, _installed())
    message = _error(path, trust_checkpoint=True)
    assert "another anomalib version" not in message and "probably" not in message
    assert "although the installed release wrote it (manifest.json)" in message
    assert "not a version mismatch" in message and "an anomalib bug" in message
    assert "the Lightning .ckpt of the same training run" in message


class _Hooked:
    """Pickles a bound method of itself (as anomalib 2.7's GeneralAD export does)."""

    def __init__(self):
        self.hook = self._helper

    def _helper(self):
        return None


def test_pt_whose_pickled_state_cannot_be_rebuilt_says_what_happened(tmp_path):
    """general_ad's .pt: "'Attention' object has no attribute '_forward'" — not a release issue."""
    import torch

    source = tmp_path / "source.pt"
    torch.save({"model": _Hooked()}, source)
    path = tmp_path / "model.pt"
    _rewrite_pickle(source, path, b"_helper", b"_helpex")
    _write_manifest(path, _installed())
    message = _error(path, trust_checkpoint=True)
    assert "rebuilding a pickled _Hooked object failed" in message
    assert "'_Hooked' object has no attribute '_helpex'" in message
    assert "the installed class does not have (the installed release wrote it" in message
    assert "evaluate the Lightning .ckpt of the same training run instead" in message
    assert "another anomalib version" not in message and "cannot be imported" not in message


def test_the_manifest_name_is_the_one_the_trainer_writes(padim):
    from pyimgano.backends.checkpoint import MANIFEST_NAME
    from pyimgano.demo.training import MANIFEST_NAME as TRAINER_MANIFEST

    assert MANIFEST_NAME == TRAINER_MANIFEST == padim.manifest_path.name


def test_pre_2_7_ckpt_naming_a_missing_class(padim, tmp_path):
    legacy = _pre_2_7_ckpt(padim, tmp_path / "legacy.ckpt")
    path = tmp_path / "model.ckpt"
    _rewrite_pickle(legacy, path, b"\nPreProcessor\n", b"\nPreProcessorV0\n")
    message = _error(path, anomalib_model="padim", trust_checkpoint=True)
    layout = "in the anomalib < 2.7 layout"
    assert f"Lightning checkpoint (.ckpt, Lightning {_lightning()}) {layout}" in message
    assert f"installed anomalib {_installed()}" in message and "AttributeError" in message


# -- a real second release ------------------------------------------------------------------

_OTHER_RELEASE_SCRIPT = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
from importlib.metadata import version
from pathlib import Path
from pyimgano.backends.anomalib import VisionAnomalibCheckpoint
from pyimgano.errors import CheckpointError
images = [Path(p) for p in json.loads(sys.argv[1])]
out = {"anomalib": version("anomalib")}
for model, files in json.loads(sys.argv[2]).items():
    for fmt, path in files.items():
        try:
            d = VisionAnomalibCheckpoint(path, anomalib_model=model, device="cpu",
                                         trust_checkpoint=True)
            scores = [p.score for b in d.predict(images, batch_size=8) for p in b.predictions]
            out[f"{model}.{fmt}"] = {"scores": scores}
        except CheckpointError as exc:
            out[f"{model}.{fmt}"] = {"error": str(exc)}
print(json.dumps(out))
"""


def test_real_other_release(trained, test_images):
    """The session's checkpoints under a second anomalib (an overlay), in a subprocess."""
    overlay = os.environ.get("PYIMGANO_OTHER_ANOMALIB")
    if not overlay:
        pytest.skip("set PYIMGANO_OTHER_ANOMALIB to an overlay dir (pip install --no-deps "
                    "--target DIR anomalib==2.6.2) to load these checkpoints under that release")
    files = {m: {"pt": str(t.pt_path), "ckpt": str(t.ckpt_path)} for m, t in trained.items()}
    env = {**os.environ, "PYTHONPATH": os.path.abspath(overlay)}
    result = subprocess.run(
        [sys.executable, "-c", _OTHER_RELEASE_SCRIPT,
         json.dumps([str(p) for p in test_images]), json.dumps(files)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    other = json.loads(result.stdout.strip().splitlines()[-1])
    assert other["anomalib"] != _installed(), "the overlay did not take precedence"
    older = tuple(int(x) for x in other["anomalib"].split(".")[:2]) < (2, 7)
    for model, trained_model in trained.items():
        here = _scores(_create(trained_model.pt_path, trust_checkpoint=True), test_images)
        # The exported model carries its whole module: same scores under the other release.
        assert other[f"{model}.pt"] == {"scores": here}
        ckpt = other[f"{model}.ckpt"]
        if older:
            assert "cannot read that layout" in ckpt["error"]
            assert f"installed anomalib {other['anomalib']}" in ckpt["error"]
        else:
            assert ckpt == {"scores": here}
