"""Runtimes behind the :class:`~pyimgano.models.base.Detector` interface (docs/REFERENCE.md §3).

One module per job, so that the next runtime is one new file plus one row in ``formats.py``:

- ``images.py`` — the one decoding path (anomalib's ``read_image``, without anomalib or torch),
  size-grouped batching with decoding overlapped (``decoded_batches``), the fixed-size resize;
- ``formats.py`` — file suffix -> backend class (``FORMATS``) and the registry's factory
  ``open_checkpoint``;
- ``anomalib.py`` — torch runtime: exported ``.pt``/``.pth`` and Lightning ``.ckpt``;
- ``exported.py`` — what the graph runtimes share: artifact files and their sha256, anomalib's
  export contract, batched inference of a graph;
- ``onnx.py`` — ``.onnx`` with onnxruntime; ``openvino.py`` — ``.xml`` + ``.bin`` with openvino;
- ``checkpoint.py`` — torch checkpoint bytes, pins, trust, safe loading; ``offline.py`` — building
  models from a ``.ckpt`` without network; ``device.py`` — device strings.

Nothing here imports torch, anomalib, onnxruntime or openvino at module level.
"""
