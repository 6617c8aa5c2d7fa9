"""anomalib's own test numbers: what anomalib 2.7's ``Engine.test`` reports for a checkpoint.

``protocol: anomalib`` (suite) / ``--protocol anomalib`` (CLI) adds ``metrics_anomalib`` to
the report (docs/REFERENCE.md §14). ``Engine.test`` on an anomalib 2.7
image model computes, read from the installed package:

- the data: each test image decoded by ``read_image`` (RGB float in [0, 1], the image's own
  size); its mask ``read_mask`` (``convert("L") > 0``) for an anomalous image and all zeros
  for a normal one (``AnomalibDataset.__getitem__``);
- resolution: the pre-processor's ``on_test_batch_start`` applies the module's *training*
  transform, ``pre_processor.transform(image, gt_mask)`` — ``Resize(size, antialias=True)``
  (bilinear) for the image and, as torchvision resizes a ``Mask``, nearest-neighbour for the
  mask; the maps stay at that size. The module's ``forward`` (what the harness's ``metrics``
  and ``TorchInferencer`` use) runs ``export_transform`` instead (``antialias=False``);
- outputs: ``test_step`` runs the torch model on that batch, then the post-processor's
  ``on_test_batch_end`` normalises ``pred_score`` and ``anomaly_map`` with the checkpoint's
  min/max and thresholds (clamped to [0, 1]) and sets ``pred_label = pred_score > 1 -
  image_sensitivity`` and ``pred_mask = anomaly_map > 1 - pixel_sensitivity`` (0.5 and 0.5
  by default);
- metrics: the default ``AnomalibModule.configure_evaluator`` — ``image_AUROC`` (``pred_score``
  vs ``gt_label``), ``image_F1Score`` (``pred_label`` vs ``gt_label``), ``pixel_AUROC``
  (``anomaly_map`` vs ``gt_mask``) and ``pixel_F1Score`` (``pred_mask`` vs ``gt_mask``); AUROC
  is torchmetrics' ``BinaryROC`` with ``thresholds=None`` (exact) and ``auc(fpr, tpr,
  reorder=True)``, F1 torchmetrics' ``BinaryF1Score`` (threshold 0.5, global), all in
  float32 on the CPU. The pixel metrics are skipped (null) when there are no masks
  (``strict=False``).

:func:`anomalib_test_metrics` repeats exactly that with the loaded module's own pre-processor,
torch model and post-processor, and torchmetrics. It needs torch, torchmetrics and torchvision
(imported here, inside functions) and a torch anomalib checkpoint (``.pt`` / ``.ckpt``): an
ONNX or OpenVINO graph has only the export transform baked in, and ``Engine.test`` cannot
test it either. A module with a custom evaluator is still scored with the default four metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pyimgano.errors import ConfigError

#: The metric names ``Engine.test`` logs with anomalib's default evaluator.
ANOMALIB_METRICS = ("image_AUROC", "image_F1Score", "pixel_AUROC", "pixel_F1Score")

#: The report's ``settings.protocol_note``: how ``metrics_anomalib`` differs from ``metrics``.
PROTOCOL_NOTE = (
    "metrics_anomalib are anomalib 2.7 Engine.test's numbers for this checkpoint and data: "
    "images resized with the training transform (antialiased) rather than the export "
    "transform the harness runs; pixel metrics at the model's input resolution against "
    "nearest-neighbour-resized masks (metrics: maps aligned to the masks' own resolution); "
    "F1 at the post-processor's fixed thresholds (0.5 on normalised values by default) "
    "rather than F1-max over a sweep; AUROC exact in float32 (torchmetrics) rather than "
    "float64; anomalib's default evaluator's four metrics"
)


def anomalib_module(model: Any) -> Any:
    """The anomalib ``AnomalibModule`` behind a loaded pyimgano model.

    Raises
    ------
    ConfigError
        The model holds no torch anomalib module (an exported graph, an injected inferencer).
    """
    module = getattr(model, "module", None)
    needed = ("pre_processor", "model", "post_processor")
    if module is None or not all(hasattr(module, name) for name in needed):
        runtime = getattr(model, "runtime", None) or type(model).__name__
        path = getattr(model, "checkpoint_path", None)
        if path is not None:
            runtime = f"{runtime} from {path}"
        raise ConfigError(
            f"protocol 'anomalib' needs a torch anomalib checkpoint (.pt or .ckpt): it runs the "
            f"module's own pre-processor, model and post-processor as Engine.test does; this "
            f"model ({runtime}) has none. Remove protocol, or evaluate the .pt/.ckpt it came from"
        )
    return module


def _mask(sample: Any, size: tuple[int, int]) -> Any:
    """anomalib's ``gt_mask`` of one sample, uint8 (H, W): zeros for a normal image, else
    ``read_mask`` — OR of the sample's mask files, each ``convert("L") > 0``."""
    import numpy as np
    from PIL import Image

    from pyimgano.datasets.base import NORMAL
    from pyimgano.errors import DatasetError

    combined = np.zeros(size, dtype=np.uint8)
    if sample.label == NORMAL:
        return combined
    for path in sample.mask_paths or ():
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("L")) > 0
        except OSError as exc:
            raise DatasetError(f"cannot read mask {path}: {exc}") from None
        if array.shape != size:
            raise DatasetError(
                f"mask {path} is {array.shape[1]}x{array.shape[0]} (WxH) but its image "
                f"{sample.image_path} is {size[1]}x{size[0]}"
            )
        combined |= array.astype(np.uint8)
    return combined


def _batches(samples: Sequence[Any], batch_size: int) -> list[list[int]]:
    """Consecutive sample indices, at most ``batch_size`` per batch, one image size per batch."""
    from pyimgano.datasets.masks import image_size

    batches: list[list[int]] = []
    current: list[int] = []
    current_size = None
    for index, sample in enumerate(samples):
        size = image_size(sample.image_path)
        if current and (size != current_size or len(current) == batch_size):
            batches.append(current)
            current = []
        current.append(index)
        current_size = size
    if current:
        batches.append(current)
    return batches


def anomalib_test_metrics(
    model: Any, samples: Sequence[Any], *, batch_size: int = 16, with_masks: bool | None = None
) -> dict[str, float | None]:
    """``Engine.test``'s default metrics of ``model`` on ``samples`` (module docstring).

    Parameters
    ----------
    model : VisionAnomalibCheckpoint
        A loaded torch anomalib checkpoint (its ``module`` and ``device`` are used).
    samples : sequence of Sample
        The test samples (normal and anomalous), in any order.
    batch_size : int
        Images per forward pass; a batch holds images of one size only.
    with_masks : bool, optional
        Compute the pixel metrics; default: when every anomalous sample has a mask file.

    Returns
    -------
    dict
        ``{name: float or None}`` for every name in :data:`ANOMALIB_METRICS`; a pixel metric
        is None without masks or without anomaly maps (anomalib skips it then).

    Raises
    ------
    ConfigError
        ``model`` is not a torch anomalib checkpoint.
    DatasetError
        An unreadable image or mask, or a mask of another size than its image.
    """
    import numpy as np
    import torch
    from torchmetrics.classification import BinaryF1Score, BinaryROC
    from torchmetrics.utilities.compute import auc
    from torchvision.tv_tensors import Image, Mask

    from pyimgano.decoding import decode_image

    module = anomalib_module(model)
    if with_masks is None:
        with_masks = all(s.mask_paths for s in samples if s.label != 0)
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    image_roc, pixel_roc = BinaryROC(thresholds=None), BinaryROC(thresholds=None)
    image_f1, pixel_f1 = BinaryF1Score(), BinaryF1Score()
    seen_maps = False
    was_training = module.training
    module.eval()
    try:
        for indices in _batches(samples, batch_size):
            arrays = [decode_image(samples[i].image_path) for i in indices]
            size = tuple(arrays[0].shape[-2:])
            image = Image(torch.from_numpy(np.stack(arrays)))
            masks = Mask(torch.stack([torch.from_numpy(_mask(samples[i], size)) for i in indices]))
            labels = torch.tensor([bool(samples[i].label) for i in indices])
            with torch.inference_mode():
                if module.pre_processor is not None and module.pre_processor.transform:
                    image, masks = module.pre_processor.transform(image, masks)
                output = module.model(image.to(device))
                batch = _OutputBatch(
                    output.pred_score,
                    output.anomaly_map,
                    getattr(output, "pred_label", None),
                    getattr(output, "pred_mask", None),
                )
                if module.post_processor is not None:
                    module.post_processor.post_process_batch(batch)
            score = batch.pred_score.detach().cpu().flatten()
            image_roc.update(score, labels)
            image_f1.update(_as_pred(batch.pred_label, score).flatten(), labels)
            if with_masks and batch.anomaly_map is not None:
                seen_maps = True
                gt = masks.as_subclass(torch.Tensor).bool().flatten()
                pixel_roc.update(batch.anomaly_map.detach().cpu().flatten(), gt)
                pred_mask = _as_pred(batch.pred_mask, batch.anomaly_map.detach().cpu())
                pixel_f1.update(pred_mask.flatten(), gt)
    finally:
        module.train(was_training)

    def area(roc: Any) -> float:
        fpr, tpr, _ = roc.compute()
        return float(auc(fpr, tpr, reorder=True))

    return {
        "image_AUROC": area(image_roc),
        "image_F1Score": float(image_f1.compute()),
        "pixel_AUROC": area(pixel_roc) if seen_maps else None,
        "pixel_F1Score": float(pixel_f1.compute()) if seen_maps else None,
    }


def _as_pred(value: Any, fallback: Any) -> Any:
    """A thresholded prediction on the CPU; the raw values when the post-processor left it
    unset (no threshold: anomalib's F1 then thresholds them at 0.5 itself)."""
    return (fallback if value is None else value).detach().cpu()


class _OutputBatch:
    """The batch fields the post-processor reads and writes (``Engine.test``'s batch, minus
    the inputs): raw ``pred_score`` / ``anomaly_map`` in, normalised values and
    ``pred_label`` / ``pred_mask`` out."""

    def __init__(self, pred_score: Any, anomaly_map: Any, pred_label: Any, pred_mask: Any) -> None:
        self.pred_score = pred_score
        self.anomaly_map = anomaly_map
        self.pred_label = pred_label
        self.pred_mask = pred_mask
