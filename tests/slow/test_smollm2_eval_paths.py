"""The cheap evaluation paths on the real model (SmolLM2-135M-Instruct, fp32) and real
`reachable` prompts: greedy by verification gives plain greedy decoding's outputs, and queries
scored through a shared exemplar set's prefix get their full prompts' scores and outputs."""

import random
from collections import defaultdict

import pytest

from symtune.evaluate.api import build_items
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.evaluate.shared import Query, score_set
from symtune.models import load_model, load_tokenizer

MODEL = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def scorers():
    model = load_model(MODEL, "fp32")
    tokenizer = load_tokenizer(MODEL)
    return Scorer(model, tokenizer, greedy="verify"), Scorer(model, tokenizer, greedy="generate")


def _config(**overrides) -> EvalConfig:
    values = dict(suite="reachable", seeds=(0,), max_queries=4, list_functions="none")
    return EvalConfig(**{**values, "turing": False, "dtype": "fp32", **overrides})


def test_verified_greedy_equals_generation_on_real_prompts(scorers):
    verify, generate = scorers
    items = random.Random(0).sample(build_items(_config())[0], 20)
    for item in items:
        rank = RankRequest(item.context, tuple(" " + c for c in item.candidates))
        request = GenerateRequest(item.context, item.max_new_tokens)
        assert verify.rank_and_generate(rank, request)[1] == generate.generate([request])[0]
    assert verify.verified >= 5  # the real model answers with a label often enough


def test_shared_set_scores_equal_full_prompts_on_real_prompts(scorers):
    verify, generate = scorers
    items = build_items(_config(exemplar_sets=1, settings=("neither",), flipped=False))[0]
    sets = defaultdict(list)
    for item in items:
        sets[(item.task, item.meta["exemplar_set"])].append(item)
    for members in list(sets.values())[:3]:
        queries = [
            Query(i.context, tuple(" " + c for c in i.candidates), i.max_new_tokens)
            for i in members
        ]
        for query, (scores, output) in zip(queries, score_set(verify, queries, True), strict=True):
            alone = generate.loglikelihood_uncached(RankRequest(query.context, query.continuations))
            assert all(abs(a - b) < 1e-3 for a, b in zip(scores, alone, strict=True))
            request = GenerateRequest(query.context, query.max_new_tokens)
            assert output == generate.generate([request])[0]
