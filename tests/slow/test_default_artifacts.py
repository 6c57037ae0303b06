"""The default's real artifacts: the served tuning side with the SmolLM2 tokenizer (the old
offline suite, from a user's BIG-Bench copy, is checked by tests/optin/bigbench_copy.py)."""

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
