"""2 CPU processes (gloo, through torchrun + Accelerate) give the 1-process result."""

import json
import subprocess
import sys

from safetensors.torch import load_file

from conftest import free_port, make_task
from symtune.mixture.build import build_mixture
from symtune.mixture.config import MixtureConfig


def test_two_processes_match_one(tmp_path, tiny_model_dir):
    tasks = [make_task("big", per_class=30), make_task("three", ("x", "y", "z"), per_class=12)]
    config = MixtureConfig(tasks=("big", "three"), n=64, seed=1, max_tokens=None, shard_size=20)
    build_mixture(config, tasks, tmp_path / "mix")
    args = [
        "tune",
        "--mixture",
        str(tmp_path / "mix"),
        "--model",
        str(tiny_model_dir),
        "--steps",
        "3",
        "--batch-size",
        "8",
        "--seq-len",
        "2048",
        "--dtype",
        "fp32",
        "--lr",
        "0.01",
        "--optimizer",
        "adamw",
    ]
    single = subprocess.run(
        [sys.executable, "-m", "symtune", *args, "--out", str(tmp_path / "one")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
    ]
    double = subprocess.run(
        [*launcher, "-m", "symtune", *args, "--out", str(tmp_path / "two")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert double.returncode == 0, double.stderr[-2000:]
    one = load_file(str(tmp_path / "one" / "final" / "model.safetensors"))
    two = load_file(str(tmp_path / "two" / "final" / "model.safetensors"))
    assert one.keys() == two.keys()
    for name in one:
        # fp32 sums in another order, through Adam's normalisation: ~1e-5 after 3 steps
        assert (one[name] - two[name]).abs().max() < 1e-4, name
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    moved = one["model.layers.0.mlp.up_proj.weight"] - base["model.layers.0.mlp.up_proj.weight"]
    assert moved.abs().max() > 1e-2  # the tolerance above is far below what training moved
    losses = [
        [json.loads(line)["loss"] for line in (tmp_path / run / "metrics.jsonl").open()]
        for run in ("one", "two")
    ]
    assert len(losses[0]) == 3
    for a, b in zip(*losses, strict=True):
        assert abs(a - b) < 1e-5
