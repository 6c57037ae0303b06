"""Issue 24: the second reliability round, through the command line a user types. Each test
names the probe's failure group (../shared/reviews/reliability-9026a7a.md) it closes: nothing
of the user's lost (F1-F3), nothing stale or foreign trusted (F5, F6, F7, F10), wrong input
named in one line before anything is written (F4, F8, F11), advice that works (F9), and the
minor exits and messages (F13). Commands run in-process through the same entry as `symtune`
(`guarded(app)`), except where a signal or stdin needs a real process."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import binary_eval_suite, build_tiny_mixture, run_symtune


def cli(capsys, *args: object) -> tuple[int, str]:
    """`symtune ARGS` in this process: (exit code, stderr)."""
    from symtune.cli.console import guarded
    from symtune.cli.main import app

    capsys.readouterr()
    code = guarded(lambda: app([str(a) for a in args], standalone_mode=False), {"on": False})
    return code, capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) by relative path, with its sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(folder.rglob("*"))
    }


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in err, err


def eval_args(out: Path, suite: str, model: Path, *extra: object) -> list[object]:
    return [
        "eval",
        "--out",
        out,
        "--suite",
        suite,
        "--model",
        model,
        "--settings",
        "neither",
        "--no-flipped",
        "--seeds",
        "0",
        "--k",
        "2",
        "--scoring",
        "rank",
        "--list-functions",
        "none",
        "--no-turing",
        "--dtype",
        "fp32",
        *extra,
    ]


def tune_args(mixture: Path, out: Path, model: Path, *extra: object) -> list[object]:
    return [
        "tune",
        "--mixture",
        mixture,
        "--out",
        out,
        "--model",
        model,
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--seq-len",
        "2048",
        "--lr",
        "0.01",
        "--dtype",
        "fp32",
        "--checkpoint-every",
        "1",
        *extra,
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_model_dir):
    """A mixture, a finished tuning run and a suite with one local evaluation task."""
    from conftest import tiny_tune_config
    from symtune.tune.loop import tune

    root = tmp_path_factory.mktemp("world")
    mixture = build_tiny_mixture(root / "mix", n=16)
    run = root / "run"
    tune(tiny_tune_config(run, mixture, tiny_model_dir))
    suite = binary_eval_suite(root)
    both = root / "both.yaml"
    rows = [{"text": f"row {i}", "label": "ab"[i % 2]} for i in range(20)]
    for split in ("train", "validation"):
        (root / f"t_{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    both.write_text(
        f"tuning:\n  - name: tunes\n    local: {root}/t_{{split}}.jsonl\n"
        "    input_fields: [text]\n" + Path(suite).read_text()
    )
    return {"root": root, "mixture": mixture, "run": run, "suite": suite, "both": both}


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# F1 --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["data", "tune", "eval", "run", "scan", "report"])
def test_f1_a_users_folder_named_like_ours_is_refused_and_left_byte_identical(
    capsys, tmp_path, world, tiny_model_dir, kind
):
    folder = tmp_path / "mine"
    folder.mkdir()
    ours = {
        "data": "manifest.json",
        "tune": "provenance.json",
        "eval": "eval_config.json",
        "run": "stages.json",
        "scan": "scan.json",
        "report": "report.md",
    }[kind]
    (folder / ours).write_text('{"name": "my extension"}')
    (folder / "notes.txt").write_text("precious")
    if kind == "tune":
        (folder / "checkpoints").mkdir()
    before = snapshot(folder)
    if kind == "data":
        args = ["data", "build", "--suite", world["both"], "--n", "8", "--max-tokens", "0"]
        args += ["--out", folder]
    elif kind == "tune":
        args = tune_args(world["mixture"], folder, tiny_model_dir)
    elif kind == "eval":
        args = eval_args(folder, world["suite"], tiny_model_dir)
    elif kind == "scan":
        args = ["scan", "--out", folder, "--suite", world["suite"], "--model", tiny_model_dir]
    elif kind == "report":
        run = tmp_path / "pipe"
        code, _ = cli(capsys, *eval_args(run / "eval", world["suite"], tiny_model_dir))
        assert code == 0
        args = ["report", run, "--out", folder]
    else:
        (tmp_path / "r.yaml").write_text(f"model: {tiny_model_dir}\nsuite: {world['both']}\n")
        args = ["run", tmp_path / "r.yaml", "--out", folder]
    code, err = cli(capsys, *args)
    one_line_error(code, err, "not made by symtune")
    assert snapshot(folder) == before


def test_f1_a_command_refused_after_claiming_leaves_no_marker_behind(
    capsys, tmp_path, world, tiny_model_dir
):
    out = tmp_path / "ev"
    assert (
        cli(capsys, *eval_args(out, world["suite"], tiny_model_dir, "--max-queries", "2"))[0] == 0
    )
    (out / ".symtune.json").unlink()  # as an older symtune left it: the exact eval layout
    (out / ".symtune.lock").unlink()
    before = snapshot(out)
    code, err = cli(capsys, *eval_args(out, world["suite"], tiny_model_dir, "--max-queries", "3"))
    one_line_error(code, err, "another config")
    assert snapshot(out) == before  # no .symtune.json, no .symtune.lock


def test_f1_an_older_symtune_folder_of_exactly_our_layout_is_still_ours(
    capsys, tmp_path, world, tiny_model_dir
):
    out = tmp_path / "ev"
    args = eval_args(out, world["suite"], tiny_model_dir, "--max-queries", "2")
    assert cli(capsys, *args)[0] == 0
    (out / ".symtune.json").unlink()
    assert cli(capsys, *args)[0] == 0  # resumed from its caches
    assert json.loads((out / ".symtune.json").read_text()) == {"kind": "eval"}
    (out / ".symtune.json").unlink()
    (out / "draft.txt").write_text("mine")  # something we never wrote: no longer our layout
    code, err = cli(capsys, *args)
    one_line_error(code, err, "not made by symtune")


# F2 --------------------------------------------------------------------------------------


def test_f2_report_out_is_claimed_and_a_users_report_md_survives(capsys, tmp_path, world):
    run = tmp_path / "pipe"
    shutil.copytree(world["run"], run / "tune")
    target = tmp_path / "mine"
    target.mkdir()
    (target / "report.md").write_text("my own report")
    (target / "notes.txt").write_text("mine")
    before = snapshot(target)
    code, err = cli(capsys, "report", run, "--out", target)
    one_line_error(code, err, "no eval/results.json")
    (run / "eval").mkdir()
    (run / "eval" / "results.json").write_text("{}")
    code, err = cli(capsys, "report", run, "--out", target)
    one_line_error(code, err, "results.json", "'config'")
    assert snapshot(target) == before


# F3 --------------------------------------------------------------------------------------


def test_f3_a_model_without_weights_leaves_nothing_and_the_fixed_command_runs(
    capsys, tmp_path, world, tiny_model_dir
):
    model = copy_model(tiny_model_dir, tmp_path / "model")
    weights = model / "model.safetensors"
    saved = weights.read_bytes()
    weights.unlink()
    out = tmp_path / "ev"
    args = eval_args(out, world["suite"], model, "--max-queries", "2")
    code, err = cli(capsys, *args)
    one_line_error(code, err, "no weight files")
    assert not out.exists()
    weights.write_bytes(saved[: len(saved) // 2])
    code, err = cli(capsys, *args)
    one_line_error(code, err, "model.safetensors", "damaged or truncated")
    assert not out.exists()
    weights.write_bytes(saved)
    assert cli(capsys, *args)[0] == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("data: {max_tokens: 512}\ntune: {seq_len: 256}\n", "shorter than data.max_tokens"),
        ("eval: {tasks: [nope]}\n", "eval: eval config: task 'nope'"),
        ("extra_eval: {tasks: [nope]}\n", "extra_eval: eval config: task 'nope'"),
        ("suite: MISSING\n", "not found"),
    ],
)
def test_f3_run_yaml_errors_across_fields_are_found_before_any_stage(
    capsys, tmp_path, world, tiny_model_dir, body, needle
):
    suite = tmp_path / "suite.yaml"
    text = (
        f"tuning:\n  - name: tunes\n    local: {tmp_path}/t_{{split}}.jsonl\n"
        "    input_fields: [text]\n" + Path(world["suite"]).read_text()
    )
    if "MISSING" not in body:
        for split in ("train", "validation"):
            rows = [{"text": f"row {i}", "label": "ab"[i % 2]} for i in range(20)]
            (tmp_path / f"t_{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite.write_text(text)
    body = body.replace("suite: MISSING\n", "")
    extra = "extra_eval" in body
    (tmp_path / "r.yaml").write_text(
        f"model: {tiny_model_dir}\nsuite: {suite}\n"
        + body.replace("{tasks", f"{{suite: {suite}, tasks" if extra else "{tasks")
    )
    out = tmp_path / "run"
    code, err = cli(capsys, "run", tmp_path / "r.yaml", "--out", out)
    one_line_error(code, err, needle)
    assert not out.exists()


# F4 (the YAML shapes are fuzzed in tests/unit/test_trust.py) -----------------------------


def test_f4_a_non_finite_learning_rate_is_refused_and_a_diverging_loss_is_an_error(
    capsys, tmp_path, world, tiny_model_dir
):
    out = tmp_path / "t"
    code, err = cli(capsys, *tune_args(world["mixture"], out, tiny_model_dir), "--lr", "inf")
    one_line_error(code, err, "lr=inf; expected a finite number")
    assert not out.exists()
    from safetensors.torch import load_file, save_file

    model = copy_model(tiny_model_dir, tmp_path / "nan-model")
    weights = load_file(str(model / "model.safetensors"))
    name = next(k for k in weights if "norm" in k)
    weights[name] = weights[name] * float("nan")  # a loss that cannot be finite
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    code, err = cli(capsys, *tune_args(world["mixture"], out, model))
    one_line_error(code, err, "the loss is nan at step 1", "training diverged")
    assert not out.exists()  # nothing was made: the folder is gone, the fixed command runs


# F5 --------------------------------------------------------------------------------------


def test_f5_an_edited_model_config_or_a_missing_identity_is_never_scored_from_the_cache(
    capsys, tmp_path, world, tiny_model_dir
):
    model = copy_model(tiny_model_dir, tmp_path / "model")
    out = tmp_path / "ev"
    args = eval_args(out, world["suite"], model, "--max-queries", "2")
    assert cli(capsys, *args)[0] == 0
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))
    one_line_error(*cli(capsys, *args), "model config", "stale")
    (model / "config.json").write_text(json.dumps(config))
    (out / "cache" / "base.model").unlink()
    one_line_error(*cli(capsys, *args), "no record of the model")


# F6 --------------------------------------------------------------------------------------


def test_f6_a_card_refuses_another_models_evaluation(capsys, tmp_path, world, tiny_model_dir):
    other = tmp_path / "other"
    code, _ = cli(capsys, *tune_args(world["mixture"], other, tiny_model_dir, "--lr", "0.02"))
    assert code == 0
    out = tmp_path / "ev"
    args = eval_args(out, world["suite"], tiny_model_dir, "--max-queries", "2", "--tuned", other)
    assert cli(capsys, *args)[0] == 0
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    card = run / "final" / "README.md"
    before = card.read_bytes() if card.exists() else None
    one_line_error(*cli(capsys, "card", run, "--results", out / "results.json"), "are not")
    assert (card.read_bytes() if card.exists() else None) == before
    assert cli(capsys, "card", other, "--results", out / "results.json")[0] == 0
    (tmp_path / "bare.json").write_text('{"models": {"tuned": {}}}')
    one_line_error(*cli(capsys, "card", other, "--results", tmp_path / "bare.json"), "bare.json")


# F7 --------------------------------------------------------------------------------------


def test_f7_data_export_verifies_shards_like_tune(capsys, tmp_path):
    mixture = build_tiny_mixture(tmp_path / "mix", n=16)
    shard = mixture / "prompts-00000.jsonl"
    shard.write_text("".join(shard.read_text().splitlines(keepends=True)[:5]))
    code, err = cli(capsys, "data", "export", mixture, "--out", tmp_path / "e")
    one_line_error(code, err, "prompts-00000.jsonl", "sha256")
    assert not (tmp_path / "e").exists()


# F8 --------------------------------------------------------------------------------------


def test_f8_wrong_json_and_broken_models_are_named_in_one_line(
    capsys, tmp_path, world, tiny_model_dir
):
    mixture = build_tiny_mixture(tmp_path / "mix", n=16)
    manifest = json.loads((mixture / "manifest.json").read_text())
    del manifest["shards"][0]["sha256"]
    (mixture / "manifest.json").write_text(json.dumps(manifest))
    code, err = cli(capsys, *tune_args(mixture, tmp_path / "t", tiny_model_dir))
    one_line_error(code, err, "manifest.json", "sha256")
    model = copy_model(tiny_model_dir, tmp_path / "model")
    (model / "model.safetensors").unlink()
    import torch

    torch.save({"x": object}, model / "pytorch_model.bin")  # a pickle, not tensors
    code, err = cli(capsys, *eval_args(tmp_path / "ev", world["suite"], model))
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "a pickle that holds more than tensors" in err, err  # a whole message (G7)
    assert not (tmp_path / "ev").exists()


def test_f8_a_report_of_damaged_files_writes_nothing(capsys, tmp_path, world, tiny_model_dir):
    run = tmp_path / "pipe"
    out = run / "eval"
    assert (
        cli(capsys, *eval_args(out, world["suite"], tiny_model_dir, "--max-queries", "2"))[0] == 0
    )
    shutil.copytree(world["run"], run / "tune")
    good = (out / "results.json").read_text()
    results = json.loads(good)
    results["summary"]["rank"]["base"]["neither"]["average"] = "high"
    (out / "results.json").write_text(json.dumps(results))
    one_line_error(*cli(capsys, "report", run), "summary.rank.base.neither")
    assert not (run / "report").exists()
    (out / "results.json").write_text(good)
    (run / "stages.json").write_text('{"data": {"done": true}}')  # no seconds
    assert cli(capsys, "report", run)[0] == 0
    metrics = run / "tune" / "metrics.jsonl"
    metrics.write_text('{"step": 1, "loss": 1.0}\n' + metrics.read_text())
    shutil.rmtree(run / "report")
    one_line_error(*cli(capsys, "report", run), "metrics.jsonl")
    assert not (run / "report").exists()


# F9 --------------------------------------------------------------------------------------


def test_f9_following_the_damaged_checkpoint_advice_resumes_from_the_one_before(
    capsys, tmp_path, world, tiny_model_dir
):
    from safetensors.torch import load_file

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    args = ("--steps", "3", "--keep-checkpoints", "3")
    assert cli(capsys, *tune_args(world["mixture"], whole, tiny_model_dir), *args)[0] == 0
    assert cli(capsys, *tune_args(world["mixture"], cut, tiny_model_dir), *args)[0] == 0
    shutil.rmtree(cut / "final")
    last = cut / "checkpoints" / "step-000003"
    (last / "optimizer.pt").write_bytes(b"damaged")
    code, err = cli(capsys, *tune_args(world["mixture"], cut, tiny_model_dir), *args, "--resume")
    one_line_error(code, err, f"delete {last}")
    shutil.rmtree(last)  # as the message advises
    code, err = cli(capsys, *tune_args(world["mixture"], cut, tiny_model_dir), *args, "--resume")
    assert code == 0, err
    first_steps = [json.loads(line)["step"] for line in (cut / "metrics.jsonl").open()]
    assert first_steps == [1, 2, 3]
    a = load_file(str(whole / "final" / "model.safetensors"))
    b = load_file(str(cut / "final" / "model.safetensors"))
    assert all((a[k] == b[k]).all() for k in a)


# F10 -------------------------------------------------------------------------------------


def test_f10_a_models_own_code_never_runs_without_trust_remote_code(
    tmp_path, world, tiny_model_dir
):
    model = copy_model(tiny_model_dir, tmp_path / "evil")
    marker = tmp_path / "ran.txt"
    (model / "evil_model.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "evil_model.EvilModel"}
    (model / "config.json").write_text(json.dumps(config))
    for args in (
        eval_args(tmp_path / "ev", world["suite"], model),
        tune_args(world["mixture"], tmp_path / "t", model),
    ):
        done = run_symtune(*args, input="y\n", env={"HF_HUB_OFFLINE": "1"})
        one_line_error(done.returncode, done.stderr, "auto_map", "--trust-remote-code")
        assert not marker.exists()
    assert not (tmp_path / "ev").exists() and not (tmp_path / "t").exists()


# F11 -------------------------------------------------------------------------------------


def test_f11_an_evaluation_with_nothing_to_score_is_an_error(
    capsys, tmp_path, world, tiny_model_dir
):
    out = tmp_path / "ev"
    args = eval_args(out, world["suite"], tiny_model_dir)
    i = args.index("--settings")
    args[i + 1] = ""
    one_line_error(*cli(capsys, *args), "nothing to evaluate")
    empty = binary_eval_suite(tmp_path, validation=0)
    one_line_error(*cli(capsys, *eval_args(out, empty, tiny_model_dir)), "toy_eval", "no queries")
    tuning_only = tmp_path / "tuning.yaml"
    tuning_only.write_text(Path(empty).read_text().replace("evaluation:", "tuning:"))
    one_line_error(
        *cli(capsys, *eval_args(out, str(tuning_only), tiny_model_dir)), "nothing to evaluate"
    )
    assert not out.exists()


# F13 -------------------------------------------------------------------------------------


def test_f13_os_errors_exit_2_naming_the_users_path_in_one_line(capsys, tmp_path, world):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    long_name = tmp_path / ("n" * 200) / ("m" * 100)
    for out, needle in ((blocker / "sub", str(blocker)), (Path("/proc/x"), "/proc/x")):
        code, err = cli(capsys, "data", "export", world["mixture"], "--out", out)
        one_line_error(code, err, needle)
        assert ".tmp" not in err
    code, err = cli(capsys, "report", tmp_path / "pipe", "--out", long_name)
    one_line_error(code, err)


def test_f13_tune_into_a_mixture_folder_says_what_it_is(capsys, tmp_path, tiny_model_dir):
    mixture = build_tiny_mixture(tmp_path / "mix", n=16)
    for extra in ((), ("--resume",)):
        code, err = cli(capsys, *tune_args(mixture, mixture, tiny_model_dir), *extra)
        one_line_error(code, err, "is a symtune mixture folder")


def _interrupt(args: list[str], after: float, ready: str = "") -> tuple[int, str, float]:
    """SIGINT `after` seconds after the start, or (`ready`) `after` seconds after the command
    printed that line: an event, not a guess of how long start-up takes on a loaded CPU."""
    job = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    first = ""
    if ready:
        assert job.stdout is not None
        first = job.stdout.readline()
        assert first.strip() == ready, first
    time.sleep(after)
    job.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        output, _ = job.communicate(timeout=300)
        output = first + output
    finally:
        if job.poll() is None:
            job.kill()
    return job.returncode, output, time.monotonic() - sent


@pytest.mark.parametrize("after", [0.1, 0.4, 1.0, 1.3])
def test_f13_ctrl_c_during_start_up_says_aborted(tmp_path, after):
    code, output, _ = _interrupt([sys.executable, "-m", "symtune", "list", "tasks"], after)
    if code == 0:  # finished before the signal: a fast machine
        return
    if code == -signal.SIGINT and output.rstrip().endswith("┘") and "Aborted" not in output:
        return  # the whole table was out: the signal met the interpreter's teardown (a shell's 130)
    assert code == 130 and "Aborted" in output and "Traceback" not in output, output


def test_f13_ctrl_c_ends_the_command_even_where_the_interrupt_is_swallowed(tmp_path):
    """A phase that never returns to Python code that would raise (native code, or a library
    that catches KeyboardInterrupt) is ended by the guard a few seconds later."""
    from symtune.errors import ABORT_GRACE_S

    script = (
        "import time\n"
        "from symtune.errors import install_interrupt_guard\n"
        "install_interrupt_guard()\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    try:\n"
        "        time.sleep(0.05)\n"
        "    except KeyboardInterrupt:\n"
        "        pass\n"
    )
    code, output, took = _interrupt([sys.executable, "-c", script], 0.5, ready="ready")
    assert code == 130 and output.strip().endswith("Aborted"), output
    assert took < ABORT_GRACE_S + 10


@pytest.mark.parametrize("suite", ["offline", "scan"])
def test_a_command_needing_bigbench_without_a_copy_is_one_line_and_writes_nothing(
    tmp_path, capsys, monkeypatch, tiny_model_dir, suite
):
    """Issue 32: the offline suite (eval) and BIG-Bench algorithmic tasks name the ways to
    supply BIG-Bench, exit 2, and leave no folder behind."""
    monkeypatch.delenv("SYMTUNE_BIGBENCH", raising=False)
    out = tmp_path / "eval"
    if suite == "offline":
        args = eval_args(out, "offline", tiny_model_dir)
    else:  # the default suite, BIG-Bench's algorithmic tasks
        args = eval_args(out, "reachable", tiny_model_dir, "--algorithmic", "bigbench")
        args = [a for a in args if a != "--no-turing"]
        args[args.index("rank")] = "exact"  # Turing concepts are scored by exact match
    code, err = cli(capsys, *args)
    one_line_error(code, err, "needs BIG-Bench", "SYMTUNE_BIGBENCH", "git checkout")
    assert not out.exists()
