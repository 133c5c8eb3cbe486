#!/usr/bin/env bash
# Download into .whl/ the wheels that scripts/gpu_check.sh installs on a GPU machine without
# network access: the notebook tools pinned in requirements.txt and what they need beyond a
# typical CUDA PyTorch image (Python 3.12 with torch, torchvision, numpy, matplotlib, pytest,
# pyyaml, packaging, requests, ...). About 15 MiB.
#
#   bash scripts/gpu_wheels.sh                       # in the repository root, with network access
#   GPU_WHEELS_PYTHON=3.11 bash scripts/gpu_wheels.sh  # for another Python version on the GPU machine
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=python3
[[ -x .venv/bin/python ]] && PY=.venv/bin/python

WHEELS=(
  nbval==0.11.0 nbclient==0.11.0 nbformat==5.11.1 ipykernel==7.4.0 ipython==9.18.1
  jupyter_client==8.10.0 jupytext==1.19.6 Unidecode==1.4.0 pooch==1.9.0
  jupyter_core==5.9.1 traitlets==5.16.1 platformdirs==4.14.8 pyzmq==27.3.0 tornado==6.6.1
  comm==0.2.3 debugpy==1.8.22 matplotlib-inline==0.2.2 nest-asyncio2==1.7.4
  ipython_pygments_lexers==1.1.1 jedi==0.20.1 parso==0.8.7 pexpect==4.9.0 ptyprocess==0.7.0
  prompt_toolkit==3.0.53 wcwidth==0.9.4 stack_data==0.6.3 executing==2.3.0 asttokens==3.0.2
  pure_eval==0.2.4 fastjsonschema==2.22.3 jsonschema==4.26.0 jsonschema-specifications==2025.9.1
  referencing==0.37.0 rpds-py==2026.9.1 mdit-py-plugins==0.7.0
)

rm -rf .whl && mkdir .whl
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version "${GPU_WHEELS_PYTHON:-3.12}" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_26_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d .whl "${WHEELS[@]}"
count=$(ls .whl/*.whl | wc -l)
(( count == ${#WHEELS[@]} )) || { echo "expected ${#WHEELS[@]} wheels, got $count" >&2; exit 1; }
echo "$count wheels, $(du -sh .whl | cut -f1) in .whl/"
