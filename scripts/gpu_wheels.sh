#!/usr/bin/env bash
# Download, here, the wheels that scripts/gpu_check.sh needs on the lent GPU machine, into .whl/.
#
# That machine (device tool, kind nvidia-h200) has Python 3.12 with torch, torchvision, numpy,
# matplotlib, pytest, pygments, pyyaml, packaging, psutil, attrs, python-dateutil, markdown-it-py,
# coverage, ... preinstalled (see the tool library's device/KINDS.md), but no network and none
# of the notebook tooling below. These are exactly the missing packages, at the versions pinned in
# requirements.txt and checked together in .venv: nbval, nbclient, nbformat, ipykernel,
# jupyter_client, jupytext, Unidecode and what they need that is not there.
# The list was computed with pip's resolver for Python 3.12 (`pip download` of requirements.txt's
# notebook pins) minus the packages that KINDS.md lists. Total must stay well under the 64 MiB
# a device call may carry (about 13 MB; the data in .gpudata/ adds about 12 MB).
#
# Usage: bash scripts/gpu_wheels.sh     (in the repository root; needs pip and a package index)
#   GPU_WHEELS_DIR=/tmp/w GPU_WHEELS_PYTHON=3.11 bash scripts/gpu_wheels.sh   the same set for another
#   Python, e.g. to rehearse the install here (scripts/gpu_check.sh reads GPU_CHECK_WHEELS)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}
[[ -x .venv/bin/python ]] && PY=${PYTHON:-.venv/bin/python}

WHEELS=(
  # the notebook tools (pins from requirements.txt)
  nbval==0.11.0 nbclient==0.11.0 nbformat==5.11.1 ipykernel==7.4.0 ipython==9.18.1
  jupyter_client==8.10.0 jupytext==1.19.6 Unidecode==1.4.0
  # what they need that the GPU machine lacks
  jupyter_core==5.9.1 traitlets==5.16.1 platformdirs==4.14.8 pyzmq==27.3.0 tornado==6.6.1
  comm==0.2.3 debugpy==1.8.22 matplotlib-inline==0.2.2 nest-asyncio2==1.7.4
  ipython_pygments_lexers==1.1.1 jedi==0.20.1 parso==0.8.7 pexpect==4.9.0 ptyprocess==0.7.0
  prompt_toolkit==3.0.53 wcwidth==0.9.4 stack_data==0.6.3 executing==2.3.0 asttokens==3.0.2
  pure_eval==0.2.4 fastjsonschema==2.22.3 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
  referencing==0.37.0 rpds-py==2026.9.1 mdit-py-plugins==0.7.0
)

# .whl/ is git-ignored (.gitignore); the device README also asks for .git/info/exclude.
grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
DEST=${GPU_WHEELS_DIR:-.whl}
rm -rf "$DEST"
mkdir -p "$DEST"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "${GPU_WHEELS_PYTHON:-3.12}" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_26_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d "$DEST" "${WHEELS[@]}"

count=$(ls "$DEST"/*.whl | wc -l)
if (( count != ${#WHEELS[@]} )); then
  echo "expected ${#WHEELS[@]} wheels, got $count in $DEST/" >&2
  exit 1
fi
ls -1 "$DEST"
bytes=$(du -cb "$DEST"/*.whl | tail -1 | cut -f1)
echo "total: $count wheels, $(awk -v b="$bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }') in $DEST/ (a device call carries at most 64 MiB)"
if (( bytes > 40 * 1048576 )); then
  echo "more than 40 MiB of wheels: with the data that leaves too little of the 64 MiB" >&2
  exit 1
fi
