"""Runtimes behind the :class:`~pyimgano.models.base.Detector` interface (docs/REFERENCE.md §3).

One module per job, so that the next runtime is one new file plus one row in ``formats.py``:

- ``formats.py`` — file suffix -> backend class (``FORMATS``) and the registry's factory
  ``open_checkpoint``;
- ``anomalib.py`` — torch runtime: the detector for exported ``.pt``/``.pth`` and Lightning
  ``.ckpt``; ``ckpt_rebuild.py`` — a ``.ckpt``'s model rebuilt as trained (saved pre-processor,
  offline, state_dict diagnostics); ``offline.py`` — building it without network;
- ``checkpoint.py`` — the torch loading procedure (``load_checkpoint``) over one module per
  step: ``ckpt_files.py`` (suffixes, the one read, its sha256), ``trust.py`` (pins and the trust
  rule, for every format), ``pickle_scan.py`` (what the pickle holds, parsed without running it),
  ``plain_entries.py`` (plain-data entries through a restricted unpickler), ``releases.py``
  (which anomalib wrote / is installed / can read a layout), ``load_errors.py`` (one-line load
  diagnostics);
- ``exported.py`` — what the graph runtimes share: artifact files and their sha256, anomalib's
  export contract, batched inference of a graph;
- ``onnx.py`` — ``.onnx`` with onnxruntime; ``openvino.py`` — ``.xml`` + ``.bin`` with openvino;
- ``device.py`` — device strings.

Decoding lives below this package and the detector interface, in :mod:`pyimgano.decoding`
(``images.py`` here re-exports it). Nothing here imports torch, anomalib, onnxruntime or
openvino at module level.
"""
