"""The one image decoding and batching path (``pyimgano.decoding``)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pyimgano.decoding import (
    DecodedBatch,
    decode_image,
    decoded_batches,
    resize_image,
)
from pyimgano.errors import ConfigError, DatasetError
from pyimgano.models.base import Batch, Detector
from pyimgano.outputs import Prediction

RNG = np.random.default_rng(7)
PIXELS = RNG.integers(0, 256, (23, 31, 3), dtype=np.uint8)


def _write(tmp_path, name, array, **save):
    path = tmp_path / name
    Image.fromarray(array).save(path, **save)
    return path


@pytest.fixture
def images(tmp_path):
    """One file per kind anomalib must decode alike: formats, modes, bit depths."""
    every_value = np.arange(256, dtype=np.uint8).reshape(16, 16)
    palette = Image.fromarray(PIXELS).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.save(tmp_path / "palette.png")
    return {
        "png": _write(tmp_path, "rgb.png", PIXELS),
        "jpeg": _write(tmp_path, "rgb.jpg", PIXELS, quality=90),
        "bmp": _write(tmp_path, "rgb.bmp", PIXELS),
        "gray": _write(tmp_path, "gray.png", PIXELS[..., 0]),
        "every_value": _write(tmp_path, "all.png", every_value),
        "rgba": _write(tmp_path, "rgba.png", np.dstack([PIXELS, PIXELS[..., :1]])),
        "gray16": _write(tmp_path, "g16.png",
                         RNG.integers(0, 65536, (23, 31), dtype=np.uint16)),
        "palette": tmp_path / "palette.png",
    }


@pytest.mark.anomalib
@pytest.mark.parametrize("kind", ["png", "jpeg", "bmp", "gray", "every_value", "rgba", "gray16",
                                  "palette"])
def test_decode_equals_anomalib_read_image_bit_for_bit(images, kind):
    pytest.importorskip("anomalib")
    from anomalib.data.utils import read_image

    want = read_image(images[kind], as_tensor=True).numpy()
    got = decode_image(images[kind])
    assert got.dtype == np.float32 and got.flags.c_contiguous
    assert got.shape == want.shape == (3, *Image.open(images[kind]).size[::-1])
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


def test_decode_values_without_anomalib(images):
    got = decode_image(images["png"])
    assert got.shape == (3, 23, 31)
    # v / 255 in float32 arithmetic, as torchvision scales uint8 images
    want = PIXELS.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255)
    assert np.array_equal(got, want)
    assert got.min() >= 0 and got.max() <= 1


def test_decode_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_text("not a PNG")
    with pytest.raises(DatasetError, match=f"{broken}: cannot decode image"):
        decode_image(broken)
    with pytest.raises(DatasetError, match="missing.png: cannot decode image"):
        decode_image(tmp_path / "missing.png")


@pytest.mark.parametrize("size, shape", [((64, 64), (96, 96)), ((20, 64), (37, 41)),
                                         ((33, 2), (5, 7)), ((256, 256), (300, 200))])
def test_resize_equals_torch_bilinear_without_antialias(size, shape):
    torch = pytest.importorskip("torch")
    image = RNG.random((3, *shape), dtype=np.float32)
    want = torch.nn.functional.interpolate(
        torch.from_numpy(image)[None], size=size, mode="bilinear", align_corners=False,
        antialias=False)[0].numpy()
    got = resize_image(image, size)
    assert got.shape == (3, *size) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_resize_to_own_size_is_identity():
    image = RNG.random((3, 5, 6), dtype=np.float32)
    assert resize_image(image, (5, 6)) is image


def _sized(tmp_path, sizes):
    paths = []
    for k, (w, h) in enumerate(sizes):
        paths.append(_write(tmp_path, f"{k:02d}.png", np.full((h, w, 3), k, np.uint8)))
    return paths


@pytest.mark.parametrize("workers", [0, 1, 3])
@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_batches_hold_one_size_in_input_order_and_cover_each_image_once(tmp_path, workers,
                                                                        batch_size):
    sizes = [(8, 8), (9, 7), (8, 8), (8, 8), (9, 7), (8, 8), (5, 5)]
    paths = _sized(tmp_path, sizes)
    batches = list(decoded_batches(paths, batch_size, workers))
    seen = []
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        assert len({image.shape for image in batch.images}) == 1
        assert list(batch.indices) == sorted(batch.indices)
        assert batch.names == tuple(str(paths[i]) for i in batch.indices)
        for index, image in zip(batch.indices, batch.images, strict=True):
            assert image.shape == (3, sizes[index][1], sizes[index][0])
            assert image[0, 0, 0] == np.float32(index) * np.float32(1 / 255)
        assert batch.stacked().shape == (len(batch), *batch.shape)
        seen += batch.indices
    assert sorted(seen) == list(range(len(paths)))


def test_prepare_runs_on_each_decoded_image(tmp_path):
    paths = _sized(tmp_path, [(8, 8), (9, 7)])
    batches = list(decoded_batches(paths, 4, 2, prepare=lambda im: resize_image(im, (4, 4))))
    assert [b.shape for b in batches] == [(3, 4, 4)]


def test_first_broken_image_in_order_is_reported(tmp_path):
    paths = _sized(tmp_path, [(8, 8)] * 6)
    paths[2].write_text("no")
    paths[4].write_text("no")
    with pytest.raises(DatasetError, match="02.png"):
        list(decoded_batches(paths, 2, 3))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_batch_size_and_workers(tmp_path, bad):
    with pytest.raises(ConfigError, match="batch_size"):
        list(decoded_batches([], bad, 1))
    if bad != 0:
        with pytest.raises(ConfigError, match="decode_workers"):
            list(decoded_batches([], 1, bad))


class _Sum(Detector):
    """A detector implementing infer only: score = mean pixel value."""

    def __init__(self):
        self.seen = []

    def infer(self, batch: DecodedBatch) -> Batch:
        self.seen.append(batch.indices)
        return Batch(
            indices=batch.indices,
            predictions=tuple(Prediction(float(im.mean()), None, None) for im in batch.images),
            seconds=0.0,
        )


def test_default_predict_is_decoded_batches_then_infer(tmp_path):
    paths = _sized(tmp_path, [(8, 8), (9, 7), (8, 8)])
    detector = _Sum()
    batches = list(detector.predict(paths, batch_size=2))
    assert [b.indices for b in batches] == detector.seen == [(0, 2), (1,)]
    scores = {i: p.score for b in batches for i, p in zip(b.indices, b.predictions, strict=True)}
    assert scores == pytest.approx({i: i / 255 for i in range(3)})


def test_a_detector_without_infer_says_so(tmp_path):
    paths = _sized(tmp_path, [(8, 8)])
    with pytest.raises(NotImplementedError, match="only implements predict"):
        list(Detector().predict(paths, batch_size=1))


def test_decoded_batch_needs_one_name_and_image_per_index():
    with pytest.raises(ValueError, match="one of each"):
        DecodedBatch(indices=(0, 1), images=(np.zeros((3, 1, 1), np.float32),), names=("a", "b"))
