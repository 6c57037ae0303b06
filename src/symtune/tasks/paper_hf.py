"""The paper's own 22 tuning and 11 evaluation datasets on the Hugging Face hub (the `paper-hf`
suite; needs a network), as declarative task specs."""

from __future__ import annotations

from symtune.tasks.spec import HFSource, TaskSpec


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
