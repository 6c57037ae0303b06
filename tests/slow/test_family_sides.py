"""No source item crosses sides: every word or name of a tuning-side family task is absent from
every evaluation-side family task, and no tuning sentence or place is an evaluation input, on
the real pinned packages (the tuning side's nine) and word lists (wordfreq)."""

from collections import Counter

import pytest

from symtune.tasks import load_task
from symtune.tasks.families import FAMILIES, item_words
from symtune.tasks.registry import FAMILY_EVAL, FAMILY_TUNING

pytestmark = pytest.mark.slow


def _words(specs) -> set[str]:
    return {
        w
        for spec in specs
        for split in load_task(spec).splits.values()
        for e in split
        for w in item_words(e.text)
    }


def _texts(specs) -> set[str]:
    return {
        e.text.casefold() for s in specs for split in load_task(s).splits.values() for e in split
    }


def test_no_word_name_or_sentence_is_on_both_sides():
    words = [s for s in FAMILY_TUNING if FAMILIES[s.source.family].unit == "word"]
    texts = [s for s in FAMILY_TUNING if FAMILIES[s.source.family].unit == "text"]
    assert len(texts) >= 5 and len(words) >= 10
    tuning, evaluation = _words(words), _words(FAMILY_EVAL)
    assert len(tuning) > 10000 and len(evaluation) > 10000
    assert tuning.isdisjoint(evaluation)
    whole = _texts(FAMILY_EVAL)
    assert _texts(texts).isdisjoint(whole) and _texts(words).isdisjoint(whole)


@pytest.mark.parametrize("spec", FAMILY_TUNING, ids=lambda s: s.name)
def test_tuning_families_are_balanced_with_several_hundred_per_class(spec):
    task = load_task(spec)
    counts = Counter(e.label for split in task.splits.values() for e in split)
    assert set(counts.values()) == {spec.source.per_class} and len(counts) == len(spec.labels)
    assert load_task(spec).splits == task.splits


def test_reachable_tuning_side_builds_symbol_prompts_from_the_families():
    from symtune.mixture.build import iter_prompts
    from symtune.mixture.config import MixtureConfig
    from symtune.tasks import get_suite
    from symtune.tasks.suites import load_named

    suite = get_suite("reachable")
    families = [t.name for t in FAMILY_TUNING]
    assert set(families) == set(suite.tuning) and len(families) >= 16
    tasks = load_named(families)
    config = MixtureConfig(tasks=tuple(families), n=200, suite="reachable")
    prompts = [p for _, p in iter_prompts(config, tasks)]
    assert len(prompts) == 200 and {p.meta.task for p in prompts} == set(families)
    origin = next(p for p in prompts if p.meta.task == "name_origin")
    assert len(origin.meta.mapping) == 10  # ten classes, each shown as a symbol
    assert not set(origin.meta.mapping) & {"Italy", "Japan", "Spain"}
