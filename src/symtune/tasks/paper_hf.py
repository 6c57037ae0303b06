"""The paper's own 22 tuning and 11 evaluation datasets on the Hugging Face hub (the `paper-hf`
suite; needs a network), as declarative task specs."""

from __future__ import annotations

from dataclasses import replace

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
    revision: str | None = None,
    data_dir: str | None = None,
) -> TaskSpec:
    """An HF task whose raw labels `raw` (default "0", "1", …) map to the names `labels`;
    the card's sizes of the splits it reads come from CARD_SPLITS."""
    raw = raw or tuple(str(i) for i in range(len(labels)))
    mapping = tuple(zip(raw, labels, strict=True))
    card = tuple(
        (split, CARD_SPLITS[name][i])
        for i, split in enumerate(s for s in (exemplar_split, query_split) if s is not None)
    )
    return TaskSpec(
        name=name,
        source=HFSource(dataset, config, label_field, mapping, revision, data_dir, card),
        input_fields=fields,
        instruction=instruction,
        labels=labels,
        exemplar_split=exemplar_split,
        query_split=query_split,
    )


PARQUET_EXPORT = "refs/convert/parquet"
"""The hub's parquet export of a repository: the data of a dataset whose main branch is a
loading script (which `datasets` 5 refuses to run), one folder per config."""
CARD_SPLITS: dict[str, tuple[int, ...]] = {
    # rows of the exemplar split, then of the query split, as each dataset's card publishes
    "rte": (2490, 277), "wnli": (635, 71), "qnli": (104743, 5463), "mnli": (392702, 9815),
    "snli": (550152, 10000), "cb": (250, 56), "sst2": (67349, 872), "rt": (8530, 1066),
    "tes": (45615, 2000), "qqp": (363846, 40430), "mrpc": (3668, 408), "paws": (49401, 8000),
    "copa": (400, 100), "piqa": (16113, 1838), "agn": (120000, 7600), "trec": (5452, 500),
    "wsc": (554, 104), "wino": (40398, 1267), "teo": (11916, 1324), "tei": (2862, 955),
    "wic": (5428, 638), "cola": (8551, 1043), "subj": (8000, 2000), "teh": (9000, 1000),
    "teab": (587, 280), "teat": (461, 220), "tefe": (597, 285), "tehi": (620, 295),
    "adec": (50,), "or": (50,), "sot": (50,), "tos": (50,), "tc": (50,),
}  # fmt: skip
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
    # ybisk/piqa is a loading script; lm-evaluation-harness reads this parquet copy
    _hf("piqa", "baber/piqa", None, ("goal", "sol1", "sol2"), ("solution 1", "solution 2")),
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
        revision=PARQUET_EXPORT,  # the main branch is trec.py
        data_dir="default",
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
    # ought/raft's main branch is raft.py: its parquet export, one folder per config. Its 50
    # labelled rows are split per class into the paper's k = 4 exemplars and the rest queries,
    # so that every class with more than 4 rows is queried (10 kept would leave small classes
    # without a query).
    raw = tuple(str(i + 1) for i in range(len(labels)))
    spec = _hf(
        name,
        "ought/raft",
        None,
        fields,
        labels,
        instruction,
        "Label",
        raw,
        query_split=None,
        revision=PARQUET_EXPORT,
        data_dir=config,
    )
    return replace(spec, min_exemplars_per_class=4)


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
        query_split="test",  # validation holds 52-69 rows, test 220-295
    ),
    _hf(
        "teat",
        "cardiffnlp/tweet_eval",
        "stance_atheism",
        ("text",),
        _STANCE,
        "Judge the tweet's stance on atheism.",
        query_split="test",  # validation holds 52-69 rows, test 220-295
    ),
    _hf(
        "tefe",
        "cardiffnlp/tweet_eval",
        "stance_feminist",
        ("text",),
        _STANCE,
        "Judge the tweet's stance on feminism.",
        query_split="test",  # validation holds 52-69 rows, test 220-295
    ),
    _hf(
        "tehi",
        "cardiffnlp/tweet_eval",
        "stance_hillary",
        ("text",),
        _STANCE,
        "Judge the tweet's stance on Hillary Clinton.",
        query_split="test",  # validation holds 52-69 rows, test 220-295
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
