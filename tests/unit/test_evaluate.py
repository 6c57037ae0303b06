"""Evaluation mechanics on a tiny random llama: scoring, statistics, items, result files."""

import json
import re
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM

from conftest import binary_eval_suite, make_task
from symtune.analysis.stats import mcnemar_p, paired_bootstrap
from symtune.errors import SymtuneError
from symtune.evaluate.api import build_items, evaluate
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.protocol import (
    Item,
    classification_items,
    list_function_category,
    list_function_items,
    paper20,
)
from symtune.evaluate.runner import ResultCache, exact_result, rank_result
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.models import load_tokenizer
from symtune.tasks.algorithmic import ListFunction


@pytest.fixture(scope="module")
def scorer(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    return Scorer(model, load_tokenizer(str(tiny_model_dir)), batch_size=8)


CONTEXT = "Q: alpha\nA: XQZ\n\nQ: beta\nA: not ironic\n\nQ: gamma\nA:"
CANDIDATES = (" XQZ", " not ironic", " 48213", " a much longer label")


def test_cached_scores_equal_uncached_for_multi_token_labels(scorer):
    request = RankRequest(CONTEXT, CANDIDATES)
    cached, uncached = scorer.loglikelihood(request), scorer.loglikelihood_uncached(request)
    assert all(abs(a - b) < 1e-4 for a, b in zip(cached, uncached, strict=True))
    assert len(set(cached)) == 4


def test_scores_do_not_depend_on_batch_size(scorer):
    request = RankRequest(CONTEXT, CANDIDATES)
    wide = scorer.loglikelihood(request)
    scorer.batch_size = 1
    try:
        narrow = scorer.loglikelihood(request)
        requests = [GenerateRequest(CONTEXT + "x" * i, 6) for i in range(5)]
        one_by_one = scorer.generate(requests)
    finally:
        scorer.batch_size = 8
    assert all(abs(a - b) < 1e-4 for a, b in zip(wide, narrow, strict=True))
    assert scorer.generate(requests) == one_by_one


@pytest.mark.parametrize("context", [CONTEXT, CONTEXT + " ", "Q: x y z\nA:"])
@pytest.mark.parametrize("budget", [1, 3, 12])
def test_one_prefill_for_both_modes_gives_the_separate_results(scorer, context, budget):
    rank = RankRequest(context, CANDIDATES)
    generate = GenerateRequest(context, budget)
    scores, output = scorer.rank_and_generate(rank, generate)
    assert scores == scorer.loglikelihood(rank)
    assert output == scorer.generate([generate])[0]


CONTEXTS = [CONTEXT, CONTEXT + " ", "Q: x y z\nA:", "A:", CONTEXT * 3, "Q: 12\nA: 4\n\nQ: 7\nA:"]


@pytest.mark.parametrize("pack", [1, 64, 400, 4096])
def test_packed_rank_scores_equal_one_prompt_at_a_time(tiny_model_dir, pack):
    """Many prompts per forward (the GPU path) against the cached one-prompt path and the
    uncached reference, fp32; rows of 1 token hold one sequence each, 4096 all of them."""
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    packed = Scorer(model, load_tokenizer(str(tiny_model_dir)), batch_size=3, pack_tokens=pack)
    requests = [RankRequest(c, CANDIDATES[: 2 + i % 3]) for i, c in enumerate(CONTEXTS)]
    many = packed.loglikelihood_many(requests)
    for request, scores in zip(requests, many, strict=True):
        reference = packed.loglikelihood_uncached(request)
        assert len(scores) == len(request.continuations)
        assert all(abs(a - b) < 1e-4 for a, b in zip(scores, reference, strict=True))
    shuffled = packed.loglikelihood_many(requests[::-1])[::-1]
    assert all(
        abs(a - b) < 1e-4
        for x, y in zip(many, shuffled, strict=True)
        for a, b in zip(x, y, strict=True)
    )


def test_batched_greedy_decoding_equals_one_prompt_at_a_time(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    tokenizer = load_tokenizer(str(tiny_model_dir))
    requests = [GenerateRequest(c, budget) for c in CONTEXTS for budget in (1, 5, 12)]
    one = Scorer(model, tokenizer).generate(requests)
    batched = Scorer(model, tokenizer, batch_size=4, pack_tokens=256).generate(requests)
    assert batched == one and len({o for o in one}) > 1


def test_packed_evaluation_gives_the_same_results(tmp_path, tiny_model_dir, monkeypatch):
    from conftest import small_eval_config

    config = small_eval_config(tmp_path, tiny_model_dir)
    config = EvalConfig(**{**config.to_dict(), "scoring": ("rank", "exact")})
    models = {"base": str(tiny_model_dir)}
    plain = evaluate(config, models, tmp_path / "plain")
    monkeypatch.setenv("SYMTUNE_PACK_TOKENS", "512")
    packed = evaluate(config, models, tmp_path / "packed")
    assert packed["machine"]["pack_tokens"] == 512
    for a, b in zip(plain["items"], packed["items"], strict=True):
        for mode in ("rank", "exact"):
            x, y = a["results"]["base"][mode], b["results"]["base"][mode]
            assert x.get("output") == y.get("output") and x["correct"] == y["correct"]
            assert all(
                abs(u - v) < 1e-4
                for u, v in zip(x.get("scores", []), y.get("scores", []), strict=True)
            )
    assert plain["summary"] == packed["summary"]
    monkeypatch.setenv("SYMTUNE_PACK_TOKENS", "lots")
    with pytest.raises(SymtuneError, match="SYMTUNE_PACK_TOKENS='lots'; expected a number"):
        evaluate(config, models, tmp_path / "bad")
    assert not (tmp_path / "bad" / "eval_config.json").exists()


def test_generation_cuts_at_newline(scorer):
    outputs = scorer.generate([GenerateRequest(CONTEXT, 12)])
    assert "\n" not in outputs[0] and outputs[0] == outputs[0].strip()


def item(answer="XQZ", candidates=("XQZ", "not ironic")) -> Item:
    return Item("g|t|0|1", "neither", "t", 0, "ctx", answer, candidates)


def test_exact_and_rank_results_count_invalid_outputs():
    assert exact_result(item(), "XQZ") == {"output": "XQZ", "correct": True, "invalid": False}
    assert exact_result(item(), "not ironic") == {
        "output": "not ironic",
        "correct": False,
        "invalid": False,
    }
    assert exact_result(item(), "banana") == {"output": "banana", "correct": False, "invalid": True}
    assert exact_result(item("[1, 2]", ()), "[1, 2]")["invalid"] is False
    assert rank_result(item(), [-3.0, -1.0]) == {
        "scores": [-3.0, -1.0],
        "prediction": "not ironic",
        "correct": False,
    }


def test_mcnemar_and_bootstrap():
    assert mcnemar_p([True] * 5, [True] * 5) == 1.0
    # 0 discordant one way, 6 the other: two-sided exact p = 2 / 2**6
    assert mcnemar_p([False] * 6 + [True], [True] * 7) == pytest.approx(2 / 64)
    base, tuned = [0, 0, 1, 1] * 25, [1, 0, 1, 1] * 25
    delta, low, high = paired_bootstrap([(base, tuned)], resamples=2000)
    assert delta == pytest.approx(0.25) and low < 0.25 < high and low > 0.1
    assert paired_bootstrap([(base, tuned)], resamples=2000) == (delta, low, high)
    two = paired_bootstrap([(base, tuned), ([1, 1], [0, 0])], resamples=500)
    assert two[0] == pytest.approx((0.25 - 1) / 2)


def test_bootstrap_over_single_example_strata_is_not_a_point():
    # 100 subtasks with one query each (list functions): 25 gained, 5 lost, 70 unchanged
    strata = [([0], [1])] * 25 + [([1], [0])] * 5 + [([1], [1])] * 70
    delta, low, high = paired_bootstrap(strata, resamples=4000)
    pooled = paired_bootstrap([([b[0] for b, _ in strata], [t[0] for _, t in strata])], 4000)
    assert delta == pytest.approx(0.20) and low < 0.15 and high > 0.25
    assert (low, high) == pytest.approx(pooled[1:], abs=0.02)  # same as one pool of examples
    mixed = paired_bootstrap([*strata, ([0, 0, 1], [1, 1, 1])], resamples=4000)
    assert mixed[0] == pytest.approx((20 + 2 / 3) / 101) and mixed[1] < mixed[0] < mixed[2]


def test_flipped_items_only_for_binary_tasks_and_flip_the_answer(tiny_model_dir):
    binary, three = make_task("bin", per_class=12), make_task("tri", ("a", "b", "c"), 12)
    config = EvalConfig(seeds=(0, 1), settings=("neither",), tokenizer=str(tiny_model_dir), k=2)
    items, notes = classification_items([binary, three], config)
    flipped = [i for i in items if i.group == "flipped"]
    assert {i.task for i in flipped} == {"bin"} and len(flipped) == 2 * 6
    assert notes == {"prompts_with_dropped_exemplars": 0, "skipped_too_long": {}}
    queries = {e.id: e for e in binary.splits["validation"]}
    for i in flipped:
        true_label = binary.labels[queries[i.meta["query_id"]].label]
        assert i.answer != true_label and i.answer in binary.labels
        assert i.candidates == ("bad", "good")
    neither = [i for i in items if i.group == "neither"]
    assert len(neither) == 2 * 6 + 2 * 9 and all(i.chance in (0.5, 1 / 3) for i in neither)


def test_list_function_selection_rule():
    assert list_function_category("remove all but element 3") == "A remove elements"
    assert list_function_category("the list [9, 7]") == "C input-independent"
    assert list_function_category("input length") == "D count or aggregate"
    assert list_function_category("reverse the input") == "B modify the list"
    assert list_function_category("the first 2 elements") == "E select elements"
    functions = tuple(
        ListFunction(f"c{i:03d}", name, tuple((f"[{j}]", f"[{j}]") for j in range(8)))
        for i, name in enumerate(
            ["remove 1", "the list [1]", "sum", "reverse", "first element"] * 5
        )
    )
    chosen = paper20(functions)
    assert len(chosen) == 20 and [f.name for f in chosen[:4]] == ["c000", "c005", "c010", "c015"]
    items = list_function_items(
        functions, EvalConfig(list_functions="paper20", list_function_queries=3, controls=False)
    )
    assert len(items) == 60 and all(i.meta["paper20"] for i in items)
    first = items[0]
    assert first.context.count("Input: ") == 5 and first.context.endswith("Input: [0]\nOutput:")
    assert first.answer == "[0]" and 0 not in first.meta["shots"]


def test_result_cache_survives_a_torn_line(tmp_path):
    path = tmp_path / "c.jsonl"
    cache = ResultCache(path)
    cache.add("k1", {"correct": True})
    cache.close()
    with path.open("a") as handle:
        handle.write('{"key": "k2", "resu')
    assert ResultCache(path).done == {"k1": {"correct": True}}


def _suite(tmp_path):
    return binary_eval_suite(tmp_path, instruction="Say whether it is odd.")


def test_evaluate_writes_self_describing_results_and_resumes(tmp_path, tiny_model_dir, monkeypatch):
    config = EvalConfig(
        suite=_suite(tmp_path),
        seeds=(0, 1),
        k=2,
        list_functions="none",
        turing=False,
        tokenizer=str(tiny_model_dir),
        dtype="fp32",
    )
    models = {"base": str(tiny_model_dir), "tuned": str(tiny_model_dir)}
    document = evaluate(config, models, tmp_path / "ev")
    assert set(document) >= {
        "config",
        "models",
        "versions",
        "artifacts",
        "summary",
        "comparison",
        "items",
        "notes",
        "seconds",
        "readings",
    }
    items = document["items"]
    assert len(items) == 5 * 2 * 6  # 4 settings + flipped, 2 seeds, 6 queries
    summary = document["summary"]["exact"]["base"]["neither"]
    neither = [i for i in items if i["group"] == "neither"]
    accuracy = sum(i["results"]["base"]["exact"]["correct"] for i in neither) / len(neither)
    assert summary["average"] == pytest.approx(accuracy) and summary["n"] == 12
    assert summary["chance"] == 0.5
    same = document["comparison"]["rank"]["neither"]
    assert same["delta"] == 0.0 and same["mcnemar_p"] == 1.0  # the same model twice
    assert same["mde"] >= 0.0 and same["n"] == 12
    following = document["readings"]["exemplar_following"]["exact"]
    assert following["base"]["n"] == 12 and following["delta"]["delta"] == 0.0
    assert "| base |" in (tmp_path / "ev" / "results.md").read_text()
    assert items[0]["meta"]["exemplar_ids"] and items[0]["candidates"]

    def fail(*args, **kwargs):
        raise AssertionError("a cached item was scored again")

    monkeypatch.setattr(Scorer, "loglikelihood", fail)
    monkeypatch.setattr(Scorer, "generate", fail)
    monkeypatch.setattr(Scorer, "rank_and_generate", fail)
    again = evaluate(config, models, tmp_path / "ev")
    assert again["summary"] == document["summary"]
    with pytest.raises(SymtuneError, match="holds an evaluation with another config"):
        evaluate(EvalConfig(**{**config.to_dict(), "k": 3}), models, tmp_path / "ev")
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model_dir, other)
    moved = evaluate(config, {"tuned": str(other)}, tmp_path / "ev")  # same files, other path
    assert moved["summary"]["rank"]["tuned"] == document["summary"]["rank"]["tuned"]  # cached
    from safetensors.torch import load_file, save_file

    weights = load_file(other / "model.safetensors")
    first = next(iter(weights))
    weights[first] = weights[first] + 1.0
    save_file(weights, other / "model.safetensors")
    with pytest.raises(SymtuneError, match="label 'tuned' was evaluated with weights"):
        evaluate(config, {"tuned": str(other)}, tmp_path / "ev")


def test_tuning_pool_draws_queries_from_the_tuning_tasks_validation_split(tmp_path):
    evaluation = [{"text": f"eval {i}", "label": "yes" if i % 2 else "no"} for i in range(30)]
    tuning = [{"text": f"tune {i}", "label": "up" if i % 2 else "down"} for i in range(30)]
    for name, rows in (("e", evaluation), ("t", tuning)):
        for split, part in (("train", rows[6:]), ("validation", rows[:6])):
            path = tmp_path / f"{name}_{split}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in part))
    (tmp_path / "suite.yaml").write_text(
        f"evaluation:\n  - name: toy_eval\n    local: {tmp_path}/e_{{split}}.jsonl\n"
        "    input_fields: [text]\n    instruction: Say whether it is odd.\n"
        f"tuning:\n  - name: toy_tune\n    local: {tmp_path}/t_{{split}}.jsonl\n"
        "    input_fields: [text]\n"
    )
    base = {"suite": str(tmp_path / "suite.yaml"), "seeds": (0,), "k": 1}
    base |= {"list_functions": "none", "turing": False, "settings": ("neither",), "flipped": False}
    items, _ = build_items(EvalConfig(**base, pool="tuning"))
    assert {i.task for i in items} == {"toy_tune"} and len(items) == 6
    for item in items:  # queries from validation (rows 0-5), exemplars from train (6+)
        *exemplars, query = (int(x) for x in re.findall(r"tune (\d+)", item.context))
        assert query < 6 and exemplars and min(exemplars) >= 6
    with pytest.raises(SymtuneError, match="'toy_eval' is not in the tuning pool"):
        build_items(EvalConfig(**base, pool="tuning", tasks=("toy_eval",)))
    with pytest.raises(SymtuneError, match="pool='train'; expected evaluation or tuning"):
        build_items(EvalConfig(**base, pool="train"))


def test_a_marker_written_before_a_field_existed_still_matches(tmp_path, tiny_model_dir):
    config = EvalConfig(
        suite=_suite(tmp_path),
        seeds=(0,),
        k=1,
        max_queries=2,
        scoring=("rank",),
        list_functions="none",
        turing=False,
        tokenizer=str(tiny_model_dir),
        dtype="fp32",
    )
    out = tmp_path / "ev"
    evaluate(config, {"base": str(tiny_model_dir)}, out)
    old = json.loads((out / "eval_config.json").read_text())
    del old["pool"]
    (out / "eval_config.json").write_text(json.dumps(old, sort_keys=True))
    evaluate(config, {"base": str(tiny_model_dir)}, out)  # no refusal
    with pytest.raises(SymtuneError, match="another config"):
        evaluate(
            EvalConfig(**{**config.to_dict(), "k": config.k + 1}),
            {"base": str(tiny_model_dir)},
            out,
        )


def test_scoring_modes_know_their_items_and_answers():
    from symtune.analysis.modes import EXACT, MODES, RANK, first_mode

    labelled, free = item(), item("[1, 2]", ())
    assert RANK.applies_to(labelled) and not RANK.applies_to(free)
    assert EXACT.applies_to(labelled) and EXACT.applies_to(free)
    assert EXACT.answer(exact_result(labelled, "banana")) == "banana"
    assert RANK.answer(rank_result(labelled, [-3.0, -1.0])) == "not ironic"
    assert EXACT.tracks_invalid and not RANK.tracks_invalid
    assert first_mode(["rank", "exact"]) == "exact" and first_mode(["rank"]) == "rank"
    assert tuple(MODES) == ("exact", "rank")


def test_another_ranks_cache_without_a_model_record_is_refused(tmp_path):
    from symtune.evaluate.store import check_cache_owner

    (tmp_path / "cache").mkdir()
    identity = {"name": "m", "weights": "w", "tokenizer": "t", "config": "c", "files": {}}
    check_cache_owner(tmp_path, "base", identity)  # nothing cached: nothing to check
    (tmp_path / "cache" / "base@1.jsonl").write_text('{"key": "rank|x", "result": {}}\n')
    with pytest.raises(SymtuneError, match="no record of the model"):
        check_cache_owner(tmp_path, "base", identity)
