"""Built-in tasks and suites: the default (`reachable`: tuning families read from pinned
registry packages, evaluation families from wordfreq and rules), BIG-Bench's offline pool
(optional: from the user's copy, see `bigbench`) and the paper's Hugging Face datasets (for
users with a network)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from symtune.errors import SymtuneError
from symtune.tasks.families import FAMILIES, LANGUAGE_NAMES, misplaced
from symtune.tasks.paper_hf import HF_EVAL, HF_TUNING
from symtune.tasks.spec import BigBenchSource, FamilySource, TaskSpec


@dataclass(frozen=True)
class Suite:
    """A named pair of task lists: what tuning may use and what evaluation holds out."""

    name: str
    tuning: tuple[str, ...]
    evaluation: tuple[str, ...]
    binary: tuple[str, ...]
    """Evaluation tasks with two labels (used for flipped labels)."""


def _bb(path: str, instruction: str = "", validation_share: float = 1.0) -> TaskSpec:
    return TaskSpec(
        name=path,
        source=BigBenchSource(path),
        instruction=instruction,
        query_split=None,
        validation_share=validation_share,
    )


TUNING_VALIDATION_SHARE = 0.2


# The offline tuning pool: exactly these 22 (OFFLINE_SUITE.md). BIG-Bench tasks have one split;
# `query_split=None` makes the seeded, stratified train/validation split of `seeded_split`;
# tuning tasks hold out at most 20% per class (a validation split for sweeps, never tuned on).
OFFLINE_TUNING = tuple(
    _bb(path, validation_share=TUNING_VALIDATION_SHARE)
    for path in (
        "multiemo/all_sentence_en",
        "multiemo/all_text_en",
        "vitaminc_fact_verification",
        "fact_checker/fever",
        "formal_fallacies_syllogisms_negation",
        "hyperbaton",
        "navigate",
        "strategyqa",
        "play_dialog_same_or_different",
        "intent_recognition",
        "salient_translation_error_detection",
        "analogical_similarity",
        "causal_judgment",
        "snarks",
        "emojis_emotion_prediction",
        "figure_of_speech_detection",
        "mathematical_induction",
        "analytic_entailment",
        "crash_blossom",
        "sentence_ambiguity",
        "strange_stories/boolean",
        "suicide_risk",
    )
)

# The offline evaluation pool (never tuned on), with our own instructions: they say what the
# task is about and never name the labels.
OFFLINE_EVAL = (
    _bb("irony_identification", "Decide whether the sentence is meant ironically."),
    _bb("dark_humor_detection", "Decide whether the text is meant as dark humour."),
    _bb("fact_checker/politifact", "Judge whether the political claim is accurate."),
    _bb("implicatures", "Work out what Speaker 2's reply means as an answer to Speaker 1."),
    _bb(
        "metaphor_boolean",
        "Decide whether the sentence after the arrow correctly paraphrases the metaphor before it.",
    ),
    _bb("sports_understanding", "Judge whether the statement about sports could really happen."),
    _bb("epistemic_reasoning", "Decide whether the premise supports the hypothesis."),
    _bb(
        "movie_dialog_same_or_different",
        "Decide whether the two quoted sentences of the movie dialogue come from one speaker.",
    ),
    _bb("social_support", "Judge how the reply treats the person it answers."),
    _bb("presuppositions_as_nli", "Decide how the second sentence relates to the first."),
    _bb("empirical_judgments", "Decide what relation between events the sentence asserts."),
)
OFFLINE_BINARY = tuple(t.name for t in OFFLINE_EVAL[:8])


def _family(
    name: str,
    family: str,
    instruction: str,
    labels: tuple[str, ...],
    rule: str = "",
    classes: tuple[str, ...] = (),
    per_class: int = 600,
) -> TaskSpec:
    return TaskSpec(
        name=name,
        source=FamilySource(family, classes, rule, per_class),
        instruction=instruction,
        labels=labels,
        query_split="validation",
    )


def _language(codes: str, rule: str = "word") -> TaskSpec:
    classes = tuple(codes.split("-"))
    suffix = ".phrase" if rule == "phrase" else ""
    labels = tuple(LANGUAGE_NAMES[c] for c in classes)
    return _family(
        f"language/{codes}{suffix}",
        "language",
        "Identify the language of the text.",
        labels,
        rule,
        classes,
    )


# Evaluation-side family tasks: the candidates that `symtune scan` checks (docs/scan.md).
FAMILY_EVAL = (
    _language("en-fr"),
    _language("en-de"),
    _language("en-es"),
    _language("de-it"),
    _language("en-fr", "phrase"),
    _language("en-fr-de-es", "phrase"),
    _family(
        "word_shape/case",
        "word_shape",
        "Look at how the word is written.",
        ("lowercase", "uppercase"),
        "case",
    ),
    _family(
        "word_shape/length",
        "word_shape",
        "Judge how many letters the word has.",
        ("short", "long"),
        "length",
    ),
    _family(
        "word_shape/initial",
        "word_shape",
        "Look at the first letter of the word.",
        ("vowel", "consonant"),
        "initial",
    ),
    _family(
        "word_shape/digit",
        "word_shape",
        "Look at the characters of the word.",
        ("letters only", "contains a digit"),
        "digit",
    ),
    _family(
        "number/parity",
        "number",
        "Decide whether the number divides by two.",
        ("even", "odd"),
        "parity",
    ),
    _family(
        "number/magnitude",
        "number",
        "Judge the size of the number.",
        ("small", "large"),
        "magnitude",
    ),
    _family(
        "number/sign", "number", "Compare the number with zero.", ("negative", "positive"), "sign"
    ),
)
# the ten countries with at least 400 single-country names on the tuning side
_NAME_ORIGINS = (
    "italy",
    "the_netherlands",
    "arabia",
    "japan",
    "india",
    "romania",
    "turkey",
    "france",
    "germany",
    "spain",
)
_POS4 = ("noun", "verb", "adjective", "adverb")


def _tuning(
    name: str,
    family: str,
    instruction: str,
    labels: tuple[str, ...],
    classes: tuple[str, ...] = (),
    per_class: int = 600,
) -> TaskSpec:
    return _family(name, family, instruction, labels, classes=classes, per_class=per_class)


# Tuning-side family tasks: real labeled data from pinned registry packages (never evaluated
# on; none asks what an evaluation task asks: `FAMILIES[...].asks`, checked by get_suite).
FAMILY_TUNING = (
    _tuning(
        "word_sentiment",
        "word_sentiment",
        "Judge the feeling the word expresses.",
        ("negative", "positive"),
    ),
    _tuning(
        "name_gender",
        "name_gender",
        "Guess whether the first name is a man's or a woman's.",
        ("female", "male"),
    ),
    _tuning(
        "name_origin",
        "name_origin",
        "Guess the country where the first name is typical.",
        tuple(c.replace("_", " ").title() for c in _NAME_ORIGINS),
        _NAME_ORIGINS,
        per_class=400,
    ),
    _tuning(
        "name_gender/mimesis",
        "mimesis_gender",
        "Guess whether the first name is a man's or a woman's.",
        ("female", "male"),
        per_class=400,
    ),
    _tuning(
        "name_part",
        "name_part",
        "Decide whether the name is a first name or a family name.",
        ("first name", "surname"),
        per_class=300,
    ),
    _tuning(
        "pos/lemminflect",
        "pos_lemminflect",
        "Name the word's part of speech.",
        _POS4,
    ),
    _tuning(
        "pos/lemminflect.noun-verb",
        "pos_lemminflect",
        "Name the word's part of speech.",
        ("noun", "verb"),
        ("noun", "verb"),
    ),
    _tuning(
        "pos/lemminflect.adjective-adverb",
        "pos_lemminflect",
        "Name the word's part of speech.",
        ("adjective", "adverb"),
        ("adjective", "adverb"),
    ),
    _tuning("pos/textblob", "pos_textblob", "Name the word's part of speech.", _POS4),
    _tuning(
        "pos/wonderwords",
        "pos_wonderwords",
        "Name the word's part of speech.",
        ("noun", "adjective"),
        ("noun", "adjective"),
        per_class=400,
    ),
    _tuning(
        "verse/testament",
        "verse_testament",
        "Say which part of the Bible the verse comes from.",
        ("Old Testament", "New Testament"),
    ),
    _tuning(
        "verse/book_group",
        "verse_book_group",
        "Say which group of books of the Bible the verse comes from.",
        ("Law", "History", "Poetry", "Prophets", "Gospels", "Epistles"),
    ),
    _tuning(
        "city/continent",
        "city_continent",
        "Name the continent the city is on.",
        ("Africa", "Asia", "Europe", "North America", "South America"),
    ),
    _tuning(
        "city/country",
        "city_country",
        "Name the country the city is in.",
        ("United States", "India", "China", "Brazil", "Japan", "Russia"),
        per_class=500,
    ),
    _tuning(
        "city/country.europe",
        "city_country_europe",
        "Name the country the city is in.",
        ("Germany", "United Kingdom", "France", "Italy", "Spain"),
        per_class=300,
    ),
    _tuning(
        "city/hemisphere",
        "city_hemisphere",
        "Say on which side of the equator the city lies.",
        ("northern", "southern"),
    ),
)
# `reachable`: the candidates on which base SmolLM2-135M-Instruct scores at least 15 points
# above random guessing with instruction + relevant labels, the lower end of the 95% interval
# above chance + 5 (n = 102 per task on class-balanced queries, exact match;
# `symtune scan --suite families`, docs/scan.md).
REACHABLE: tuple[str, ...] = (
    "language/de-it",
    "language/en-de",
    "language/en-fr",
    "language/en-fr-de-es.phrase",
    "language/en-fr.phrase",
    "number/magnitude",
    "number/sign",
    "word_shape/digit",
    "word_shape/length",
)


def _binary(specs: tuple[TaskSpec, ...]) -> tuple[str, ...]:
    return tuple(t.name for t in specs if t.labels is not None and len(t.labels) == 2)


SUITES = {
    "offline": Suite(
        "offline",
        tuple(t.name for t in OFFLINE_TUNING),
        tuple(t.name for t in OFFLINE_EVAL),
        OFFLINE_BINARY,
    ),
    "paper-hf": Suite(
        "paper-hf",
        tuple(t.name for t in HF_TUNING),
        tuple(t.name for t in HF_EVAL),
        tuple(t.name for t in HF_EVAL if t.labels is not None and len(t.labels) == 2),
    ),
    "families": Suite(
        "families",
        tuple(t.name for t in FAMILY_TUNING),
        tuple(t.name for t in FAMILY_EVAL),
        _binary(FAMILY_EVAL),
    ),
    "reachable": Suite(
        "reachable",
        tuple(t.name for t in FAMILY_TUNING),
        REACHABLE,
        _binary(tuple(t for t in FAMILY_EVAL if t.name in REACHABLE)),
    ),
    "candidates": Suite(
        "candidates",
        tuple(t.name for t in FAMILY_TUNING),
        tuple(t.name for t in FAMILY_EVAL),
        _binary(FAMILY_EVAL),
    ),
}

TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (*OFFLINE_TUNING, *OFFLINE_EVAL, *FAMILY_EVAL, *FAMILY_TUNING, *HF_TUNING, *HF_EVAL)
}


def _unknown(kind: str, name: str, known: list[str]) -> SymtuneError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"
    return SymtuneError(f"unknown {kind} {name!r}{hint}")


def get_task(name: str) -> TaskSpec:
    """A built-in task spec by name, with a did-you-mean for typos."""
    if name not in TASKS:
        raise _unknown("task", name, list(TASKS))
    return TASKS[name]


def get_suite(name: str) -> Suite:
    """A built-in suite by name."""
    if name not in SUITES:
        raise _unknown("suite", name, list(SUITES))
    suite = SUITES[name]
    overlap = set(suite.tuning) & set(suite.evaluation)
    assert not overlap, f"suite {name} tunes on evaluation tasks {overlap}"
    wrong = misplaced(suite.tuning, suite.evaluation, TASKS)
    assert wrong is None, f"suite {name}: family task {wrong} is on the wrong side"
    shared = asks(suite.tuning) & asks(suite.evaluation)
    assert not shared, f"suite {name}: both sides ask {sorted(shared)}"
    return suite


def asks(names: tuple[str, ...], specs: dict[str, TaskSpec] | None = None) -> set[str]:
    """What the family tasks among `names` ask (language, part of speech, ...)."""
    specs = specs or TASKS
    return {
        FAMILIES[specs[n].source.family].asks
        for n in names
        if isinstance(specs[n].source, FamilySource)
    }
