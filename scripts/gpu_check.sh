#!/usr/bin/env bash
# Check the book on a CUDA GPU: nbval on every PyTorch notebook with TUTORIAL_DEVICE=cuda (the same
# check as `make test`: exact cells compared, path-dependent cells asserting their claims), the
# char-GRU benchmark, and one report. Works on a GPU machine without network access.
#
#   bash scripts/gpu_check.sh [OUT_DIR]          # default OUT_DIR: /tmp/gpu_check
#
# Prepare it on a machine with network access, in the repository root:
#   bash scripts/gpu_wheels.sh                   # the notebook tools as wheels, in .whl/
#   cp -r "$TUTORIAL_DATA_MIRROR" .gpudata       # the data sets, laid out like the mirror
# Then copy the checkout (with .whl/ and .gpudata/) to the GPU machine and run this script there
# with a Python that has torch with CUDA. OUT_DIR receives gpu_check.md and gpu_check.json (copy
# them to benchmarks/results/), plus the logs. Exit status: 0 every check passed, 1 a check
# failed, 2 no usable GPU, 3 packages or data missing.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${1:-/tmp/gpu_check}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-python3}
say() { echo "[gpu_check ${SECONDS}s] $*"; }
stop() { say "$2"; exit "$1"; }

command -v nvidia-smi >/dev/null || stop 2 "no nvidia-smi on the PATH: this machine has no NVIDIA driver"
nvidia-smi -L 2>/dev/null | grep -q GPU || stop 2 "nvidia-smi lists no GPU"

site=/tmp/gpu_check_site
export PYTHONPATH="$ROOT/src:$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
  say "installing $(ls .whl/*.whl | wc -l) wheels from .whl/"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl/*.whl || stop 3 "pip could not install .whl/"
  export PYTHONPATH="$site:$PYTHONPATH"
fi
"$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' || stop 2 "$PY: torch sees no CUDA device"
"$PY" -c 'import nbval, nbclient, ipykernel, jupytext, unidecode, pooch, matplotlib_inline' ||
  stop 3 "notebook tools missing for $PY: make .whl/ with scripts/gpu_wheels.sh"
[[ -f .gpudata/iris/iris.data ]] || stop 3 "no data in .gpudata/: copy the data mirror there first"

export TUTORIAL_DEVICE=cuda TUTORIAL_DATA_MIRROR="$ROOT/.gpudata" TUTORIAL_DATA_DIR="$OUT/data"
export PYTHONHASHSEED=0 MPLBACKEND=module://matplotlib_inline.backend_inline
status=0
for notebook in notebooks/*.ipynb; do
  stem=$(basename "$notebook" .ipynb)
  if grep -q import_tensorflow "$notebook"; then say "$stem: TensorFlow, checked on the CPU only"; continue; fi
  say "nbval $stem"
  GPU_CHECK_GLUE="$OUT/glue_$stem.json" "$PY" -m pytest -q -p no:cacheprovider -p gpu_report --nbval "$notebook" \
    --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout 600 \
    --junitxml "$OUT/nbval_$stem.xml" >"$OUT/nbval_$stem.log" 2>&1 || { status=1; tail -30 "$OUT/nbval_$stem.log"; }
  tail -1 "$OUT/nbval_$stem.log"
done

say "benchmark: char-GRU, per-character loop against the fast recipe"
MPLBACKEND=Agg "$PY" benchmarks/char_rnn_benchmark.py --output "$OUT/char_rnn.json" >"$OUT/char_rnn.log" 2>&1 ||
  { status=1; tail -20 "$OUT/char_rnn.log"; }

"$PY" scripts/gpu_report.py "$OUT" || status=1
say "report: $OUT/gpu_check.md; $( ((status == 0)) && echo 'every check passed' || echo 'SOME CHECKS FAILED')"
exit "$status"
