"""``protocol: anomalib`` equals anomalib 2.7's own ``Engine.test`` (docs/REFERENCE.md §14,
"anomalib's own numbers").

anomalib's ``Engine.test`` runs here, in the test session, on the real trained PaDiM and
PatchCore (``tests/trained.py``): on the ``.ckpt`` (a model built as training built it, the
checkpoint restored by Lightning through ``ckpt_path``) and on the exported ``.pt`` (the
pickled module itself). Every value it returns is compared with ``metrics_anomalib`` from
``run_case`` and from the CLI on the same file and data.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.anomalib

MODELS = ["padim", "patchcore"]
FORMATS = ["ckpt", "pt"]
TOLERANCE = 1e-6


def _engine_test(checkpoint, fmt, data_root):
    """``Engine.test``'s returned metrics for one checkpoint file on the synthetic category."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import anomalib.models as anomalib_models
        from anomalib.data import MVTecAD
        from anomalib.engine import Engine

    from pyimgano.demo.training import _model_kwargs
    from pyimgano.models.anomalib_entries import ANOMALIB_IMAGE_MODELS
    from tests.trained import CATEGORY, MODEL_SIZE

    model_class = getattr(anomalib_models, ANOMALIB_IMAGE_MODELS[checkpoint.model])
    if fmt == "ckpt":
        # Built the way train_checkpoint built it; Lightning restores the rest from ckpt_path.
        kwargs = _model_kwargs(
            model_class, checkpoint.model, backbone="resnet18", layers=None,
            coreset_sampling_ratio=0.05,
        )
        kwargs["pre_processor"] = model_class.configure_pre_processor(
            image_size=(MODEL_SIZE, MODEL_SIZE)
        )
        module, ckpt_path = model_class(**kwargs), str(checkpoint.ckpt_path)
    else:
        module = torch.load(checkpoint.pt_path, map_location="cpu", weights_only=False)["model"]
        ckpt_path = None
    datamodule = MVTecAD(root=data_root, category=CATEGORY, eval_batch_size=32, num_workers=0)
    engine = Engine(
        logger=False, accelerator="cpu", devices=1, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=data_root.parent / f"engine-{fmt}",
    )
    (results,) = engine.test(model=module, datamodule=datamodule, ckpt_path=ckpt_path,
                             verbose=False)
    assert set(results) == {"image_AUROC", "image_F1Score", "pixel_AUROC", "pixel_F1Score"}
    assert len(datamodule.test_data) == 20  # the whole test split, as the harness sees it
    return results


@pytest.fixture(scope="module")
def engine_results(trained, anomalib_data):
    """``{(model, format): Engine.test results}``."""
    return {
        (name, fmt): _engine_test(trained[name], fmt, anomalib_data)
        for name in MODELS
        for fmt in FORMATS
    }


def _case(checkpoint, fmt, data_root, **extra):
    from pyimgano.runner import Case

    path = checkpoint.ckpt_path if fmt == "ckpt" else checkpoint.pt_path
    extra = {"pixel": True, "protocol": "anomalib", **extra}
    return Case(
        model=f"vision_{checkpoint.model}_anomalib",
        dataset_format="mvtec",
        root=data_root,
        category="tiles",
        checkpoint=path,
        checkpoint_sha256=checkpoint.pt_sha256 if fmt == "pt" else None,
        device="cpu",
        **extra,
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model", MODELS)
def test_run_case_equals_engine_test(model, fmt, trained, anomalib_data, engine_results, request):
    from pyimgano.report import validate_report
    from pyimgano.runner import run_case

    expected = engine_results[(model, fmt)]
    report = run_case(_case(trained[model], fmt, anomalib_data, batch_size=8)).report
    got = report.metrics_anomalib
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=TOLERANCE), name
    data = report.to_dict()
    validate_report(data)
    assert data["settings"]["protocol"] == "anomalib"
    assert "antialias" in data["settings"]["protocol_note"]
    # Not the same computation: the protocol-exact pixel AUROC is another number.
    assert abs(got["pixel_AUROC"] - data["metrics"]["pixel_auroc"]) > 1e-4
    for name, value in got.items():
        request.node.user_properties.append((f"{model}_{fmt}_{name}", value))
    request.node.user_properties.append(
        (f"{model}_{fmt}_pixel_auroc_protocol_exact", data["metrics"]["pixel_auroc"])
    )


def test_without_protocol_no_metrics_anomalib(trained, anomalib_data):
    from pyimgano.runner import run_case

    case = _case(trained["padim"], "pt", anomalib_data, protocol=None, pixel=False)
    data = run_case(case).report.to_dict()
    assert "metrics_anomalib" not in data
    assert "protocol" not in data["settings"]


def test_cli_protocol_anomalib(trained, anomalib_data, engine_results, tmp_path):
    from pyimgano.cli.benchmark import main

    checkpoint = trained["patchcore"]
    out = tmp_path / "report.json"
    code = main([
        "--model", "vision_patchcore_anomalib", "--checkpoint-path", str(checkpoint.ckpt_path),
        "--dataset", "mvtec", "--root", str(anomalib_data), "--category", "tiles",
        "--device", "cpu", "--pixel", "--no-plots", "--no-progress",
        "--protocol", "anomalib", "--output", str(out),
    ])
    assert code == 0
    got = json.loads(out.read_text())["metrics_anomalib"]
    expected = engine_results[("patchcore", "ckpt")]
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=TOLERANCE), name

