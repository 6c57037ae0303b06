"""The real `symtune scan` command on a tiny random model and a suite of family tasks (wordfreq
and rule families: no artifact download)."""

import json

import yaml

from conftest import run_symtune
from symtune.tasks.config import load_suite_file


def run(*args):
    return run_symtune(*args)


def test_scan_writes_table_json_and_a_loadable_suite(tmp_path, tiny_model_dir):
    suite = tmp_path / "mine.yaml"
    suite.write_text(
        "tuning: [word_sentiment]\n"
        "evaluation:\n"
        "  - {name: signs, family: number, rule: sign, instruction: Compare with zero.}\n"
        "  - number/parity\n"
    )
    out = tmp_path / "scan"
    args = ["scan", "--model", str(tiny_model_dir), "--suite", str(suite), "--out", str(out)]
    result = run(*args, "--seeds", "0", "--max-queries", "3", "--dtype", "fp32")
    assert result.returncode == 0, result.stderr
    assert "headroom scan" in result.stdout and "signs" in result.stdout
    scan = json.loads((out / "scan.json").read_text())
    assert [r["task"] for r in scan["rows"]] == ["number/parity", "signs"]
    for row in scan["rows"]:
        assert row["chance"] == 0.5 and row["instr_labels"]["n"] == 3 and row["neither"]["n"] == 3
        assert set(row) == {"task", "chance", "majority", "instr_labels", "neither", "passed"}
        assert row["majority"] == 2 / 3  # 3 queries, as balanced as 3 can be
    assert scan["config"]["margin"] == 0.15 and "Wilson" in scan["rule"]
    # a random model passes nothing at n = 3; the suite keeps the tuning side as it was
    assert scan["passed"] == [] and "| signs | 3 | 50.0 |" in (out / "scan.md").read_text()
    written = yaml.safe_load((out / "suite.yaml").read_text())
    assert written == {"tuning": ["word_sentiment"], "evaluation": []}
    # new thresholds on the same --out re-score nothing (the eval cache) and rewrite the scan
    before = (out / "eval" / "cache" / "base.jsonl").read_text()
    rest = ["--seeds", "0", "--max-queries", "3", "--dtype", "fp32"]
    lenient = run(*args, *rest, "--margin", "0", "--low-margin", "0")
    assert lenient.returncode == 0, lenient.stderr
    assert (out / "eval" / "cache" / "base.jsonl").read_text() == before
    scan = json.loads((out / "scan.json").read_text())
    assert scan["config"]["margin"] == 0 and "baseline + 0 " in scan["rule"]
    expected = [
        r["task"]
        for r in scan["rows"]
        if r["instr_labels"]["accuracy"] >= r["majority"]
        and r["instr_labels"]["ci"][0] > r["majority"]
    ]
    assert scan["passed"] == expected
    loaded, _ = load_suite_file(out / "suite.yaml")
    assert list(loaded.evaluation) == expected and loaded.tuning == ("word_sentiment",)


def test_scan_bad_input_is_one_line(tmp_path):
    for extra, message in (
        (["--margin", "2"], "margin=2.0; expected a share in [0, 1)"),
        (["--suite", "nope"], "unknown suite 'nope'"),
    ):
        result = run("scan", "--out", str(tmp_path / "s"), *extra)
        assert result.returncode == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()  # nothing written before the input is checked
