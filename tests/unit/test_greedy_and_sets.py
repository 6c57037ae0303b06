"""Greedy decoding by verification and shared exemplar sets, on a tiny llama taught to answer
some prompts with a label and a newline (so that verification succeeds on some prompts and
falls back to generation on others): outputs identical to plain greedy decoding, scores equal
to each full prompt scored alone (fp32)."""

import re

import pytest

from conftest import LABELS, contexts
from symtune.evaluate.greedy import Top, verified_output
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.evaluate.shared import Query, common_prefix, score_set


def decode(tokens):
    return bytes(tokens).decode("latin-1")


def step(token, lead=5.0):
    return Top(token, lead)


NL, EOS = ord("\n"), 0


@pytest.mark.parametrize(
    ("tokens", "steps", "max_new", "expected"),
    [
        (b" ab", [step(32), step(97), step(98), step(EOS)], 8, "ab"),  # then EOS
        (b" ab", [step(32), step(97), step(98), step(NL)], 8, "ab"),  # then newline
        (b" ab", [step(32), step(97), step(99), step(NL)], 8, None),  # another token
        (b" ab", [step(32), step(97), step(98), step(99)], 8, None),  # goes on
        (b" ab", [step(32), step(97), step(98, 1e-4), step(NL)], 8, None),  # too close
        (b" ab", [step(32), step(97), step(98), step(NL, 1e-4)], 8, None),  # stop too close
        (b" ab", [step(32), step(97), step(98)], 3, "ab"),  # the token budget ends it
        (b" ab", [step(32), step(97), step(98)], 2, None),  # longer than the budget
        (b" a\nb", [step(32), step(97), step(NL), step(98), step(EOS)], 8, None),  # stops early
    ],
)
def test_verified_output_follows_the_stop_rule(tokens, steps, max_new, expected):
    assert verified_output(list(tokens), steps, decode, EOS, max_new, 1e-3) == expected


def test_common_prefix():
    assert common_prefix([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix([[5], [6]]) == 0


def test_verified_greedy_equals_generation_on_and_off_label(taught):
    """Over many prompts (answered with a label, or off-label), `verify` gives exactly what
    plain greedy decoding gives, and both ways of getting it were used."""
    model, tokenizer = taught
    verify = Scorer(model, tokenizer, batch_size=3, greedy="verify")
    plain = Scorer(model, tokenizer, batch_size=3, greedy="generate")
    checked = 0
    for context in contexts():
        for budget in (2, 5, 12):
            rank = RankRequest(context, LABELS)
            generate = GenerateRequest(context, budget)
            scores, output = verify.rank_and_generate(rank, generate)
            reference = plain.generate([generate])[0]
            assert output == reference, (context, budget)
            assert scores == plain.rank_and_generate(rank, generate)[0]
            checked += 1
    assert 0 < verify.verified < checked  # some verified, some generated
    assert plain.verified == 0


@pytest.mark.parametrize("rows", [1, 3, 32])
def test_a_query_through_a_shared_prefix_scores_as_its_full_prompt(taught, rows, monkeypatch):
    """Every query of a set, scored through the encoded prefix, gets the scores of its full
    prompt scored alone (fp32, 1e-4) and the greedy output of plain decoding; several candidate
    counts and candidate forwards of 1, 3 or 32 rows."""
    monkeypatch.setattr("symtune.evaluate.shared.ROWS_PER_FORWARD", rows)
    model, tokenizer = taught
    scorer = Scorer(model, tokenizer, batch_size=4)
    plain = Scorer(model, tokenizer, greedy="generate")
    for labels in (LABELS, (*LABELS, " 48213", " a much longer label")):
        queries = [Query(c, labels, 12) for c in contexts()]
        results = score_set(scorer, queries, exact=True)
        assert len(results) == len(queries)
        for query, (scores, output) in zip(queries, results, strict=True):
            alone = plain.loglikelihood_uncached(RankRequest(query.context, labels))
            assert all(abs(a - b) < 1e-4 for a, b in zip(scores, alone, strict=True))
            assert output == plain.generate([GenerateRequest(query.context, 12)])[0]
    assert scorer.verified > 0


def test_a_set_whose_queries_share_no_text_is_scored_alone(taught):
    model, tokenizer = taught
    scorer = Scorer(model, tokenizer)
    queries = [Query("Q: x\nA:", LABELS, 4), Query("Z: y y\nA:", LABELS, 4)]
    for query, (scores, output) in zip(queries, score_set(scorer, queries, True), strict=True):
        alone = scorer.loglikelihood_uncached(RankRequest(query.context, LABELS))
        assert all(abs(a - b) < 1e-4 for a, b in zip(scores, alone, strict=True))
        assert (
            output
            == Scorer(model, tokenizer, greedy="generate").generate(
                [GenerateRequest(query.context, 4)]
            )[0]
        )


def _config(tmp_path, model_dir, **overrides):
    from conftest import small_eval_config
    from symtune.evaluate.config import EvalConfig

    base = small_eval_config(tmp_path, model_dir, validation=12).to_dict()
    values = {**base, "settings": ("neither", "labels_only"), "seeds": (0, 1)}
    return EvalConfig(**{**values, "scoring": ("rank", "exact"), **overrides})


def assert_each_as_alone(document, items, taught) -> None:
    """Every item's "tuned" rank scores equal its prompt's one-forward reference (fp32, 1e-4)
    and its exact output plain greedy decoding of the prompt alone."""
    plain = Scorer(taught[0], taught[1], greedy="generate")
    for record in document["items"]:
        found = items[record["id"]]
        request = RankRequest(found.context, tuple(" " + c for c in found.candidates))
        alone = plain.loglikelihood_uncached(request)
        scores = record["results"]["tuned"]["rank"]["scores"]
        assert all(abs(a - b) < 1e-4 for a, b in zip(scores, alone, strict=True))
        output = plain.generate([GenerateRequest(found.context, found.max_new_tokens)])[0]
        assert record["results"]["tuned"]["exact"]["output"] == output


@pytest.mark.parametrize("engine", ["prefix", "tree"])
def test_evaluation_with_shared_sets(tmp_path, tiny_model_dir, taught, monkeypatch, engine):
    """Items of a set share everything up to their query (and none of its exemplars is a query
    of the set); every item's scores equal its prompt scored alone, through either engine that
    shares the set's tokens; the comparison comes from the cluster bootstrap with a design
    effect; a rerun scores nothing again."""
    from symtune.evaluate.api import build_items, evaluate

    config = _config(tmp_path, tiny_model_dir, exemplar_sets=3, engine=engine)
    items, _ = build_items(config)
    sets: dict = {}
    for item in items:
        sets.setdefault((item.group, item.task, item.seed, item.meta["exemplar_set"]), []).append(
            item
        )
    assert len(sets) == 2 * 2 * 3  # settings x seeds x sets
    for members in sets.values():
        assert len({i.meta["exemplar_ids"] for i in members}) == 1
        assert len({i.meta["format_id"] for i in members}) == 1
        queries = {i.meta["query_id"] for i in members}
        assert not queries & set(members[0].meta["exemplar_ids"])
        assert len(members) == 4  # 12 queries dealt to 3 sets
    tuned = tmp_path / "tuned"
    taught[0].save_pretrained(str(tuned))
    taught[1].save_pretrained(str(tuned))
    models = {"base": str(tiny_model_dir), "tuned": str(tuned)}
    document = evaluate(config, models, tmp_path / "ev")
    assert_each_as_alone(document, {i.id: i for i in items}, taught)
    comparison = document["comparison"]["rank"]["neither"]
    assert comparison["design_effect"] >= 0 and comparison["n"] == 24
    assert "deff" in (tmp_path / "ev" / "results.md").read_text()

    def fail(*args, **kwargs):
        raise AssertionError("a cached item was scored again")

    assert set(document["machine"]["engine_run"].values()) == {engine}
    monkeypatch.setattr("symtune.evaluate.runner.score_set", fail)
    monkeypatch.setattr("symtune.evaluate.tree.score_queries", fail)
    assert evaluate(config, models, tmp_path / "ev")["summary"] == document["summary"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exemplar_sets": 13}, "--exemplar-sets 13: task 'toy_eval' has only 12 queries"),
        ({"exemplar_sets": -1}, "exemplar_sets=-1; expected 0"),
        ({"greedy": "beam"}, "greedy='beam'; expected verify or generate"),
        ({"dtype": "fp16"}, "dtype='fp16'; expected auto, bf16, fp32"),
        ({"engine": "fast"}, "engine='fast'; expected auto, prefix, tree, rows"),
        ({"row_tokens": -1}, "row_tokens=-1; expected 0 (sized to the prompts)"),
        ({"row_tokens": 40}, "row_tokens=40 cannot hold one prompt with its candidates of item"),
        ({"row_tokens": 40, "engine": "rows"}, "row_tokens=40 cannot hold one candidate of"),
    ],
)
def test_bad_evaluation_options_are_refused_before_anything_is_written(
    tmp_path, tiny_model_dir, overrides, message
):
    from symtune.errors import SymtuneError
    from symtune.evaluate.api import evaluate

    config = _config(tmp_path, tiny_model_dir, **overrides)
    with pytest.raises(SymtuneError, match=re.escape(message)):
        evaluate(config, {"base": str(tiny_model_dir)}, tmp_path / "ev")
    assert not (tmp_path / "ev").exists()


def test_the_cluster_bootstrap_widens_intervals_for_clustered_differences():
    """Differences that are constant within clusters (all the variance between sets) get a
    design effect well above 1 and a wider interval; independent ones stay near 1."""
    import numpy as np

    from symtune.analysis.stats import cluster_bootstrap, paired_bootstrap

    rng = np.random.default_rng(1)
    clusters = [c for c in range(8) for _ in range(10)]
    shift = {c: rng.integers(0, 2) for c in range(8)}
    base = [0] * 80
    tuned = [int(shift[c]) for c in clusters]
    _, low, high, effect = cluster_bootstrap([(base, tuned, clusters)])
    _, iid_low, iid_high = paired_bootstrap([(base, tuned)])
    assert effect > 4 and high - low > 1.8 * (iid_high - iid_low)
    many = [c for c in range(60) for _ in range(5)]
    independent = [int(x) for x in rng.integers(0, 2, len(many))]
    assert 0.6 < cluster_bootstrap([([0] * len(many), independent, many)])[3] < 1.5


@pytest.mark.parametrize("engine", ["prefix", "tree"])
def test_one_draw_prompts_scored_side_by_side_equal_each_prompt_alone(tmp_path, taught, engine):
    """The paper's design (a draw of exemplars per query) is scored in batches of prompts
    side by side (prefix) or as token trees (tree): every rank score equals its prompt's
    one-forward reference (fp32, 1e-4) and every greedy output plain decoding's, with batches
    of 1, 3 and 8 prompts (tree: rows per forward)."""
    from symtune.evaluate.api import build_items, evaluate

    tuned = tmp_path / "tuned"
    taught[0].save_pretrained(str(tuned))
    taught[1].save_pretrained(str(tuned))
    for size in (1, 3, 8):
        config = _config(tmp_path, tuned, batch_size=size, engine=engine)
        items = {i.id: i for i in build_items(config)[0]}
        document = evaluate(config, {"tuned": str(tuned)}, tmp_path / f"ev{size}")
        assert_each_as_alone(document, items, taught)


def test_intervals_are_never_narrower_than_for_independent_prompts():
    """A design effect below 1 (here: every cluster holds the same mix) keeps the per-example
    interval; the design effect is still reported."""
    from symtune.analysis.stats import paired_bootstrap, paired_difference

    clusters = [c for c in range(6) for _ in range(4)]
    base = [0] * 24
    tuned = [1, 0, 1, 0] * 6  # every set the same: no spread between sets
    result = paired_difference([(base, tuned, clusters)])
    assert result["design_effect"] < 1
    _, low, high = paired_bootstrap([(base, tuned)])
    assert result["ci"] == [low, high]
