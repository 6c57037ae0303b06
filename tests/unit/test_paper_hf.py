"""The paper's 33 hub datasets (the `paper-hf` suite) without a network: each is replaced by a
small local replica in the layout and with the features the hub serves (parquet; ClassLabel
names as its card gives them; the card's split and field names; a -1 or "Unlabeled" row where
the dataset has them) and loaded through the same code path as a hub id (`load_hf`: a local
dataset folder instead of the id), asserting the label mapping symtune declares. Then the lock,
script-only sources and a suite whose datasets cannot be had."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from symtune.errors import SymtuneError
from symtune.tasks.paper_hf import CARD_SPLITS, HF_EVAL, HF_TUNING, PARQUET_EXPORT
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


def test_the_replicas_cover_every_declared_dataset():
    assert set(HUB_LABELS) == set(SPECS) == set(CARD_SPLITS) and len(SPECS) == 33


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


@pytest.mark.parametrize("name", list(SPECS))
def test_each_dataset_loads_from_its_replica_with_the_declared_labels(name, tmp_path):
    from symtune.tasks.sources import load_task

    spec = SPECS[name]
    task = load_task(replica(spec, tmp_path / name))
    assert task.labels == spec.labels
    source = spec.source
    assert isinstance(source, HFSource)
    raws = [raw for raw, _ in source.label_map]
    # row 0 holds the first raw label, row 1 the second: they map to the declared names
    examples = {e.id: e for split in task.splits.values() for e in split}
    assert examples["0"].label == spec.labels.index(dict(source.label_map)[raws[0]])
    assert examples["1"].label == spec.labels.index(dict(source.label_map)[raws[1]])
    per_class = 12 * (1 if spec.query_split is None else 2)
    assert all(len(g) == per_class for g in _classes(task)), name
    assert task.notes == (
        {"label_not_in_map": 2 if spec.query_split else 1} if name in UNLABELED else {}
    )


def _classes(task):
    counts = [0] * len(task.labels)
    for split in task.splits.values():
        for example in split:
            counts[example.label] += 1
    return [range(c) for c in counts]


def test_no_declared_source_needs_a_loading_script():
    """Script datasets are read from the hub's parquet export (revision + data_dir) or from a
    parquet copy; none is the script repository's main branch."""
    scripts = {"ybisk/piqa", "ought/raft", "CogComp/trec"}
    for spec in SPECS.values():
        source = spec.source
        assert isinstance(source, HFSource)
        if source.dataset in scripts:
            assert source.revision == PARQUET_EXPORT and source.data_dir, spec.name


def test_a_loading_script_is_refused_in_one_line(tmp_path):
    from symtune.tasks.sources import load_task

    folder = tmp_path / "piqa"
    folder.mkdir()
    (folder / "piqa.py").write_text("raise SystemExit('never run')\n")
    spec = dataclasses.replace(SPECS["piqa"], source=HFSource(str(folder)))
    with pytest.raises(SymtuneError, match=r"is a loading script \(piqa.py\), which symtune never"):
        load_task(spec)


def test_every_dataset_that_cannot_be_had_is_reported_together(tmp_path):
    from symtune.tasks.suites import load_tasks

    good = replica(SPECS["rte"], tmp_path / "rte")
    gone = [
        dataclasses.replace(SPECS[n], source=HFSource(str(tmp_path / f"no-{n}")))
        for n in ("piqa", "trec", "cb")
    ]
    with pytest.raises(SymtuneError) as caught:
        load_tasks([gone[0], good, gone[1], gone[2]])
    message = str(caught.value)
    assert message.startswith("3 of 4 tasks cannot be loaded:")
    for name in ("piqa", "trec", "cb"):
        assert f"task {name}: dataset" in message


def test_the_lock_records_what_was_read_and_refuses_a_changed_dataset(tmp_path, monkeypatch):
    import datasets

    from symtune.tasks.sources import load_task

    lock = tmp_path / "symtune.lock.json"
    monkeypatch.setenv("SYMTUNE_LOCK", str(lock))
    spec = replica(SPECS["teab"], tmp_path / "teab")
    first = load_task(spec)
    record = json.loads(lock.read_text())["datasets"][f"{spec.source.dataset}|stance_abortion|"]
    assert record["splits"] == {"train": 36, "test": 36} and record["labels"] == STANCE
    assert set(record["rows_sha256"]) == {"train", "test"}
    assert load_task(spec).splits == first.splits  # the same rows again: accepted
    # a re-upload with one more test row is refused, naming the dataset and the change
    rows = rows_of(SPECS["teab"], "test", 12)
    rows = {k: [*v, v[0]] for k, v in rows.items()}
    path = tmp_path / "teab" / "stance_abortion" / "test-00000-of-00001.parquet"
    datasets.Dataset.from_dict(rows, features=features_of(SPECS["teab"])).to_parquet(str(path))
    with pytest.raises(SymtuneError, match=r"task teab: dataset .* differs from its lock .*"
                       r"split 'test': 1 rows added"):  # fmt: skip
        load_task(spec)


def test_a_malformed_lock_is_one_line(tmp_path, monkeypatch):
    from symtune.tasks.sources import load_task

    lock = tmp_path / "symtune.lock.json"
    lock.write_text(json.dumps({"version": 1, "datasets": {"x": {"revision": 3}}}))
    monkeypatch.setenv("SYMTUNE_LOCK", str(lock))
    with pytest.raises(SymtuneError, match=r"lock .*: dataset 'x': field 'revision'"):
        load_task(replica(SPECS["rte"], tmp_path / "rte"))


def test_without_a_lock_the_card_sizes_are_checked(tmp_path):
    from symtune.tasks.sources import load_task

    spec = replica(SPECS["rte"], tmp_path / "rte")
    wrong = dataclasses.replace(spec.source, card_splits=(("train", 2490),))
    with pytest.raises(SymtuneError, match=r"split 'train' has 24 rows; its card says 2,490"):
        load_task(dataclasses.replace(spec, source=wrong))
