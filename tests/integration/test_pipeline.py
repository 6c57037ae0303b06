"""The whole pipeline (data → base eval → tune → tuned eval → report) through the real CLI on a
tiny random model and a tiny local suite; every report section exists and its numbers match
results.json."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_symtune


def write_suite(tmp_path):
    def rows(n, offset=0):
        return "".join(
            json.dumps({"text": f"item {i + offset}", "label": ["red", "blue"][i % 2]}) + "\n"
            for i in range(n)
        )

    for name in ("tuneme", "heldout"):
        (tmp_path / f"{name}_train.jsonl").write_text(rows(30))
        (tmp_path / f"{name}_validation.jsonl").write_text(rows(6, 100))
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"tuning:\n  - name: tuneme\n    local: {tmp_path}/tuneme_{{split}}.jsonl\n"
        "    input_fields: [text]\n"
        f"evaluation:\n  - name: heldout\n    local: {tmp_path}/heldout_{{split}}.jsonl\n"
        "    input_fields: [text]\n    instruction: Name the colour.\n"
    )
    return suite


def symtune_run(config, run) -> str:
    """`symtune run CONFIG --out RUN` through the real CLI; its stdout."""
    return run_symtune("run", config, "--out", run, ok=True).stdout


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir):
    tmp_path = tmp_path_factory.mktemp("pipeline")
    suite = write_suite(tmp_path)
    extra = tmp_path / "extra.yaml"  # a built-in family task: the second evaluation
    extra.write_text("evaluation: [number/sign]\n")
    config = tmp_path / "run.yaml"
    config.write_text(
        f"name: tiny\nmodel: {tiny_model_dir}\nsuite: {suite}\n"
        "data: {n: 24, max_tokens: 1024}\n"
        "tune: {steps: 3, batch_size: 4, seq_len: 2048, lr: 0.01, dtype: fp32, "
        "checkpoint_every: 2}\n"
        "eval: {seeds: [0, 1], max_queries: 6, k: 2, scoring: [exact, rank], "
        "list_functions: none, turing: false, dtype: fp32}\n"
        f"extra_eval: {{suite: {extra}, seeds: [0], max_queries: 4}}\n"
        "control: true\n"
    )
    run = tmp_path / "run"
    return run, config, symtune_run(config, run)


def test_report_sections_exist(finished_run):
    run, _, stdout = finished_run
    text = (run / "report" / "report.md").read_text()
    for heading in (
        "# symtune report: run",
        "## The answer: a better in-context learner, and is it the symbols?",
        "## Summary, like the paper's Table 1 (exact scoring)",
        "## Summary, like the paper's Table 1 (rank scoring)",
        "### Per task (exact",
        "## List functions and Turing concepts",
        "## Flipped labels",
        "## Training",
        "## The paper's numbers, for context",
        "## Example prompts",
        "## Reproduce",
    ):
        assert heading in text, heading
    for figure in ("answer.png", "settings.png", "flipped.png", "loss.png"):
        assert (run / "report" / figure).stat().st_size > 1000
        assert f"]({figure})" in text
    page = (run / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 5 and 'src="settings.png"' not in page
    prose = re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)
    assert "`" not in prose, re.findall(r".{40}`.{40}", prose)[:3]  # Markdown marks rendered
    assert "<code>replicates: N</code>" in page or "replicates" not in page
    assert "Small sample" in text and "report:" in stdout
    # the example prompts come from results.json (one stored context per group), not rebuilt
    items = json.loads((run / "eval" / "results.json").read_text())["items"]
    stored = [i for i in items if "context" in i]
    assert sorted(i["group"] for i in stored) == sorted({i["group"] for i in items})
    examples = text.split("## Example prompts")[1]
    assert all(i["context"][-60:] in examples for i in stored)


def test_report_numbers_match_results_json(finished_run):
    run, _, _ = finished_run
    results = json.loads((run / "eval" / "results.json").read_text())
    text = (run / "report" / "report.md").read_text()
    for mode in ("exact", "rank"):
        section = text.split(f"Table 1 ({mode} scoring)")[1].split("###")[0]
        base_row = next(line for line in section.splitlines() if line.startswith("| base |"))
        tuned_row = next(line for line in section.splitlines() if line.startswith("| symbol |"))
        delta_row = next(line for line in section.splitlines() if line.startswith("| symbol −"))
        groups = ["instr_labels", "labels_only", "instr_only", "neither", "flipped"]
        base_cells = base_row.split("|")[2:-1]
        tuned_cells = tuned_row.split("|")[2:-1]
        delta_cells = delta_row.split("|")[2:-1]
        for g, b, t, d in zip(groups, base_cells, tuned_cells, delta_cells, strict=True):
            summary = results["summary"][mode]
            assert b.strip() == (
                f"{100 * summary['base'][g]['average']:.1f} (n={summary['base'][g]['n']})"
            )
            assert t.strip().startswith(f"{100 * summary['symbol'][g]['average']:.1f} ")
            c = results["comparison"][mode][g]
            assert d.strip().startswith(f"{100 * c['delta']:+.1f} [{100 * c['ci'][0]:+.1f}, ")
    tuned = run / "arms" / "symbol" / "tune"
    metrics = [json.loads(x) for x in (tuned / "metrics.jsonl").read_text().splitlines()]
    assert f"| {metrics[0]['loss']:.3f} → {metrics[-1]['loss']:.3f} |" in text
    n = results["summary"]["exact"]["base"]["neither"]["n"]
    assert n == 12 and re.search(r"\| heldout \| 12 \|", text)


def test_rerun_resumes_without_redoing_stages(finished_run):
    run, config, _ = finished_run
    before = json.loads((run / "stages.json").read_text())
    stdout = symtune_run(config, run)
    for stage in ("data", "eval_base", "tune:symbol", "tune:control", "eval", "eval_extra"):
        assert f"{stage}: done already" in stdout
    after = json.loads((run / "stages.json").read_text())
    assert {k: v for k, v in after.items() if k != "report"} == {
        k: v for k, v in before.items() if k != "report"
    }


def cli(*args: str) -> str:
    return run_symtune(*args, ok=True).stdout


def test_report_adds_sweep_and_ablation_lines_from_the_run_dir(finished_run, tmp_path):
    run, _, _ = finished_run
    config = json.loads((run / "arms" / "symbol" / "tune" / "config.json").read_text())
    model, suite = config["model"], json.loads((run / "eval" / "eval_config.json").read_text())
    common = ["--model", model, "--suite", suite["suite"], "--seeds", "0", "--k", "2"]
    common += ["--max-queries", "4", "--scoring", "rank", "--list-functions", "none"]
    common += ["--no-turing", "--dtype", "fp32"]
    arm = run / "sweep" / "lr1e-3"
    cli(
        "tune",
        "--mixture",
        str(run / "data"),
        "--out",
        str(arm),
        "--model",
        model,
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--lr",
        "1e-3",
        "--dtype",
        "fp32",
    )
    cli(
        "eval",
        "--out",
        str(run / "sweep" / "val" / "lr1e-3"),
        "--tuned",
        str(arm),
        "--pool",
        "tuning",
        "--settings",
        "neither",
        "--no-flipped",
        *common,
    )
    step = run / "arms" / "symbol" / "tune" / "checkpoints" / "step-000002"
    for name, tuned in (("step-000002", step), ("final", run / "arms" / "symbol" / "tune")):
        cli(
            "eval",
            "--out",
            str(run / "ablations" / "eval" / name),
            "--tuned",
            str(tuned),
            "--settings",
            "instr_labels,neither",
            *common,
        )
    out, markdown = tmp_path / "docs" / "results", tmp_path / "docs" / "results.md"
    notes = tmp_path / "notes.md"
    notes.write_text("A null result, written as one.\n")
    script = Path(__file__).parents[2] / "experiments" / "smollm2" / "report.py"
    args = [str(run), "--out", str(out), "--markdown", str(markdown), "--notes", str(notes)]
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = markdown.read_text()
    assert text.split("\n\n")[1] == "A null result, written as one."
    assert "<p>A null result, written as one.</p>" in (out / "report.html").read_text()
    tuned_sha = json.loads((run / "eval" / "results.json").read_text())["models"]["symbol"]
    assert f"`{tuned_sha['sha256']}`" in text and len(tuned_sha["sha256"]) == 64
    assert "## Hyper-parameter sweep (tuning tasks' validation splits)" in text
    sweep_row = next(line for line in text.splitlines() if line.startswith("| lr1e-3 |"))
    assert "| 0.001 | 1024 | 2 × 4 |" in sweep_row  # lr, the mixture's budget, steps x batch
    val = json.loads((run / "sweep" / "val" / "lr1e-3" / "results.json").read_text())
    assert {i["task"] for i in val["items"]} == {"tuneme"}
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| step-")}
    assert "2 steps × 4, lr 0.01, budget 1024, target only" in rows["| step-000002"]
    final = next(line for line in text.splitlines() if line.startswith("| final |"))
    assert "3 steps × 4, lr 0.01" in final
    ablation = json.loads((run / "ablations" / "eval" / "final" / "results.json").read_text())
    neither = ablation["comparison"]["rank"]["neither"]
    assert f"{100 * neither['delta']:+.1f} [{100 * neither['ci'][0]:+.1f}," in final
    assert (out / "steps.png").stat().st_size > 1000 and "](results/steps.png)" in text
    assert "](steps.png)" in (out / "report.md").read_text()


def test_second_evaluation_is_run_and_reported(finished_run):
    run, _, stdout = finished_run
    results = json.loads((run / "eval-extra" / "results.json").read_text())
    assert results["config"]["seeds"] == [0] and results["config"]["k"] == 2  # inherited
    assert {i["task"] for i in results["items"]} == {"number/sign"}
    groups = {i["group"] for i in results["items"]}
    assert groups == {"instr_labels", "labels_only", "instr_only", "neither", "flipped"}
    following = results["readings"]["exemplar_following"]["exact"]
    assert following["base"]["n"] == 4 and set(following["deltas"]) == {"symbol", "control"}
    text = (run / "report" / "report.md").read_text()
    assert re.search(r"## Second evaluation: suite \S*extra.yaml", text)
    second = text.split("## Second evaluation")[1].split("\n## ")[0]
    assert "**Base is at chance here**" in second  # a random model on number/sign
    assert "Exemplar following (exact scoring)" in text
    # accuracy, symbol − control, symbol − base, control − base: exact and rank, main and second
    assert stdout.count("symbol − control (points)") == 4
    stages = json.loads((run / "stages.json").read_text())
    assert stages["eval_extra"]["done"]


def test_the_tuned_model_carries_a_model_card_with_its_evaluation(finished_run):
    import yaml

    run, _, _ = finished_run
    card = (run / "arms" / "symbol" / "tune" / "final" / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "transformers" and "symbol-tuning" in front["tags"]
    assert "base_model" not in front  # a local test model: no hub id to name
    config = json.loads((run / "arms" / "symbol" / "tune" / "config.json").read_text())
    assert f"| lr | {config['lr']} |" in card and f"| steps | {config['steps']} |" in card
    results = json.loads((run / "eval" / "results.json").read_text())
    tuned = results["summary"]["rank"]["symbol"]["neither"]
    assert "## Evaluation" in card and "Scoring: rank" in card
    assert f"{100 * tuned['average']:.1f} (n={tuned['n']})" in card
    before = card
    bad = run_symtune("card", run / "arms" / "symbol" / "tune", "--push-to-hub", "not a repo!!")
    assert bad.returncode == 2 and "expected a repo id like user/name" in bad.stderr
    offline = run_symtune(
        "card",
        run / "arms" / "symbol" / "tune",
        "--push-to-hub",
        "me/x",
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert offline.returncode == 2 and "HF_HUB_OFFLINE is set" in offline.stderr
    assert (
        run / "arms" / "symbol" / "tune" / "final" / "README.md"
    ).read_text() == before  # nothing rewritten
    plain = run_symtune("card", run / "arms" / "symbol" / "tune", ok=True)
    assert "model card:" in plain.stdout
    assert (
        "Not evaluated yet"
        in (run / "arms" / "symbol" / "tune" / "final" / "README.md").read_text()
    )
    again = run_symtune(
        "card",
        run / "arms" / "symbol" / "tune",
        "--results",
        run / "eval" / "results.json",
        ok=True,
    )
    assert (
        again.returncode == 0
        and (run / "arms" / "symbol" / "tune" / "final" / "README.md").read_text() == before
    )
    missing = run_symtune("card", run / "data")
    assert missing.returncode == 2 and "no final/ model" in missing.stderr


def test_replicates_and_sweep_run_resume_mid_arm_and_pool(tmp_path, tiny_model_dir):
    """A sweep over lr (its choice applied to the arm), an arm tuned twice (seeds 0 and 1),
    contrasts pooled over the replicates with training noise; a run stopped inside the second
    replicate resumes it alone, to the same weights."""
    suite = write_suite(tmp_path)
    config = tmp_path / "arms.yaml"
    config.write_text(
        f"model: {tiny_model_dir}\nsuite: {suite}\n"
        "data: {n: 16, max_tokens: 1024, val_prompts: 4}\n"
        "tune: {steps: 2, batch_size: 4, seq_len: 2048, lr: 0.01, dtype: fp32, "
        "checkpoint_every: 1, val_every: 2}\n"
        "eval: {seeds: [0], max_queries: 4, k: 2, scoring: [rank], list_functions: none, "
        "turing: false, dtype: fp32}\n"
        "arms: [{name: symbol, replicates: 2}]\n"
        "sweep: {grid: {lr: [0.01, 0.001]}, steps: 1}\n"
    )
    run = tmp_path / "run"
    symtune_run(config, run)
    choice = json.loads((run / "sweep" / "choice.json").read_text())
    assert [p["point"] for p in choice["points"]] == [{"lr": 0.01}, {"lr": 0.001}]
    configs = [
        json.loads((run / "arms" / "symbol" / f"tune-r{k}" / "config.json").read_text())
        for k in (1, 2)
    ]
    assert [c["seed"] for c in configs] == [0, 1]
    assert {c["lr"] for c in configs} == {choice["chosen"]["lr"]}
    results = json.loads((run / "eval" / "results.json").read_text())
    assert set(results["models"]) == {"base", "symbol.r1", "symbol.r2"}
    neither = results["contrasts"]["rank"]["symbol − base"]["neither"]
    assert neither["training_noise"] and neither["replicates"] == [2, 1]
    text = (run / "report" / "report.md").read_text()
    assert "Intervals include training noise: replicates 2 vs 1" in text
    final = run / "arms" / "symbol" / "tune-r2" / "final" / "model.safetensors"
    weights = final.read_bytes()
    stages = json.loads((run / "stages.json").read_text())
    for stage in ("tune:symbol.r2", "eval"):
        del stages[stage]
    (run / "stages.json").write_text(json.dumps(stages))
    for path in sorted(final.parent.iterdir()):
        path.unlink()
    final.parent.rmdir()
    (run / "arms" / "symbol" / "tune-r2" / "checkpoints" / "step-000002").rename(
        run / "arms" / "symbol" / "tune-r2" / "partial"
    )  # the run was killed after step 1's checkpoint
    stdout = symtune_run(config, run)
    assert "tune:symbol.r1: done already" in stdout and "sweep:1: running" not in stdout
    assert "tune:symbol.r2: running" in stdout
    assert final.read_bytes() == weights


def test_bad_arms_are_refused_in_one_line_before_anything_is_written(tmp_path, tiny_model_dir):
    suite = write_suite(tmp_path)
    head = (
        f"model: {tiny_model_dir}\nsuite: {suite}\ndata: {{n: 8, max_tokens: 1024}}\n"
        "tune: {steps: 1, batch_size: 4, seq_len: 2048, dtype: fp32}\n"
    )
    cases = {
        "arms: [{name: a, tune: {colour: 1}}]\n": "arm 'a': tune.colour is not a known field",
        "arms: [{name: a}, {name: a}]\n": "two arms are named 'a'",
        "sweep: {grid: {lr: []}}\n": "sweep.grid.lr = []",
        "sweep: {grid: {nope: [1]}}\n": "sweep.grid.nope is not a known field",
        "sweep: {grid: {lr: [0.1]}}\n": "set data.val_prompts and tune.val_every",
        "arms: [{name: control}]\ncontrol: true\n": "control: true adds the arm 'control'",
    }
    for body, message in cases.items():
        config = tmp_path / "bad.yaml"
        config.write_text(head + body)
        done = run_symtune("run", config, "--out", tmp_path / "out")
        assert done.returncode == 2, (body, done.stderr)
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not (tmp_path / "out").exists()


def test_a_run_whose_arms_changed_is_refused_naming_them(finished_run, tmp_path):
    run, config, _ = finished_run
    changed = tmp_path / "changed.yaml"
    changed.write_text(config.read_text().replace("control: true\n", ""))
    before = (run / "run_config.yaml").read_text()
    done = run_symtune("run", changed, "--out", run)
    assert done.returncode == 2
    assert "holds a run with other arms (symbol, control; this config: symbol" in done.stderr
    assert (run / "run_config.yaml").read_text() == before
    again = run_symtune("run", changed, "--out", run, "--control", ok=True)  # the same run
    assert "tune:control: done already" in again.stdout


def test_the_reproduce_block_quotes_paths_a_shell_would_split(finished_run, tmp_path):
    import shutil

    run, _, _ = finished_run
    copy = tmp_path / "my run's copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("*.safetensors", "checkpoints"))
    run_symtune("report", copy, ok=True)
    text = (copy / "report" / "report.md").read_text()
    quoted = "'" + str(copy).replace("'", "'\"'\"'") + "'"
    assert f"symtune report {quoted}" in text
    assert f"symtune run {quoted}/run_config.yaml" not in text  # the whole path is quoted
