"""The image decoding path, re-exported from :mod:`pyimgano.decoding` (its home since the
detector interface, :mod:`pyimgano.models.base`, uses it and the backends implement that
interface: decoding sits below both). Import from :mod:`pyimgano.decoding`."""

from __future__ import annotations

from pyimgano.decoding import (
    DecodedBatch,
    decode_image,
    decoded_batches,
    decoded_images,
    resize_image,
)

__all__ = ["DecodedBatch", "decode_image", "decoded_batches", "decoded_images", "resize_image"]
