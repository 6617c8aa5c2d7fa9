"""Helpers shared by the anomalib backend tests."""

from __future__ import annotations


def run_predictions(detector, images, batch_size):
    """``{index: Prediction}`` from ``detector.predict``; asserts every index comes once."""
    found = {}
    for batch in detector.predict(images, batch_size=batch_size):
        assert len(batch.indices) == len(batch.predictions) <= batch_size
        for index, prediction in zip(batch.indices, batch.predictions, strict=True):
            assert index not in found
            found[index] = prediction
    assert sorted(found) == list(range(len(images)))
    return found
