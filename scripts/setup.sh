#!/usr/bin/env bash
# Create .venv and install symtune with the pinned versions of constraints.txt (idempotent).
# `setup.sh` installs what symtune runs on (the demo's needs); `setup.sh dev` adds the test and
# benchmark tools (pytest, ruff, TRL, lm-eval: ~30 s more on a fresh .venv).
# torch: CPU build 2.13.0. Where pip would pick a CUDA build, point TORCH_INDEX_URL at a CPU index.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
extras=${1:-}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.symtune-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-64)
read -r have have_extras < "$stamp" 2>/dev/null || true
# installed for these pins, with the extras asked for (dev includes the plain install)
if [ "${have:-}" != "$want" ] || { [ -n "$extras" ] && [ "${have_extras:-}" != "$extras" ]; }; then
  echo "installing symtune${extras:+[$extras]} and its pinned dependencies into .venv …"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c constraints.txt -e ".${extras:+[$extras]}"
  echo "$want $extras" > "$stamp"
fi
