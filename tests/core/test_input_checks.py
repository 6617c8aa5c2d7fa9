"""Input errors are found before the heavy imports (docs/REFERENCE.md §7): a missing file, an
unknown category, a malformed device, bad kwargs or a pin mismatch are refused by
``pyimgano-benchmark`` and by the runner the plugin's items use, with torch, anomalib and the
runtimes never imported.

One child interpreter runs every case (the parent test process has torch imported already);
after each case it records which heavy modules are in ``sys.modules``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "anomalib", "lightning", "onnxruntime", "openvino", "timm")
REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import contextlib, io, json, sys
from pathlib import Path

from pyimgano.cli.benchmark import main
from pyimgano.errors import PyImganoError
from pyimgano.runner import Case, run_case

HEAVY = {heavy!r}
cases = json.loads(sys.argv[1])
results = []
for case in cases:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        if case["kind"] == "cli":
            code, message = main(case["argv"]), None
        else:  # the runner, as a plugin item calls it
            code, message = None, None
            try:
                run_case(Case(**{{k: Path(v) if k in ("root", "checkpoint", "reference") and v
                                 else v for k, v in case["case"].items()}}))
            except PyImganoError as exc:
                message = f"{{type(exc).__name__}}: {{exc}}"
    results.append({{"code": code, "stderr": err.getvalue(), "message": message,
                    "heavy": sorted(m for m in HEAVY if m in sys.modules)}})
print(json.dumps(results))
"""


def run_child(cases: list[dict], cwd: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(heavy=HEAVY), json.dumps(cases)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """A checkpoint and a reference of each kind (contents never parsed by the input checks)."""
    made = {}
    for name in ("model.ckpt", "ref.ckpt", "model.pt"):
        (tmp_path / name).write_bytes(b"PK\x03\x04" + name.encode())
        made[name] = str(tmp_path / name)
    (tmp_path / "model.xml").write_text("<net/>")
    made["model.xml"] = str(tmp_path / "model.xml")
    made["missing"] = str(tmp_path / "nope" / "model.pt")
    return made


def sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_bad_inputs_are_refused_without_importing_torch_or_anomalib(tmp_path, synthetic_root,
                                                                    files):
    wrong = "0" * 64
    base = ["--dataset", "mvtec", "--root", str(synthetic_root), "--category", "tiles",
            "--model", "vision_padim_anomalib", "--no-progress", "--no-plots"]
    ckpt = ["--checkpoint-path", files["model.ckpt"]]
    category = list(base)
    category[category.index("tiles")] = "bottel"
    cli = [
        # (argv, the text the one stderr line must hold)
        (base + ["--checkpoint-path", files["missing"]],
         f"{files['missing']}: checkpoint file not found"),
        (category + ckpt, "category 'bottel'"),
        (base + ckpt + ["--device", "cuda:x"], "unknown device 'cuda:x'"),
        (base + ckpt + ["--device", "tpu"], "unknown device 'tpu'"),
        (base + ckpt + ["--model-kwargs", "{bad"], "--model-kwargs: not valid JSON"),
        (base + ckpt + ["--model-kwargs", '{"maps_on_device": "false"}'],
         "maps_on_device='false': expected a boolean"),
        (base + ckpt + ["--model-kwargs", '{"noize": 1}'], "does not accept 'noize'"),
        (base + ckpt + ["--checkpoint-sha256", wrong],
         f"{files['model.ckpt']}: sha256 mismatch, refusing to load it: the file's sha256 is "
         f"{sha(files['model.ckpt'])} but the pin is {wrong}"),
        (base + ["--checkpoint-path", files["model.pt"], "--checkpoint-sha256", wrong],
         f"{files['model.pt']}: sha256 mismatch"),
        (base + ckpt + ["--reference-checkpoint", files["ref.ckpt"], "--reference-sha256",
                        wrong],
         f"{files['ref.ckpt']}: sha256 mismatch, refusing to load it: the file's sha256 is "
         f"{sha(files['ref.ckpt'])} but the pin is {wrong}; if the file changed on purpose, pin "
         f"it again with --reference-sha256 {sha(files['ref.ckpt'])} (CLI)"),
        (base + ckpt + ["--reference-checkpoint", files["missing"]],
         f"{files['missing']}: checkpoint file not found"),
        (base + ["--checkpoint-path", files["model.xml"]],
         f"{files['model.xml']}: its weights file model.bin is missing"),
        (base + ["--checkpoint-path", str(tmp_path / "model.safetensors")],
         "unsupported checkpoint type '.safetensors'"),
    ]
    runner = [
        ({"category": "tiles", "checkpoint": files["missing"]},
         f"CheckpointError: {files['missing']}: checkpoint file not found"),
        ({"category": "bottel", "checkpoint": files["model.ckpt"]}, "DatasetError: category "),
        ({"category": "tiles", "checkpoint": files["model.ckpt"], "device": "gpu0"},
         "DeviceError: unknown device 'gpu0'"),
        ({"category": "tiles", "checkpoint": files["model.ckpt"], "checkpoint_sha256": wrong},
         f"CheckpointError: {files['model.ckpt']}: sha256 mismatch"),
        ({"category": "tiles", "checkpoint": files["model.ckpt"], "reference": files["ref.ckpt"],
          "reference_sha256": wrong}, f"CheckpointError: {files['ref.ckpt']}: sha256 mismatch"),
    ]
    cases = [{"kind": "cli", "argv": argv} for argv, _ in cli] + [
        {"kind": "runner", "case": {"model": "vision_padim_anomalib", "dataset_format": "mvtec",
                                    "root": str(synthetic_root), **fields}}
        for fields, _ in runner
    ]
    results = run_child(cases, tmp_path)
    for (argv, expected), result in zip(cli, results[: len(cli)], strict=True):
        lines = result["stderr"].strip().splitlines()
        assert result["code"] == 2, (argv, result)
        assert len(lines) == 1 and lines[0].startswith("pyimgano-benchmark: error: "), result
        assert expected in lines[0], (expected, lines[0])
        assert result["heavy"] == [], (argv, result["heavy"])
    for (fields, expected), result in zip(runner, results[len(cli):], strict=True):
        assert result["message"] is not None and result["message"].startswith(expected), (
            fields, result["message"])
        assert "\n" not in result["message"]
        assert result["heavy"] == [], (fields, result["heavy"])


def test_the_child_would_see_a_heavy_import(tmp_path, synthetic_root, files):
    """Control for the test above: a run that gets as far as loading does import torch and
    anomalib in the child, so an empty list there means they were not imported."""
    argv = ["--dataset", "mvtec", "--root", str(synthetic_root), "--category", "tiles",
            "--model", "vision_padim_anomalib", "--checkpoint-path", files["model.ckpt"],
            "--device", "cpu", "--no-progress", "--no-plots"]
    (result,) = run_child([{"kind": "cli", "argv": argv}], tmp_path)
    assert result["code"] == 2  # the crafted bytes are no checkpoint
    assert {"torch", "anomalib"} <= set(result["heavy"]), result
