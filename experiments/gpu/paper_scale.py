"""Issue 14 on one GPU, one prepared command: paper-scale tuning, evaluation, GPU benchmarks.

    python experiments/gpu/paper_scale.py prepare EXP [--scale gpu|smoke]   # here, no model
    bash experiments/gpu/device.sh pack EXP                               # parts for the calls
    ... the device calls (experiments/gpu/device.sh says how) ...
    python experiments/gpu/paper_scale.py execute EXP [--deadline-s S]     # on the GPU
    python experiments/gpu/paper_scale.py report EXP                      # tables, here

Order, so that what matters most comes back even when time runs short: the card's bf16 matmul
peak (seconds); the paper-scale run (1,000 steps x 32 prompts; stopped with a model at its share
of the deadline if slower, stopped.json says where); base vs tuned on `reachable`, on list
functions + Turing concepts and on the BIG-Bench offline pool; then the benchmarks: symtune's
tokens/s per attention implementation with MFU against the measured peak, TRL's SFTTrainer on
the same prompts (when TRL is importable there), and rank scoring many prompts per forward
against one prompt at a time (prompts/s, largest log-likelihood difference in fp32). Every stage
writes EXP/summary.json as it ends and is skipped when done, so a rerun continues.

The recipe is the issue-13 recipe (experiments/recipe/gpu.yaml): the `reachable` tuning side
(22 BIG-Bench tasks + 3 families), equal task shares, 2 to 10 classes per prompt, 256-token
prompts, lr 3e-5, Adafactor, --keep best on 160 held-out tuning-side validation prompts."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

SCALES: dict[str, dict[str, Any]] = {
    "gpu": {
        "steps": 1000,
        "batch": 32,
        "lr": 3e-5,
        "warmup": 20,
        "max_tokens": 256,
        "seq_len": 2048,
        "micro_batch_rows": 8,
        "val_prompts": 160,
        "val_every": 100,
        "tune_share": 0.5,  # of the deadline
        "reachable_queries": 23,
        "offline_queries": 10,
        "list_function_queries": 32,
        "seeds": [0, 1, 2],
        "dtype": "bf16",
        "eval_seconds": {"reachable": 30, "algorithmic": 60, "offline": 40},
        "bench_steps": 12,
        "bench_attentions": ["flex_attention", "symtune_packed", "sdpa"],
        "score_items": 600,
    },
    # a laptop CPU in minutes with any small model (--model): every stage runs, nothing means
    # anything; the byte-level test model needs ~4x the tokens of SmolLM2's tokenizer
    "smoke": {
        "steps": 3,
        "batch": 4,
        "lr": 1e-4,
        "warmup": 1,
        "max_tokens": 256,
        "seq_len": 8192,
        "micro_batch_rows": 2,
        "val_prompts": 8,
        "val_every": 2,
        "tune_share": 0.5,
        "reachable_queries": 1,
        "offline_queries": 1,
        "list_function_queries": 1,
        "seeds": [0],
        "dtype": "fp32",
        "eval_seconds": {"reachable": 0, "algorithmic": 0, "offline": 0},
        "bench_steps": 3,
        "bench_attentions": ["symtune_packed", "sdpa"],
        "score_items": 20,
    },
}
BENCHES = ("reachable", "algorithmic", "offline")


def prepare(exp: Path, scale: str) -> None:
    """The mixture (with room for prompts skipped as too long) and the evaluation items."""
    from benches import eval_config

    from symtune.evaluate.api import save_items
    from symtune.mixture.build import build_data
    from symtune.mixture.config import MixtureConfig
    from symtune.tasks.suites import suite_specs

    plan = {**SCALES[scale], "scale": scale}
    exp.mkdir(parents=True, exist_ok=True)
    (exp / "plan.json").write_text(json.dumps(plan, indent=2))
    suite, specs = suite_specs("reachable")
    config = MixtureConfig(
        tasks=suite.tuning,
        n=math.ceil(plan["steps"] * plan["batch"] * 1.6),
        seed=0,
        max_tokens=plan["max_tokens"],
        val_prompts=plan["val_prompts"],
        suite=suite.name,
        weights=tuple((t, 1.0) for t in suite.tuning),
        max_classes=10,
        shard_size=50_000,
    )
    if not (exp / "data" / "manifest.json").exists():
        build_data(config, specs, exp / "data")
    prompts = json.loads((exp / "data" / "manifest.json").read_text())["stats"]["prompts"]
    need = plan["steps"] * plan["batch"]
    if prompts < need:
        raise SystemExit(f"the mixture holds {prompts} prompts; the run needs {need}")
    print(f"mixture: {prompts} prompts ({need} used)", flush=True)
    for bench in BENCHES:
        path = exp / "items" / f"{bench}.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            save_items(path, eval_config(bench, plan))
            print(f"built {path}", flush=True)


class Summary:
    """EXP/summary.json, rewritten (atomically) after every stage."""

    def __init__(self, exp: Path):
        self.path = exp / "summary.json"
        self.data: dict[str, Any] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def set(self, key: str, value: Any) -> None:
        from symtune.io import atomic_json

        self.data[key] = value
        atomic_json(self.path, self.data)
        print(f"{key}: {json.dumps(value)[:400]}", flush=True)


def environment() -> dict[str, Any]:
    import torch

    from symtune.provenance import package_versions

    cuda = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "versions": package_versions(
            ["symtune", "torch", "transformers", "accelerate", "peft", "trl", "datasets"]
        ),
    }


def tune_config(exp: Path, plan: dict[str, Any], model: str, out: str, **overrides):
    from symtune.tune.config import TuneConfig

    values = {
        "mixture": str(exp / "data"),
        "out": str(exp / out),
        "model": model,
        "steps": plan["steps"],
        "batch_size": plan["batch"],
        "seq_len": plan["seq_len"],
        "micro_batch_rows": plan["micro_batch_rows"],
        "optimizer": "adafactor",
        "lr": plan["lr"],
        "warmup_steps": plan["warmup"],
        "dtype": plan["dtype"],
        "val_every": plan["val_every"],
        "keep": "best",
        "checkpoint_every": 100,
        "keep_checkpoints": 1,
        **overrides,
    }
    return TuneConfig(**values)


def metrics(run: Path) -> list[dict[str, Any]]:
    from symtune.report.read import metrics_of

    return metrics_of(run / "metrics.jsonl")


def paper_run(exp: Path, plan: dict[str, Any], model: str, deadline: float) -> dict[str, Any]:
    from symtune.layout import TuneRun
    from symtune.tune.loop import tune

    config = tune_config(exp, plan, model, "tuned")
    run = Path(config.out)
    started = time.perf_counter()
    tune(config, resume=(run / "config.json").exists(), deadline=deadline)
    records = metrics(run)
    stopped, record = TuneRun(run).stopped, TuneRun(run).best_record
    best = json.loads(record.read_text()) if record.exists() else {}
    return {
        "seconds": time.perf_counter() - started,
        "steps": records[-1]["step"],
        "of_steps": plan["steps"],
        "prompts": records[-1]["step"] * plan["batch"],
        "tokens": sum(r["tokens"] for r in records),
        "tokens_per_s": sum(r["tokens"] for r in records) / sum(r["seconds"] for r in records),
        "stopped": json.loads(stopped.read_text()) if stopped.exists() else None,
        "kept_step": best.get("step"),
        "first_loss": records[0]["loss"],
        "last_loss": records[-1]["loss"],
    }


def evaluation(exp: Path, plan: dict[str, Any], model: str, bench: str) -> dict[str, Any]:
    from benches import eval_config

    from symtune.evaluate.api import evaluate, load_items

    config = eval_config(bench, plan)
    started = time.perf_counter()
    built = load_items(exp / "items" / f"{bench}.json", config)
    models = {"base": model, "tuned": str(exp / "tuned")}
    result = evaluate(config, models, exp / "eval" / bench, built=built)
    return {"seconds": time.perf_counter() - started, "summary": result["summary"]}


def step_flops(exp: Path, plan: dict[str, Any], model_name: str, steps: int) -> list[float]:
    """Model FLOPs of each of the first `steps` optimizer steps: 6 x body parameters per token,
    6 x head parameters per supervised token (the head runs only there), and attention over
    the causal pairs within each prompt (fwd 4 x width per pair per layer, x3 with backward)."""
    from symtune.models import load_model, load_tokenizer
    from symtune.tune.flops import linear_params
    from symtune.tune.step import step_documents
    from symtune.tune.stream import PromptStream

    model = load_model(model_name, "fp32")
    body, head = linear_params(model)
    width = model.config.num_attention_heads * model.config.head_dim
    layers = model.config.num_hidden_layers
    tokenizer = load_tokenizer(model_name)
    prompts = PromptStream(exp / "data").from_position(0)
    config = tune_config(exp, plan, model_name, "unused")
    out = []
    for _ in range(steps):
        docs = step_documents(prompts, plan["batch"], tokenizer, config)
        tokens = sum(len(d.input_ids) for d in docs)
        supervised = sum(sum(1 for x in d.labels if x != -100) for d in docs)
        pairs = sum(len(d.input_ids) * (len(d.input_ids) + 1) // 2 for d in docs)
        out.append(6 * body * tokens + 6 * head * supervised + 3 * 4 * width * layers * pairs)
    return out


def tuning_bench(exp: Path, plan: dict[str, Any], model: str, peak: float) -> dict[str, Any]:
    """symtune's tokens/s and MFU per attention implementation: the paper run's first
    `bench_steps` steps, the first two (compilation, warm-up) left out."""
    from symtune.tune.loop import tune

    steps = plan["bench_steps"]
    flops = step_flops(exp, plan, model, steps)
    found: dict[str, Any] = {}
    for attention in plan["bench_attentions"]:
        config = tune_config(
            exp,
            plan,
            model,
            f"bench/{attention}",
            steps=steps,
            val_every=0,
            keep="last",
            attention=attention,
            checkpoint_every=10**6,
        )
        try:
            tune(config, resume=(Path(config.out) / "config.json").exists())
        except Exception as err:  # an implementation this stack cannot run: say so, go on
            found[attention] = {"error": f"{type(err).__name__}: {str(err)[:200]}"}
            continue
        timed = metrics(Path(config.out))[2:]
        seconds = sum(r["seconds"] for r in timed)
        found[attention] = {
            "tokens_per_s": sum(r["tokens"] for r in timed) / seconds,
            "mfu": sum(flops[r["step"] - 1] for r in timed) / seconds / peak,
            "losses": [round(r["loss"], 4) for r in metrics(Path(config.out))],
        }
    return found


def trl_bench(exp: Path, plan: dict[str, Any], model: str) -> dict[str, Any]:
    """TRL's SFTTrainer (padding-free, completion-only loss) on the same first prompts, with
    the best attention it can use here; tokens/s over all its steps (warm-up included, as for
    symtune's `all_steps_tokens_per_s`)."""
    try:
        import trl  # noqa: F401
    except ImportError:
        return {"error": "trl is not importable here (experiments/gpu/device.sh carries it)"}
    import torch

    from symtune.tune.loop import tune
    from symtune.tune.peers import trl_run

    device = "cuda" if torch.cuda.is_available() else "cpu"
    steps = plan["bench_steps"]
    found: dict[str, Any] = {}
    for attention in plan["bench_attentions"]:
        if attention == "symtune_packed":
            continue
        try:
            tokens, seconds, losses = trl_run(
                exp / "data",
                steps,
                plan["batch"],
                plan["seq_len"],
                plan["lr"],
                exp / "bench" / f"trl-{attention}",
                model_name=model,
                device=device,
                attention=attention,
            )
        except Exception as err:
            found[f"trl/{attention}"] = {"error": f"{type(err).__name__}: {str(err)[:200]}"}
            continue
        found[f"trl/{attention}"] = {
            "tokens_per_s": tokens / seconds,
            "losses": [round(x, 4) for x in losses],
        }
    # symtune over all steps, warm-up included, for the like-for-like ratio
    config = tune_config(exp, plan, model, "bench/all-steps", steps=steps, val_every=0, keep="last")
    started = time.perf_counter()
    tune(config, resume=(Path(config.out) / "config.json").exists())
    records = metrics(Path(config.out))
    found["symtune/auto"] = {
        "tokens_per_s": sum(r["tokens"] for r in records) / (time.perf_counter() - started),
        "losses": [round(r["loss"], 4) for r in records],
    }
    return found


def scoring_bench(exp: Path, plan: dict[str, Any], model: str) -> dict[str, Any]:
    """Rank scoring of the first reachable items in fp32: many per forward vs one at a time."""
    import torch
    from benches import eval_config

    from symtune.evaluate.api import load_items, model_location
    from symtune.evaluate.scoring import RankRequest, Scorer
    from symtune.models import load_model, load_tokenizer

    items, _ = load_items(exp / "items" / "reachable.json", eval_config("reachable", plan))
    requests = [
        RankRequest(i.context, tuple(" " + c for c in i.candidates)) for i in items if i.candidates
    ][: plan["score_items"]]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    location = model_location(model)
    lm = load_model(location, "fp32").to(device)
    tokenizer = load_tokenizer(location)
    timings, scores = {}, {}
    for name, pack in (("packed", 8192), ("one_at_a_time", 0)):
        scorer = Scorer(lm, tokenizer, batch_size=16, pack_tokens=pack)
        started = time.perf_counter()
        if pack:
            scores[name] = scorer.loglikelihood_many(requests)
        else:
            scores[name] = [scorer.loglikelihood(r) for r in requests]
        timings[name] = len(requests) / (time.perf_counter() - started)
    gap = max(
        abs(a - b)
        for x, y in zip(scores["packed"], scores["one_at_a_time"], strict=True)
        for a, b in zip(x, y, strict=True)
    )
    return {
        "prompts": len(requests),
        "prompts_per_s": timings,
        "ratio": timings["packed"] / timings["one_at_a_time"],
        "max_abs_loglik_difference": gap,
    }


def execute(exp: Path, model: str, deadline_s: float) -> None:
    import torch

    from symtune.tune.flops import matmul_peak

    began = time.monotonic()
    plan = json.loads((exp / "plan.json").read_text())
    summary = Summary(exp)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    def left() -> float:
        return deadline_s - (time.monotonic() - began)

    if "environment" not in summary:
        summary.set("environment", environment())
    if "peak_flops" not in summary:
        size = 8192 if device == "cuda" else 1024
        summary.set("peak_flops", matmul_peak(size=size, repeats=10, device=device))
    if "paper_run" not in summary or summary.data["paper_run"].get("stopped"):
        deadline = began + plan["tune_share"] * deadline_s
        summary.set("paper_run", paper_run(exp, plan, model, deadline))
    for bench in BENCHES:
        key = f"eval_{bench}"
        if key not in summary and left() > plan["eval_seconds"][bench]:
            summary.set(key, evaluation(exp, plan, model, bench))
    stages = (
        ("bench_tuning", lambda: tuning_bench(exp, plan, model, summary.data["peak_flops"])),
        ("bench_trl", lambda: trl_bench(exp, plan, model)),
        ("bench_scoring", lambda: scoring_bench(exp, plan, model)),
    )
    for key, stage in stages:
        if key not in summary and left() > 20:
            summary.set(key, stage())
    print(f"done in {time.monotonic() - began:.0f} s", flush=True)


def main() -> None:
    from benches import parse_args

    args = parse_args(__doc__, ("prepare", "execute", "report"), SCALES)
    if args.step == "prepare":
        prepare(args.exp, args.scale)
    elif args.step == "execute":
        execute(args.exp, args.model, args.deadline_s)
    else:
        from report_gpu import report

        print(report(args.exp))


if __name__ == "__main__":
    sys.exit(main())
