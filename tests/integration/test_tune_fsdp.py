"""FSDP2 through `accelerate launch --config_file configs/accelerate/fsdp_cpu.yaml` on 2 CPU
processes (gloo): the 1-process weights and losses (full fine-tuning; LoRA with validation
and keep=best), a run cut after a checkpoint resumes to the uninterrupted weights, and bad
launches are one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from conftest import free_port, make_task, run_symtune
from symtune.mixture.build import build_mixture
from symtune.mixture.config import MixtureConfig

ROOT = Path(__file__).resolve().parents[2]
FSDP_CPU = ROOT / "configs" / "accelerate" / "fsdp_cpu.yaml"
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # as each launched process gets


def fsdp(*args, config: Path = FSDP_CPU) -> subprocess.CompletedProcess:
    """`symtune ARGS` under `accelerate launch` with an FSDP config, 2 CPU processes."""
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config)]
    launch += ["--main_process_port", str(free_port()), "-m", "symtune"]
    return subprocess.run(
        [*launch, *map(str, args)], capture_output=True, text=True, check=False, timeout=600
    )


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    path = tmp_path_factory.mktemp("fsdp") / "mix"
    tasks = [make_task("big", per_class=30), make_task("three", ("x", "y", "z"), per_class=12)]
    config = MixtureConfig(
        tasks=("big", "three"), n=64, seed=1, max_tokens=None, shard_size=20, val_prompts=8
    )
    build_mixture(config, tasks, path)
    return path


def tune_args(mixture, model, out, *extra):
    return [
        *("tune", "--mixture", mixture, "--model", model, "--out", out),
        *("--steps", "3", "--batch-size", "8", "--seq-len", "2048", "--dtype", "fp32"),
        *("--lr", "0.01", "--optimizer", "adamw", "--checkpoint-every", "1"),
        *("--keep-checkpoints", "3", *extra),
    ]


def weights(run: Path) -> dict:
    return load_file(str(run / "final" / "model.safetensors"))


def max_difference(a: Path, b: Path) -> float:
    one, two = weights(a), weights(b)
    assert one.keys() == two.keys()
    return max(float((one[k] - two[k]).abs().max()) for k in one)


def losses(run: Path) -> list[float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    return [r["loss"] for r in records if "loss" in r]


def same_losses(a: Path, b: Path) -> bool:
    one, two = losses(a), losses(b)
    return len(one) == len(two) and all(abs(x - y) < 1e-5 for x, y in zip(one, two, strict=True))


@pytest.mark.parametrize(
    "extra",
    [(), ("--lora", "--lora-r", "4", "--val-every", "1", "--keep", "best")],
    ids=["full", "lora-validation-best"],
)
def test_fsdp_on_two_processes_gives_the_one_process_model(
    tmp_path, mixture, tiny_model_dir, extra
):
    one, two = tmp_path / "one", tmp_path / "two"
    run_symtune(*tune_args(mixture, tiny_model_dir, one, *extra), env=ONE_THREAD, ok=True)
    done = fsdp(*tune_args(mixture, tiny_model_dir, two, *extra))
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((two / "checkpoints" / "step-000003" / "state.json").read_text())
    assert state["fsdp"] is True and state["world_size"] == 2  # it really was sharded
    assert max_difference(one, two) < 1e-5
    assert same_losses(one, two)
    base = load_file(str(tiny_model_dir / "model.safetensors"))
    moved = weights(one)["model.layers.0.self_attn.q_proj.weight"]
    assert (moved - base["model.layers.0.self_attn.q_proj.weight"]).abs().max() > 1e-3


def test_a_cut_fsdp_run_resumes_to_the_uninterrupted_model(tmp_path, mixture, tiny_model_dir):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    for run in (whole, cut):
        done = fsdp(*tune_args(mixture, tiny_model_dir, run))
        assert done.returncode == 0, done.stderr[-3000:]
    # as a kill after step 2's checkpoint leaves it: no step 3, no final/
    shutil.rmtree(cut / "final")
    shutil.rmtree(cut / "checkpoints" / "step-000003")
    done = fsdp(*tune_args(mixture, tiny_model_dir, cut), "--resume")
    assert done.returncode == 0, done.stderr[-3000:]
    assert max_difference(whole, cut) < 1e-6
    assert same_losses(whole, cut)
    # the same checkpoint in one process (no FSDP): refused in one line, naming why
    shutil.rmtree(cut / "final")
    again = run_symtune(*tune_args(mixture, tiny_model_dir, cut), "--resume")
    assert again.returncode == 2 and "made with FSDP" in again.stderr, again.stderr


def test_an_fsdp_config_naming_a_layer_the_model_lacks_is_one_line(
    tmp_path, mixture, tiny_model_dir
):
    config = tmp_path / "fsdp.yaml"
    wrap = "  fsdp_transformer_layer_cls_to_wrap: GPT2Block\n"
    config.write_text(
        FSDP_CPU.read_text().replace("  fsdp_version: 2\n", "  fsdp_version: 2\n" + wrap)
    )
    done = fsdp(*tune_args(mixture, tiny_model_dir, tmp_path / "t"), config=config)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors and all("layer class 'GPT2Block' is not in model" in e for e in errors), (
        done.stderr[-2000:]
    )
    assert "LlamaDecoderLayer" in errors[0]
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("name", ["mistral", "gpt_neox"])
def test_fsdp_wraps_other_families_blocks_and_gives_the_one_process_model(tmp_path, mixture, name):
    """Beyond Llama (above): with no class in the config, FSDP wraps each family's own
    blocks (MistralDecoderLayer with its sliding window; GPTNeoXLayer with its fused qkv and
    partial rotary) and 2 processes give the 1-process model."""
    from conftest import byte_tokenizer
    from matrix import BY_NAME, save

    model = tmp_path / name
    save(BY_NAME[name], model, byte_tokenizer())
    one, two = tmp_path / "one", tmp_path / "two"
    run_symtune(*tune_args(mixture, model, one), env=ONE_THREAD, ok=True)
    done = fsdp(*tune_args(mixture, model, two))
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads((two / "checkpoints" / "step-000003" / "state.json").read_text())
    assert state["fsdp"] is True and state["world_size"] == 2
    # Adam's steps of lr 0.01 amplify reduction-order rounding to ~1e-5 on these weights
    assert max_difference(one, two) < 1e-4
    assert same_losses(one, two)
