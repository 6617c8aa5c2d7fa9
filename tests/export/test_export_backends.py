"""ONNX and OpenVINO artifacts as checkpoints (docs/REFERENCE.md §3), on real exports of a trained
PaDiM.

The artifacts are written in this session by anomalib's ``Engine().export`` (see
``tests/export/_artifacts.py``). References, none of them pyimgano code:

- a plain onnxruntime session fed by the test itself (anomalib's ``read_image`` decoding);
- anomalib's ``OpenVINOInferencer.predict`` per image;
- the torch ``.pt`` of the same training run through anomalib's module forward.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pyimgano.errors import CheckpointError, ConfigError, DeviceError
from pyimgano.models import create_model
from tests.anomalib._helpers import run_predictions
from tests.export._artifacts import ports_onnx

pytestmark = pytest.mark.anomalib

MODEL = "vision_padim_anomalib"


def _create(path, **kwargs):
    kwargs.setdefault("device", "cpu")
    return create_model(MODEL, checkpoint_path=path, **kwargs)


def _scores(predictions, n):
    return np.array([predictions[i].score for i in range(n)])


def _maps(predictions, n):
    return np.stack([np.asarray(predictions[i].anomaly_map) for i in range(n)])


def _anomalib_image(path):
    from anomalib.data.utils import read_image

    return read_image(path, as_tensor=True).numpy()


@pytest.fixture(scope="module")
def torch_reference(padim, test_images):
    """Scores and maps of the .pt through anomalib's module forward, one image at a time."""
    import torch

    module = torch.load(padim.pt_path, weights_only=False, map_location="cpu")["model"].eval()
    scores, maps = [], []
    with torch.inference_mode():
        for path in test_images:
            out = module(torch.from_numpy(_anomalib_image(path))[None])
            scores.append(float(out.pred_score.reshape(())))
            maps.append(out.anomaly_map.reshape(out.anomaly_map.shape[-2:]).numpy())
    return np.array(scores), np.stack(maps)


# -- against the runtimes' own references ------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 7])
def test_onnx_equals_a_plain_onnxruntime_session(exported, test_images, batch_size):
    import onnxruntime as ort

    session = ort.InferenceSession(str(exported["onnx"]), providers=["CPUExecutionProvider"])
    want_scores, want_maps = [], []
    for path in test_images:
        score, amap = session.run(["pred_score", "anomaly_map"],
                                  {"input": _anomalib_image(path)[None]})
        want_scores.append(float(score.reshape(())))
        want_maps.append(amap.reshape(amap.shape[-2:]))
    found = run_predictions(_create(exported["onnx"]), test_images, batch_size)
    n = len(test_images)
    np.testing.assert_allclose(_scores(found, n), want_scores, rtol=0, atol=1e-6)
    np.testing.assert_allclose(_maps(found, n), np.stack(want_maps), rtol=0, atol=1e-5)
    assert all(found[i].pred_label in (0, 1) for i in range(n))


@pytest.mark.parametrize("kind", ["openvino", "openvino_fp16", "openvino_int8"])
def test_openvino_equals_anomalib_openvino_inferencer(exported, test_images, kind, tmp_path,
                                                      monkeypatch):
    if kind not in exported:
        pytest.skip("INT8 weight compression needs nncf (not installed)")
    from anomalib.deploy import OpenVINOInferencer

    monkeypatch.chdir(tmp_path)  # the inferencer writes openvino_cache/ into the CWD
    inferencer = OpenVINOInferencer(exported[kind], device="CPU",
                                    config={"INFERENCE_PRECISION_HINT": "f32"})
    want = [inferencer.predict(path) for path in test_images]
    found = run_predictions(_create(exported[kind]), test_images, 4)
    n = len(test_images)
    # OpenVINOInferencer decodes with read_image(as_tensor=False): float64 / 255 then float32,
    # which may differ from the tensor decoding by one float32 ulp per pixel
    np.testing.assert_allclose(
        _scores(found, n), [float(np.asarray(w.pred_score).reshape(())) for w in want],
        rtol=0, atol=2e-5)
    np.testing.assert_allclose(
        _maps(found, n), np.stack([np.asarray(w.anomaly_map).reshape(_maps(found, 1).shape[1:])
                                   for w in want]), rtol=0, atol=2e-4)
    assert [found[i].pred_label for i in range(n)] == [
        int(np.asarray(w.pred_label).reshape(())) for w in want]


@pytest.mark.parametrize("kind", ["onnx", "onnx_fixed", "openvino"])
def test_f32_artifacts_equal_the_torch_model(exported, test_images, torch_reference, kind):
    """FP32 exports score as the .pt does; the fixed-size graph gets images resized as the
    graph's own export transform would (96 px images, 64 px model)."""
    scores, maps = torch_reference
    detector = _create(exported[kind])
    found = run_predictions(detector, test_images, 8)
    n = len(test_images)
    np.testing.assert_allclose(_scores(found, n), scores, rtol=0, atol=1e-5)
    np.testing.assert_allclose(_maps(found, n), maps, rtol=0, atol=1e-4)
    description = detector.describe()
    if kind == "onnx_fixed":
        assert "64x64" in description.preprocessing
        assert "no antialiasing" in description.preprocessing
    else:
        assert description.preprocessing is None


def test_fp16_and_int8_weights_move_scores_a_little(exported, test_images, torch_reference):
    scores, _ = torch_reference
    n = len(test_images)
    fp16 = _create(exported["openvino_fp16"])
    delta = np.abs(_scores(run_predictions(fp16, test_images, 8), n) - scores).max()
    assert 0 < delta < 5e-3
    assert "float16" in fp16.describe().extra["weight_types"]
    if "openvino_int8" in exported:
        int8 = _create(exported["openvino_int8"])
        delta8 = np.abs(_scores(run_predictions(int8, test_images, 8), n) - scores).max()
        assert 0 < delta8 < 5e-2
        assert set(int8.describe().extra["weight_types"]) & {"int8", "uint8"}


# -- the description: runtime, precision, provenance ---------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind, files, runtime, where", [
    ("onnx", ("model.onnx", "model.onnx.data"), "onnxruntime", "CPUExecutionProvider"),
    ("openvino", ("model.bin", "model.xml"), "openvino", "CPU"),
])
def test_description_names_runtime_precision_and_every_file(exported, kind, files, runtime,
                                                             where):
    from importlib.metadata import version

    description = _create(exported[kind]).describe()
    folder = exported[kind].parent
    assert description.artifact_files == {name: _sha256(folder / name) for name in files}
    assert description.runtime == runtime
    assert description.runtime_version == version(runtime)
    assert description.execution_device == where
    assert description.precision == "f32"
    assert description.device == "cpu"
    assert description.checkpoint == os.fspath(exported[kind])
    if shutil.which("sha256sum"):  # the documented recipe for the combined pin
        listing = subprocess.run(["sha256sum", *files], cwd=folder, check=True,
                                 capture_output=True).stdout
        assert description.checkpoint_sha256 == hashlib.sha256(listing).hexdigest()


def test_pin_on_the_combined_sha256(exported):
    pin = _create(exported["openvino"]).describe().checkpoint_sha256
    assert _create(exported["openvino"], checkpoint_sha256=pin).describe().checkpoint_sha256 == pin
    with pytest.raises(CheckpointError, match="sha256 mismatch.*model.bin [0-9a-f]{64}"):
        _create(exported["openvino"], checkpoint_sha256="0" * 64)


def test_precision_is_explicit(exported, test_images):
    with pytest.raises(ConfigError, match="onnxruntime runs model.onnx at the precision it was "
                                          "exported in"):
        _create(exported["onnx"], precision="bf16")
    with pytest.raises(ConfigError, match="precision='f64'"):
        _create(exported["openvino"], precision="f64")
    # OpenVINO bf16: honoured and recorded where the CPU runs bf16, refused where it would
    # silently run f32
    f32 = run_predictions(_create(exported["openvino"]), test_images[:6], 6)
    try:
        bf16 = _create(exported["openvino"], precision="bf16")
    except ConfigError as exc:
        assert "would run model.xml at f32 on this CPU" in str(exc)
    else:
        assert bf16.describe().precision == "bf16"
        moved = _scores(run_predictions(bf16, test_images[:6], 6), 6) - _scores(f32, 6)
        assert np.abs(moved).max() > 0


def test_torch_backend_bf16_autocast_is_recorded_and_visible(padim, test_images):
    kwargs = {"checkpoint_sha256": padim.pt_sha256}
    f32 = _create(padim.pt_path, **kwargs)
    bf16 = _create(padim.pt_path, precision="bf16", **kwargs)
    assert (f32.describe().precision, bf16.describe().precision) == ("f32", "bf16")
    assert bf16.describe().runtime == "torch"
    a = _scores(run_predictions(f32, test_images[:6], 6), 6)
    b = _scores(run_predictions(bf16, test_images[:6], 6), 6)
    assert 0 < np.abs(a - b).max() < 0.2
    found = run_predictions(bf16, test_images[:2], 2)
    assert found[0].anomaly_map.dtype == np.float32


def test_openvino_cache_only_where_asked(exported, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    _create(exported["openvino"])
    assert list(work.iterdir()) == []
    cache = tmp_path / "cache"
    detector = _create(exported["openvino"], cache_dir=cache)
    assert list(work.iterdir()) == []
    assert any(cache.iterdir())
    assert detector.describe().precision == "f32"


def test_devices(exported):
    with pytest.raises(DeviceError, match="OpenVINO runs on the CPU here"):
        _create(exported["openvino"], device="cuda")
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(DeviceError, match="no CUDAExecutionProvider"):
            _create(exported["onnx"], device="cuda")
    assert _create(exported["onnx"], device="auto").describe().execution_device in (
        "CPUExecutionProvider", "CUDAExecutionProvider:0")


# -- one decoding for two models (export parity) -----------------------------------------------


def test_artifact_and_reference_infer_the_same_decoded_batches(exported, padim, test_images):
    from pyimgano.decoding import decoded_batches

    artifact = _create(exported["onnx_fixed"])
    reference = _create(padim.pt_path, checkpoint_sha256=padim.pt_sha256)
    seen = []
    for batch in decoded_batches(test_images, 6, 2):
        a, r = artifact.infer(batch), reference.infer(batch)
        assert a.indices == r.indices == batch.indices
        for pa, pr in zip(a.predictions, r.predictions, strict=True):
            assert pa.score == pytest.approx(pr.score, abs=1e-5)
        seen += batch.indices
    assert sorted(seen) == list(range(len(test_images)))


def test_evaluate_an_onnx_artifact_with_pixel_metrics(exported, anomalib_data):
    from pyimgano.datasets import load_dataset
    from pyimgano.evaluation import evaluate
    from tests.trained import CATEGORY

    dataset = load_dataset("mvtec", anomalib_data, CATEGORY)
    torch_eval = evaluate(_create(exported["openvino"]), dataset, pixel=True, batch_size=8)
    onnx_eval = evaluate(_create(exported["onnx"]), dataset, pixel=True, batch_size=8)
    for name in ("image_auroc", "pixel_auroc", "aupro"):
        assert onnx_eval.report.metrics[name] is not None
        assert onnx_eval.report.metrics[name] == pytest.approx(
            torch_eval.report.metrics[name], abs=1e-4)


# -- bad artifacts: one named error each -------------------------------------------------------


def _copy(artifact: Path, into: Path) -> Path:
    into.mkdir()
    for file in artifact.parent.iterdir():
        shutil.copy(file, into / file.name)
    return into / artifact.name


def test_missing_onnx_data(exported, tmp_path):
    path = _copy(exported["onnx"], tmp_path / "a")
    (path.parent / "model.onnx.data").unlink()
    with pytest.raises(CheckpointError, match=r"model\.onnx: .*model\.onnx\.data.*missing"):
        _create(path)


def test_missing_bin(exported, tmp_path):
    path = _copy(exported["openvino"], tmp_path / "a")
    (path.parent / "model.bin").unlink()
    with pytest.raises(CheckpointError, match=r"model\.xml: its weights file model\.bin is "
                                              r"missing"):
        _create(path)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_truncated_or_corrupt_onnx(exported, tmp_path, damage):
    path = _copy(exported["onnx"], tmp_path / "a")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] if damage == "truncate" else b"\x08\x07weights")
    with pytest.raises(CheckpointError, match=r"model\.onnx: truncated or corrupt ONNX graph"):
        _create(path)


def test_truncated_onnx_data(exported, tmp_path):
    path = _copy(exported["onnx"], tmp_path / "a")
    data = path.parent / "model.onnx.data"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"model\.onnx: its weights file model\.onnx\.data "
                                              r"is truncated \(1000 bytes; the graph reads up to "
                                              r"byte \d+\)"):
        _create(path)


@pytest.mark.parametrize("damage", ["truncate_xml", "garbage_xml", "truncate_bin"])
def test_truncated_or_corrupt_openvino(exported, tmp_path, damage):
    path = _copy(exported["openvino"], tmp_path / "a")
    target = path if damage.endswith("xml") else path.with_suffix(".bin")
    data = target.read_bytes()
    target.write_bytes(b"<net>" if damage == "garbage_xml" else data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"model\.xml: .*(corrupt|truncated)"):
        _create(path)


@pytest.mark.parametrize("case, expected", [
    ("no_score", "the graph has no pred_score output"),
    ("int_input", "input 'input' has dtype int64"),
    ("rank3_input", r"input 'input' is not \[B, 3, H, W\]"),
    ("map_rank", "output 'anomaly_map' has rank 2"),
    ("label_float", "output 'pred_label' has dtype float32"),
    ("two_inputs", "the graph has 2 inputs"),
])
def test_graph_outside_anomalibs_contract(tmp_path, case, expected):
    import re

    pytest.importorskip("onnx")
    from onnx import TensorProto as T

    image = ("input", T.FLOAT, ["B", 3, "H", "W"])
    score = ("pred_score", T.FLOAT, ["B"], [1, 2, 3])
    ports = {
        "no_score": ([image], [("anomaly_map", T.FLOAT, ["B", "H", "W"], [1])]),
        "int_input": ([("input", T.INT64, ["B", 3, "H", "W"])], [score]),
        "rank3_input": ([("input", T.FLOAT, [3, "H", "W"])],
                        [("pred_score", T.FLOAT, [], [0, 1, 2])]),
        "map_rank": ([image], [score, ("anomaly_map", T.FLOAT, ["H", "W"], [0, 1])]),
        "label_float": ([image], [score, ("pred_label", T.FLOAT, ["B"], [1, 2, 3])]),
        "two_inputs": ([image, ("other", T.FLOAT, ["B", 3, "H", "W"])], [score]),
    }[case]
    path = ports_onnx(tmp_path / "odd.onnx", *ports)
    with pytest.raises(CheckpointError) as info:
        _create(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert re.search(expected, message), message
    assert "expected anomalib's export contract" in message
