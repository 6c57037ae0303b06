#!/usr/bin/env bash
# The issue-7 experiment: does symbol tuning make SmolLM2-135M-Instruct a better in-context
# learner? Every step is a plain symtune command; each one resumes or is skipped when done, so
# re-running this script after a stop loses nothing. Results land in $EXP (default runs/exp);
# `python experiments/smollm2/report.py $EXP` then writes the report (with the sweep and ablation
# sections) that docs/results.md is copied from.
#
#   bash experiments/smollm2/run.sh [sweep|main|ablations|all]     (default: all)
#
# Order: the sweep (tuning tasks' validation splits only), the main run (choose.py takes the
# best arm's lr and prompt budget into EXP/main.yaml; the rest is main.yaml here), then the
# ablations (one change each from the chosen arm, and the main run's checkpoints).
set -euo pipefail
cd "$(dirname "$0")/../.."
EXP=${EXP:-runs/exp}
ST=${SYMTUNE:-.venv/bin/symtune}
HERE=experiments/smollm2
mkdir -p "$EXP"

# Sweep arms: name lr prompt-budget steps (8 prompts per step). The 1024-token arm gets the
# tokens of the 512-token arms (mean prompt 762 vs 440 tokens), i.e. equal compute.
ARMS=(
  "lr1e-4-b512 1e-4 512 16"
  "lr3e-4-b512 3e-4 512 16"
  "lr1e-3-b512 1e-3 512 16"
  "lr3e-4-b1024 3e-4 1024 9"
)
# Validation for the sweep: the tuning tasks' held-out validation rows, never the eval pool.
VAL=(--pool tuning --settings neither --no-flipped --seeds 0 --max-queries 5 --scoring rank
     --list-functions none --no-turing)
# Ablation evaluation: a subset of the main evaluation (seed 0, rank scoring) whose items are
# identical to the main run's, so base and final-model scores are reused from its cache.
ABL=(--settings instr_labels,neither --seeds 0 --max-queries 6 --scoring rank
     --list-functions none --no-turing)

seed_cache() {  # seed_cache FROM_EVAL_DIR TO_EVAL_DIR LABEL: reuse scores of identical items
  mkdir -p "$2/cache"
  if [[ -f "$1/cache/$3.jsonl" && ! -f "$2/cache/$3.jsonl" ]]; then
    cp "$1/cache/$3.jsonl" "$1/cache/$3.model" "$2/cache/"
  fi
}

sweep() {
  for budget in 512 1024; do
    "$ST" data build --out "$EXP/sweep/data-$budget" --n 400 --max-tokens "$budget" --seed 0
  done
  "$ST" eval --out "$EXP/sweep/val/base" "${VAL[@]}"
  for arm in "${ARMS[@]}"; do
    read -r name lr budget steps <<<"$arm"
    if [[ ! -d "$EXP/sweep/$name/final" ]]; then
      resume=(); [[ -f "$EXP/sweep/$name/config.json" ]] && resume=(--resume)
      "$ST" tune --mixture "$EXP/sweep/data-$budget" --out "$EXP/sweep/$name" \
        --steps "$steps" --batch-size 8 --seq-len "$budget" --lr "$lr" --warmup-steps 2 \
        --checkpoint-every 4 "${resume[@]}"
    fi
    seed_cache "$EXP/sweep/val/base" "$EXP/sweep/val/$name" base
    "$ST" eval --out "$EXP/sweep/val/$name" --tuned "$EXP/sweep/$name" "${VAL[@]}"
  done
}

main() {
  # lr and prompt budget from the sweep's best arm (main.yaml holds everything else)
  [[ -f "$EXP/main.yaml" ]] || "${PY:-.venv/bin/python}" "$HERE/choose.py" "$EXP"
  "$ST" run "$EXP/main.yaml" --out "$EXP"
}

ablations() {
  # Reference: the chosen sweep arm (the main run's lr and budget; same prompts and steps).
  local ref lr budget steps
  read -r ref lr budget steps < <("${PY:-.venv/bin/python}" -c "import json,sys
c = json.load(open(sys.argv[1]))['chosen']
print(c['arm'], c['lr'], c['budget'], c['steps'])" "$EXP/choice.json")
  "$ST" data build --out "$EXP/ablations/data-relevant-$budget" --n 400 --max-tokens "$budget" \
    --seed 0 --relevant-ratio 0.2
  for variant in seen relevant; do
    local run="$EXP/ablations/$variant" mixture="$EXP/sweep/data-$budget" extra=()
    [[ $variant == seen ]] && extra=(--seen-labels)
    [[ $variant == relevant ]] && mixture="$EXP/ablations/data-relevant-$budget"
    if [[ ! -d "$run/final" ]]; then
      [[ -f "$run/config.json" ]] && extra+=(--resume)
      "$ST" tune --mixture "$mixture" --out "$run" --steps "$steps" --batch-size 8 \
        --seq-len "$budget" --lr "$lr" --warmup-steps 2 --checkpoint-every 4 "${extra[@]}"
    fi
  done
  local models=(
    "reference $EXP/sweep/$ref"
    "seen $EXP/ablations/seen"
    "relevant $EXP/ablations/relevant"
    "final $EXP/tune"
  )
  # the curve over steps: every kept checkpoint but the last one (that one is `final`)
  local last; last=$(printf 'step-%06d' "$(grep -o '"steps": [0-9]*' "$EXP/tune/config.json" | grep -o '[0-9]*$')")
  for step in $(ls "$EXP/tune/checkpoints" | grep '^step-' | grep -v "^$last$"); do
    models+=("$step $EXP/tune/checkpoints/$step")
  done
  for entry in "${models[@]}"; do
    read -r name path <<<"$entry"
    seed_cache "$EXP/eval" "$EXP/ablations/eval/$name" base
    # the main run's tuned model is "$EXP/tune" in both evaluations: reuse its scores too
    [[ $name == final ]] && seed_cache "$EXP/eval" "$EXP/ablations/eval/$name" tuned
    "$ST" eval --out "$EXP/ablations/eval/$name" --tuned "$path" "${ABL[@]}"
  done
}

case "${1:-all}" in
  sweep) sweep ;;
  main) main ;;
  ablations) ablations ;;
  all) sweep; main; ablations ;;
  *) echo "usage: $0 [sweep|main|ablations|all]" >&2; exit 2 ;;
esac
