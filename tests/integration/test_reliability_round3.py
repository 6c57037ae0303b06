"""Reliability round 3 (issue 33): each group of the probe of ae4da2d closed by a named test,
through the real CLI where the probe used it."""

from __future__ import annotations

import itertools
import re
import resource
import signal
import time

import pytest

from conftest import binary_eval_suite, run_symtune
from symtune.errors import SymtuneError
from symtune.io import YAML_MAX_DEPTH, YAML_MAX_NODES, parse_yaml

# G1 ----------------------------------------------------------------------------------------


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """`levels` lists of `width` aliases of the one before: width**levels strings when expanded."""
    names = [f"l{i}" for i in range(levels)]
    parts = [f"&{names[0]} [" + ", ".join(['"lol"'] * width) + "]"]
    for before, name in itertools.pairwise(names):
        parts.append(f"&{name} [" + ", ".join([f"*{before}"] * width) + "]")
    return "[" + ", ".join(parts) + "]"


def deep(levels: int = 5000) -> str:
    return "[" * levels + "]" * levels


def _capped(limit_bytes: int):
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return cap


@pytest.mark.parametrize(
    "value, needle",
    [(alias_bomb(), "YAML alias *l0 refused"), (deep(), f"deeper than {YAML_MAX_DEPTH} levels")],
    ids=["alias-bomb", "5000-deep"],
)
def test_g1_a_hostile_yaml_is_refused_in_one_line_by_every_command_that_reads_one(
    tmp_path, value, needle
):
    """The probe's 9x9 alias bomb (7.6-8.7 GB, no output in 60 s) and 5,000-deep nesting (the
    bug path) in a run YAML's name and a suite YAML's input_fields: one line, exit 2, quickly,
    under a 1 GiB address-space cap, nothing written."""
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(f"name: {value}\n")
    suite_yaml = tmp_path / "suite.yaml"
    suite_yaml.write_text(f"evaluation:\n  - name: ev\n    input_fields: {value}\n")
    out = tmp_path / "out"
    commands = [
        ("run", run_yaml, "--out", out),
        ("data", "build", "--suite", suite_yaml, "--n", "16", "--out", out),
        ("eval", "--suite", suite_yaml, "--out", out),
        ("eval", "export", "--suite", suite_yaml, "--out", out),
        ("scan", "--suite", suite_yaml, "--out", out),
    ]
    for command in commands:
        started = time.monotonic()
        result = run_symtune(*command, preexec_fn=_capped(1 << 30), timeout=60)
        took = time.monotonic() - started
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (command, result.stderr[-500:])
        assert len(lines) == 1 and needle in lines[0] and "(a bug" not in lines[0], lines
        assert took < 15, (command, took)  # ~0.7 s on a 2-core EPYC; CI is slower
        assert not out.exists()


def test_g1_yaml_bounds_are_counted_before_anything_is_built():
    assert parse_yaml("a: [1, {b: 2}]\nc: x\n", "f") == {"a": [1, {"b": 2}], "c": "x"}
    assert parse_yaml("a: &x 1\n", "f") == {"a": 1}  # an anchor alone expands nothing
    assert parse_yaml("", "f") is None
    nested = "v"
    for _ in range(YAML_MAX_DEPTH - 1):
        nested = f"[{nested}]"
    parse_yaml(nested, "f")  # the deepest accepted
    with pytest.raises(SymtuneError, match=f"f: line 1: nested deeper than {YAML_MAX_DEPTH}"):
        parse_yaml(f"[{nested}]", "f")
    wide = "[" + ", ".join(["1"] * YAML_MAX_NODES) + "]"  # the list itself is one more node
    with pytest.raises(SymtuneError, match=f"more than {YAML_MAX_NODES:,} YAML nodes"):
        parse_yaml(wide, "f")
    with pytest.raises(SymtuneError, match="line 2: YAML alias \\*x refused"):
        parse_yaml("a: &x [1]\nb: *x\n", "f")
    with pytest.raises(SymtuneError, match="f: not valid YAML .*constructor"):
        parse_yaml("a: !!python/object/apply:os.system [ls]\n", "f")


# G2 ----------------------------------------------------------------------------------------


def _run_yaml(tmp_path, body: str):
    path = tmp_path / "run.yaml"
    path.write_text("model: smollm2-135m-instruct\nsuite: reachable\n" + body)
    return path


@pytest.mark.parametrize(
    "body, needle",
    [
        ("data: {n: 1000000000000}\n", "n=1000000000000; expected 1 to 1,000,000 prompts"),
        ("data: {n: 99999999999999999999999999999999}\n", "expected 1 to 1,000,000 prompts"),
        ("tune: {batch_size: 1000000000}\n", "batch_size=1000000000; expected 1 to 65,536"),
        ("tune: {seq_len: 1000000000000}\n", "seq_len=1000000000000; expected 16 to 65,536"),
        ("tune: {steps: 1000000000}\n", "steps=1000000000; expected 1 to 1,000,000"),
        ("eval: {max_queries: 1000000000}\n", "max_queries=1000000000; expected 1 to 100,000"),
        ("eval: {seeds: [-1]}\n", "seeds=[-1]; expected seeds >= 0"),
        ("data: {max_tokens: 9000}\ntune: {seq_len: 9000}\n", "more than the model's 8,192"),
        (
            "data: {val_prompts: 8}\ntune: {val_every: 1}\n"
            "sweep: {grid: {lr: [" + ", ".join(f"{i}.0e-5" for i in range(1, 101)) + "], "
            "weight_decay: [" + ", ".join(f"{i}.0e-3" for i in range(1, 101)) + "]}}\n",
            "sweep.grid has 10,000 points",
        ),
        (
            "data: {val_prompts: 8}\ntune: {val_every: 1}\nsweep: {grid: {lr: [0.1, 0.1]}}\n",
            "sweep.grid.lr lists 0.1 twice",
        ),
    ],
    ids=[
        "n",
        "n-huge",
        "batch",
        "seq_len",
        "steps",
        "max_queries",
        "seed",
        "positions",
        "grid",
        "grid-twice",
    ],
)
def test_g2_unbounded_sizes_are_refused_naming_field_and_bound_before_anything_is_written(
    tmp_path, body, needle
):
    from symtune.pipeline import load_run_config

    with pytest.raises(SymtuneError, match=re.escape(needle)) as caught:
        load_run_config(_run_yaml(tmp_path, body), tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


# G3 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, needle",
    [
        ("eval: {k: 20}\n", "heldout: label 'red' has 15 examples in split 'train'; expected"),
        ("eval: {exemplar_sets: 7}\n", "task 'heldout' has only 6 queries"),
        ("", "empty; expected a mapping of sections"),
    ],
    ids=["k-above-a-class", "sets-above-queries", "empty-yaml"],
)
def test_g3_late_failures_are_found_before_the_run_folder_is_made(
    tmp_path, tiny_model_dir, body, needle
):
    """The probe found these only after run_config.yaml was written, so the corrected YAML was
    then refused on the same --out; now the first run writes nothing and the fix just runs."""
    from test_pipeline import write_suite

    suite = write_suite(tmp_path)
    config = tmp_path / "run.yaml"
    head = (
        f"model: {tiny_model_dir}\nsuite: {suite}\ndata: {{n: 8, max_tokens: 512}}\n"
        "tune: {steps: 1, batch_size: 4, seq_len: 512, dtype: fp32}\n"
    )
    config.write_text(head + body if body else "")
    out = tmp_path / "run"
    result = run_symtune("run", config, "--out", out)
    assert result.returncode == 2 and needle in result.stderr, result.stderr[-600:]
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()


# G4 ----------------------------------------------------------------------------------------


def test_g4_a_run_folder_resumes_however_out_is_spelled_and_after_a_move(tmp_path, tiny_model_dir):
    from test_pipeline import write_suite

    suite = write_suite(tmp_path)
    config = tmp_path / "R.yaml"
    config.write_text(
        f"model: {tiny_model_dir}\nsuite: {suite}\ndata: {{n: 8, max_tokens: 512}}\n"
        "tune: {steps: 1, batch_size: 4, seq_len: 512, dtype: fp32}\n"
        "eval: {seeds: [0], max_queries: 2, k: 1, settings: [neither], scoring: [rank], "
        "list_functions: none, turing: false, dtype: fp32}\n"
    )
    (tmp_path / "elsewhere").mkdir()
    run_symtune("run", "R.yaml", "--out", "P1", cwd=tmp_path, ok=True)
    assert "mixture" not in (tmp_path / "P1" / "run_config.yaml").read_text()
    spellings = [
        (tmp_path, "R.yaml", tmp_path / "P1"),  # absolute --out
        (tmp_path / "elsewhere", config, "../P1"),  # from another directory
    ]
    for cwd, yaml_path, out in spellings:
        result = run_symtune("run", yaml_path, "--out", out, cwd=cwd, ok=True)
        for stage in ("data", "eval_base", "tune:symbol", "eval"):
            assert f"{stage}: done already" in result.stdout, result.stdout
    (tmp_path / "P1").rename(tmp_path / "P1b")
    result = run_symtune("run", config, "--out", tmp_path / "P1b", ok=True)
    assert "eval: done already" in result.stdout
    (tmp_path / "v2").mkdir()
    changed = tmp_path / "v2" / "R.yaml"  # the name (the file's stem) is the same
    changed.write_text(config.read_text().replace("steps: 1,", "steps: 2,"))
    result = run_symtune("run", changed, "--out", tmp_path / "P1b")
    assert result.returncode == 2
    assert "another config (tune.steps: 1 there, 2 here)" in result.stderr, result.stderr


# G5 ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir):
    """A finished two-replicate run of the tiny model on a local suite: (YAML, run folder)."""
    from test_pipeline import write_suite

    tmp_path = tmp_path_factory.mktemp("round3")
    suite = write_suite(tmp_path)
    config = tmp_path / "R.yaml"
    config.write_text(
        f"model: {tiny_model_dir}\nsuite: {suite}\ndata: {{n: 8, max_tokens: 512}}\n"
        "tune: {steps: 2, batch_size: 4, seq_len: 512, dtype: fp32, checkpoint_every: 1}\n"
        "eval: {seeds: [0], max_queries: 2, k: 1, settings: [neither], scoring: [rank], "
        "list_functions: none, turing: false, dtype: fp32}\nreplicates: 2\n"
    )
    run = tmp_path / "run"
    result = run_symtune("run", config, "--out", run, env={"SYMTUNE_PROGRESS_EVERY": "0"}, ok=True)
    return config, run, result.stdout


def test_g5_a_done_stage_whose_outputs_are_gone_is_run_again(tmp_path, tiny_run):
    """stages.json says done; the files decide: a deleted final/, a deleted replicate folder
    and a deleted results.json are rebuilt (each with a line saying so), to the same weights."""
    import hashlib
    import shutil

    def weights(run):
        return {
            str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.glob("arms/*/tune*/final/*.safetensors"))
        }

    config, finished, _ = tiny_run
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    first = weights(run)
    assert len(first) == 2
    shutil.rmtree(run / "arms" / "symbol" / "tune-r2" / "final")
    shutil.rmtree(run / "arms" / "symbol" / "tune-r1")
    (run / "eval" / "results.json").unlink()
    result = run_symtune("run", config, "--out", run, ok=True)
    for stage in ("tune:symbol.r1", "tune:symbol.r2", "eval"):
        assert f"{stage}: recorded as done, but" in result.stdout, result.stdout
    assert "eval_base: recorded as done, but" in result.stdout  # results.json held base too
    assert weights(run) == first
    assert (run / "eval" / "results.json").is_file()


# G6 ----------------------------------------------------------------------------------------


def test_g6_report_out_never_takes_a_folder_holding_only_the_users_report_md(tmp_path, tiny_run):
    mine = tmp_path / "F2"
    mine.mkdir()
    (mine / "report.md").write_text("mine\n")
    result = run_symtune("report", tiny_run[1], "--out", mine)
    assert result.returncode == 2 and "not made by symtune" in result.stderr, result.stderr
    assert [p.name for p in mine.iterdir()] == ["report.md"]
    assert (mine / "report.md").read_text() == "mine\n"


# Item 9: the stage ETA -------------------------------------------------------------------------


def test_the_eta_of_a_tuning_stage_counts_that_stage_only(monkeypatch):
    """The probe saw "2/30 (7%), ~8,209 s left, 586 s elapsed" at the start of a stage that took
    ~240 s: the clock was the run's. After a reset the rate counts the new stage's steps."""
    import io

    from rich.console import Console

    from symtune.cli import console as module

    now = {"t": 0.0}
    monkeypatch.setattr(module.time, "monotonic", lambda: now["t"])
    out = io.StringIO()
    bar = module.PlainProgress(Console(file=out, width=200), every=0)
    job = bar.add_task("tune", total=30)
    for step in range(1, 31):  # the first stage: 30 steps of 20 s
        now["t"] += 20
        bar.update(job, completed=step)
    now["t"] += 60  # evaluation, another stage's start-up
    bar.reset(job, total=30, completed=1)  # the second stage's first step arrives
    bar.update(job, completed=1, description="tune control")
    for step in (2, 3):
        now["t"] += 10
        bar.update(job, completed=step)
    last = out.getvalue().strip().splitlines()[-1]
    assert last == "tune control: 3/30 (10%), ~270 s left, 20 s elapsed", last


def test_each_tuning_stage_of_a_run_starts_its_own_clock(tiny_run):
    lines = [ln for ln in tiny_run[2].splitlines() if ln.startswith("tune symbol.r2")]
    assert lines and lines[0].endswith(", 0 s elapsed"), tiny_run[2]


# G7 ----------------------------------------------------------------------------------------


def test_g7_minor_messages_say_what_is_wrong(tmp_path, tiny_run, tiny_model_dir):
    _, run, _ = tiny_run
    link = tmp_path / "LNK3"
    link.symlink_to(tmp_path / "gone")
    suite = binary_eval_suite(tmp_path)
    checks = [
        (
            ("eval", "--model", tiny_model_dir, "--suite", suite, "--out", link),
            f"is a symbolic link to {tmp_path / 'gone'}, which does not exist",
        ),
        (
            (
                "eval",
                "--model",
                tiny_model_dir,
                "--tuned",
                run,
                "--suite",
                suite,
                "--out",
                tmp_path / "e1",
            ),
            f"a `symtune run` folder, not one model; name one of its tuning runs ({run}/arms/",
        ),
        (
            (
                "eval",
                "--model",
                tiny_model_dir,
                "--suite",
                suite,
                "--seeds",
                "-1",
                "--out",
                tmp_path / "e2",
            ),
            "seeds=[-1]; expected seeds >= 0",
        ),
    ]
    for args, needle in checks:
        result = run_symtune(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and needle in lines[0], result.stderr
    assert not (tmp_path / "e1").exists() and not (tmp_path / "e2").exists()
    assert link.is_symlink() and not link.exists()


# Item 7: preemption ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_model_dir):
    """A 30-step tuning run's arguments (without --out) and its final weights' folder: the
    reference every interrupted run must end at."""
    from conftest import build_tiny_mixture

    tmp_path = tmp_path_factory.mktemp("uninterrupted")
    mixture = build_tiny_mixture(tmp_path / "mix", n=64)
    args = ["tune", "--mixture", mixture, "--model", tiny_model_dir, "--steps", "30"]
    args += ["--batch-size", "4", "--seq-len", "2048", "--lr", "0.01", "--dtype", "fp32"]
    args += ["--checkpoint-every", "1000"]
    run_symtune(*args, "--out", tmp_path / "ref", ok=True)
    return args, tmp_path / "ref"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_during_tuning_checkpoints_the_step_says_so_and_resumes_exactly(
    tmp_path, uninterrupted, signum
):
    """A scheduler's SIGTERM (or a closed terminal's SIGHUP) lost the work since the last
    checkpoint; now the step in flight ends, its checkpoint is written (checkpoint_every is
    far away), one line says so, the exit is 128 + the signal, and --resume ends with the
    uninterrupted run's weights."""
    import hashlib
    import os
    import subprocess
    import sys

    args, reference = uninterrupted
    cut = tmp_path / "cut"
    job = subprocess.Popen(
        [sys.executable, "-m", "symtune", *map(str, args), "--out", str(cut)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SYMTUNE_PROGRESS_EVERY": "3600"},
        # symtune keeps an ignored SIGHUP ignored (nohup): pytest itself may run under nohup
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
    )
    metrics = cut / "metrics.jsonl"
    deadline = time.monotonic() + 600  # a loaded 2-core machine starts slowly
    while time.monotonic() < deadline and job.poll() is None:
        if metrics.exists() and metrics.read_text().count("\n") >= 3:
            break
        time.sleep(0.01)
    job.send_signal(signum)
    _, err = job.communicate(timeout=600)
    assert job.returncode == 128 + signum, err
    lines = err.strip().splitlines()
    name = signal.Signals(signum).name
    assert len(lines) == 1 and f"stopped by {name} after step " in lines[0], err
    step = int(lines[0].split("after step ")[1].split()[0])
    assert 3 <= step < 30 and (cut / "checkpoints" / f"step-{step:06d}").is_dir()
    assert not (cut / "final").exists()
    run_symtune(*args, "--out", cut, "--resume", ok=True)

    def sha(run):
        return hashlib.sha256((run / "final" / "model.safetensors").read_bytes()).hexdigest()

    assert sha(cut) == sha(reference)


# Item 8: memory ----------------------------------------------------------------------------


def test_every_stage_records_its_own_peak_memory(tiny_run):
    import json

    stages = json.loads((tiny_run[1] / "stages.json").read_text())
    assert {"data", "eval_base", "tune:symbol.r1", "tune:symbol.r2", "eval"} <= set(stages)
    for name, record in stages.items():
        if name != "report":
            assert 100 < record["peak_rss_mb"] < 8000, (name, record)
            assert 50 < record["start_rss_mb"] <= record["peak_rss_mb"], (name, record)


def test_the_data_caches_are_emptied_between_stages():
    """Word lists and symbol pools built for one stage are not held through the next."""
    import wordfreq

    from symtune.pipeline.memory import forget_data_caches, release
    from symtune.prompts.symbols import ranked_words

    ranked_words()
    assert ranked_words.cache_info().currsize == 1
    assert wordfreq.get_frequency_list.cache_info().currsize >= 1
    release()
    assert ranked_words.cache_info().currsize == 0
    assert wordfreq.get_frequency_list.cache_info().currsize == 0
    assert forget_data_caches() >= 4  # ours and wordfreq's, all still registered


def test_a_stage_peak_is_reset_at_its_start():
    import numpy as np

    from symtune.pipeline.memory import peak_rss_mb, release, reset_peak

    block = np.ones(40_000_000)  # 320 MB, touched
    high = peak_rss_mb()
    del block
    release()
    assert reset_peak()  # Linux, as CI
    assert peak_rss_mb() < high - 200
