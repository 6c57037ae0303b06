#!/usr/bin/env bash
# The main job on the embedded default: fetch the pinned artifacts, build the offline mixture,
# evaluate SmolLM2-135M-Instruct, symbol-tune it, evaluate the tuned model and write the report
# (runs/demo/report/report.html). About 20 minutes on a 2-core CPU. Re-running resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/symtune demo --preset "${PRESET:-quick}" --out "${1:-runs/demo}"
