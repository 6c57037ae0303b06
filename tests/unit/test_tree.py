"""The tree engine (`symtune.evaluate.tree`): prompts and their candidates merged into token
trees, many per forward. Its scores equal one full forward per candidate (fp32, 1e-4) whatever
the row size and rows per forward; a mask that let a prompt see another prompt, or a candidate
its sibling, would be caught by that equality (shown by leaking on purpose); a model that does
not compute the masks as given is scored by the prefix engine; a row that cannot hold a prompt
is refused in one line before anything is written. Every family of tests/matrix.py:
tests/unit/test_model_matrix.py::test_rank_scoring_equals_one_full_forward_per_candidate."""

from __future__ import annotations

import torch

from conftest import LABELS, byte_tokenizer, contexts
from matrix import BY_NAME, sharpen
from symtune.evaluate import tree
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.evaluate.shared import Query


def worst(scorer: Scorer, queries: list[Query]) -> float:
    """Largest |tree score - one full forward per candidate| over the queries."""
    got = tree.score_queries(scorer, queries, False)
    return max(
        abs(a - b)
        for query, (scores, _) in zip(queries, got, strict=True)
        for a, b in zip(
            scores,
            scorer.loglikelihood_uncached(RankRequest(query.context, query.continuations)),
            strict=True,
        )
    )


def test_pack_shares_prefixes_and_keeps_to_the_row_size():
    """Two candidates of a prompt share its nodes, two prompts with one start share it; a row
    takes queries in order until the next would pass its size; a larger query has its own."""
    first = [([1, 2, 3, 4, 5], 3), ([1, 2, 3, 6], 3)]  # a prompt of 3 tokens, two candidates
    second = [([1, 2, 7, 8], 3), ([1, 2, 7, 9, 9], 3)]  # shares [1, 2] with the first
    assert tree.tree_size(first) == 6 and tree.tree_size(second) == 6
    rows, placed = tree.pack([first, second], 10)
    assert len(rows) == 1 and len(rows[0]) == 10  # 6 + 4: the shared [1, 2] once
    assert placed[0].paths[0][:3] == placed[0].paths[1][:3]
    assert placed[0].paths[0][:2] == placed[1].paths[0][:2] != placed[1].paths[0][:3]
    rows, placed = tree.pack([first, second, first], 9)
    assert [len(r) for r in rows] == [6, 6, 6] and [p.row for p in placed] == [0, 1, 2]
    rows, placed = tree.pack([first], 4)  # larger than a row: a row of its own
    assert len(rows) == 1 and len(rows[0]) == 6
    # each node sees itself and its ancestors, nothing else (a sibling branch included)
    seen = tree.allowed(rows[0], None)
    assert seen.sum(1).tolist() == [1, 2, 3, 4, 5, 4]
    assert not seen[5, 3] and not seen[5, 4] and seen[5, 2]
    assert tree.allowed(rows[0], 2).sum(1).tolist() == [1, 2, 2, 2, 2, 2]


def test_row_size_and_rows_per_forward_do_not_change_the_scores(taught):
    """30 prompts sharing their exemplars: one full forward per candidate, within 1e-4 in
    fp32, with rows of one prompt or of many, and 1, 4 or 16 rows per forward."""
    model, tokenizer = taught
    queries = [Query(c, (*LABELS, " 4821"), 8) for c in contexts()]
    for rows, size in ((1, 0), (4, 120), (16, 0), (4, 4_000)):
        scorer = Scorer(model, tokenizer, batch_size=rows, engine="tree", row_tokens=size)
        assert worst(scorer, queries) < 1e-4, (rows, size)


def test_greedy_outputs_from_tree_rows_are_plain_decodings(taught):
    """Exact match through the tree engine: verified where a candidate is the greedy output,
    generated elsewhere, always what plain decoding gives."""
    model, tokenizer = taught
    scorer = Scorer(model, tokenizer, batch_size=4, engine="tree")
    plain = Scorer(model, tokenizer, greedy="generate")
    queries = [Query(c, LABELS, budget) for c in contexts() for budget in (2, 12)]
    outputs = [output for _, output in tree.score_queries(scorer, queries, True)]
    expected = [plain.generate([GenerateRequest(q.context, q.max_new_tokens)])[0] for q in queries]
    assert outputs == expected
    assert 0 < scorer.verified < len(queries)  # some verified, some generated


def _leak_across_prompts(row, window):
    """Causal over the row's order: a node sees every earlier node (other prompts too)."""
    return torch.ones(len(row), len(row), dtype=torch.bool).tril()


def _leak_across_branches(row, window):
    """A node sees its ancestors and every earlier node of its own tree (sibling branches)."""
    seen = tree_allowed(row, window)
    roots = list(range(len(row)))
    for node, parent in enumerate(row.parents):
        roots[node] = node if parent < 0 else roots[parent]
    same = torch.tensor(roots)[:, None] == torch.tensor(roots)[None, :]
    return seen | (same & torch.ones_like(seen).tril())


tree_allowed = tree.allowed


def test_a_leak_across_prompts_or_branches_fails_the_equality(monkeypatch):
    """The equality the tree engine is held to would fail if a prompt saw another prompt of
    its row, or a candidate its sibling: both leaks, made on purpose, move scores by far more
    than 1e-4 (a random llama of tests/matrix.py, 3 prompts in one row)."""
    model = BY_NAME["llama"].model()
    sharpen(model, 4.0)
    scorer = Scorer(model, byte_tokenizer(), batch_size=1, engine="tree", row_tokens=400)
    queries = [
        Query(f"Q: {'ab cd ' * (3 + n)}x{n}\nA:", (" foo", " bar", " fob"), 4) for n in range(3)
    ]
    assert worst(scorer, queries) < 1e-4
    for leak in (_leak_across_prompts, _leak_across_branches):
        monkeypatch.setattr(tree, "allowed", leak)
        assert worst(scorer, queries) > 1e-2, leak.__name__
        monkeypatch.setattr(tree, "allowed", tree_allowed)


def test_a_model_that_ignores_the_tree_mask_is_scored_by_the_prefix_engine(monkeypatch):
    """`supported` compares a probe with plain forwards: a model whose forward drops a 4D
    mask (as a model that builds its own masks would) fails it and gets the prefix engine."""
    model = BY_NAME["llama"].model()
    assert tree.supported(model)
    forward = model.forward

    def own_masks(*args, attention_mask=None, **kwargs):
        if attention_mask is not None and attention_mask.dim() == 4:
            attention_mask = None
        return forward(*args, attention_mask=attention_mask, **kwargs)

    monkeypatch.setattr(model, "forward", own_masks)
    assert not tree.supported(model)
    assert Scorer(model, byte_tokenizer(), engine="tree").engine == "prefix"


def cli(capsys, *args: object) -> tuple[int, str]:
    """`symtune ARGS` in this process: (exit code, stderr)."""
    from symtune.cli.console import guarded
    from symtune.cli.main import app

    capsys.readouterr()
    code = guarded(lambda: app([str(a) for a in args], standalone_mode=False), {"on": False})
    return code, capsys.readouterr().err


def eval_args(out, suite: str, model, *extra: object) -> list[object]:
    fixed = ["--settings", "neither", "--no-flipped", "--seeds", "0", "--k", "2"]
    rank = ["--scoring", "rank", "--list-functions", "none", "--no-turing", "--dtype", "fp32"]
    return ["eval", "--out", out, "--suite", suite, "--model", model, *fixed, *rank, *extra]


def test_a_row_too_small_for_a_prompt_is_one_line_exit_2(tmp_path, tiny_model_dir, capsys):
    """`symtune eval --row-tokens N` below one prompt with its candidates: one line naming the
    item and the size it needs, exit 2, no output folder; 0 (sized to the prompts) runs, and
    results.json records the engine that ran."""
    from conftest import binary_eval_suite

    suite = binary_eval_suite(tmp_path)
    out = tmp_path / "ev"
    code, err = cli(capsys, *eval_args(out, suite, tiny_model_dir, "--row-tokens", "30"))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert "row_tokens=30 cannot hold one prompt" in err and "expected row_tokens >=" in err
    assert not out.exists()
    code, err = cli(capsys, *eval_args(out, suite, tiny_model_dir, "--engine", "tree"))
    assert code == 0, err
    machine = __import__("json").loads((out / "results.json").read_text())["machine"]
    assert machine["engine"] == "tree" and machine["engine_run"] == {"base": "tree"}
