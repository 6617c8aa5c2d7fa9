#!/usr/bin/env bash
# What did the anomalib upgrade change? (docs/UPGRADES.md)
#
#   scripts/upgrade-diff.sh OLD_VERSION NEW_VERSION [PYTEST_ARGS...]
#   e.g. scripts/upgrade-diff.sh 2.6.2 2.7.0
#
# 1. A release other than the venv's own is installed without its dependencies into
#    .anomalib-overlays/<version> (pip install --no-deps --target; ~10 MB) and run by putting
#    that directory first on PYTHONPATH. Its declared requirements are checked against the venv
#    first; if the venv cannot satisfy them, use the tox route (tox -e upgrade-anomalib27,upgrade-anomalib26).
# 2. The demo checkpoints are trained ONCE, under the venv's anomalib (pyimgano-demo
#    --prepare-only --no-export, cached in .pyimgano-demo/; the ONNX/OpenVINO exports are not
#    needed: scripts/upgrade-run.sh runs the torch entries only) — or, with TRAIN_WITH=<OLD or NEW version>, under
#    that release (into .anomalib-overlays/demo-trained-by-<version>/), e.g. TRAIN_WITH=2.6.2 for
#    the usual upgrade question: checkpoints of the old release, evaluated under the new one.
# 3. The demo suite runs under each release (scripts/upgrade-run.sh, .ckpt and .pt) into
#    pyimgano-reports/anomalib-<version>.
# 4. pyimgano-diff compares the two report dirs and prints its table.
#
# Exit status: pyimgano-diff's — 0 nothing moved beyond tolerance, 1 something moved (a metric,
# a nullness, or an item that ran under one release only, e.g. a checkpoint the other could not
# load), 2 unreadable reports — so a CI job can gate on it (`|| true` to only print). A failure
# of the recipe itself (bad arguments, pip, training, pytest crashing) exits 3 with an
# upgrade-diff: message on stderr.
# Environment: PYTHON (default .venv/bin/python), TRAIN_WITH (see 2.), DIFF_ARGS (extra
# pyimgano-diff options, e.g. "--tolerance 0.001 --changed-only").
set -euo pipefail

fail() {
    echo "upgrade-diff: $*" >&2
    exit 3
}

if [[ $# -lt 2 || $1 == -* || $2 == -* ]]; then
    echo "usage: $0 OLD_VERSION NEW_VERSION [PYTEST_ARGS...]   (e.g. 2.6.2 2.7.0)" >&2
    exit 3
fi
old=$1
new=$2
shift 2
[[ $old != "$new" ]] || fail "OLD and NEW are the same release ($old)"
for version in "$old" "$new"; do
    [[ $version =~ ^[0-9]+(\.[0-9]+)*([a-z0-9.+-]*)$ ]] || fail "not a release number: '$version'"
done

cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
[[ -x $python ]] || python=$(command -v python3) || fail "no python found (set PYTHON)"
venv_version=$(PYTHONPATH= "$python" -c \
    'from importlib.metadata import version; print(version("anomalib"))') \
    || fail "$python has no anomalib installed"

# PYTHONPATH under which anomalib $1 is imported: empty for the venv's release, else an overlay.
overlay_for() {
    local version=$1 dir=.anomalib-overlays/$1
    if [[ $version == "$venv_version" ]]; then
        return
    fi
    if [[ ! -f $dir/.complete ]]; then
        echo "upgrade-diff: installing anomalib==$version into $dir (no dependencies)" >&2
        rm -rf "$dir"
        "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
            --target "$dir" "anomalib==$version" >&2 || fail "pip could not install anomalib==$version"
        touch "$dir/.complete"
    fi
    # The overlay holds anomalib only; everything else comes from the venv, so anomalib's own
    # requirements must be met there.
    PYTHONPATH= "$python" - "$dir" >&2 <<'EOF' || fail "the venv cannot run anomalib $version from $dir (see above); use tox"
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

overlay = Path(sys.argv[1])
(dist,) = metadata.distributions(path=[str(overlay)])
problems = []
checked = 0
for text in dist.requires or []:
    req = Requirement(text)
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue  # an optional extra, or another platform's
    checked += 1
    try:
        have = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        problems.append(f"{req} (not installed)")
        continue
    if not req.specifier.contains(have, prereleases=True):
        problems.append(f"{req} (venv has {have})")
name = f"anomalib {dist.version}"
if problems:
    print(f"upgrade-diff: {name} needs, but the venv lacks: " + "; ".join(problems))
    sys.exit(1)
print(f"upgrade-diff: {name} overlay: the venv meets its {checked} requirements")
EOF
    realpath "$dir"
}

old_path=$(overlay_for "$old")
new_path=$(overlay_for "$new")

train=${TRAIN_WITH:-$venv_version}
case $train in
    "$venv_version") train_path= demo_root=.pyimgano-demo ;;
    "$old") train_path=$old_path demo_root=.anomalib-overlays/demo-trained-by-$old ;;
    "$new") train_path=$new_path demo_root=.anomalib-overlays/demo-trained-by-$new ;;
    *) fail "TRAIN_WITH=$train is neither OLD ($old), NEW ($new) nor the venv's $venv_version" ;;
esac
echo "== training the demo checkpoints once, under anomalib $train, into $demo_root" >&2
PYTHONPATH=$train_path "$python" -m pyimgano.cli.demo --prepare-only --no-export \
    --root "$demo_root" \
    || fail "pyimgano-demo --prepare-only failed"

for side in old new; do
    version=${!side}
    path_var=${side}_path
    PYTHONPATH=${!path_var} "$python" -c \
        "import anomalib, sys; sys.exit(anomalib.__version__ != '$version')" 2>/dev/null \
        || fail "PYTHONPATH=${!path_var} does not import anomalib $version"
    echo "== demo suite under anomalib $version -> pyimgano-reports/anomalib-$version" >&2
    PYTHONPATH=${!path_var} PYTHON=$python DEMO_ROOT=$demo_root scripts/upgrade-run.sh \
        "pyimgano-reports/anomalib-$version" "$@" || fail "the suite run under anomalib $version failed"
done

echo "== pyimgano-diff pyimgano-reports/anomalib-$old pyimgano-reports/anomalib-$new" >&2
set +e
# shellcheck disable=SC2086 # DIFF_ARGS is a list of options
PYTHONPATH= "$python" -m pyimgano.cli.diff ${DIFF_ARGS:-} \
    "pyimgano-reports/anomalib-$old" "pyimgano-reports/anomalib-$new"
status=$?
set -e
echo "upgrade-diff: pyimgano-diff exit status $status" >&2
exit "$status"
