#!/usr/bin/env bash
# The main job on the embedded default: fetch the pinned artifacts, build the offline
# symbol-tuning mixture and show it. Resumes if interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-runs/demo/data}
.venv/bin/symtune data build --suite offline --n 50000 --seed 0 --out "$out"
.venv/bin/symtune data show "$out" --examples 2
