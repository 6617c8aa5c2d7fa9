#!/usr/bin/env bash
# The GPU check of BENCHMARKS.md, prepared to run once on a lent GPU machine (one H200, 16 CPU
# cores; an estimated 5 minutes, not yet run there), and dry-run on any CPU machine at a tiny
# scale:
#
#   scripts/gpu-check.sh                                  # on the GPU machine, results in $OUT
#   SCALE=tiny DEVICE=cpu PYTHON=.venv/bin/python OUT=/tmp/gpu-check-tiny scripts/gpu-check.sh
#
# Wheels. The GPU machine has no network; its image has torch, torchvision, lightning, timm,
# torchmetrics, opencv, scikit-image/learn, matplotlib, pandas, numpy, scipy and pytest, but not
# anomalib. Before the run, on a machine with network, fill .whl/ at the repository root
# (git-ignored) with Python 3.12 manylinux x86_64 wheels of what is missing, without their
# dependencies (pip download --no-deps --only-binary=:all: --python-version 3.12
# --implementation cp --platform manylinux_2_17_x86_64 --platform any -d .whl ...): anomalib
# and the parts of its dependency tree the image lacks (kornia, kornia-rs, omegaconf,
# jsonargparse and their helpers; freia is published as a source archive only, so
# `pip wheel --no-deps freia`), pyimgano's own core dependencies the image lacks (jsonschema,
# jsonschema-specifications, referencing, rpds-py), and pyimgano's own wheel
# (`pip wheel --no-deps -w .whl .`, for its entry points; the code itself is imported from
# this checkout, which comes first on PYTHONPATH). Name `.whl` in the device run's carry; this
# script installs it into /tmp/site when it exists.
#
# What runs (each step's failure is recorded and the next still runs; exit status 1 if any
# failed), everything written under $OUT (default ./gpu-check-out) as JSON plus text:
# a. the per-image check, 256 px synthetic `tiles` (160 test images) and a PaDiM trained on it:
#    tests/benchmarks/gpu_check.py, batched `evaluate` WITH exact pixel metrics against the
#    per-image TorchInferencer loop (which computes no metrics) on the same images: images/s
#    of each, the ratio (target >= 5x), environment.metrics_device, the share of evaluate's
#    time in the forward pass and outside it -> $OUT/pixel/gpu_check.json;
# b. the MVTec-scale synthetic run, scripts/gpu-mvtec-scale.py: 15 categories x 115 test
#    images at 900x900 (masks too), PaDiM and PatchCore resnet18 at 256 px, each trained once
#    and reused for every category, end to end through run_case with exact AU-PRO: wall time
#    and the share outside the forward pass -> $OUT/mvtec-scale/mvtec_scale.{json,txt};
# c. the rest of the per-image check: without pixel metrics ($OUT/nopixel), with 8 decode
#    workers ($OUT/workers8), and the checkpoint's bare forward by batch size with a profile
#    (tests/benchmarks/gpu_forward.py -> $OUT/gpu_forward.txt);
# d. only with DEMO=1: the demo suite through the pytest plugin on the device.
# $OUT/summary.txt collects the headline figures; $OUT/gpu-check.log is the whole output.
#
# SCALE=tiny (the CPU dry run): (a) at 64 px with 10 images, (b) as the script's own SCALE=tiny
# (2 categories x 10 images at 128 px), one timed pass each. DEVICE (cuda) and PYTHON (python3)
# choose the device and interpreter; WORK (/tmp/gpu-check-$SCALE) is where data and checkpoints
# go (kept: a rerun on the same machine reuses them). One device call, wheels carried, an
# estimated 5 minutes:
#   run(command="timeout 540 scripts/gpu-check.sh", carry=[".whl"], timeout_s=600)
# ($OUT is set there; results come back from it even when the timeout cuts the run short).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-check-out}
scale=${SCALE:-full}
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
case $scale in
    full) size=256 good=64 bad=32 repeats=2 forward=(--size 256 --batches 1,32,128) ;;
    tiny) size=64 good=4 bad=2 repeats=1 forward=(--size 64 --batches 1,4) ;;
    *) echo "SCALE=$scale: expected full or tiny" >&2; exit 2 ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
exec > >(tee -a "$out/gpu-check.log") 2>&1
if [[ -d .whl ]]; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { echo "installing .whl/ failed" >&2; exit 1; }
    export PATH=/tmp/site/bin:$PATH
    export PYTHONPATH=$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
else
    export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 SCALE=$scale
work=${WORK:-/tmp/gpu-check-$scale}
failed=()
step() {  # step NAME COMMAND...: run, time, peak memory; record a failure without stopping
    local name=$1 began=$SECONDS sampler=
    shift
    echo "== $name"
    if command -v nvidia-smi >/dev/null; then  # device memory in use, sampled every 200 ms
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 \
            >"$out/.gpu-mem-$name.txt" 2>/dev/null &
        sampler=$!
    fi
    local timer=()
    if [[ -x /usr/bin/time ]]; then  # peak host RSS of the step's largest process
        timer=(/usr/bin/time -f "%M" -o "$out/.rss-$name.txt")
    fi
    if ! "${timer[@]}" "$@"; then
        failed+=("$name")
        echo "== $name FAILED"
    fi
    if [[ -n $sampler ]]; then
        kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    fi
    local rss=n/a gpu=n/a
    [[ -s $out/.rss-$name.txt ]] && rss="$(($(tail -1 "$out/.rss-$name.txt") / 1024)) MB"
    [[ -s $out/.gpu-mem-$name.txt ]] && gpu="$(sort -n "$out/.gpu-mem-$name.txt" | tail -1) MiB"
    echo "$name: peak host RSS $rss, peak device memory used $gpu" | tee -a "$out/peak_memory.txt"
    echo "== $name: $((SECONDS - began)) s"
}

if [[ $device == cuda* ]] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
fi
"$python" -c "import platform, torch, anomalib; print('python', platform.python_version(), \
'torch', torch.__version__, 'anomalib', anomalib.__version__, 'cuda', torch.version.cuda, \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')" | tee "$out/versions.txt"

prepare() {
    "$python" - "$work" "$size" "$good" "$bad" <<'PY'
import sys, time
from pyimgano.datasets.synthetic import generate
from pyimgano.demo.training import train_checkpoint
work, size, good, bad = sys.argv[1], *map(int, sys.argv[2:])
began = time.perf_counter()
generate(f"{work}/data", categories=("tiles",), size=size, n_test_good=good,
         n_test_bad_per_defect=bad)
trained = train_checkpoint("padim", f"{work}/data", "tiles", f"{work}/ckpt", image_size=size)
print(f"data + training: {time.perf_counter() - began:.1f} s -> {trained.pt_path}")
PY
}
check() {
    "$python" tests/benchmarks/gpu_check.py --device "$device" --repeats "$repeats" \
        --checkpoint "$work/ckpt/padim/tiles/model.pt" --data "$work/data" --category tiles "$@"
}
step "a. data and PaDiM" prepare
step "a. evaluate (pixel metrics) vs loop" check --out "$out/pixel"
step "b. MVTec-scale run" "$python" scripts/gpu-mvtec-scale.py --device "$device" \
    --out "$out/mvtec-scale" --work "$work/mvtec-scale"
step "c. evaluate (no pixel metrics) vs loop" check --out "$out/nopixel" --no-pixel
step "c. evaluate (8 decode workers) vs loop" check --out "$out/workers8" --decode-workers 8
forward_pass() {
    "$python" tests/benchmarks/gpu_forward.py "$work/ckpt/padim/tiles/model.pt" \
        --device "$device" "${forward[@]}" > "$out/gpu_forward.txt" 2>&1
    local rc=$?
    cat "$out/gpu_forward.txt"
    return $rc
}
step "c. bare forward by batch size" forward_pass
if [[ ${DEMO:-0} == 1 ]]; then
    demo() {
        "$python" -m pyimgano.cli.demo --prepare-only --root .pyimgano-demo &&
            "$python" -m pytest suites/demo.yaml -p no:cacheprovider \
                --pyimgano-device="$device" --snapshot-update \
                --pyimgano-report-dir /tmp/gpu-check-reports -q 2>&1 | tail -15 &&
            cp /tmp/gpu-check-reports/summary.md "$out/demo-summary.md"
    }
    step "d. demo suite" demo
fi

"$python" - "$out" <<'PY' | tee "$out/summary.txt"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for name in ("pixel", "nopixel", "workers8"):
    path = out / name / "gpu_check.json"
    if not path.exists():
        print(f"{name}: no result")
        continue
    r = json.loads(path.read_text())
    split = r.get("last_evaluate_split", {})
    print(f"{name}: {r['n_images']} images {r['image_size']}, {r['device']} ({r['gpu']}), "
          f"evaluate {r['median_images_per_s']['evaluate']:.1f} images/s, loop "
          f"{r['median_images_per_s']['loop']:.1f} images/s, evaluate/loop "
          f"{r['evaluate_over_loop_speed']:.2f}x (target {r['target_evaluate_over_loop_speed']:g}x"
          f": {'met' if r['meets_target'] else 'missed'}), metrics_device "
          f"{r['metrics_device']}, forward {100 * split.get('share_forward', 0):.0f}% of "
          f"evaluate's wall time; torch {r['versions']['torch']}, cuda {r['versions']['cuda']}")
text = out / "mvtec-scale" / "mvtec_scale.txt"
print(text.read_text(), end="") if text.exists() else print("mvtec-scale: no summary")
PY
cat "$out/peak_memory.txt" 2>/dev/null | tee -a "$out/summary.txt"
if ((${#failed[@]})); then
    printf 'FAILED: %s\n' "${failed[@]}" | tee -a "$out/summary.txt"
    exit 1
fi
echo "all steps passed; results in $out"
