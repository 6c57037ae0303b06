"""The real `symtune data` commands on tiny local files (no artifacts, no tokenizer)."""

import json

import pytest

from conftest import run_symtune


def run(*args, cwd=None):
    return run_symtune(*args, cwd=cwd)


@pytest.fixture
def suite_file(tmp_path):
    rows = [
        {"text": f"review number {i}", "label": ["pos", "neg", "meh"][i % 3]} for i in range(90)
    ]
    (tmp_path / "reviews_train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "reviews_validation.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows[:9])
    )
    path = tmp_path / "suite.yaml"
    path.write_text(
        "tuning:\n  - name: reviews\n"
        f"    local: {tmp_path}/reviews_{{split}}.jsonl\n"
        "    input_fields: [text]\n"
        "evaluation:\n  - number/sign\n"
    )
    return path


def test_build_then_show(tmp_path, suite_file):
    out = tmp_path / "mix"
    built = run(
        "data",
        "build",
        "--suite",
        str(suite_file),
        "--n",
        "40",
        "--out",
        str(out),
        "--max-tokens",
        "0",
        "--shard-size",
        "25",
    )
    assert built.returncode == 0, built.stderr
    assert "wrote 40 prompts" in built.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["suite"] == "suite" and manifest["stats"]["prompts"] == 40
    assert manifest["tasks"]["reviews"]["labels"] == ["pos", "neg", "meh"]
    assert "wordfreq" in manifest["symbols"]["wordlist"]["package"]
    assert manifest["provenance"]["versions"]["symtune"]
    shown = run("data", "show", str(out), "--examples", "1")
    assert shown.returncode == 0, shown.stderr
    assert "prompt 0: reviews" in shown.stdout and "mapping:" in shown.stdout
    assert "'pos' ->" in shown.stdout
    exported = run("data", "export", str(out), "--format", "parquet", "--out", str(tmp_path / "pq"))
    assert exported.returncode == 0, exported.stderr
    assert "exported train: 40" in exported.stdout and (tmp_path / "pq" / "train.parquet").exists()
    for args, message in (
        (["--format", "csv", "--out", str(tmp_path / "a")], "--format 'csv' is unknown"),
        (["--out", str(tmp_path / "pq")], "exists; choose a new folder"),
    ):
        bad = run("data", "export", str(out), *args)
        assert bad.returncode == 2 and message in bad.stderr and bad.stderr.count("\n") == 1
    bad = run("data", "export", str(tmp_path), "--out", str(tmp_path / "b"))
    assert bad.returncode == 2 and "no manifest.json" in bad.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["data", "build", "--suite", "ofline", "--out", "x"],
            "error: unknown suite 'ofline'; did you mean 'offline'?",
        ),
        (
            ["data", "build", "--n", "0", "--out", "x", "--suite", "reachable"],
            "error: mixture config: n=0; expected 1 to 1,000,000 prompts",
        ),
        (
            ["data", "show", "nowhere"],
            "error: nowhere: no manifest.json; build it with `symtune data build`",
        ),
    ],
)
def test_user_errors_are_one_line(args, message, tmp_path):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stderr


def test_missing_suite_file(tmp_path):
    result = run(
        "data", "build", "--suite", str(tmp_path / "none.yaml"), "--out", "x", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: suite file {tmp_path / 'none.yaml'} not found"


def test_tune_user_errors_are_one_line(tmp_path):
    result = run(
        "tune", "--mixture", str(tmp_path / "none"), "--out", str(tmp_path / "r"), cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: mixture directory {tmp_path / 'none'} not found; build it with "
        "`symtune data build`"
    )
    result = run("tune", "--mixture", "m", "--out", "r", "--optimizer", "sgd", cwd=tmp_path)
    assert result.stderr.strip() == "error: tune config: optimizer=sgd; expected adafactor or adamw"
    assert not (tmp_path / "r").exists()


def test_eval_user_errors_are_one_line(tmp_path):
    result = run("eval", "--out", "e", "--settings", "both", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: eval config: settings=['both']; expected "
        "instr_labels, labels_only, instr_only, neither"
    )
    result = run("eval", "--out", "e", "--seeds", "a,b", cwd=tmp_path)
    assert result.stderr.strip() == "error: --seeds 'a,b': expected comma-separated integers"


def test_eval_export_writes_an_lm_eval_task_group(tmp_path, tiny_model_dir):
    import yaml

    from conftest import binary_eval_suite

    suite = binary_eval_suite(tmp_path)
    args = ["--suite", suite, "--model", str(tiny_model_dir), "--seeds", "0", "--k", "2"]
    args += ["--list-functions", "none", "--no-turing", "--settings", "neither"]
    done = run("eval", "export", "--out", str(tmp_path / "tasks"), *args)
    assert done.returncode == 0, done.stderr
    assert "symtune_suite_rank: 2 tasks" in done.stdout and "lm_eval --model hf" in done.stdout
    rank = yaml.safe_load((tmp_path / "tasks" / "symtune_suite_rank.yaml").read_text())
    assert sorted(rank["task"]) == [
        "symtune_suite_flipped_s0_rank",
        "symtune_suite_neither_s0_rank",
    ]
    task = yaml.safe_load((tmp_path / "tasks" / f"{rank['task'][0]}.yaml").read_text())
    assert task["output_type"] == "multiple_choice" and task["target_delimiter"] == " "
    again = run("eval", "export", "--out", str(tmp_path / "tasks"), *args)
    assert again.returncode == 2 and "exists; choose a new folder" in again.stderr
    missing = run("eval", "--seeds", "0", cwd=tmp_path)
    assert missing.returncode == 2 and "--out" in missing.stderr
