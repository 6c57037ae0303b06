"""Data-parallel evaluation: 2 CPU processes (gloo, through torchrun) write the results.json of
1 process — the same items, predictions and summary — and a rerun after a rank's cache was
cut short (a killed rank) resumes from the caches to the same results."""

from __future__ import annotations

import json
import sys

from conftest import free_port, run_symtune


def suite(tmp_path) -> str:
    """Two local binary tasks, so that the (group, task) units split across ranks."""
    lines = ["evaluation:"]
    for name in ("alpha", "beta"):
        rows = [
            {"text": f"{name} sample {i}", "label": "yes" if i % 2 else "no"} for i in range(30)
        ]
        for split, part in (("train", rows), ("validation", rows[:8])):
            path = tmp_path / f"{name}_{split}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in part))
        lines += [
            f"  - name: {name}",
            f"    local: {tmp_path}/{name}_{{split}}.jsonl",
            "    input_fields: [text]",
        ]
    path = tmp_path / "suite.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def eval_args(out, suite_file, model):
    return [
        "eval",
        "--out",
        out,
        "--suite",
        suite_file,
        "--model",
        model,
        "--settings",
        "labels_only,neither",
        "--seeds",
        "0,1",
        "--k",
        "2",
        "--scoring",
        "rank,exact",
        "--list-functions",
        "none",
        "--no-turing",
        "--dtype",
        "fp32",
    ]


def launched(*args):
    """`symtune ARGS` on 2 processes through torchrun (as `accelerate launch` would)."""
    import subprocess

    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launcher += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    done = subprocess.run(
        [*launcher, "-m", "symtune", *map(str, args)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def same_results(a, b) -> None:
    one, two = (json.loads((p / "results.json").read_text()) for p in (a, b))
    assert one["items"] == two["items"]  # the same items, predictions and scores
    for key in ("summary", "comparison", "contrasts", "readings", "config", "notes"):
        assert one[key] == two[key], key


ONE_THREAD = {"OMP_NUM_THREADS": "1"}
"""torchrun gives each process one thread; the single process gets the same, since fp32 sums
over another number of threads differ in the last digit of a log-likelihood."""


def test_two_processes_write_the_one_process_results_and_resume(tmp_path, tiny_model_dir):
    suite_file = suite(tmp_path)
    run_symtune(*eval_args(tmp_path / "one", suite_file, tiny_model_dir), env=ONE_THREAD, ok=True)
    launched(*eval_args(tmp_path / "two", suite_file, tiny_model_dir))
    same_results(tmp_path / "one", tmp_path / "two")
    cache = tmp_path / "two" / "cache"
    lines = {p.name: p.read_text().splitlines() for p in sorted(cache.glob("base*.jsonl"))}
    assert set(lines) == {"base.jsonl", "base@1.jsonl"} and all(lines.values())  # both worked
    every = [json.loads(x)["key"] for part in lines.values() for x in part]
    assert len(every) == len(set(every))  # no item scored twice
    # rank 1 killed after two results: its cache cut there, results.json never written
    (cache / "base@1.jsonl").write_text("\n".join(lines["base@1.jsonl"][:2]) + "\n")
    (tmp_path / "two" / "results.json").unlink()
    rank0 = (cache / "base.jsonl").read_bytes()
    launched(*eval_args(tmp_path / "two", suite_file, tiny_model_dir))
    same_results(tmp_path / "one", tmp_path / "two")
    assert (cache / "base.jsonl").read_bytes() == rank0  # rank 0's share was not redone
    assert (cache / "base@1.jsonl").read_text().splitlines() == lines["base@1.jsonl"]
    # one process over the two ranks' caches: nothing left to score, the same results
    run_symtune(*eval_args(tmp_path / "two", suite_file, tiny_model_dir), env=ONE_THREAD, ok=True)
    assert (cache / "base.jsonl").read_bytes() == rank0
    same_results(tmp_path / "one", tmp_path / "two")


def test_a_refusal_on_rank_0_is_one_line_on_every_rank(tmp_path, tiny_model_dir):
    import subprocess

    suite_file = suite(tmp_path)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launcher += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    done = subprocess.run(
        [*launcher, "-m", "symtune", *map(str, eval_args(foreign, suite_file, tiny_model_dir))],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors and all("not made by symtune" in line for line in errors), done.stderr[-2000:]
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


def test_symtune_run_under_a_launcher_matches_one_process(tmp_path, tiny_model_dir):
    """Data and report on rank 0, tuning (DDP) and evaluation (data-parallel) on both ranks:
    every stage done once, the same predictions as one process, one report."""
    from test_pipeline import write_suite

    suite_file = write_suite(tmp_path)
    config = tmp_path / "run.yaml"
    config.write_text(
        f"name: launched\nmodel: {tiny_model_dir}\nsuite: {suite_file}\n"
        "data: {n: 16, max_tokens: 1024}\n"
        "tune: {steps: 2, batch_size: 4, seq_len: 2048, lr: 0.01, dtype: fp32, optimizer: adamw}\n"
        "eval: {seeds: [0, 1], max_queries: 6, k: 2, scoring: [rank], "
        "list_functions: none, turing: false, dtype: fp32}\n"
    )
    run_symtune("run", config, "--out", tmp_path / "one", env=ONE_THREAD, ok=True)
    launched("run", config, "--out", tmp_path / "two")
    stages = json.loads((tmp_path / "two" / "stages.json").read_text())
    assert set(stages) == {"data", "eval_base", "tune:symbol", "eval", "report"}
    assert (tmp_path / "two" / "report" / "report.md").exists()
    assert (tmp_path / "two" / "eval" / "cache" / "base@1.jsonl").exists()  # rank 1 scored
    one, two = (
        json.loads((tmp_path / r / "eval" / "results.json").read_text()) for r in ("one", "two")
    )
    assert [i["id"] for i in one["items"]] == [i["id"] for i in two["items"]]
    for a, b in zip(one["items"], two["items"], strict=True):
        for label in a["results"]:  # DDP's fp32 sums move tuned scores in the last digits only
            assert (
                a["results"][label]["rank"]["prediction"]
                == b["results"][label]["rank"]["prediction"]
            )
            scores = zip(
                a["results"][label]["rank"]["scores"],
                b["results"][label]["rank"]["scores"],
                strict=True,
            )
            assert all(abs(x - y) < 1e-3 for x, y in scores)
