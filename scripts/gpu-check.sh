#!/usr/bin/env bash
# The GPU check of BENCHMARKS.md, as run on the lent H200 (device tool). Wheels in .whl/ from
# ../shared/device/prepare-wheels.sh plus pyimgano's own core dependencies that image lacks:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 --platform any -d .whl \
#     jsonschema jsonschema-specifications referencing rpds-py
# Results under $OUT (default ./gpu-check-out).
#   scripts/gpu-check.sh
# 1. a 256 px synthetic category (160 test images) and a PaDiM trained on it (no downloads);
# 2. tests/benchmarks/gpu_check.py: batched evaluate vs a per-image TorchInferencer loop on cuda,
#    with pixel metrics, without, and with 8 decode workers;
# 3. the demo suite through the pytest plugin on cuda.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
mkdir -p "$out"
if [[ -d .whl ]]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
python3 -c "import torch, anomalib; print('torch', torch.__version__, 'anomalib', anomalib.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
work=/tmp/gpu-check
python3 - "$work" <<'PY'
import sys, time
from pyimgano.datasets.synthetic import generate
from pyimgano.training import train_checkpoint
work = sys.argv[1]
began = time.perf_counter()
generate(f"{work}/data", categories=("tiles",), size=256, n_test_good=64, n_test_bad_per_defect=32)
trained = train_checkpoint("padim", f"{work}/data", "tiles", f"{work}/ckpt", image_size=256)
print(f"data + training: {time.perf_counter() - began:.1f} s -> {trained.pt_path}")
PY
check() {
    python3 tests/benchmarks/gpu_check.py --device cuda --checkpoint "$work/ckpt/padim/tiles/model.pt" \
        --data "$work/data" --category tiles "$@"
}
check --out "$out/pixel"
check --out "$out/nopixel" --no-pixel
check --out "$out/workers8" --decode-workers 8
python3 tests/benchmarks/gpu_forward.py "$work/ckpt/padim/tiles/model.pt"
python3 -m pyimgano.cli.demo --prepare-only --root .pyimgano-demo
python3 -m pytest suites/demo.yaml -p no:cacheprovider --pyimgano-device=cuda --snapshot-update \
    --pyimgano-report-dir /tmp/gpu-check-reports -q 2>&1 | tail -15
cp /tmp/gpu-check-reports/summary.md "$out/demo-summary.md"
