"""Task families: deterministic, balanced, on one side each, and bad declarations refused."""

from collections import Counter
from pathlib import Path

import pytest

from symtune.errors import SymtuneError
from symtune.tasks import FamilySource, TaskSpec, get_suite, get_task, load_task
from symtune.tasks.config import load_suite_file, spec_from_dict, spec_to_entry
from symtune.tasks.families import (
    FAMILIES,
    MIN_PER_CLASS,
    VALIDATION_PER_CLASS,
    item_words,
    side_of,
)
from symtune.tasks.registry import FAMILY_EVAL, FAMILY_TUNING

# families that read only wordfreq (installed) or nothing: no artifact download needed
LOCAL = [t for t in FAMILY_EVAL if FAMILIES[t.source.family].reads in (("wordfreq",), ("rule",))]


@pytest.mark.parametrize("spec", LOCAL, ids=lambda s: s.name)
def test_family_task_is_deterministic_balanced_and_split(spec):
    task = load_task(spec)
    again = load_task(spec)
    assert task.splits == again.splits and task.labels == spec.labels
    per_class = spec.source.per_class
    assert Counter(e.label for e in task.splits["validation"]) == dict.fromkeys(
        range(len(task.labels)), VALIDATION_PER_CLASS
    )
    assert Counter(e.label for e in task.splits["train"]) == dict.fromkeys(
        range(len(task.labels)), per_class - VALIDATION_PER_CLASS
    )
    texts = [e.text for split in task.splits.values() for e in split]
    assert len(set(texts)) == len(texts), "an item appears twice (in two classes or splits)"
    # every source word of an evaluation-side family is an evaluation-side word
    assert all(side_of(w) == "evaluation" for t in texts for w in item_words(t))


def test_family_items_follow_their_rule():
    def texts(name: str, label: str) -> list[str]:
        task = load_task(get_task(name))
        index = task.labels.index(label)
        return [e.text for e in task.splits["train"] if e.label == index]

    assert all(int(t) % 2 == 0 for t in texts("number/parity", "even"))
    assert all(int(t) % 2 == 1 for t in texts("number/parity", "odd"))
    assert all(int(t) < 0 for t in texts("number/sign", "negative"))
    assert all(t.isupper() for t in texts("word_shape/case", "uppercase"))
    assert all(t.islower() for t in texts("word_shape/case", "lowercase"))
    assert all(any(c.isdigit() for c in t) for t in texts("word_shape/digit", "contains a digit"))
    assert all(len(t) >= 10 for t in texts("word_shape/length", "long"))
    assert all(len(t.split()) == 3 for t in texts("language/en-fr.phrase", "French"))


def test_seed_changes_the_sample_and_side_is_stable():
    spec = get_task("number/parity")
    other = TaskSpec(spec.name, FamilySource("number", rule="parity", seed=1), labels=spec.labels)
    assert load_task(spec).splits != load_task(other).splits
    assert side_of("House") == side_of("house") == side_of("HOUSE")
    sides = Counter(side_of(f"w{i}") for i in range(2000))
    assert 900 < sides["tuning"] < 1100  # about half each


def test_families_are_on_their_declared_side_in_every_builtin_suite():
    for spec in FAMILY_TUNING:
        assert FAMILIES[spec.source.family].side == "tuning"
    for spec in FAMILY_EVAL:
        assert FAMILIES[spec.source.family].side == "evaluation"
    # rule families on strings and numbers are never on the tuning side
    assert {FAMILIES[f].side for f in ("word_shape", "number")} == {"evaluation"}
    for name in ("candidates", "reachable"):
        suite = get_suite(name)
        assert not {t.name for t in FAMILY_EVAL} & set(suite.tuning)
        assert not {t.name for t in FAMILY_TUNING} & set(suite.evaluation)


def test_reachable_suite_is_the_published_scan():
    import json

    reachable = get_suite("reachable")
    assert len(reachable.evaluation) >= 8
    assert set(reachable.evaluation) <= set(get_suite("candidates").evaluation)
    scan = json.loads((Path(__file__).parents[2] / "docs/scan/families/scan.json").read_text())
    assert sorted(reachable.evaluation) == sorted(scan["passed"])
    for row in scan["rows"]:
        relevant, baseline = row["instr_labels"], max(row["chance"], row["majority"])
        assert relevant["n"] >= 100 and row["majority"] - row["chance"] < 0.02  # balanced
        passed = relevant["accuracy"] >= baseline + 0.15 - 1e-9
        assert row["passed"] == (passed and relevant["ci"][0] > baseline + 0.05)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "x", "family": "langauge"}, "unknown family 'langauge'"),
        ({"name": "x", "family": "number", "rule": "prime"}, "rule 'prime'"),
        ({"name": "x", "family": "language", "classes": ["en", "xx"]}, "classes ['en', 'xx']"),
        ({"name": "x", "family": "number", "rule": "sign", "per_class": 10}, "per_class=10"),
        ({"name": "x", "family": "number", "rule": "sign", "per_class": 99999}, "has "),
        ({"name": "x", "family": "number", "per_class": "many"}, "'per_class' = 'many'"),
    ],
)
def test_bad_family_declarations_get_one_line_errors(entry, message):
    with pytest.raises(SymtuneError, match=message.replace("[", r"\[").replace("]", r"\]")) as err:
        load_task(spec_from_dict(entry, "suite.yaml: evaluation[0]"))
    assert "\n" not in str(err.value)


def test_suite_file_refuses_a_family_on_the_wrong_side(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "tuning:\n  - {name: parity, family: number, rule: parity}\nevaluation: [number/sign]\n"
    )
    with pytest.raises(SymtuneError, match="belongs to the evaluation side"):
        load_suite_file(path)
    path.write_text(
        "tuning: [hyperbaton]\nevaluation:\n  - {name: p, family: number, rule: sign}\n"
    )
    suite, specs = load_suite_file(path)
    assert load_task(specs["p"]).labels == ("negative", "positive")
    assert suite.evaluation == ("p",)


def test_spec_entry_round_trips():
    for spec in (get_task("number/sign"), get_task("hyperbaton")):
        assert spec_from_dict(spec_to_entry(spec), "x") == spec
    custom = spec_from_dict(
        {"name": "c", "family": "language", "classes": ["en", "de"], "rule": "phrase"}, "x"
    )
    assert spec_from_dict(spec_to_entry(custom), "x") == custom


def test_min_per_class_is_several_hundred():
    assert MIN_PER_CLASS >= 300
    assert all(t.source.per_class >= MIN_PER_CLASS for t in (*FAMILY_EVAL, *FAMILY_TUNING))


def test_a_family_with_too_few_examples_for_k_is_refused():
    from symtune.evaluate.api import build_items
    from symtune.evaluate.config import EvalConfig

    config = EvalConfig(
        suite="families", tasks=("number/sign",), k=501, list_functions="none", turing=False
    )
    with pytest.raises(SymtuneError, match=r"'negative' has 500 examples in split 'train'; "):
        build_items(config)


def test_no_question_is_asked_on_both_sides():
    """Issue 32: tuning on the evaluation tasks' own question (the language of a text, its
    shape, a number's size) on other items would inflate the evaluation; every family names
    what it asks, and the tuning and evaluation families ask different things."""
    from symtune.tasks.registry import SUITES, asks

    tuning = {f.asks for f in FAMILIES.values() if f.side == "tuning"}
    evaluation = {f.asks for f in FAMILIES.values() if f.side == "evaluation"}
    assert tuning.isdisjoint(evaluation) and "language" in evaluation
    assert len(tuning) >= 6 and all(f.asks and f.licence for f in FAMILIES.values())
    for suite in SUITES.values():
        assert asks(suite.tuning).isdisjoint(asks(suite.evaluation)), suite.name


def test_the_default_tuning_side_is_sixteen_tasks_from_six_packages_or_more():
    from symtune.artifacts import ARTIFACTS

    suite = get_suite("reachable")
    specs = [get_task(n) for n in suite.tuning]
    packages = {r for s in specs for r in FAMILIES[s.source.family].reads}
    assert len(specs) >= 16 and len(packages) >= 6 and packages <= set(ARTIFACTS)
    assert all(ARTIFACTS[p].default for p in packages)
    assert all(2 <= len(s.labels) <= 10 and s.source.per_class >= MIN_PER_CLASS for s in specs)
