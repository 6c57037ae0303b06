#!/usr/bin/env bash
# The main job on the embedded default: fetch the pinned artifacts, build the mixture, evaluate
# SmolLM2-135M-Instruct on `reachable`, tune a symbol arm and a same-budget control arm, evaluate
# both and write the report (runs/demo/report/report.html). About 16-18 minutes on a 2-core CPU
# with bf16 instructions (2026-11), about 26 without them (fp32, 2026-12-07). Re-running resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/symtune demo --preset "${PRESET:-quick}" --out "${1:-runs/demo}"
