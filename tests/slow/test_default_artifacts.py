"""The default's real artifacts: the served tuning side with the SmolLM2 tokenizer, and (opt-in,
where a user points SYMTUNE_BIGBENCH at a BIG-Bench copy) the old offline suite."""

import os

import pytest

from symtune.mixture.build import iter_prompts
from symtune.mixture.config import MixtureConfig
from symtune.models import token_counter
from symtune.prompts.lengths import TokenCounter
from symtune.tasks import get_suite
from symtune.tasks.suites import load_named

pytestmark = pytest.mark.slow


def test_token_bound_holds_for_the_real_tokenizer_on_the_default_tuning_side():
    count = token_counter("smollm2-135m-instruct")
    suite = get_suite("reachable")
    tuning = load_named(suite.tuning)
    for budget in (96, 256):
        config = MixtureConfig(
            tasks=suite.tuning, n=400, seed=budget, max_tokens=budget, relevant_ratio=0.3
        )
        dropped = 0
        for _, prompt in iter_prompts(config, tuning, counter=TokenCounter(count)):
            assert count(prompt.text + prompt.target) + 1 <= budget
            dropped += prompt.meta.dropped_exemplars > 0
        assert dropped > 0 or budget > 96


@pytest.mark.skipif(
    not os.environ.get("SYMTUNE_BIGBENCH"),
    reason="opt-in: set SYMTUNE_BIGBENCH to a BIG-Bench copy (the 1.0.0 sdist or a checkout)",
)
def test_opt_in_bigbench_copy_loads_the_offline_suite_and_its_algorithmic_tasks():
    from symtune.tasks import bigbench
    from symtune.tasks.algorithmic import (
        LIST_FUNCTIONS,
        TURING_AS2,
        load_list_functions,
        load_turing,
    )

    suite = get_suite("offline")
    tasks = load_named((*suite.tuning, *suite.evaluation))
    assert len(tasks) == 33
    root = bigbench.tasks_dir([LIST_FUNCTIONS, TURING_AS2])
    assert len(load_list_functions(root)) == 250 and len(load_turing(root)) == 85
