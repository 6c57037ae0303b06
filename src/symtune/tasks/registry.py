"""Built-in tasks and suites: the offline default (BIG-Bench JSON from the pinned sdist, see
OFFLINE_SUITE.md) and the paper's Hugging Face datasets (for users with a network)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from symtune.errors import SymtuneError
from symtune.tasks.spec import BigBenchSource, HFSource, TaskSpec


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


def _hf(
    name: str,
    dataset: str,
    config: str | None,
    fields: tuple[str, ...],
    labels: tuple[str, ...],
    instruction: str = "",
    label_field: str = "label",
    raw: tuple[str, ...] | None = None,
    exemplar_split: str = "train",
    query_split: str | None = "validation",
) -> TaskSpec:
    """An HF task whose raw labels `raw` (default "0", "1", …) map to the names `labels`."""
    raw = raw or tuple(str(i) for i in range(len(labels)))
    return TaskSpec(
        name=name,
        source=HFSource(dataset, config, label_field, tuple(zip(raw, labels, strict=True))),
        input_fields=fields,
        instruction=instruction,
        labels=labels,
        exemplar_split=exemplar_split,
        query_split=query_split,
    )


_NLI3 = ("entailment", "neutral", "contradiction")
_PAIR = ("sentence1", "sentence2")
# The paper's 22 tuning datasets (reconstructed list, PROTOCOL.md), training split only.
HF_TUNING = (
    _hf("rte", "nyu-mll/glue", "rte", _PAIR, ("entailment", "not entailment")),
    _hf("wnli", "nyu-mll/glue", "wnli", _PAIR, ("not entailment", "entailment")),
    _hf("qnli", "nyu-mll/glue", "qnli", ("question", "sentence"), ("entailment", "not entailment")),
    _hf(
        "mnli",
        "nyu-mll/glue",
        "mnli",
        ("premise", "hypothesis"),
        _NLI3,
        query_split="validation_matched",
    ),
    _hf("snli", "stanfordnlp/snli", None, ("premise", "hypothesis"), _NLI3),
    _hf(
        "cb",
        "aps/super_glue",
        "cb",
        ("premise", "hypothesis"),
        ("entailment", "contradiction", "neutral"),
    ),
    _hf("sst2", "nyu-mll/glue", "sst2", ("sentence",), ("negative", "positive")),
    _hf(
        "rt", "cornell-movie-review-data/rotten_tomatoes", None, ("text",), ("negative", "positive")
    ),
    _hf(
        "tes", "cardiffnlp/tweet_eval", "sentiment", ("text",), ("negative", "neutral", "positive")
    ),
    _hf("qqp", "nyu-mll/glue", "qqp", ("question1", "question2"), ("not duplicate", "duplicate")),
    _hf("mrpc", "nyu-mll/glue", "mrpc", _PAIR, ("not equivalent", "equivalent")),
    _hf(
        "paws",
        "google-research-datasets/paws",
        "labeled_final",
        _PAIR,
        ("not paraphrase", "paraphrase"),
    ),
    _hf(
        "copa",
        "aps/super_glue",
        "copa",
        ("premise", "question", "choice1", "choice2"),
        ("choice 1", "choice 2"),
    ),
    _hf("piqa", "ybisk/piqa", None, ("goal", "sol1", "sol2"), ("solution 1", "solution 2")),
    _hf(
        "agn",
        "fancyzhx/ag_news",
        None,
        ("text",),
        ("world", "sports", "business", "science"),
        query_split="test",
    ),
    _hf(
        "trec",
        "CogComp/trec",
        None,
        ("text",),
        ("abbreviation", "entity", "description", "human", "location", "number"),
        label_field="coarse_label",
        query_split="test",
    ),
    _hf(
        "wsc",
        "aps/super_glue",
        "wsc.fixed",
        ("text", "span1_text", "span2_text"),
        ("false", "true"),
    ),
    _hf(
        "wino",
        "allenai/winogrande",
        "winogrande_xl",
        ("sentence", "option1", "option2"),
        ("option 1", "option 2"),
        label_field="answer",
        raw=("1", "2"),
    ),
    _hf("teo", "cardiffnlp/tweet_eval", "offensive", ("text",), ("not offensive", "offensive")),
    _hf("tei", "cardiffnlp/tweet_eval", "irony", ("text",), ("not ironic", "ironic")),
    _hf("wic", "aps/super_glue", "wic", ("word", "sentence1", "sentence2"), ("false", "true")),
    _hf("cola", "nyu-mll/glue", "cola", ("sentence",), ("unacceptable", "acceptable")),
)

_STANCE = ("none", "against", "favor")


def _raft(
    name: str, config: str, fields: tuple[str, ...], labels: tuple[str, ...], instruction: str
) -> TaskSpec:
    # RAFT has 50 labelled training rows and an unlabelled test split: split the training rows.
    # Raw label 0 is "Unlabeled" and is dropped.
    raw = tuple(str(i + 1) for i in range(len(labels)))
    return _hf(
        name, "ought/raft", config, fields, labels, instruction, "Label", raw, query_split=None
    )


# The paper's 11 evaluation datasets.
HF_EVAL = (
    _hf(
        "subj",
        "SetFit/subj",
        None,
        ("text",),
        ("objective", "subjective"),
        "Decide whether the sentence states a fact or an opinion.",
        query_split="test",
    ),
    _hf(
        "teh",
        "cardiffnlp/tweet_eval",
        "hate",
        ("text",),
        ("not hate", "hate"),
        "Decide whether the tweet is hateful.",
    ),
    _hf(
        "teab",
        "cardiffnlp/tweet_eval",
        "stance_abortion",
        ("text",),
        _STANCE,
        "Judge the tweet's stance on abortion.",
    ),
    _hf(
        "teat",
        "cardiffnlp/tweet_eval",
        "stance_atheism",
        ("text",),
        _STANCE,
        "Judge the tweet's stance on atheism.",
    ),
    _hf(
        "tefe",
        "cardiffnlp/tweet_eval",
        "stance_feminist",
        ("text",),
        _STANCE,
        "Judge the tweet's stance on feminism.",
    ),
    _hf(
        "tehi",
        "cardiffnlp/tweet_eval",
        "stance_hillary",
        ("text",),
        _STANCE,
        "Judge the tweet's stance on Hillary Clinton.",
    ),
    _raft(
        "adec",
        "ade_corpus_v2",
        ("Sentence",),
        ("ADE-related", "not ADE-related"),
        "Decide whether the sentence describes an adverse drug effect.",
    ),
    _raft(
        "or",
        "overruling",
        ("Sentence",),
        ("not overruling", "overruling"),
        "Decide whether the legal sentence overrules a previous case.",
    ),
    _raft(
        "sot",
        "semiconductor_org_types",
        ("Paper title", "Organization name"),
        ("company", "research institute", "university"),
        "Classify the kind of organisation behind the semiconductor paper.",
    ),
    _raft(
        "tos",
        "terms_of_service",
        ("Sentence",),
        ("not potentially unfair", "potentially unfair"),
        "Judge whether the terms-of-service clause is potentially unfair to users.",
    ),
    _raft(
        "tc",
        "twitter_complaints",
        ("Tweet text",),
        ("complaint", "no complaint"),
        "Decide whether the tweet complains about a company.",
    ),
)

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
}

TASKS: dict[str, TaskSpec] = {
    t.name: t for t in (*OFFLINE_TUNING, *OFFLINE_EVAL, *HF_TUNING, *HF_EVAL)
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
    return suite
