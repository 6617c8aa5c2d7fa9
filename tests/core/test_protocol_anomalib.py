"""``protocol: anomalib`` without training: the suite key and CLI flag, refusals, the lazy
imports, and :func:`pyimgano.protocols.anomalib.anomalib_test_metrics`' arithmetic on a fake
module against the definitions (sklearn's AUROC, F1 counted by hand). Its equality with
anomalib's own ``Engine.test`` on real checkpoints is tests/anomalib/test_anomalib_protocol.py.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pyimgano.errors import ConfigError, SuiteError
from tests.plugin.test_suite import base, expand


def test_suite_protocol_reaches_the_case_model_over_defaults():
    data = copy.deepcopy(base())
    data["defaults"]["protocol"] = "anomalib"
    bottle, _ = expand(data)
    assert bottle.case.protocol == "anomalib"
    assert expand(base())[0].case.protocol is None


def test_suite_unknown_protocol_names_file_key_and_choices():
    data = copy.deepcopy(base())
    data["models"][0]["protocol"] = "mvtec"
    with pytest.raises(
        SuiteError,
        match=r"^suites/release\.yaml: models\[0\]\.protocol: 'mvtec' is not a protocol; "
        r"expected one of: anomalib$",
    ):
        expand(data)


def test_suite_schema_knows_protocol():
    from pyimgano.report import load_schema

    schema = load_schema("suite")
    assert schema["$defs"]["protocol"]["enum"] == ["anomalib"]


def test_cli_rejects_an_unknown_protocol(capsys):
    from pyimgano.cli.benchmark import main

    with pytest.raises(SystemExit) as raised:
        main(["--model", "m", "--dataset", "mvtec", "--root", "r", "--category", "c",
              "--protocol", "mvtec"])
    assert raised.value.code == 2
    assert "--protocol: invalid choice: 'mvtec'" in capsys.readouterr().err


def test_run_case_refuses_a_bad_protocol_first(tmp_path):
    from pyimgano.runner import Case, run_case

    case = Case(model="m", dataset_format="mvtec", root=tmp_path / "none", category="c",
                protocol="anomalib2")
    with pytest.raises(ConfigError, match=r"^protocol: 'anomalib2' is not a protocol"):
        run_case(case)


def test_a_model_without_a_torch_module_is_refused():
    from pyimgano.protocols.anomalib import anomalib_module

    onnx_like = SimpleNamespace(runtime="onnxruntime")
    with pytest.raises(ConfigError, match=r"needs a torch anomalib checkpoint .*\(onnxruntime\)"):
        anomalib_module(onnx_like)


def test_imports_stay_free_of_torch():
    code = (
        "import sys, pyimgano.protocols, pyimgano.protocols.anomalib, pyimgano.metrics, "
        "pyimgano.runner, pyimgano.report; "
        "print(sorted(m for m in ('torch', 'anomalib', 'torchmetrics') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_report_metrics_anomalib_is_optional_and_validated():
    from pyimgano.report import ReportError, validate_report
    from tests.core.test_report import make_report

    report = make_report()
    assert "metrics_anomalib" not in report.to_dict()
    report.metrics_anomalib = {"image_AUROC": 0.5, "pixel_AUROC": None}
    data = report.to_dict()
    validate_report(data)
    data["metrics_anomalib"]["image_AUROC"] = "0.5"
    with pytest.raises(ReportError):
        validate_report(data)


# -- the arithmetic, on a fake module ---------------------------------------------------------


def _fake_module(torch):
    """A module shaped like anomalib's: nearest resize to half size, a model whose score is the
    red channel's mean and whose map is the red channel, and a post-processor that maps x to
    2 (x - 0.25) clamped to [0, 1] (ties at both ends) and thresholds at 0.5."""
    from torchvision.transforms import v2

    class Model(torch.nn.Module):
        def forward(self, image):
            red = image[:, 0]
            return SimpleNamespace(pred_score=red.mean(dim=(-2, -1)), anomaly_map=red)

    class Post:
        @staticmethod
        def post_process_batch(batch):
            batch.pred_score = ((batch.pred_score - 0.25) * 2).clamp(0, 1)
            batch.anomaly_map = ((batch.anomaly_map - 0.25) * 2).clamp(0, 1)
            batch.pred_label = batch.pred_score > 0.5
            batch.pred_mask = batch.anomaly_map > 0.5

    class Module(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))
            self.model = Model()
            self.pre_processor = SimpleNamespace(
                transform=v2.Resize((4, 4), interpolation=v2.InterpolationMode.NEAREST)
            )
            self.post_processor = Post()

    return Module()


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def test_metrics_against_the_definitions(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchmetrics")
    from PIL import Image
    from sklearn.metrics import roc_auc_score

    from pyimgano.datasets.base import Sample
    from pyimgano.protocols.anomalib import anomalib_test_metrics

    rng = np.random.default_rng(3)
    samples, reds, masks = [], [], []
    for index in range(9):
        side = 8 if index < 5 else 12  # two sizes: batches never mix them
        red = rng.integers(0, 256, (side, side)).astype(np.uint8)
        red[: side // 2] = 255 if index % 3 == 0 else red[: side // 2]  # clamped ties at 1
        red[side // 2 :, : side // 2] = 0  # clamped ties at 0
        rgb = np.stack([red, red // 2, red // 3], axis=-1)
        path = tmp_path / f"{index}.png"
        Image.fromarray(rgb).save(path)
        label = int(index % 2 == 1)
        mask = np.zeros((side, side), dtype=bool)
        mask_paths = None
        if label:
            mask[1 : side // 2 + 1, 2:6] = True
            mask_path = tmp_path / f"{index}_mask.png"
            Image.fromarray(mask.astype(np.uint8) * 255).save(mask_path)
            mask_paths = (mask_path,)
        samples.append(Sample(image_path=path, label=label, mask_paths=mask_paths,
                              defect_type="bad" if label else "good"))
        step = side // 4  # nearest resize to 4x4 picks every step-th row and column
        reds.append(red[::step, ::step].astype(np.float32) / 255)
        masks.append(mask[::step, ::step])

    got = anomalib_test_metrics(SimpleNamespace(module=_fake_module(torch)), samples,
                                batch_size=3)
    labels = np.array([s.label for s in samples], dtype=bool)
    scores = np.array([np.clip((r.mean() - 0.25) * 2, 0, 1) for r in reds])
    maps = np.concatenate([np.clip((r - 0.25) * 2, 0, 1).ravel() for r in reds])
    truth = np.concatenate([m.ravel() for m in masks])
    assert (maps == 0).sum() > 10 and (maps == 1).sum() > 10  # the ties are there
    expected = {
        "image_AUROC": roc_auc_score(labels, scores),
        "image_F1Score": _f1(scores > 0.5, labels),
        "pixel_AUROC": roc_auc_score(truth, maps),
        "pixel_F1Score": _f1(maps > 0.5, truth),
    }
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-6), name  # float32, as anomalib


def test_no_masks_no_pixel_metrics(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("torchmetrics")
    from PIL import Image

    from pyimgano.datasets.base import Sample
    from pyimgano.protocols.anomalib import anomalib_test_metrics

    samples = []
    for index in range(4):
        path = tmp_path / f"{index}.png"
        Image.fromarray(np.full((8, 8, 3), 60 * index, dtype=np.uint8)).save(path)
        samples.append(Sample(image_path=Path(path), label=index % 2, mask_paths=None,
                              defect_type="bad" if index % 2 else "good"))
    got = anomalib_test_metrics(SimpleNamespace(module=_fake_module(torch)), samples)
    assert got["pixel_AUROC"] is None and got["pixel_F1Score"] is None
    assert got["image_AUROC"] == pytest.approx(0.625)  # scores 0, 0, .44, .91; labels 0101
