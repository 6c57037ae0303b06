"""The issue-13 experiment: a tuning recipe for SmolLM2-135M-Instruct, measured on `reachable`.

Two steps, so that the heavy one runs where there is compute and no task artifacts:

    python experiments/recipe/recipe.py prepare EXP [--scale gpu|smoke]
        builds every mixture (sweep, main, control; with and without the tuning families),
        each with held-out validation prompts of the tuning side, and the evaluation items
        (reachable, the BIG-Bench offline pool, list functions + Turing concepts) into EXP;
        needs the pinned artifacts (fetched once), no model.
    python experiments/recipe/recipe.py execute EXP [--model M] [--deadline-s S]
        the sweep (lr x weight decay x families, same prompt budget per arm), the choice (the
        rule below, written before the run), the main run (--keep best on the validation
        curve), the control arm (the same prompts with relevant labels and instructions), and
        the evaluations of base, tuned and control on the prepared items. Needs only the model.
        Every stage resumes or is skipped when done; stages that would not fit --deadline-s
        are left for a rerun.

The choice rule (fixed before any run): the arm with the highest accuracy on the held-out
tuning-side validation prompts after its last step; ties go to the smaller learning rate, then
to no weight decay, then to the mixture without families (the simpler recipe).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

SCALES = {
    # an H100/H200: the budgets
    "gpu": {
        "batch": 32,
        "sweep_steps": 20,
        "main_steps": 125,
        "val_prompts": 160,
        "val_every": 10,
        "lrs": [1e-5, 3e-5, 1e-4],
        "wds": [0.0, 0.1],
        "families": [True, False],
        "reachable_queries": 23,
        "offline_queries": 10,
        "list_function_queries": 32,
        "seeds": [0, 1, 2],
        "dtype": "bf16",
        "max_tokens": 512,
        "seq_len": 2048,
        "eval_seconds": {"reachable": 150, "algorithmic": 120, "offline": 90},
        "sweep_until": 0.4,  # of the deadline: no sweep arm starts later, no main/control
        "train_until": 0.55,  # run starts later, so the evaluations keep their time
    },
    # 2 CPU cores, about six hours over several sessions (every stage resumes): no sweep (a
    # sweep of 160-prompt arms scored on 64 validation prompts could not tell the arms apart on
    # this CPU), lr 3e-5 fixed beforehand (the middle of the grid), the budget
    # of 3,000 prompts with shorter prompts (256 tokens), every task an equal share (25 tasks:
    # 22 BIG-Bench + 3 families), 2 to 10 classes per prompt where a task has more than two,
    # --keep best on 64 validation prompts scored every 600 prompts; the control arm on the
    # same prompts; reachable at n = 621 per setting (23 queries x 9 tasks x 3 seeds) first,
    # then the list functions and Turing concepts, then the BIG-Bench offline pool
    "cpu": {
        "batch": 8,
        "sweep_steps": 0,
        "fixed": {"arm": "fixed", "lr": 3e-5, "wd": 0.0, "families": True},
        "main_steps": 375,
        "checkpoint_every": 25,  # about 6 minutes: a stopped session loses little
        "val_prompts": 64,
        "val_every": 75,
        "lrs": [],
        "wds": [],
        "families": [True],
        "balanced": True,
        "max_classes": 10,
        "oversample": 1.5,
        "reachable_queries": 23,
        "offline_queries": 4,
        "list_function_queries": 8,
        "seeds": [0, 1, 2],
        "dtype": "fp32",
        "max_tokens": 256,
        "seq_len": 2048,
        "eval_seconds": {"reachable": 0, "algorithmic": 0, "offline": 0},
        "sweep_until": 1.0,
        "train_until": 1.0,
    },
    # the first CPU run (2026-11-26, docs/recipe/cpu.md): the quick demo's lr and budget (240
    # prompts), the main run and its control arm, evaluated on `reachable` only (n = 216)
    "cpu-240": {
        "batch": 8,
        "sweep_steps": 0,
        "fixed": {"arm": "fixed", "lr": 1e-4, "wd": 0.0, "families": True},
        "main_steps": 30,
        "val_prompts": 32,
        "val_every": 30,
        "lrs": [],
        "wds": [],
        "families": [True],
        "reachable_queries": 12,
        "offline_queries": 1,
        "list_function_queries": 1,
        "seeds": [0, 1],
        "dtype": "fp32",
        "max_tokens": 512,
        "seq_len": 2048,
        "eval_seconds": {"reachable": 0, "algorithmic": 1e9, "offline": 1e9},
        "sweep_until": 1.0,
        "train_until": 1.0,
    },
    # a few minutes on a laptop CPU: every stage runs, no number means anything
    "smoke": {
        "batch": 4,
        "sweep_steps": 2,
        "main_steps": 4,
        "val_prompts": 8,
        "val_every": 2,
        "lrs": [1e-4, 3e-4],
        "wds": [0.0],
        "families": [True, False],
        "reachable_queries": 1,
        "offline_queries": 1,
        "list_function_queries": 1,
        "seeds": [0],
        "dtype": "fp32",
        "max_tokens": 512,
        "seq_len": 8192,  # a byte-level test model needs ~4x the tokens of SmolLM2's
        "eval_seconds": {"reachable": 0, "algorithmic": 0, "offline": 0},
        "sweep_until": 1.0,
        "train_until": 1.0,
    },
}
SUITES = {True: "reachable", False: "offline"}
"""The tuning side with the tuning families (reachable: 22 BIG-Bench tasks + 3 families) and
without them (offline: the 22 BIG-Bench tasks). Both have no evaluation task on it."""
BENCHES = ("reachable", "algorithmic", "offline")


def tag(families: bool) -> str:
    return "fam" if families else "bb"


def eval_config(bench: str, plan: dict):
    from symtune.evaluate.config import EvalConfig

    common = {
        "seeds": tuple(plan["seeds"]),
        "dtype": plan["dtype"],
        "batch_size": 16,
        "list_functions": "none",
        "turing": False,
    }
    if bench == "algorithmic":
        return EvalConfig(
            suite="offline",
            **{**common, "list_functions": "paper20", "turing": True},
            settings=(),
            flipped=False,
            scoring=("exact",),
            list_function_queries=plan["list_function_queries"],
        )
    queries = plan["reachable_queries" if bench == "reachable" else "offline_queries"]
    return EvalConfig(suite=bench, **common, max_queries=queries, scoring=("rank",))


def prepare(exp: Path, scale: str) -> None:
    from symtune.data import build_data, suite_specs
    from symtune.evaluate.api import save_items
    from symtune.mixture import MixtureConfig

    plan = {**SCALES[scale], "scale": scale}
    exp.mkdir(parents=True, exist_ok=True)
    (exp / "plan.json").write_text(json.dumps(plan, indent=2))
    for families in plan["families"]:
        suite, specs = suite_specs(SUITES[families])
        base = MixtureConfig(
            tasks=suite.tuning,
            seed=0,
            max_tokens=plan["max_tokens"],
            val_prompts=plan["val_prompts"],
            suite=suite.name,
            weights=tuple((t, 1.0) for t in suite.tuning) if plan.get("balanced") else (),
            max_classes=plan.get("max_classes", 0),
        )
        # room for prompts skipped as too long, so that training never repeats one
        extra = plan.get("oversample", 1.0)
        budgets = {
            "sweep": math.ceil(plan["sweep_steps"] * plan["batch"] * extra),
            "main": math.ceil(plan["main_steps"] * plan["batch"] * extra),
        }
        arms = [
            ("main", replace(base, n=budgets["main"])),
            ("control", replace(base, n=budgets["main"], relevant_ratio=1.0)),
        ]
        if budgets["sweep"]:
            arms.insert(0, ("sweep", replace(base, n=budgets["sweep"])))
        for name, config in arms:
            out = exp / "data" / f"{name}-{tag(families)}"
            if not (out / "manifest.json").exists():
                build_data(config, specs, out)
                print(f"built {out}", flush=True)
    for bench in BENCHES:
        path = exp / "items" / f"{bench}.json"
        if not path.exists() and plan["eval_seconds"][bench] < 1e9:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_items(path, eval_config(bench, plan))
            print(f"built {path}", flush=True)


def _last_validation(run: Path) -> float:
    from symtune.io import read_jsonl

    records = [r for r in read_jsonl(run / "metrics.jsonl") if "val_accuracy" in r]
    return records[-1]["val_accuracy"]


def _tune(exp: Path, plan: dict, model: str, name: str, mixture: str, **fields) -> Path:
    from symtune.tune.config import TuneConfig
    from symtune.tune.loop import tune

    out = exp / name
    if (out / "final" / "config.json").exists():
        return out
    config = TuneConfig(
        mixture=str(exp / "data" / mixture),
        out=str(out),
        model=model,
        batch_size=plan["batch"],
        seq_len=plan["seq_len"],
        micro_batch_rows=8,
        optimizer="adafactor",
        warmup_steps=2,
        dtype=plan["dtype"],
        keep_checkpoints=1,
        **fields,
    )
    started = time.perf_counter()
    tune(config, resume=(out / "config.json").exists())
    print(f"tuned {name} in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def choose(scores: list[dict]) -> dict:
    """The rule in the module docstring."""
    return max(scores, key=lambda s: (s["val_accuracy"], -s["lr"], -s["wd"], not s["families"]))


def execute(exp: Path, model: str, deadline_s: float) -> None:
    began = time.perf_counter()
    plan = json.loads((exp / "plan.json").read_text())

    def left() -> float:
        return deadline_s - (time.perf_counter() - began)

    scores = []
    for families in plan["families"]:
        for lr in plan["lrs"]:
            for wd in plan["wds"]:
                name = f"sweep/lr{lr:g}-wd{wd:g}-{tag(families)}"
                late = time.perf_counter() - began > plan["sweep_until"] * deadline_s
                if late and not (exp / name / "final").exists():
                    print(f"skipped {name}: deadline", flush=True)
                    continue
                run = _tune(
                    exp,
                    plan,
                    model,
                    name,
                    f"sweep-{tag(families)}",
                    steps=plan["sweep_steps"],
                    lr=lr,
                    weight_decay=wd,
                    val_every=plan["sweep_steps"],
                    checkpoint_every=plan["sweep_steps"],
                )
                scores.append(
                    {
                        "arm": name,
                        "lr": lr,
                        "wd": wd,
                        "families": families,
                        "val_accuracy": _last_validation(run),
                    }
                )
    chosen = plan["fixed"] if plan.get("fixed") else choose(scores)
    (exp / "choice.json").write_text(json.dumps({"chosen": chosen, "arms": scores}, indent=2))
    print(f"chosen: {chosen}", flush=True)
    fam = tag(chosen["families"])
    arms = {
        "main": dict(mixture=f"main-{fam}", keep="best"),
        "control": dict(mixture=f"control-{fam}", keep="last"),
    }
    # in order of priority: the tuned model against base on reachable as soon as it exists,
    # then the control arm, then the other benchmarks
    for name, arm in arms.items():
        late = time.perf_counter() - began > plan["train_until"] * deadline_s
        if late and not (exp / name / "final").exists():
            print(f"skipped {name}: deadline", flush=True)
        else:
            _tune(
                exp,
                plan,
                model,
                name,
                arm["mixture"],
                steps=plan["main_steps"],
                lr=chosen["lr"],
                weight_decay=chosen["wd"],
                val_every=plan["val_every"],
                checkpoint_every=plan.get("checkpoint_every", plan["main_steps"]),
                keep=arm["keep"],
            )
        _evaluate(exp, plan, model, "reachable", left())
    for bench in BENCHES[1:]:
        _evaluate(exp, plan, model, bench, left())


def _evaluate(exp: Path, plan: dict, model: str, bench: str, left: float) -> None:
    """Evaluate base and every finished arm on one benchmark (the control arm on reachable
    only); a model already in its results.json is not scored again (caches per model)."""
    from symtune.evaluate.api import evaluate, load_items

    out = exp / "eval" / bench
    if not (exp / "items" / f"{bench}.json").exists():
        print(f"eval {bench}: not prepared at this scale", flush=True)
        return
    models = {"base": model}
    for label, name in (("tuned", "main"), ("control", "control")):
        if (exp / name / "final" / "config.json").exists():
            models[label] = str(exp / name)
    if bench != "reachable":
        models.pop("control", None)
    done = set()
    if (out / "results.json").exists():
        done = set(json.loads((out / "results.json").read_text())["models"])
    if set(models) <= done:
        print(f"eval {bench}: done", flush=True)
        return
    if left < plan["eval_seconds"][bench]:
        print(f"eval {bench}: deadline", flush=True)
        return
    config = eval_config(bench, plan)
    started = time.perf_counter()
    built = load_items(exp / "items" / f"{bench}.json", config)
    evaluate(config, models, out, built=built)
    print(f"eval {bench} ({', '.join(models)}): {time.perf_counter() - started:.0f} s", flush=True)


def parse_args(doc: str, steps: tuple[str, ...], scales: dict) -> argparse.Namespace:
    """STEP EXP [--scale S] [--model M] [--deadline-s S]: the experiments' command line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("step", choices=steps)
    parser.add_argument("exp", type=Path)
    parser.add_argument("--scale", choices=sorted(scales), default="gpu")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--deadline-s", type=float, default=float("inf"))
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__, ("prepare", "execute"), SCALES)
    if args.step == "prepare":
        prepare(args.exp, args.scale)
    else:
        execute(args.exp, args.model, args.deadline_s)


if __name__ == "__main__":
    sys.exit(main())
