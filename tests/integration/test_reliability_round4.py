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
    from symtune.pipeline import load_run_config

    config = run_yaml(tmp_path, no_checkpointing_model, tune=", gradient_checkpointing: true")
    with pytest.raises(SymtuneError, match="gradient_checkpointing=true, but model"):
        load_run_config(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


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
        config.read_text().replace(
            "scoring: [rank], list_functions: none, turing: false",
            "scoring: [exact], list_functions: none, turing: true, algorithmic: bigbench",
        )
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
    from symtune.pipeline.steps import _made_nothing

    assert not _made_nothing(out)  # so another config is refused there (test_g4)


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


def test_h2_data_build_bounds_val_prompts_too(tmp_path):
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


# H7 ----------------------------------------------------------------------------------------


def test_h7_report_markdown_never_replaces_a_file_symtune_did_not_write(tmp_path, finished):
    config, run = finished
    mine = tmp_path / "mine.md"
    mine.write_text("my notes\n")
    results = run / "eval" / "results.json"
    before = {p: p.read_bytes() for p in (mine, config, results)}
    for target in before:
        result = run_symtune("report", run, "--out", tmp_path / "R", "--markdown", target)
        assert result.returncode == 2, result.stderr[-500:]
        assert f"--markdown {target}: exists and is not a symtune report" in result.stderr
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "R").exists()
    made = tmp_path / "made.md"
    run_symtune("report", run, "--out", tmp_path / "R", "--markdown", made, ok=True)
    assert made.read_text().startswith("# symtune report")
    run_symtune("report", run, "--out", tmp_path / "R", "--markdown", made, ok=True)  # ours


# H8 ----------------------------------------------------------------------------------------


def test_h8_a_full_disk_while_saving_a_checkpoint_names_it_and_resume_is_exact(
    tmp_path, tiny_model_dir, monkeypatch, capsys
):
    """safetensors reports ENOSPC in its own words ("os error 28"): that was the bug path
    (exit 1) and left step-000002.tmp behind."""
    import safetensors.torch
    from safetensors import SafetensorError
    from test_reliability import cli, tune_args

    from conftest import build_tiny_mixture

    mixture = build_tiny_mixture(tmp_path / "MIX")
    save, calls = safetensors.torch.save_file, []

    def fills_the_disk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SafetensorError(
                "Error while serializing: I/O error: No space left on device (os error 28)"
            )
        return save(*args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", fills_the_disk)
    out = tmp_path / "T"
    code, err = cli(capsys, *tune_args(mixture, out, tiny_model_dir))
    assert code == 2, err
    assert err.strip() == (
        f"error: {out / 'checkpoints' / 'step-000002'}: No space left on device (free some "
        "space, or point --out or SYMTUNE_CACHE elsewhere, then rerun)"
    )
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest", "step-000001"]
    monkeypatch.setattr(safetensors.torch, "save_file", save)
    code, err = cli(capsys, *tune_args(mixture, out, tiny_model_dir), "--resume")
    assert code == 0, err
    reference = tmp_path / "REF"
    assert cli(capsys, *tune_args(mixture, reference, tiny_model_dir))[0] == 0
    final = "final/model.safetensors"
    assert sha256(out / final) == sha256(reference / final)


@pytest.mark.parametrize("command", ["data", "eval"])
def test_h8_a_byte_that_is_not_utf8_in_a_local_file_is_named_by_file_and_line(
    tmp_path, tiny_model_dir, command
):
    from test_pipeline import write_suite

    suite = write_suite(tmp_path)
    name = "tuneme" if command == "data" else "heldout"
    path = tmp_path / f"{name}_train.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"item", b"it\xe9m")
    path.write_bytes(b"\n".join(lines))
    args = {
        "data": ("data", "build", "--suite", suite, "--n", "8", "--out", tmp_path / "o"),
        "eval": ("eval", "--suite", suite, "--model", tiny_model_dir, "--out", tmp_path / "o"),
    }[command]
    result = run_symtune(*args)
    assert result.returncode == 2, result.stderr[-500:]
    expected = f"error: {path}:4: byte 0xe9 is not UTF-8; save the file as UTF-8"
    assert result.stderr.strip() == expected
    assert not (tmp_path / "o").exists()


# H10 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "oversized"])
def test_h10_a_local_data_file_must_be_a_regular_file_of_bounded_size(tmp_path, kind, monkeypatch):
    """The probe: a JSONL symlinked to /dev/zero took data build to 12.5 GB in 40 s; a FIFO
    blocked silently."""
    import os

    from test_pipeline import write_suite

    from symtune.tasks import sources

    suite = write_suite(tmp_path)
    path = tmp_path / "tuneme_train.jsonl"
    path.unlink()
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
        needle = "is a character device, not a regular file"
    elif kind == "fifo":
        os.mkfifo(path)
        needle = "is a FIFO, not a regular file"
    else:
        path.write_text('{"text": "x", "label": "red"}\n' * 100)
        monkeypatch.setattr(sources, "MAX_DATA_FILE_BYTES", 1000)
        needle = "3,000 bytes, over the 1,000 symtune reads from one file"
    from symtune.tasks.suites import load_tasks, suite_specs

    with pytest.raises(SymtuneError, match=re.escape(f"task tuneme: file {path}: {needle}")):
        load_tasks([suite_specs(str(suite))[1]["tuneme"]])
    if kind != "oversized":  # the real command: one line, quickly, nothing written
        result = run_symtune(
            "data", "build", "--suite", suite, "--n", "8", "--out", tmp_path / "o", timeout=120
        )
        assert result.returncode == 2 and needle in result.stderr, result.stderr[-500:]
        assert not (tmp_path / "o").exists()


def test_h10_a_fifo_named_like_model_weights_is_refused_not_waited_on(tmp_path, tiny_model_dir):
    import os
    import shutil

    from test_reliability import eval_args

    model = tmp_path / "M"
    shutil.copytree(tiny_model_dir, model)
    (model / "model.safetensors").unlink()
    os.mkfifo(model / "model.safetensors")
    from conftest import binary_eval_suite

    suite = binary_eval_suite(tmp_path)
    result = run_symtune(*eval_args(tmp_path / "o", suite, model), timeout=120)
    assert result.returncode == 2, result.stderr[-500:]
    assert f"model file {model / 'model.safetensors'}: is a FIFO, not a regular file" in (
        result.stderr
    )


def test_h10_sigterm_ends_a_command_blocked_where_python_cannot_unwind(tmp_path):
    """The probe's eval blocked opening a FIFO inside native code, which retries the call
    when interrupted, so SIGTERM's handler never ran there and only SIGKILL ended it. Here
    Python code that swallows the signal stands in for it: the guard ends the command 5 s
    after the signal, with 128 + 15."""
    import os
    import signal
    import subprocess
    import sys
    import time

    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    code = (
        "from symtune.errors import install_interrupt_guard\n"
        "install_interrupt_guard()\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        f"    try:\n        open({str(fifo)!r}).read()\n"
        "    except BaseException:\n        pass\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # into open()
    started = time.monotonic()
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 128 + signal.SIGTERM
    assert 4.0 <= time.monotonic() - started < 60
    assert "stopped by SIGTERM" in child.stderr.read()


# H9 ----------------------------------------------------------------------------------------


def test_h9_algorithmic_tasks_under_rank_scoring_alone_are_refused_before_anything_runs(
    tmp_path, tiny_model_dir
):
    """They were skipped: exit 0, empty results and an empty "Second evaluation" table, from
    README's own run example (now docs/run.md's). Their answers are open lists and strings:
    exact match only."""
    from conftest import binary_eval_suite

    suite = binary_eval_suite(tmp_path)
    base = ("eval", "--suite", suite, "--model", tiny_model_dir, "--out", tmp_path / "o")
    for extra in (
        ("--scoring", "rank", "--list-functions", "paper20", "--no-turing"),
        ("--scoring", "rank", "--list-functions", "none", "--turing"),
    ):
        result = run_symtune(*base, *extra)
        assert result.returncode == 2, result.stderr[-500:]
        assert "scored by exact match only; add exact to scoring" in result.stderr
        assert not (tmp_path / "o").exists()


def test_h9_the_guides_run_example_validates_and_scores_list_functions_by_exact_match(tmp_path):
    import pathlib

    from symtune.pipeline import load_run_config

    guide = (pathlib.Path(__file__).parents[2] / "docs" / "run.md").read_text()
    block = guide.split("name: my-run\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "run.yaml"
    path.write_text("name: my-run\n" + block)
    config = load_run_config(path, tmp_path / "out")
    assert config.extra_eval is not None and config.extra_eval.list_functions == "paper20"
    assert config.extra_eval.scoring == ("exact",)


# Also seen ---------------------------------------------------------------------------------


def test_a_run_name_is_one_line_of_bounded_length(tmp_path):
    import json

    from symtune.pipeline import load_run_config

    for name in ("x" * 1_000_000, "two\nlines"):
        path = tmp_path / "run.yaml"
        path.write_text("name: " + json.dumps(name) + "\n")
        with pytest.raises(SymtuneError, match="expected one line of 1 to 200 characters"):
            load_run_config(path, tmp_path / "out")


def test_a_label_with_a_line_break_is_refused_naming_task_and_label():
    from symtune.tasks.rows import build_task
    from symtune.tasks.spec import LocalSource, TaskSpec

    spec = TaskSpec("t", LocalSource("t.jsonl"), query_split=None)
    rows = [(str(i), (f"x{i}",), "yes" if i % 2 else "no\nmaybe") for i in range(20)]
    with pytest.raises(SymtuneError, match=r"task t: label 'no\\nmaybe'; expected one line"):
        build_task(spec, {"train": rows}, {})


def test_h1_sweep_runs_are_checked_as_they_will_run(tmp_path):
    """A sweep run is the first arm's config for sweep.steps steps: a warmup longer than that
    is refused before anything is written, naming the point."""
    from symtune.pipeline import load_run_config

    path = tmp_path / "run.yaml"
    path.write_text(
        "model: smollm2-135m-instruct\nsuite: reachable\ndata: {val_prompts: 8}\n"
        "tune: {val_every: 1, warmup_steps: 10, steps: 20}\n"
        "sweep: {grid: {lr: [0.1]}, steps: 5}\n"
    )
    with pytest.raises(SymtuneError, match=r"sweep point \{'lr': 0\.1\}: .*warmup_steps"):
        load_run_config(path, tmp_path / "out")
    path.write_text(path.read_text().replace("steps: 5", "steps: 10"))
    assert load_run_config(path, tmp_path / "out").sweep.steps == 10
