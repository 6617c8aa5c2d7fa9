#!/usr/bin/env bash
# Run the demo suite, for both checkpoint formats, under the anomalib that $PYTHON imports,
# writing the reports into REPORT_DIR (docs/UPGRADES.md). Used by scripts/upgrade-diff.sh (once
# per release, with PYTHONPATH pointing at an overlay) and by the tox upgrade-* environments.
#
#   scripts/upgrade-run.sh REPORT_DIR [PYTEST_ARGS...]
#
# The checkpoints must exist (`pyimgano-demo --prepare-only [--root DEMO_ROOT]`); they are never
# retrained here. DEMO_ROOT (default .pyimgano-demo, relative to the repository root) is where.
# The suite runs from two generated copies of suites/demo.yaml in pyimgano-upgrade/ (same
# depth as suites/, so its relative paths hold), holding only its torch entries (the ONNX /
# OpenVINO entries with a `reference:` are left out: those runtimes do not change with
# anomalib): demo-ckpt.yaml (the Lightning .ckpt files, as suites/demo.yaml) and demo-pt.yaml
# (the exported .pt files of the same fit, loaded with --pyimgano-trust-checkpoints: they were
# trained on this machine). Their snapshots live in pyimgano-upgrade/__pyimgano_snapshots__ and
# are rewritten (--snapshot-update), so an expected snapshot change never fails an item and the
# committed suites/__pyimgano_snapshots__ is never touched; thresholds still gate. REPORT_DIR is
# emptied first (stale reports would be diffed).
#
# Exit status: 0 when pytest ran (all passed, or some items failed: their reports, or their
# absence, are what the diff reads), else pytest's own status (2 interrupted, 3 internal error,
# 4 usage error, 5 nothing collected).
set -euo pipefail

if [[ $# -lt 1 || $1 == -* ]]; then
    echo "usage: $0 REPORT_DIR [PYTEST_ARGS...]" >&2
    exit 4
fi
report_dir=$1
shift
cd "$(dirname "$0")/.."
python=${PYTHON:-python}
work=pyimgano-upgrade
demo_root=${DEMO_ROOT:-.pyimgano-demo}
[[ $demo_root == /* ]] || demo_root=../$demo_root  # relative to $work, as ../ in suites/

rm -rf "$work" "$report_dir"
mkdir -p "$work"
# One YAML document per format: the torch entries of suites/demo.yaml, paths re-rooted.
"$python" - "$demo_root" "$work" <<'PY'
import sys
from pathlib import Path

import yaml

demo_root, work = sys.argv[1], Path(sys.argv[2])
suite = yaml.safe_load(Path("suites/demo.yaml").read_text("utf-8"))
suite["models"] = [m for m in suite["models"] if "reference" not in m]
for dataset in suite["datasets"].values():
    dataset["root"] = dataset["root"].replace("../.pyimgano-demo", demo_root)
for suffix in ("ckpt", "pt"):
    for model in suite["models"]:
        path = model["checkpoint"].replace("../.pyimgano-demo", demo_root)
        model["checkpoint"] = path.rsplit(".", 1)[0] + "." + suffix
    if not suite["models"]:
        sys.exit("suites/demo.yaml names no torch checkpoint entry")
    text = yaml.safe_dump(suite, sort_keys=False)
    (work / f"demo-{suffix}.yaml").write_text(text, "utf-8")
PY

set +e
"$python" -m pytest "$work/demo-ckpt.yaml" "$work/demo-pt.yaml" -p no:cacheprovider -q \
    --pyimgano-report-dir="$report_dir" --pyimgano-trust-checkpoints \
    --snapshot-update "$@"
status=$?
set -e
if [[ $status -le 1 ]]; then
    exit 0
fi
echo "$0: pytest exited with status $status" >&2
exit "$status"
