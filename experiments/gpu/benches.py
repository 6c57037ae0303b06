"""The evaluation configs of the GPU run's benchmarks (Round 3's recipe): `reachable`, list
functions + Turing concepts ("algorithmic"), and the BIG-Bench offline pool."""

from __future__ import annotations

import argparse
from pathlib import Path


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


def parse_args(doc: str, steps: tuple[str, ...], scales: dict) -> argparse.Namespace:
    """STEP EXP [--scale S] [--model M] [--deadline-s S]: the experiments' command line."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("step", choices=steps)
    parser.add_argument("exp", type=Path)
    parser.add_argument("--scale", choices=sorted(scales), default="gpu")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--deadline-s", type=float, default=float("inf"))
    return parser.parse_args()
