"""The real pinned artifacts: BIG-Bench tasks and the SmolLM2 tokenizer (fetched once, cached)."""

import re
from collections import Counter

import pytest

from symtune.artifacts import bigbench_tasks_dir
from symtune.mixture.build import iter_prompts
from symtune.mixture.config import MixtureConfig
from symtune.models import token_counter
from symtune.prompts.lengths import TokenCounter
from symtune.tasks import get_suite
from symtune.tasks.algorithmic import LIST_FUNCTIONS, TURING_AS2, load_list_functions, load_turing
from symtune.tasks.suites import load_named

pytestmark = pytest.mark.slow

# (examples, labels) per task, from OFFLINE_SUITE.md.
DOCUMENTED = {
    "multiemo/all_sentence_en": (57466, 4),
    "hyperbaton": (50000, 2),
    "navigate": (1000, 2),
    "emojis_emotion_prediction": (131, 8),
    "figure_of_speech_detection": (59, 10),
    "crash_blossom": (38, 3),
    "irony_identification": (99, 2),
    "social_support": (897, 3),
    "movie_dialog_same_or_different": (50000, 2),
    "empirical_judgments": (99, 3),
}


@pytest.fixture(scope="module")
def offline():
    suite = get_suite("offline")
    return {t.name: t for t in load_named((*suite.tuning, *suite.evaluation))}


def test_offline_suite_counts(offline):
    assert len(offline) == 33
    for name, (examples, labels) in DOCUMENTED.items():
        task = offline[name]
        total = len(task.splits["train"]) + len(task.splits["validation"])
        assert total + task.notes.get("tied_target_scores", 0) == examples, name
        assert len(task.labels) == labels, name
    assert offline["emojis_emotion_prediction"].notes == {"tied_target_scores": 2}
    irony = offline["irony_identification"]
    assert Counter(e.label for e in irony.splits["train"]) == {0: 10, 1: 10}
    assert len(irony.splits["validation"]) == 79


def test_eval_instructions_never_name_a_label(offline):
    for name in get_suite("offline").evaluation:
        task = offline[name]
        for label in task.labels:
            assert not re.search(rf"\b{re.escape(label)}\b", task.spec.instruction, re.I), name


def test_algorithmic_tasks():
    root = bigbench_tasks_dir([LIST_FUNCTIONS, TURING_AS2])
    functions = load_list_functions(root)
    assert len(functions) == 250 and functions[0].name == "c001"
    assert all(len(f.examples) == 32 for f in functions)
    assert functions[99].function == "reversed input"
    turing = load_turing(root)
    assert len(turing) == 85 and len({t.program for t in turing}) == 17
    assert {len(t.program) for t in turing} <= {1, 2, 3}


def test_token_bound_holds_for_the_real_tokenizer(offline):
    count = token_counter("smollm2-135m-instruct")
    suite = get_suite("offline")
    tuning = [offline[n] for n in suite.tuning]
    for budget in (256, 1024):
        config = MixtureConfig(
            tasks=suite.tuning, n=600, seed=budget, max_tokens=budget, relevant_ratio=0.3
        )
        dropped = 0
        for _, prompt in iter_prompts(config, tuning, counter=TokenCounter(count)):
            assert count(prompt.text + prompt.target) + 1 <= budget
            dropped += prompt.meta.dropped_exemplars > 0
        assert dropped > 0


def test_paper20_list_function_selection_on_the_real_subtasks():
    from symtune.evaluate.protocol import LIST_FUNCTION_CATEGORIES, list_function_category, paper20

    functions = load_list_functions(bigbench_tasks_dir([LIST_FUNCTIONS]))
    chosen = paper20(functions)
    assert [f.name for f in chosen] == [
        "c001",
        "c002",
        "c003",
        "c004",
        "c041",
        "c042",
        "c043",
        "c044",
        "c023",
        "c039",
        "c076",
        "c077",
        "c016",
        "c017",
        "c018",
        "c019",
        "c006",
        "c008",
        "c010",
        "c011",
    ]
    categories = Counter(list_function_category(f.function) for f in chosen)
    assert categories == {name: 4 for name, _ in LIST_FUNCTION_CATEGORIES}
