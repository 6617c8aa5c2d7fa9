"""``evaluate(pixel=True)`` on a real checkpoint computes nothing twice (docs/REFERENCE.md §3, §10).

Each test image is decoded once (``pyimgano.decoding.decode_image``, which equals
anomalib's ``read_image``) and inferred once (one row of one forward; besides, one zero image is
counted for ``resources.flops_per_image``), each mask file is read
once, each map is aligned once, the pixel metrics run once, and the result equals the
straightforward computation (every mask first, then ``align_map`` per map, then
``pixel_metrics``), bit for bit. The PaDiM here works at 64 px on
96 px images, so every map really is resized.
"""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.anomalib


@pytest.fixture
def counted(padim_detector, monkeypatch):
    import pyimgano.datasets.masks as masks
    import pyimgano.decoding as data_utils
    import pyimgano.metrics.pixel as metrics_pixel
    import pyimgano.pixel_inputs as pixel_inputs

    calls: dict[str, Counter] = {
        name: Counter() for name in ("decode", "mask", "align", "metrics", "rows")
    }

    def wrap(module, name, key, record):
        original = getattr(module, name)

        def counting(*args, **kwargs):
            record(calls[key], *args, **kwargs)
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)

    wrap(data_utils, "decode_image", "decode", lambda c, path, *a, **k: c.update([str(path)]))
    wrap(masks, "read_mask", "mask", lambda c, path: c.update([str(path)]))
    wrap(
        pixel_inputs,
        "align_maps",
        "align",
        lambda c, maps, shapes, images=None: c.update(images),
    )
    wrap(pixel_inputs, "align_map", "align", lambda c, amap, shape, image="": c.update([image]))
    wrap(metrics_pixel, "evaluate_pixels", "metrics", lambda c, *a, **k: c.update(["call"]))
    import weakref

    import pyimgano.resources as resources

    monkeypatch.setattr(resources, "_FLOPS", weakref.WeakKeyDictionary())  # count afresh

    def forward(module, args):
        if not bool(args[0].any()):  # resources.flops_per_image: one zero image, not a test image
            calls["rows"].update({"flop_count_rows": args[0].shape[0], "flop_counts": 1})
        else:
            calls["rows"].update({"rows": args[0].shape[0], "forwards": 1})

    handle = padim_detector.module.register_forward_pre_hook(forward)
    yield padim_detector, calls
    handle.remove()


@pytest.mark.parametrize("batch_size", [1, 8, 32])
def test_each_image_decoded_inferred_masked_and_aligned_once(counted, anomalib_data, batch_size):
    from pyimgano.datasets import load_dataset
    from pyimgano.evaluation import evaluate

    detector, calls = counted
    dataset = load_dataset("mvtec", anomalib_data, "tiles")
    evaluation = evaluate(detector, dataset, pixel=True, batch_size=batch_size)

    images = [str(sample.image_path) for sample in dataset]
    mask_files = [str(path) for sample in dataset for path in sample.mask_paths or ()]
    assert mask_files  # the defective images have masks
    assert calls["decode"] == Counter(images)
    assert calls["rows"]["rows"] == len(images)
    assert calls["rows"]["forwards"] == -(-len(images) // batch_size)
    assert (calls["rows"]["flop_counts"], calls["rows"]["flop_count_rows"]) == (1, 1)
    assert calls["mask"] == Counter(mask_files)
    assert calls["align"] == Counter(images)
    assert calls["metrics"] == Counter(["call"])
    assert evaluation.report.metrics["aupro"] is not None


def test_result_equals_the_straightforward_computation(padim_detector, anomalib_data):
    from pyimgano.alignment import align_map
    from pyimgano.datasets import load_dataset, load_mask
    from pyimgano.evaluation import evaluate
    from pyimgano.metrics import pixel_metrics

    dataset = load_dataset("mvtec", anomalib_data, "tiles")
    evaluation = evaluate(padim_detector, dataset, pixel=True, batch_size=8)
    masks = [load_mask(sample) for sample in dataset]
    maps = [
        align_map(p.anomaly_map, mask.shape)
        for p, mask in zip(evaluation.predictions, masks, strict=True)
    ]
    assert {m.shape for m in maps} == {(96, 96)}
    assert {p.anomaly_map.shape for p in evaluation.predictions} == {(64, 64)}
    expected = pixel_metrics(maps, masks)
    for name, value in expected.items():
        assert evaluation.report.metrics[name] == value, name
