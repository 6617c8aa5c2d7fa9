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
# depth as suites/, so its relative paths hold): demo-ckpt.yaml (the Lightning .ckpt files, as
# suites/demo.yaml) and demo-pt.yaml (the exported .pt files of the same fit, loaded with
# --pyimgano-trust-checkpoints: they were trained on this machine). Their snapshots live in
# pyimgano-upgrade/__snapshots__ and are rewritten (--snapshot-update), so an expected
# snapshot change never fails an item and suites/__snapshots__ is never touched; thresholds still
# gate. REPORT_DIR is emptied first (stale reports would be diffed).
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
sed "s|\.\./\.pyimgano-demo/|$demo_root/|" suites/demo.yaml > "$work/demo-ckpt.yaml"
sed 's|/model\.ckpt$|/model.pt|' "$work/demo-ckpt.yaml" > "$work/demo-pt.yaml"
if ! grep -q '/model\.pt$' "$work/demo-pt.yaml"; then
    echo "$0: suites/demo.yaml names no */model.ckpt checkpoint to turn into .pt" >&2
    exit 4
fi

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
