"""The detector interface every registered model implements (docs/REFERENCE.md §2, §3).

A detector turns image paths into :class:`Batch` objects of :class:`~pyimgano.outputs.Prediction`.
Two entry points:

- :meth:`Detector.predict` — paths in, batches out. The default decodes every image once with
  :func:`pyimgano.decoding.decoded_batches` (anomalib's ``read_image`` decoding, batches
  of one image size, decoding overlapped on ``decode_workers`` threads) and calls :meth:`infer`
  on each batch. Fakes and injected inferencers override ``predict`` itself.
- :meth:`Detector.infer` — one already-decoded batch of one size in, one :class:`Batch` out. A
  caller that runs two models on the same images (export parity: an ONNX/OpenVINO artifact and
  its reference checkpoint) decodes once with ``decoded_batches`` and calls ``infer`` of both.

Device-resident maps (docs/REFERENCE.md §5): when :attr:`Detector.maps_on_device` is true, each
prediction's
``anomaly_map`` is a 2-D float32 torch tensor on the model's device (no host copy), normalised by
the same path as host maps (:func:`pyimgano.outputs.to_prediction`); scores and labels are always
host Python values. Consumers (alignment, pixel metrics) must accept NumPy arrays and such
tensors; ``numpy.asarray`` of a CUDA tensor fails, so call :func:`pyimgano.outputs.to_numpy`
where a host array is needed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyimgano.decoding import DecodedBatch, decoded_batches
from pyimgano.errors import ConfigError
from pyimgano.outputs import Prediction


@dataclass(frozen=True)
class Batch:
    """Predictions for one inference batch.

    Attributes
    ----------
    indices : tuple of int
        Positions of the batch's images in the sequence given to :meth:`Detector.predict`.
    predictions : tuple of Prediction
        One per index, same order.
    seconds : float
        Wall time of the batch's forward pass (device synchronised), decoding excluded.
    """

    indices: tuple[int, ...]
    predictions: tuple[Prediction, ...]
    seconds: float


@dataclass
class ModelDescription:
    """What a report says about the model (docs/REFERENCE.md §6 ``model``, §3 runtime facts).

    Attributes
    ----------
    checkpoint : str or None
        The checkpoint or artifact path as given (for an OpenVINO IR: the ``.xml``).
    checkpoint_sha256 : str or None
        sha256 of the checkpoint file; for a multi-file artifact the combined pin of
        :func:`pyimgano.backends.exported.combined_sha256`.
    outputs_normalized : bool or None
        Whether image scores are anomalib-normalised to [0, 1] (None: unknown).
    device : str or None
        The resolved pyimgano device (``cpu``, ``cuda:N``); None when the model does not say
        (the report then records null, never a guessed ``cpu``).
    gpu, cuda, threads
        Device facts for the report's ``environment``.
    runtime : str or None
        ``"torch"``, ``"onnxruntime"`` or ``"openvino"``.
    runtime_version : str or None
        That package's version.
    execution_device : str or None
        Where the runtime runs the graph: the torch device, onnxruntime's execution provider
        (``CPUExecutionProvider``, ``CUDAExecutionProvider:0``) or OpenVINO's device (``CPU``).
    precision : str or None
        The inference precision in force: ``f32``, ``bf16`` or ``f16`` (docs/REFERENCE.md §3).
    artifact_files : dict
        File name (relative to the artifact's folder) -> sha256, for every file of the
        artifact (``model.onnx`` + ``model.onnx.data``, ``model.xml`` + ``model.bin``; the one
        file of a ``.pt``/``.ckpt``).
    preprocessing : str or None
        What the harness did to images beyond anomalib's decoding (e.g. the resize for a graph
        with a fixed input size); None when nothing.
    extra : dict
        Backend-specific facts merged into the report's ``model`` section.
    """

    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    outputs_normalized: bool | None = None
    device: str | None = None
    gpu: str | None = None
    cuda: str | None = None
    threads: int | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    execution_device: str | None = None
    precision: str | None = None
    artifact_files: dict[str, str] = field(default_factory=dict)
    preprocessing: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Detector:
    """A model that scores images.

    Implementations decode each image once and infer it once; :meth:`predict` yields batches in
    any order (each batch holds images of one size) and must cover every index exactly once.
    A subclass implements :meth:`infer` (and inherits the batched, overlapped :meth:`predict`)
    or overrides :meth:`predict` itself.

    Attributes
    ----------
    load_seconds : float
        Time spent loading the model (``timing.load_s``).
    decode_workers : int
        Threads decoding images ahead of inference in the default :meth:`predict`.
    maps_on_device : bool
        True when predictions carry their ``anomaly_map`` as a 2-D float32 torch tensor on the
        model's device instead of a NumPy array (see the module docstring).
    batch_independent : bool or None
        Whether an image's outputs are independent of the other images of its batch: False
        runs the model one image at a time, None (unknown) gets the batch guard of
        :mod:`pyimgano.inference`.
    """

    load_seconds: float = 0.0
    decode_workers: int = 2
    maps_on_device: bool = False
    batch_independent: bool | None = None

    def predict(self, image_paths: Sequence[Path], *, batch_size: int) -> Iterator[Batch]:
        """Yield :class:`Batch` objects covering every image of ``image_paths`` once.

        The default: :func:`~pyimgano.decoding.decoded_batches` (with
        :meth:`prepare_image` applied on the decoding threads), then :meth:`infer` per batch.

        Raises
        ------
        ConfigError
            ``batch_size`` is not an integer >= 1.
        """
        batches = decoded_batches(
            list(image_paths), batch_size, self.decode_workers, prepare=self.prepare_image
        )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r}: expected an integer >= 1")
        return (self.infer(decoded) for decoded in batches)

    def infer(self, batch: DecodedBatch) -> Batch:
        """Infer one decoded batch of one image size; ``Batch.indices`` are ``batch.indices``.

        Implementations must accept images as :func:`~pyimgano.decoding.decode_image`
        gives them (``(3, H, W)`` float32 in [0, 1], the image's own size) and apply any
        per-model preparation themselves (e.g. :meth:`prepare_image`), so that a caller may feed
        the same decoded images to several detectors.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not infer decoded batches; it only implements predict()"
        )

    def prepare_image(self, image: Any) -> Any:
        """Per-image preparation run on the decoding threads before :meth:`infer` (default: none).

        Must be idempotent: :meth:`infer` may apply it again to images decoded elsewhere.
        """
        return image

    def describe(self) -> ModelDescription:
        """Facts about the loaded model for the report; override to add checkpoint details."""
        return ModelDescription()


__all__ = ["Batch", "DecodedBatch", "Detector", "ModelDescription"]
