#!/usr/bin/env bash
# The test command: lint, format check and the whole pytest suite (slow tests on the real
# pinned artifacts included; they are fetched once into $SYMTUNE_CACHE or ~/.cache/symtune).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
.venv/bin/ruff check src tests bench experiments
.venv/bin/ruff format --check src tests bench experiments
.venv/bin/python -m pytest -q "$@"
