import random
from collections import Counter

import pytest

from conftest import make_task
from symtune.errors import SymtuneError
from symtune.prompts.build import (
    FORMATS,
    SETTINGS,
    Prompt,
    TokenCounter,
    check_exemplar_supply,
    class_subset,
    eval_prompt,
    eval_queries,
    fit_exemplars,
    rebuild,
    render,
    tuning_prompt,
)
from symtune.prompts.symbols import eval_pool, tuning_pool

EXEMPLARS = (
    "Student: good text 3\nTeacher: {g}\n\nStudent: good text 2\nTeacher: {g}\n\n"
    "Student: bad text 2\nTeacher: {b}\n\nStudent: bad text 3\nTeacher: {b}\n\n"
    "Student: held good 0\nTeacher:"
)
EXPECTED = {
    "instr_labels": ("Judge the review.\n\n" + EXEMPLARS.format(g="good", b="bad"), " good"),
    "labels_only": (EXEMPLARS.format(g="good", b="bad"), " good"),
    "instr_only": ("Judge the review.\n\n" + EXEMPLARS.format(g="BFLT", b="coghlan"), " BFLT"),
    "neither": (EXEMPLARS.format(g="BFLT", b="coghlan"), " BFLT"),
    "flipped": (EXEMPLARS.format(g="bad", b="good"), " bad"),
}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_exact_eval_prompt_per_setting(setting):
    task = make_task(per_class=4, validation_per_class=1)
    prompt = eval_prompt(task, task.splits["validation"][0], setting, eval_pool(), seed=0, k=2)
    assert (prompt.text, prompt.target) == EXPECTED[setting]
    assert prompt.meta.exemplar_ids == ("t0-3", "t0-2", "t1-2", "t1-3")
    assert prompt.meta.format_id == 5


def test_symbol_settings_use_the_eval_pool_and_tuning_uses_the_tuning_pool(toy):
    evaluation, tuning = set(eval_pool().symbols()), set(tuning_pool().symbols())
    for i in range(50):
        query = toy.splits["validation"][i % 6]
        shown = eval_prompt(toy, query, "neither", eval_pool(), seed=i).meta.mapping
        assert set(shown) <= evaluation
        tuned = tuning_prompt(toy, toy.splits["train"][i % 24], tuning_pool(), f"s:{i}")
        assert tuned is not None and set(tuned.meta.mapping) <= tuning


def test_exact_tuning_prompt(toy):
    task = make_task(per_class=4, validation_per_class=1)
    prompt = tuning_prompt(task, task.splits["train"][0], tuning_pool(), "k:0", 2, 3)
    assert prompt is not None
    assert prompt.text == (
        "Question: bad text 0\nAnswer: EAA\n\nQuestion: good text 2\nAnswer: 7480\n\n"
        "Question: good text 1\nAnswer: 7480\n\nQuestion: bad text 1\nAnswer: EAA\n\n"
        "Question: good text 0\nAnswer:"
    )
    assert prompt.target == " 7480" and prompt.meta.mapping == ("7480", "EAA")
    assert prompt.meta.instruction is False and prompt.meta.setting == "symbol_tuning"


EXACT_FORMATS = [
    "Input: x\nOutput: y",
    "Input: x\nTarget: y",
    "Input: x\nSymbol: y",
    "Input: x\nLabel: y",
    "Question: x\nAnswer: y",
    "Student: x\nTeacher: y",
    "X = x\nY = y",
    "Q: x\nA: y",
    "x -> y",
    "Sentences: x\nMapped To: y",
]


@pytest.mark.parametrize("format_id", range(10))
def test_every_format_renders_exactly(format_id):
    fmt = FORMATS[format_id]
    assert fmt.pair("x", "y") == EXACT_FORMATS[format_id]
    text, target, spans = render(fmt, "", [("a", "P"), ("b", "Q")], "x", "y")
    assert text == fmt.pair("a", "P") + "\n\n" + fmt.pair("b", "Q") + "\n\n" + fmt.query("x")
    assert target == " y" and EXACT_FORMATS[format_id] == fmt.query("x") + target
    assert [text[s:e] for s, e in spans] == [" P", " Q"]


def test_multi_field_inputs_join_with_newlines():
    text, _, _ = render(FORMATS[0], "", [], "premise\nhypothesis", "y")
    assert text == "Input: premise\nhypothesis\nOutput:"


def test_tuning_exemplars_per_class_are_balanced_within_2_to_10():
    task = make_task(labels=("a", "b", "c"), per_class=15)
    seen = set()
    for i in range(200):
        prompt = tuning_prompt(task, task.splits["train"][i % 45], tuning_pool(), f"s:{i}")
        assert prompt is not None
        counts = Counter(
            prompt.meta.exemplar_ids[j][1] for j in range(len(prompt.meta.exemplar_ids))
        )
        assert len(set(counts.values())) == 1 and len(counts) == 3
        per_class = next(iter(counts.values()))
        assert 2 <= per_class <= 10
        seen.add(per_class)
    assert seen == set(range(2, 11))


def test_query_is_never_its_own_exemplar():
    task = make_task(per_class=3)  # small classes: the query's class runs short
    for i, query in enumerate(task.splits["train"]):
        for j in range(20):
            prompt = tuning_prompt(task, query, tuning_pool(), f"q:{i}:{j}", 2, 10)
            assert prompt is not None and query.id not in prompt.meta.exemplar_ids
    val = task.splits["validation"][0]
    assert val.id not in eval_prompt(task, val, "neither", eval_pool(), 0).meta.exemplar_ids


def test_flipped_labels_swap_exemplars_and_target(toy):
    for query in toy.splits["validation"]:
        flipped = eval_prompt(toy, query, "flipped", eval_pool(), seed=1)
        plain = eval_prompt(toy, query, "labels_only", eval_pool(), seed=1)
        assert flipped.meta.mapping == ("bad", "good")
        assert flipped.answer == toy.labels[1 - query.label]
        assert flipped.meta.exemplar_ids == plain.meta.exemplar_ids
        swapped = {" good": " bad", " bad": " good"}
        assert [flipped.text[s:e] for s, e in flipped.label_spans] == [
            swapped[plain.text[s:e]] for s, e in plain.label_spans
        ]


def test_flipped_needs_a_binary_task():
    task = make_task(labels=("a", "b", "c"))
    with pytest.raises(SymtuneError, match="task toy: flipped labels need a binary task, it has 3"):
        eval_prompt(task, task.splits["validation"][0], "flipped", eval_pool(), 0)


def test_prompts_are_deterministic_and_rebuild_exactly(toy):
    for i in range(30):
        a = tuning_prompt(toy, toy.splits["train"][i % 24], tuning_pool(), f"d:{i}")
        b = tuning_prompt(toy, toy.splits["train"][i % 24], tuning_pool(), f"d:{i}")
        assert a == b and a is not None
        assert rebuild(a.meta, toy) == a
        assert Prompt.from_dict(a.to_dict()) == a
    query = toy.splits["validation"][0]
    for setting in SETTINGS:
        prompt = eval_prompt(toy, query, setting, eval_pool(), seed=7)
        assert rebuild(prompt.meta, toy) == prompt


def test_label_seen_marks_repeated_answers(toy):
    prompt = tuning_prompt(toy, toy.splits["train"][0], tuning_pool(), "seen")
    answers = [prompt.text[s + 1 : e] for s, e in prompt.label_spans]
    assert prompt.label_seen == tuple(a in answers[:i] for i, a in enumerate(answers))
    assert prompt.label_seen[0] is False and any(prompt.label_seen)


def test_eval_queries_are_fixed_per_task_and_capped(toy):
    big = make_task(validation_per_class=80)
    assert len(eval_queries(big)) == 100 and eval_queries(big) == eval_queries(big)
    assert len(eval_queries(toy)) == 6


def test_eval_queries_are_class_balanced_as_far_as_the_split_allows():
    from collections import Counter

    from symtune.tasks import TaskData

    big = make_task(labels=("a", "b", "c"), validation_per_class=40)
    assert Counter(q.label for q in eval_queries(big, 30)) == {0: 10, 1: 10, 2: 10}
    assert Counter(q.label for q in eval_queries(big, 31)).most_common(1)[0][1] == 11
    # an imbalanced split, 3 of class 0 and 40 of class 1: all 3, then class 1 fills up
    keep = {"v0-0", "v0-1", "v0-2"}
    validation = tuple(e for e in big.splits["validation"] if e.label == 1 or e.id in keep)
    skewed = TaskData(big.spec, big.labels, {**big.splits, "validation": validation})
    counts = Counter(q.label for q in eval_queries(skewed, 20))
    assert counts == {0: 3, 1: 17}


def test_exemplar_supply_error_names_task_label_and_count():
    task = make_task(per_class=3)
    with pytest.raises(
        SymtuneError,
        match=r"task toy: label 'good' has 3 examples in split "
        r"'train'; expected at least k=4",
    ):
        check_exemplar_supply(task, 4)


def test_fit_exemplars_drops_from_the_largest_class_and_keeps_one_per_class():
    task = make_task(labels=("a", "b"), per_class=5)
    a = [e for e in task.splits["train"] if e.label == 0][:3]
    b = [e for e in task.splits["train"] if e.label == 1][:1]
    exemplars = [a[0], b[0], a[1], a[2]]
    kept, dropped = fit_exemplars(exemplars, [10, 10, 10, 10], fixed=5, budget=26)
    assert kept == [a[0], b[0]] and dropped == 2
    assert fit_exemplars(exemplars, [10] * 4, fixed=5, budget=45) == (exemplars, 0)
    assert fit_exemplars(exemplars, [10] * 4, fixed=5, budget=24) is None


def test_length_policy_fits_budget_and_reports_drops():
    task = make_task(per_class=10)
    words = TokenCounter(lambda text: len(text.split()))
    budget = 40
    dropped_any = False
    for i in range(40):
        prompt = tuning_prompt(
            task,
            task.splits["train"][i % 20],
            tuning_pool(),
            f"b:{i}",
            2,
            10,
            budget=budget,
            counter=words,
        )
        assert prompt is not None
        assert len((prompt.text + prompt.target).split()) + 1 <= budget
        per_class = Counter(e[1] for e in prompt.meta.exemplar_ids)
        assert max(per_class.values()) - min(per_class.values()) <= 1  # balance kept
        dropped_any |= prompt.meta.dropped_exemplars > 0
    assert dropped_any
    too_small = tuning_prompt(
        task, task.splits["train"][0], tuning_pool(), "b", budget=10, counter=words
    )
    assert too_small is None


def test_token_counter_caches_and_primes():
    calls: list[str] = []

    def count(text: str) -> int:
        calls.append(text)
        return len(text)

    counter = TokenCounter(count)
    counter.prime(["ab", "ab", "cde"])
    assert counter("ab") == 2 and counter("cde") == 3 and calls == ["ab", "cde"]


def test_unknown_setting():
    task = make_task()
    with pytest.raises(SymtuneError, match="setting 'both' is unknown"):
        eval_prompt(task, task.splits["validation"][0], "both", eval_pool(), 0)


def test_random_module_state_is_untouched(toy):
    random.seed(123)
    expected = random.random()
    random.seed(123)
    tuning_prompt(toy, toy.splits["train"][0], tuning_pool(), "g")
    assert random.random() == expected


def test_class_subsets_show_2_to_n_classes_the_query_always_among_them():
    task = make_task(labels=tuple(f"c{i}" for i in range(10)), per_class=15)
    for max_classes, expected in ((4, range(2, 5)), (10, range(2, 11)), (30, range(2, 11))):
        sizes = set()
        for i in range(300):
            query = task.splits["train"][i % 150]
            for relevant in (False, True):
                prompt = tuning_prompt(
                    task, query, tuning_pool(), f"c:{i}", relevant=relevant, max_classes=max_classes
                )
                assert prompt is not None
                shown = {c for c, m in enumerate(prompt.meta.mapping) if m}
                assert query.label in shown and prompt.answer in prompt.candidates
                assert prompt.candidates == tuple(m for m in prompt.meta.mapping if m)
                by_id = {e.id: e.label for e in task.splits["train"]}
                assert {by_id[e] for e in prompt.meta.exemplar_ids} == shown
                assert rebuild(prompt.meta, task) == prompt
                sizes.add(len(shown))
        assert sizes == set(expected)


def test_class_subsets_leave_binary_tasks_and_the_default_unchanged(toy):
    many = make_task(labels=("a", "b", "c", "d"), per_class=15)
    for task in (toy, many):
        for i in range(20):
            query = task.splits["train"][i]
            default = tuning_prompt(task, query, tuning_pool(), f"d:{i}")
            assert default == tuning_prompt(task, query, tuning_pool(), f"d:{i}", max_classes=0)
            assert len(default.candidates) == len(task.labels)
    binary = [
        tuning_prompt(toy, toy.splits["train"][0], tuning_pool(), "b", max_classes=m)
        for m in (0, 2, 10)
    ]
    assert binary[0] == binary[1] == binary[2]
    rng = random.Random(0)
    assert class_subset(4, 3, 0, rng) == {0, 1, 2, 3} and class_subset(2, 0, 5, rng) == {0, 1}
