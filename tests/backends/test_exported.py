"""The runtime-independent part of the ONNX/OpenVINO backends: provenance, anomalib's graph
contract, batching against a graph, runtime messages. A fake runtime stands in for
onnxruntime/openvino here; tests/export runs the real ones on real exports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from pyimgano.backends.exported import (
    ExportedGraphDetector,
    Port,
    check_contract,
    combined_sha256,
    runtime_message,
)
from pyimgano.decoding import decoded_batches
from pyimgano.errors import CheckpointError, ConfigError, ModelOutputError

IMAGE = Port("input", (None, 3, None, None), "float32")
SCORE = Port("pred_score", (None, 1), "float32")
MAP = Port("anomaly_map", (None, 1, 4, 4), "float32")
LABEL = Port("pred_label", (None, 1), "bool")


def test_combined_sha256_is_sha256sum_of_the_sorted_listing():
    files = {"model.xml": "a" * 64, "model.bin": "b" * 64}
    listing = f"{'b' * 64}  model.bin\n{'a' * 64}  model.xml\n".encode()
    assert combined_sha256(files) == hashlib.sha256(listing).hexdigest()
    assert combined_sha256(dict(reversed(files.items()))) == combined_sha256(files)


def test_contract_of_anomalibs_export():
    contract = check_contract(Path("m.onnx"), [IMAGE], [SCORE, LABEL, MAP,
                                                        Port("pred_mask", (None, 1, 4, 4),
                                                             "bool")])
    assert contract.outputs == ("pred_score", "anomaly_map", "pred_label")
    assert contract.fixed_size is None and contract.fixed_batch is None
    fixed = check_contract(Path("m.onnx"), [Port("input", (2, 3, 64, 48), "float32")], [SCORE])
    assert (fixed.fixed_size, fixed.fixed_batch) == ((64, 48), 2)


@pytest.mark.parametrize("inputs, outputs, why", [
    ([], [SCORE], "the graph has 0 inputs"),
    ([Port("input", (None, 1, None, None), "float32")], [SCORE],
     r"input 'input' is not \[B, 3, H, W\]"),
    ([Port("input", (None, 3, 64, None), "float32")], [SCORE],
     "input 'input' fixes one of H, W only"),
    ([IMAGE], [Port("pred_score", (None, 1), "int64")], "output 'pred_score' has dtype int64"),
    ([IMAGE], [SCORE, Port("pred_label", (None, 1, 1, 1), "bool")],
     "output 'pred_label' has rank 4"),
])
def test_contract_violations(inputs, outputs, why):
    with pytest.raises(CheckpointError, match=f"m.onnx: {why}") as info:
        check_contract(Path("m.onnx"), inputs, outputs)
    assert "expected anomalib's export contract" in str(info.value)


class FakeRuntime(ExportedGraphDetector):
    """A graph given as ports and a numpy function; records the batch shapes it ran."""

    runtime = "fake"
    suffix = ".onnx"
    what = "fake graph"
    ports: tuple = ([IMAGE], [SCORE, MAP, LABEL])

    def _open(self, device):
        self.runs = []
        return self.ports

    def _run(self, array):
        self.runs.append(array.shape)
        mean = array.mean(axis=(1, 2, 3)).reshape(-1, 1)
        return {"pred_score": mean, "anomaly_map": np.zeros((len(array), 1, 4, 4), np.float32),
                "pred_label": mean > 0.5}


@pytest.fixture
def graph_file(tmp_path):
    path = tmp_path / "g.onnx"
    path.write_bytes(b"graph")
    return path


@pytest.fixture
def images(tmp_path):
    from PIL import Image

    paths = []
    for k in range(5):
        path = tmp_path / f"{k}.png"
        Image.fromarray(np.full((6, 8, 3), 40 * k, np.uint8)).save(path)
        paths.append(path)
    return paths


def test_a_fixed_batch_graph_gets_padded_chunks(graph_file, images):
    class Fixed(FakeRuntime):
        ports = ([Port("input", (2, 3, None, None), "float32")], [SCORE, MAP])

    detector = Fixed(graph_file)
    batches = list(detector.predict(images, batch_size=5))
    assert detector.runs == [(2, 3, 6, 8)] * 3  # 5 images: 2 + 2 + (1 padded to 2)
    scores = [p.score for b in batches for p in b.predictions]
    assert scores == pytest.approx([40 * k / 255 for k in range(5)], abs=1e-6)


def test_a_fixed_size_graph_gets_resized_images(graph_file, images):
    class Sized(FakeRuntime):
        ports = ([Port("input", (None, 3, 3, 4), "float32")], [SCORE])

    detector = Sized(graph_file)
    batch = next(decoded_batches(images, 5, 0))  # decoded elsewhere, at the image's size
    result = detector.infer(batch)
    assert detector.runs == [(5, 3, 3, 4)]
    assert [p.anomaly_map for p in result.predictions] == [None] * 5
    assert "fixed input size 3x4" in detector.describe().preprocessing


def test_description_and_pin(graph_file):
    detector = FakeRuntime(graph_file, anomalib_model="padim")
    description = detector.describe()
    digest = hashlib.sha256(b"graph").hexdigest()
    assert description.artifact_files == {"g.onnx": digest}
    assert description.checkpoint_sha256 == combined_sha256({"g.onnx": digest})
    assert (description.runtime, description.precision) == ("fake", "f32")
    assert description.extra["anomalib_model"] == "padim"
    FakeRuntime(graph_file, checkpoint_sha256=description.checkpoint_sha256)
    with pytest.raises(CheckpointError, match="g.onnx: sha256 mismatch"):
        FakeRuntime(graph_file, checkpoint_sha256="f" * 64)


@pytest.mark.parametrize("kwargs, message", [
    ({"precision": "fp16"}, "precision='fp16'"),
    ({"decode_workers": -1}, "decode_workers=-1"),
    ({"maps_on_device": True}, "maps_on_device=True"),
])
def test_bad_options(graph_file, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        FakeRuntime(graph_file, **kwargs)


def test_a_runtime_failure_is_one_line_naming_the_image(graph_file, images):
    class Broken(FakeRuntime):
        def _run(self, array):
            raise RuntimeError("Exception from src/x.cpp:1:\nGot 3 channels\n")

    with pytest.raises(ModelOutputError, match=r"0.png: fake failed on a batch of 5 image\(s\) "
                                               r"of shape \(3, 6, 8\) with g.onnx: Got 3 "
                                               r"channels$"):
        list(Broken(graph_file).predict(images, batch_size=5))


def test_runtime_messages_are_cut_to_their_informative_part():
    ort = RuntimeError(
        "[ONNXRuntimeError] : 1 : FAIL : Exception during initialization: /src/initializer.cc:79 "
        "onnxruntime::Initializer::Initializer(const onnx::TensorProto&) [ONNXRuntimeError] : 1 "
        ": FAIL : tensorprotoutils.cc:2201 GetExtDataFromTensorProto External initializer: w "
        "offset: 0 size to read: 376 given file_length: 10 are out of bounds\n")
    assert runtime_message(ort) == ("External initializer: w offset: 0 size to read: 376 given "
                               "file_length: 10 are out of bounds")
    ov = RuntimeError("Exception from src/inference/src/cpp/core.cpp:84:\nCheck 'valid(x)' "
                      "failed at src/core/xml.cpp:900:\nIncorrect weights in bin file!\n\n")
    assert runtime_message(ov) == "Incorrect weights in bin file!"
