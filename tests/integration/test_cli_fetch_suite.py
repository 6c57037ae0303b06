"""`symtune fetch --suite S [--check] --lock L` through the real CLI, on replicas of hub
datasets (tests/unit/test_paper_hf.py): the lock is written, then each dataset is matching,
changed or unreachable, and a dataset that changed is refused by `data build`."""

from __future__ import annotations

import json
import shutil

from conftest import run_symtune
from replicas import SPECS, features_of, replica, rows_of


def suite_file(tmp_path, datasets: dict[str, str]) -> str:
    """A suite of replica datasets: stance (evaluation side) and RTE (tuning side)."""
    teab, rte = datasets["teab"], datasets["rte"]
    (tmp_path / "suite.yaml").write_text(
        "tuning:\n"
        f"  - name: rte\n    hf: {rte}\n    config: rte\n"
        "    input_fields: [sentence1, sentence2]\n    labels: [entailment, not entailment]\n"
        "evaluation:\n"
        f"  - name: teab\n    hf: {teab}\n    config: stance_abortion\n    input_fields: [text]\n"
        "    labels: [none, against, favor]\n    query_split: test\n"
    )
    return str(tmp_path / "suite.yaml")


def test_fetch_locks_a_suite_and_check_says_what_changed(tmp_path):
    made = {n: replica(SPECS[n], tmp_path / n).source.dataset for n in ("teab", "rte")}
    suite, lock = suite_file(tmp_path, made), tmp_path / "my.lock.json"
    run_symtune("fetch", "--suite", suite, "--lock", lock, ok=True)
    recorded = json.loads(lock.read_text())["datasets"]
    assert sorted(k.split("|")[1] for k in recorded) == ["rte", "stance_abortion"]
    done = run_symtune("fetch", "--suite", suite, "--lock", lock, "--check", "--json", ok=True)
    assert [r["status"] for r in json.loads(done.stdout)["datasets"]] == ["matching"] * 2
    # one more train row in the RTE replica; the stance replica gone
    import datasets

    rows = {k: [*v, v[0]] for k, v in rows_of(SPECS["rte"], "train", 12).items()}
    path = tmp_path / "rte" / "rte" / "train-00000-of-00001.parquet"
    datasets.Dataset.from_dict(rows, features=features_of(SPECS["rte"])).to_parquet(str(path))
    shutil.rmtree(tmp_path / "teab")
    done = run_symtune("fetch", "--suite", suite, "--lock", lock, "--check", "--json")
    assert done.returncode == 1, done.stderr[-2000:]
    status = {r["task"]: r for r in json.loads(done.stdout)["datasets"]}
    assert status["rte"]["status"] == "changed" and "1 rows added" in status["rte"]["detail"]
    assert status["teab"]["status"] == "unreachable"
    # building data from the changed dataset under the lock: refused in one line
    out = tmp_path / "mix"
    built = run_symtune(
        "data", "build", "--suite", suite, "--out", out, "--n", "8",
        env={"SYMTUNE_LOCK": str(lock)},
    )  # fmt: skip
    assert built.returncode == 2 and "differs from its lock" in built.stderr, built.stderr
    assert not out.exists()


def test_the_paper_suite_without_a_network_is_one_message_listing_every_dataset(tmp_path):
    """No hub (its host refused here by a closed port): every one of the 33 datasets in one
    message, in seconds, nothing written; offline over an empty cache: the same, per task."""
    run = tmp_path / "run.yaml"
    run.write_text("suite: paper-hf\n")
    closed = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    done = run_symtune("run", run, "--out", tmp_path / "out", env=closed)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "33 tasks need the Hugging Face hub, and 127.0.0.1 cannot be reached" in done.stderr
    assert "tc ('ought/raft' data_dir 'twitter_complaints'" in done.stderr
    offline = {"HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    done = run_symtune("run", run, "--out", tmp_path / "out", env=offline)
    assert done.returncode == 2 and "33 of 33 tasks cannot be loaded" in done.stderr
    assert done.stderr.count("is not in the datasets cache") == 33
    assert not (tmp_path / "out").exists()
