#!/usr/bin/env bash
# Create .venv and install symtune with the pinned versions of constraints.txt (idempotent).
# torch: CPU build 2.13.0. Where pip would pick a CUDA build, point TORCH_INDEX_URL at a CPU index.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.symtune-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-64)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing symtune and its pinned dependencies into .venv …"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e ".[dev]"
  echo "$want" > "$stamp"
fi
