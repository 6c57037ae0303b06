"""Reliability round 4 (issue 41): each group of the probe of 8f1a70b (H1-H10) closed by a
named test that reproduces it, through the real CLI where the probe used it."""

from __future__ import annotations

import re

import pytest

from conftest import byte_tokenizer, run_symtune
from symtune.errors import SymtuneError

HEAD = (
    "data: {{n: 8, max_tokens: 512}}\n"
    "tune: {{steps: 1, batch_size: 4, seq_len: 512, dtype: fp32{tune}}}\n"
    "eval: {{seeds: [0], max_queries: 2, k: 1, settings: [neither], scoring: [rank], "
    "list_functions: none, turing: false, dtype: fp32}}\n"
)


def run_yaml(tmp_path, model, body: str = "", tune: str = "", name: str = "run.yaml"):
    """A one-arm, one-step run of `model` on the local suite, with `body` appended and `tune`
    fields added to the tune section."""
    from test_pipeline import write_suite

    suite = write_suite(tmp_path)
    path = tmp_path / name
    path.write_text(f"model: {model}\nsuite: {suite}\n" + HEAD.format(tune=tune) + body)
    return path


@pytest.fixture(scope="module")
def no_checkpointing_model(tmp_path_factory):
    """A tiny CTRL (transformers: supports_gradient_checkpointing = False), byte tokenizer."""
    from transformers import CTRLConfig, CTRLLMHeadModel

    path = tmp_path_factory.mktemp("ctrl")
    config = CTRLConfig(vocab_size=260, n_embd=32, n_layer=2, n_head=2, dff=64, n_positions=1024)
    CTRLLMHeadModel(config).save_pretrained(str(path))
    byte_tokenizer().save_pretrained(str(path))
    return path


# H1 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tune, body, needle",
    [
        (", chat_template: true", "", "has no chat template; leave chat_template off"),
        (", attention: flash_attention_2", "", "attention=flash_attention_2 cannot run here"),
        (", val_every: 1", "", "tune.val_every = 1 scores validation prompts, but data.val_"),
        (
            ", val_every: 1",
            "data: {n: 8, max_tokens: 512, val_prompts: 4}\nsweep: {grid: {lr: [0.1]}, "
            "steps: 1000000000}\n",
            "sweep.steps = 1000000000; expected 0 (tune.steps) to 1,000,000 steps",
        ),
    ],
    ids=["chat-template", "flash-attention", "val-every", "sweep-steps"],
)
def test_h1_run_checks_what_a_stage_would_refuse_before_writing_anything(
    tmp_path, tiny_model_dir, tune, body, needle
):
    """Each was found by the probe only after run_config.yaml was written (after data and base
    evaluation): now load_run_config refuses it, in one line."""
    from symtune.pipeline import load_run_config

    config = run_yaml(tmp_path, tiny_model_dir, body, tune)
    if body.startswith("data:"):  # the body's data section replaces the head's
        text = config.read_text().replace("data: {n: 8, max_tokens: 512}\n", "", 1)
        config.write_text(text)
    with pytest.raises(SymtuneError, match=re.escape(needle)) as caught:
        load_run_config(config, tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_h1_gradient_checkpointing_on_a_model_without_it_is_refused_before_the_data_stage(
    tmp_path, no_checkpointing_model
):
    config = run_yaml(tmp_path, no_checkpointing_model, tune=", gradient_checkpointing: true")
    out = tmp_path / "run"
    result = run_symtune("run", config, "--out", out)
    assert result.returncode == 2, result.stderr[-600:]
    assert "gradient_checkpointing=true, but model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("kind", ["empty-folder", "fake-tar", "fifo"])
def test_h1_an_unusable_bigbench_copy_is_refused_before_the_run_folder_is_made(
    tmp_path, tiny_model_dir, monkeypatch, kind
):
    """`algorithmic: bigbench` (as `suite: offline`) with a copy that exists but cannot be used
    left run_config.yaml behind; now the copy is verified first."""
    import os

    from symtune.pipeline import load_run_config

    copy = tmp_path / "bb"
    if kind == "empty-folder":
        copy.mkdir()
    elif kind == "fake-tar":
        copy.write_bytes(b"\x1f\x8b not really a tarball")
    else:
        os.mkfifo(copy)
    monkeypatch.setenv("SYMTUNE_BIGBENCH", str(copy))
    config = run_yaml(tmp_path, tiny_model_dir)
    config.write_text(
        config.read_text().replace("turing: false", "turing: true, algorithmic: bigbench")
    )
    with pytest.raises(SymtuneError, match=r"run\.yaml: .*(benchmark_tasks|sha256|regular)"):
        load_run_config(config, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_h1_a_run_refused_in_its_first_stage_takes_the_corrected_yaml_on_the_same_out(
    tmp_path, tiny_model_dir
):
    """max_tokens below any prompt is found by the data stage (it needs the prompts); that
    stage leaves nothing, so the corrected YAML now runs on the same --out."""
    bad = run_yaml(tmp_path, tiny_model_dir, name="bad.yaml")
    bad.write_text(bad.read_text().replace("max_tokens: 512", "max_tokens: 16"))
    out = tmp_path / "run"
    result = run_symtune("run", bad, "--out", out)
    assert result.returncode == 2 and "no prompt fits max_tokens=16" in result.stderr
    assert (out / "run_config.yaml").exists()
    good = run_yaml(tmp_path, tiny_model_dir, name="good.yaml")
    result = run_symtune("run", good, "--out", out, ok=True)
    assert "plan: 1 tuning run (symbol); evaluation of base and 1 tuned model\n" in result.stdout
    assert "max_tokens: 512" in (out / "run_config.yaml").read_text()
    # a folder where a stage finished still refuses another config
    result = run_symtune("run", bad, "--out", out)
    assert result.returncode == 2 and "holds a run with another config (name:" in result.stderr


# H2 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, needle",
    [
        ("data: {val_prompts: 1000000000}\n", "val_prompts=1000000000; expected 0 to 10,000"),
        (
            "arms: [" + ", ".join(f"{{name: a{i}}}" for i in range(100)) + "]\nreplicates: 2\n",
            "200 tuning runs (100 arms with their replicates); at most 128",
        ),
    ],
    ids=["val-prompts", "arms-x-replicates"],
)
def test_h2_val_prompts_and_the_number_of_tuning_runs_are_bounded(tmp_path, body, needle):
    from symtune.pipeline import load_run_config

    path = tmp_path / "run.yaml"
    path.write_text("model: smollm2-135m-instruct\nsuite: reachable\n" + body)
    with pytest.raises(SymtuneError, match=re.escape(needle)):
        load_run_config(path, tmp_path / "out")
    result = run_symtune(
        "data", "build", "--val-prompts", "1000000000", "--n", "8", "--out", tmp_path / "d"
    )
    assert result.returncode == 2 and "val_prompts=1000000000; expected 0 to 10,000" in (
        result.stderr
    )
    assert not (tmp_path / "d").exists()


def test_h2_the_plan_line_counts_sweep_points_replicates_and_a_second_evaluation():
    from symtune.pipeline.arms import Arm, Sweep, plan

    arms = (Arm("symbol", replicates=2), Arm("control", replicates=2))
    sweep = Sweep((("lr", (1e-4, 1e-3)), ("weight_decay", (0.0, 0.1))))
    assert plan(arms, sweep, True) == (
        "plan: 8 tuning runs (symbol x2, control x2, after a sweep of 4 points); evaluation "
        "of base and 4 tuned models (and again on extra_eval)"
    )


# H5 ----------------------------------------------------------------------------------------


def test_h5_tune_resumes_with_the_model_and_mixture_spelled_from_another_folder(
    tmp_path, tiny_model_dir, monkeypatch
):
    """The probe: a checkpoint made with model='TINY' refused '../TINY' and the absolute path.
    The model is now compared by its files' sha256, not its spelling."""
    import shutil

    from conftest import build_tiny_mixture, tiny_tune_config
    from symtune.io import read_jsonl
    from symtune.tune.loop import tune

    shutil.copytree(tiny_model_dir, tmp_path / "TINY")
    build_tiny_mixture(tmp_path / "MIX")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    tune(tiny_tune_config("TH", "MIX", "TINY", steps=3), deadline=0.0)  # stops after step 1
    assert [r["step"] for r in read_jsonl(tmp_path / "TH" / "metrics.jsonl")] == [1]
    monkeypatch.chdir(tmp_path / "elsewhere")
    tune(tiny_tune_config("../TH", "../MIX", "../TINY", steps=3), resume=True, deadline=0.0)
    tune(tiny_tune_config(tmp_path / "TH", tmp_path / "MIX", tmp_path / "TINY", steps=3), True)
    assert [r["step"] for r in read_jsonl(tmp_path / "TH" / "metrics.jsonl")] == [1, 2, 3]
    # other weights under the same spelling are still refused
    other = tmp_path / "elsewhere" / "TINY"
    shutil.copytree(tiny_model_dir, other)
    weights = other / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(SymtuneError, match="the model changed since it was made"):
        tune(tiny_tune_config("../TH", "../MIX", "TINY", steps=3), resume=True)


def test_h5_tune_resume_on_a_folder_without_a_run_says_it_starts_one(tmp_path, tiny_model_dir):
    from conftest import build_tiny_mixture

    mixture = build_tiny_mixture(tmp_path / "MIX")
    result = run_symtune(
        "tune", "--mixture", mixture, "--model", tiny_model_dir, "--out", tmp_path / "T",
        "--steps", "1", "--batch-size", "4", "--dtype", "fp32", "--resume", ok=True,
    )  # fmt: skip
    assert f"--resume: {tmp_path / 'T'} holds no run yet; starting one at step 0" in (
        " ".join(result.stdout.split())
    )


def test_h5_relative_paths_in_a_run_yaml_are_read_beside_it(tmp_path, tiny_model_dir):
    """From another folder the probe's run YAML failed ("suite file S.yaml not found"), or, where
    that folder had its own TINY/ and S.yaml, used those and said "done already"."""
    import shutil

    from symtune.pipeline import load_run_config

    home = tmp_path / "home"
    home.mkdir()
    shutil.copytree(tiny_model_dir, home / "TINY")
    config = run_yaml(home, "TINY")
    suite = home / "suite.yaml"
    suite.write_text(suite.read_text().replace(f"{home}/", ""))  # local: tuneme_{split}.jsonl
    config.write_text(config.read_text().replace(str(suite), "suite.yaml"))
    decoy = tmp_path / "decoy"
    (decoy / "TINY").mkdir(parents=True)
    (decoy / "suite.yaml").write_text("evaluation: [nothing]\n")
    for cwd in (home, decoy):
        loaded = load_run_config_from(cwd, config, load_run_config)
        assert loaded.model == str(home / "TINY")
        assert loaded.suite == str(suite)
    from symtune.tasks.suites import suite_specs

    spec = suite_specs(str(suite))[1]["tuneme"]
    assert spec.source.path == str(home / "tuneme_{split}.jsonl")


def load_run_config_from(cwd, config, load):
    import os

    before = os.getcwd()
    os.chdir(cwd)
    try:
        return load(config, cwd / "out")
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model_dir):
    """A finished one-arm run of the tiny model: (YAML, run folder)."""
    tmp_path = tmp_path_factory.mktemp("round4")
    config = run_yaml(tmp_path, tiny_model_dir, tune=", checkpoint_every: 1")
    run = tmp_path / "run"
    run_symtune("run", config, "--out", run, ok=True)
    return config, run


def sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def flip_byte(path, keep_mtime: bool = True) -> None:
    """Flip one byte in the middle of a file (its size, and its mtime if asked, kept)."""
    import os

    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


# H6 ----------------------------------------------------------------------------------------


def test_h6_a_done_stage_whose_weights_changed_is_tuned_again_and_the_report_refuses_them(
    tmp_path, finished
):
    import shutil

    config, original = finished
    run = tmp_path / "run"
    shutil.copytree(original, run)
    weights = run / "arms" / "symbol" / "tune" / "final" / "model.safetensors"
    reference = sha256(weights)
    flip_byte(weights)
    result = run_symtune("report", run, "--out", tmp_path / "R")
    assert result.returncode == 2, result.stderr[-500:]
    assert f"{weights}: sha256" in result.stderr and "differs from the" in result.stderr
    assert not (tmp_path / "R").exists()
    result = run_symtune("run", config, "--out", run, env={"COLUMNS": "500"}, ok=True)
    assert f"tune:symbol: recorded as done, but {weights} as it wrote it" in result.stdout
    assert "eval: done already" in result.stdout  # the same weights again: nothing to rescore
    assert sha256(weights) == reference
    run_symtune("report", run, "--out", tmp_path / "R", ok=True)
