"""Small local replicas of the paper's hub datasets, in the layout and with the features the
hub serves (parquet; ClassLabel names as the card gives them; the card's split and field
names; a -1 or "Unlabeled" row where the dataset has them): `replica(spec, folder)` writes one
and returns the spec pointed at it (tests/unit/test_paper_hf.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from symtune.tasks.paper_hf import HF_EVAL, HF_TUNING
from symtune.tasks.spec import HFSource, TaskSpec

SPECS = {s.name: s for s in (*HF_TUNING, *HF_EVAL)}
STANCE = ["none", "against", "favor"]
HUB_LABELS: dict[str, list[str] | str] = {
    # the label feature as the hub serves it: ClassLabel names (card order), or a plain type
    "rte": ["entailment", "not_entailment"], "wnli": ["not_entailment", "entailment"],
    "qnli": ["entailment", "not_entailment"], "mnli": ["entailment", "neutral", "contradiction"],
    "snli": ["entailment", "neutral", "contradiction"],
    "cb": ["entailment", "contradiction", "neutral"], "sst2": ["negative", "positive"],
    "rt": ["neg", "pos"], "tes": ["negative", "neutral", "positive"],
    "qqp": ["not_duplicate", "duplicate"], "mrpc": ["not_equivalent", "equivalent"],
    "paws": ["0", "1"], "copa": ["choice1", "choice2"], "piqa": ["0", "1"],
    "agn": ["World", "Sports", "Business", "Sci/Tech"],
    "trec": ["ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"], "wsc": ["False", "True"],
    "wino": "string", "teo": ["non-offensive", "offensive"], "tei": ["non_irony", "irony"],
    "wic": ["False", "True"], "cola": ["unacceptable", "acceptable"], "subj": "int",
    "teh": ["non-hate", "hate"], "teab": STANCE, "teat": STANCE, "tefe": STANCE, "tehi": STANCE,
    "adec": ["Unlabeled", "ADE-related", "not ADE-related"],
    "or": ["Unlabeled", "not overruling", "overruling"],
    "sot": ["Unlabeled", "company", "research institute", "university"],
    "tos": ["Unlabeled", "not potentially unfair", "potentially unfair"],
    "tc": ["Unlabeled", "complaint", "no complaint"],
}  # fmt: skip
UNLABELED = {"snli": -1, "adec": 0, "or": 0, "sot": 0, "tos": 0, "tc": 0}
"""Rows the hub serves with no label (-1, or RAFT's "Unlabeled" class 0): dropped."""


def features_of(spec: TaskSpec):
    import datasets

    source = spec.source
    assert isinstance(source, HFSource)
    kind = HUB_LABELS[spec.name]
    if kind == "string":
        label = datasets.Value("string")
    elif kind == "int":
        label = datasets.Value("int64")
    else:
        label = datasets.ClassLabel(names=list(kind))
    columns = {f: datasets.Value("string") for f in spec.input_fields}
    return datasets.Features({**columns, source.label_field: label})


def rows_of(spec: TaskSpec, split: str, per_class: int) -> dict[str, list]:
    """`per_class` rows per declared label (raw values as the hub stores them), then one
    unlabelled row where the dataset has them; texts say which row they are."""
    source = spec.source
    assert isinstance(source, HFSource)
    raws = [raw for raw, _ in source.label_map]
    stored: list = []
    for i in range(per_class):
        stored += raws if i % 2 == 0 else list(reversed(raws))
    if HUB_LABELS[spec.name] != "string":
        stored = [int(r) for r in stored]
    if spec.name in UNLABELED:
        stored.append(UNLABELED[spec.name])
    columns = {f: [f"{split} {f} {n}" for n in range(len(stored))] for f in spec.input_fields}
    return {**columns, source.label_field: stored}


def replica(spec: TaskSpec, root: Path, per_class: int = 12) -> TaskSpec:
    """Write the dataset as the hub serves it under `root`; the spec, pointed at it."""
    import datasets

    source = spec.source
    assert isinstance(source, HFSource)
    splits = [s for s in (spec.exemplar_split, spec.query_split) if s is not None]
    features = features_of(spec)
    if source.data_dir is not None:  # the parquet export: <config>/<split>/0000.parquet
        for split in splits:
            folder = root / source.data_dir / split
            folder.mkdir(parents=True, exist_ok=True)
            table = datasets.Dataset.from_dict(rows_of(spec, split, per_class), features=features)
            table.to_parquet(str(folder / "0000.parquet"))
    else:  # a parquet repository: <config>/<split>-00000-of-00001.parquet and its card
        config = source.config or "default"
        (root / config).mkdir(parents=True, exist_ok=True)
        files = []
        for split in splits:
            table = datasets.Dataset.from_dict(rows_of(spec, split, per_class), features=features)
            name = f"{config}/{split}-00000-of-00001.parquet"
            table.to_parquet(str(root / name))
            files.append(f"  - split: {split}\n    path: {name}")
        card = f"---\nconfigs:\n- config_name: {config}\n  data_files:\n" + "\n".join(files)
        (root / "README.md").write_text(card + "\n---\n")
    local = dataclasses.replace(source, dataset=str(root), revision=None, card_splits=())
    return dataclasses.replace(spec, source=local)


def sources_table() -> str:
    """docs/paper-datasets.md's table: each task's hub source as symtune reads it."""
    head = ["task", "side", "dataset", "config / data_dir", "revision", "splits read (card rows)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tuning = {s.name for s in HF_TUNING}
    for name, spec in SPECS.items():
        source = spec.source
        assert isinstance(source, HFSource)
        where = source.config or (f"data_dir `{source.data_dir}`" if source.data_dir else "—")
        splits = ", ".join(f"{split} ({rows:,})" for split, rows in source.card_splits)
        if spec.query_split is None:
            splits += f"; queries: a seeded split keeping {spec.min_exemplars_per_class}/class"
        side = "tuning" if name in tuning else "evaluation"
        cells = [name, side, f"`{source.dataset}`", where, source.revision or "main", splits]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":  # print the table for docs/paper-datasets.md
    print(sources_table())
