"""Catalogue: reference pins, backend options of the wrong type, and the options a format has
no use for (docs/REFERENCE.md §3, §7). Crafted files only: every refusal here happens before a
checkpoint is loaded, so neither anomalib nor a trained model is needed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tests.bad_inputs.catalogue import CASES, covers
from tests.bad_inputs.helpers import cli_args, expect_cli, expect_raise, item_failure, run_argv

PADIM = "vision_padim_anomalib"
WRONG = "0" * 64


@pytest.fixture(scope="module", autouse=True)
def _runner_modules_imported(base_data: Path) -> None:
    """One good run of the fake model first: the ``child`` fixture drops the modules first
    imported while it is active, and numpy's extensions (under scipy.ndimage) cannot be
    imported a second time in one process."""
    run_argv(cli_args(base_data))


@pytest.fixture
def crafted(tmp_path: Path) -> dict[str, Path]:
    """A checkpoint and a reference file; refused before their bytes would be parsed."""
    files = {}
    for name in ("model.ckpt", "ref.ckpt"):
        files[name] = tmp_path / name
        files[name].write_bytes(b"PK\x03\x04" + name.encode())
    return files


def both(case_id: str, argv: list, **values: object) -> str:
    expect_raise(case_id, lambda: run_argv(argv), **values)
    return expect_cli(case_id, argv, **values)


def suite_text(root: Path, checkpoint: Path, extra: str = "") -> str:
    return (
        "pyimgano_suite: 1\n"
        f"datasets:\n  syn: {{format: mvtec, root: '{root}'}}\n"
        "models:\n"
        f"  - id: padim\n    model: {PADIM}\n    dataset: syn\n    categories: [tiles]\n"
        f"    checkpoint: '{checkpoint}'\n    device: cpu\n{extra}"
    )


@covers("checkpoint.reference_pin_mismatch")
def test_reference_pin_mismatch(base_data, crafted, child):
    ref = crafted["ref.ckpt"]
    values = {"ckpt": ref, "actual": hashlib.sha256(ref.read_bytes()).hexdigest(),
              "pinned": WRONG}
    argv = [*cli_args(base_data, model=PADIM), "--checkpoint-path", crafted["model.ckpt"],
            "--reference-checkpoint", ref, "--reference-sha256", WRONG]
    both("checkpoint.reference_pin_mismatch", argv, **values)
    text = item_failure(child, suite_text(base_data, crafted["model.ckpt"],
                                          f"    reference: '{ref}'\n"
                                          f"    reference_sha256: '{WRONG}'\n"))
    CASES["checkpoint.reference_pin_mismatch"].check(text, **values)


@covers("kwargs.wrong_type")
def test_backend_option_of_the_wrong_type(base_data, crafted, child):
    case = CASES["kwargs.wrong_type"]
    checkpoint = ["--checkpoint-path", crafted["model.ckpt"]]
    for text, values in (
        ('{"maps_on_device": "false"}', {"key": "maps_on_device", "value": "'false'",
                                         "expected": "a boolean (true, false or null)",
                                         "type": "str"}),
        ('{"decode_workers": "2"}', {"key": "decode_workers", "value": "'2'",
                                     "expected": "an integer >= 0", "type": "str"}),
    ):
        argv = [*cli_args(base_data, model=PADIM), *checkpoint, "--model-kwargs", text]
        both(case.id, argv, **values)
    failure = item_failure(child, suite_text(base_data, crafted["model.ckpt"],
                                             "    model_kwargs: {maps_on_device: 'false'}\n"))
    case.check(failure, key="maps_on_device", value="'false'",
               expected="a boolean (true, false or null)", type="str")


def _onnx_graph(path: Path) -> Path:
    """A tiny graph with anomalib's export contract: input [B, 3, H, W] -> pred_score [B, 1]
    (the mean of the image)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    nodes = [helper.make_node("ReduceMean", ["input"], ["per_channel"], axes=[2, 3], keepdims=0),
             helper.make_node("ReduceMean", ["per_channel"], ["pred_score"], axes=[1],
                              keepdims=1)]
    graph = helper.make_graph(
        nodes, "mean",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["B", 3, "H", "W"])],
        [helper.make_tensor_value_info("pred_score", TensorProto.FLOAT, ["B", 1])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


@covers("checkpoint.trust_without_pickle")
def test_trust_is_accepted_without_effect_on_an_onnx_graph(tmp_path, base_data):
    pytest.importorskip("onnxruntime")
    from pyimgano.errors import CheckpointError
    from pyimgano.models.formats import open_checkpoint

    path = _onnx_graph(tmp_path / "model.onnx")
    images = sorted((base_data / "tiles" / "test").rglob("*.png"))
    plain = open_checkpoint(path, device="cpu", anomalib_model="padim")
    cache = tmp_path / "cache"
    told = open_checkpoint(path, device="cpu", anomalib_model="padim", trust_checkpoint=True)
    assert told.describe() == plain.describe()
    scores = [[p.score for b in d.predict(images, batch_size=2) for p in b.predictions]
              for d in (plain, told)]
    assert scores[0] == scores[1]
    from PIL import Image

    first = np.asarray(Image.open(images[0]).convert("RGB"), np.float32) / 255.0
    assert scores[0][0] == pytest.approx(float(first.mean()), abs=1e-6)  # the graph ran
    assert not cache.exists()
    # trust never replaces a pin: a wrong one is still refused
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        open_checkpoint(path, device="cpu", trust_checkpoint=True, checkpoint_sha256=WRONG)


@covers("kwargs.cache_dir_without_cache")
def test_a_cache_dir_for_a_format_without_a_cache(tmp_path, base_data, crafted, child):
    case = CASES["kwargs.cache_dir_without_cache"]
    cache = tmp_path / "cache"
    kwargs = ["--model-kwargs", f'{{"cache_dir": "{cache}"}}']
    ckpt = crafted["model.ckpt"]
    argv = [*cli_args(base_data, model=PADIM), "--checkpoint-path", ckpt, *kwargs]
    both(case.id, argv, ckpt=ckpt, fmt="lightning")
    failure = item_failure(child, suite_text(base_data, ckpt,
                                             f"    model_kwargs: {{cache_dir: '{cache}'}}\n"))
    case.check(failure, ckpt=ckpt, fmt="lightning")
    pytest.importorskip("onnxruntime")
    graph = _onnx_graph(tmp_path / "model.onnx")
    argv = [*cli_args(base_data, model=PADIM), "--checkpoint-path", graph, *kwargs]
    both(case.id, argv, ckpt=graph, fmt="onnx")
    assert not cache.exists()
