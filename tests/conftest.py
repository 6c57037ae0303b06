"""Shared fixtures: tiny hand-made tasks so data-side tests need no artifacts."""

from __future__ import annotations

import pytest

from symtune.tasks import Example, LocalSource, TaskData, TaskSpec


def make_task(
    name: str = "toy",
    labels: tuple[str, ...] = ("good", "bad"),
    per_class: int = 12,
    validation_per_class: int = 3,
    instruction: str = "Judge the review.",
) -> TaskData:
    """A task with `per_class` train and `validation_per_class` validation examples per label;
    example ids are "t<label>-<i>" and "v<label>-<i>", texts say which they are."""
    spec = TaskSpec(name=name, source=LocalSource("unused.jsonl"), instruction=instruction)
    train = tuple(
        Example(f"t{c}-{i}", (f"{labels[c]} text {i}",), c)
        for i in range(per_class)
        for c in range(len(labels))
    )
    validation = tuple(
        Example(f"v{c}-{i}", (f"held {labels[c]} {i}",), c)
        for i in range(validation_per_class)
        for c in range(len(labels))
    )
    return TaskData(spec, labels, {"train": train, "validation": validation})


@pytest.fixture
def toy() -> TaskData:
    return make_task()


def build_tiny_mixture(path, n: int = 64):
    """A built mixture of two toy tasks (2 and 3 labels), no token budget, shards of 20."""
    from symtune.mixture.build import build_mixture
    from symtune.mixture.config import MixtureConfig

    tasks = [make_task("big", per_class=30), make_task("three", ("x", "y", "z"), per_class=12)]
    config = MixtureConfig(tasks=("big", "three"), n=n, seed=1, max_tokens=None, shard_size=20)
    build_mixture(config, tasks, path)
    return path


def binary_eval_suite(tmp_path, validation: int = 6, instruction: str = "") -> str:
    """A suite file with one local binary evaluation task ("toy_eval", labels yes/no)."""
    import json

    rows = [{"text": f"sample {i}", "label": "yes" if i % 2 else "no"} for i in range(40)]
    (tmp_path / "e_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "e_validation.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows[:validation])
    )
    line = f"    instruction: {instruction}\n" if instruction else ""
    (tmp_path / "suite.yaml").write_text(
        f"evaluation:\n  - name: toy_eval\n    local: {tmp_path}/e_{{split}}.jsonl\n"
        f"    input_fields: [text]\n{line}"
    )
    return str(tmp_path / "suite.yaml")


def byte_tokenizer():
    """One token per byte (a byte-level BPE with no merges), EOS id 0: offsets are per char."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {"<eos>": 0, **{ch: i + 1 for i, ch in enumerate(sorted(alphabet))}}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised 2-layer llama with the byte tokenizer, saved like any HF model."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tiny_llama(vocab_size=260, tie_word_embeddings=True).save_pretrained(str(path))
    byte_tokenizer().save_pretrained(str(path))
    return path


def tiny_llama(vocab_size: int = 64, **overrides):
    """A seeded, randomly initialised 2-layer llama (fp32) for mechanics tests."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    values = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        **overrides,
    }
    return LlamaForCausalLM(LlamaConfig(**values)).float()


def small_eval_config(tmp_path, tokenizer, validation: int = 6):
    """A cheap evaluation of `binary_eval_suite`: "neither" only, one seed, rank scoring."""
    from symtune.evaluate.config import EvalConfig

    return EvalConfig(
        suite=binary_eval_suite(tmp_path, validation=validation),
        settings=("neither",),
        flipped=False,
        seeds=(0,),
        k=2,
        scoring=("rank",),
        list_functions="none",
        turing=False,
        tokenizer=str(tokenizer),
        dtype="fp32",
    )


def tiny_tune_config(out, mixture, model, **overrides):
    """A TuneConfig for the tiny model: 2 steps of 4 prompts, fp32, lr 1e-2, a checkpoint a
    step; `overrides` set any other field."""
    from symtune.tune.config import TuneConfig

    values = {
        "mixture": str(mixture),
        "out": str(out),
        "model": str(model),
        "steps": 2,
        "batch_size": 4,
        "lr": 1e-2,
        "dtype": "fp32",
        "checkpoint_every": 1,
        **overrides,
    }
    return TuneConfig(**values)


def run_symtune(*args, env=None, cwd=None, ok: bool = False, **kwargs):
    """The real `symtune` command (`python -m symtune ARGS`) in a subprocess; `ok=True` asserts
    it exited 0 (with its stderr's tail in the failure). The one CLI runner of the tests."""
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "symtune", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        **kwargs,
    )
    if ok:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def pytest_collection_modifyitems(config, items):
    """Markers by folder: tests/integration -> integration, tests/slow -> slow, tests/gpu ->
    gpu; `pytest -m "not slow and not integration"` is the quick inner loop."""
    import pytest

    for item in items:
        parts = item.path.parts
        for folder, marker in (("integration", "integration"), ("slow", "slow"), ("gpu", "gpu")):
            if folder in parts[-2:-1]:
                item.add_marker(getattr(pytest.mark, marker))


def free_port() -> int:
    """A free TCP port on localhost, for a launcher's rendezvous."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PREFIX = "Q: alpha\nA: XQZ\n\nQ: beta\nA: not ironic\n\nQ: delta\nA: XQZ\n\n"
WORDS = ["gamma", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu"]
LABELS = (" XQZ", " not ironic")


def contexts() -> list[str]:
    return [PREFIX + f"Q: {w} {v}\nA:" for w in WORDS for v in ("one", "two", "three")]


@pytest.fixture(scope="session")
def taught():
    """A tiny llama trained a few steps to answer half of the prompts with a label + newline
    (tests/unit/test_greedy_and_sets.py, test_tree.py)."""
    import torch

    tokenizer = byte_tokenizer()
    model = tiny_llama(vocab_size=260, tie_word_embeddings=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    texts = [c + LABELS[i % 2] + "\n" for i, c in enumerate(contexts()[::2])]
    encoded = [tokenizer(t)["input_ids"] for t in texts]
    width = max(map(len, encoded))
    ids = torch.tensor([e + [0] * (width - len(e)) for e in encoded])
    labels = torch.tensor([e + [-100] * (width - len(e)) for e in encoded])
    for _ in range(150):
        model(input_ids=ids, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval(), tokenizer
