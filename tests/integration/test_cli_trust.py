"""Issue 12 through the real command line: one error path and honest exit codes, one writer
per --out, `--json`, `--version`, `list`, and progress lines in a log file."""

import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import run_symtune


def symtune(*args, env=None, **kwargs):
    return run_symtune(*args, env=env, **kwargs)


def start(*args, log):
    return subprocess.Popen(
        [sys.executable, "-m", "symtune", *args], stdout=log, stderr=subprocess.STDOUT, text=True
    )


@pytest.fixture
def suite_file(tmp_path):
    rows = [{"text": f"review {i}", "label": ["pos", "neg"][i % 2]} for i in range(60)]
    (tmp_path / "r_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "r_validation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:6]))
    path = tmp_path / "suite.yaml"
    path.write_text(
        f"tuning:\n  - name: reviews\n    local: {tmp_path}/r_{{split}}.jsonl\n"
        "    input_fields: [text]\n"
    )
    return path


def build_args(suite_file, out, n=40):
    return ("data", "build", "--suite", str(suite_file), "--out", str(out), "--n", str(n))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "Usage: "),
        (("data", "build", "--out", "x", "--bogus"), "No such option: --bogus"),
        (("data", "build", "--out", "x", "--n", "abc"), "Invalid value for '--n'"),
        (("list",), "Missing argument"),
        (("lsit",), "No such command 'lsit'"),
    ],
)
def test_usage_errors_are_clicks_message_and_exit_2(args, expected, tmp_path):
    done = symtune(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr + done.stdout
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 30
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
    reason="SIGINT is ignored here (a shell's background job): the CLI would inherit that",
)
def test_ctrl_c_says_aborted_and_exits_130(tmp_path, suite_file):
    with (tmp_path / "log").open("w") as log:
        job = start(
            *build_args(suite_file, tmp_path / "mix", n=1_000_000), "--max-tokens", "0", log=log
        )
        try:
            deadline = time.time() + 60
            while not (tmp_path / "mix" / "config.json").exists() and time.time() < deadline:
                time.sleep(0.2)
            job.send_signal(signal.SIGINT)
            assert job.wait(timeout=60) == 130
        finally:  # never leave a 3M-prompt build running behind a failed test
            if job.poll() is None:
                job.kill()
                job.wait()
    output = (tmp_path / "log").read_text()
    assert "Aborted" in output and "Traceback" not in output


def test_two_concurrent_builds_one_succeeds_one_is_refused(tmp_path, suite_file):
    out = tmp_path / "mix"
    with (tmp_path / "first.log").open("w") as log:
        first = start(*build_args(suite_file, out, n=60_000), "--max-tokens", "0", log=log)
        deadline = time.time() + 60
        while not (out / "config.json").exists() and time.time() < deadline:
            time.sleep(0.1)
        second = symtune(*build_args(suite_file, out, n=60_000), "--max-tokens", "0")
        assert first.wait(timeout=600) == 0, (tmp_path / "first.log").read_text()
    assert second.returncode == 2
    assert f"is in use by PID {first.pid}" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert json.loads((out / "manifest.json").read_text())["stats"]["prompts"] == 60_000


def test_build_refuses_a_folder_it_did_not_make_and_keeps_its_files(tmp_path, suite_file):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "draft.tmp").write_text("keep me")
    done = symtune(*build_args(suite_file, out), "--max-tokens", "0")
    assert done.returncode == 2 and "not made by symtune" in done.stderr
    assert [p.name for p in out.iterdir()] == ["draft.tmp"]


def test_a_build_of_zero_prompts_is_an_error_that_leaves_nothing(tmp_path, suite_file):
    out = tmp_path / "none"
    done = symtune(*build_args(suite_file, out), "--max-tokens", "16")
    assert done.returncode == 2, done.stdout
    assert "no prompt fits max_tokens=16" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_typos_leave_nothing_and_the_fixed_command_runs(tmp_path, suite_file):
    out = tmp_path / "mix"
    bad = symtune(*build_args(suite_file, out), "--max-tokens", "0", "--symbol-kinds", "wrod")
    assert bad.returncode == 2 and "symbol kind 'wrod' is unknown" in bad.stderr
    assert not out.exists()
    good = symtune(*build_args(suite_file, out), "--max-tokens", "0", "--json")
    assert good.returncode == 0, good.stderr
    summary = json.loads(good.stdout)  # stdout holds only the summary
    assert summary["prompts"] == 40 and summary["out"] == str(out)
    assert "building prompts" in good.stderr  # progress went to stderr, as plain lines


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("eval", "--out", "E", "--batch-size", "0"), "batch_size=0; expected 1 to 65,536"),
        (("eval", "--out", "E", "--batch-size", "-2"), "batch_size=-2; expected 1 to 65,536"),
        (("eval", "--out", "E", "--dtype", "fp16"), "dtype='fp16'; expected auto, bf16, fp32"),
        (("eval", "--out", "E", "--greedy", "beam"), "greedy='beam'; expected verify or generate"),
        (("eval", "--out", "E", "--exemplar-sets", "-1"), "exemplar_sets=-1; expected 0"),
        (
            ("eval", "--out", "E", "--seeds", "0,0"),
            "seeds=[0, 0]; expected each value once ([0] listed twice)",
        ),
        (
            ("eval", "--out", "E", "--settings", "neither,neither"),
            "settings=['neither', 'neither']; expected each value once",
        ),
        (
            ("eval", "--out", "E", "--suite", "reachable", "--exemplar-sets", "101"),
            "--exemplar-sets 101: task 'language/de-it' has only 100 queries",
        ),
        (("eval", "--out", "E", "--tuned", "./no/such/run"), "model path ./no/such/run not"),
        (("eval", "--out", "E", "--model", "notamodel"), "model 'notamodel': not a built-in"),
        (("eval", "--out", "E", "--model", "."), "model .: no config.json"),
        (("tune", "--mixture", "M", "--out", "E", "--weight-decay", "-5"), "weight_decay=-5.0"),
        (("tune", "--mixture", "M", "--out", "E", "--dtype", "fp16"), "dtype=fp16"),
        (("run", "run.yaml", "--out", "E"), "tune.lora = 5: expected a mapping"),
        (("data", "show", "M"), "M: no manifest.json"),
    ],
)
def test_user_errors_are_one_line_exit_2_and_write_nothing(args, message, tmp_path):
    (tmp_path / "run.yaml").write_text("tune: {lora: 5}\n")
    done = symtune(*args, cwd=tmp_path, env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "E").exists()


def test_version_and_lists(tmp_path):
    version = symtune("--version")
    assert version.returncode == 0 and version.stdout.startswith("symtune ")
    listed = symtune("list", "suites", "--json")
    names = [row["name"] for row in json.loads(listed.stdout)["suites"]]
    assert {"offline", "reachable", "families"} <= set(names)
    tasks = json.loads(symtune("list", "tasks", "--json").stdout)["tasks"]
    assert any(t["name"] == "irony_identification" and t["side"] == "evaluation" for t in tasks)
    for what in ("presets", "models"):
        assert symtune("list", what).returncode == 0
    assert "quick" in symtune("list", "presets").stdout
    bad = symtune("list", "colours")
    assert bad.returncode == 2 and "expected one of tasks, suites, presets, models" in bad.stderr


def test_progress_in_a_log_file_is_plain_lines(tmp_path, suite_file):
    done = symtune(
        *build_args(suite_file, tmp_path / "mix", n=30_000),
        "--max-tokens",
        "0",
        "--shard-size",
        "3000",
        env={"SYMTUNE_PROGRESS_EVERY": "0"},
    )
    assert done.returncode == 0, done.stderr
    lines = [x for x in done.stdout.splitlines() if x.startswith("building prompts: ")]
    assert len(lines) >= 5 and "30,000/30,000 (100%)" in lines[-1]
    assert "\x1b[" not in done.stdout  # no terminal control codes in a log
