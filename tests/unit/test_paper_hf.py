"""The paper's 33 hub datasets (the `paper-hf` suite) without a network: each is replaced by a
small local replica (`tests/replicas.py`) and loaded through the same code path as a hub id
(`load_hf`: a local dataset folder instead of the id), asserting the label mapping symtune
declares. Then the lock, script-only sources and a suite whose datasets cannot be had."""

from __future__ import annotations

import dataclasses
import json

import pytest

from replicas import HUB_LABELS, SPECS, STANCE, UNLABELED, features_of, replica, rows_of
from symtune.errors import SymtuneError
from symtune.tasks.paper_hf import CARD_SPLITS, PARQUET_EXPORT
from symtune.tasks.spec import HFSource


def test_the_replicas_cover_every_declared_dataset():
    assert set(HUB_LABELS) == set(SPECS) == set(CARD_SPLITS) and len(SPECS) == 33


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
    for n in ("piqa", "trec", "cb"):
        (tmp_path / f"empty-{n}").mkdir()  # local folders with no data in them
    gone = [
        dataclasses.replace(SPECS[n], source=HFSource(str(tmp_path / f"empty-{n}")))
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


def test_every_raft_class_with_more_than_four_rows_gets_queries(tmp_path):
    """RAFT has 50 labelled rows: the paper's k = 4 exemplars per class stay, the rest are
    queries (with 10 kept, a class of 6 rows would get none)."""
    from symtune.tasks.sources import load_task

    spec = replica(SPECS["sot"], tmp_path / "sot", per_class=6)
    task = load_task(spec)
    assert [len(g) for g in task.by_class("train")] == [4, 4, 4]
    assert [len(g) for g in task.by_class("validation")] == [2, 2, 2]
    assert SPECS["sot"].min_exemplars_per_class == 4


def test_the_paper_datasets_guide_lists_these_sources():
    from pathlib import Path

    from replicas import sources_table

    guide = Path(__file__).resolve().parents[2] / "docs" / "paper-datasets.md"
    assert sources_table() in guide.read_text(), "regenerate: python tests/replicas.py"


def test_a_config_or_split_that_does_not_exist_is_one_line(tmp_path):
    from symtune.tasks.sources import load_task

    spec = replica(SPECS["teab"], tmp_path / "teab")
    wrong = dataclasses.replace(spec.source, config="stance_nope")
    with pytest.raises(SymtuneError, match=r"task teab: dataset .* config 'stance_nope' cannot"):
        load_task(dataclasses.replace(spec, source=wrong))
    with pytest.raises(SymtuneError, match=r"has no split 'validation'; it has \['test', 'train'"):
        load_task(dataclasses.replace(spec, query_split="validation"))


def test_runs_record_the_locked_commit_and_rows_of_each_dataset(tmp_path, monkeypatch):
    """What a mixture manifest and an evaluation's results record of hub datasets."""
    from symtune.tasks.sources import load_task
    from symtune.tasks.suites import artifacts_for

    spec = replica(SPECS["rte"], tmp_path / "rte")
    key = f"hf:{spec.source.dataset}|rte|"
    assert artifacts_for([spec])[key]["sha256"] == "unlocked"
    monkeypatch.setenv("SYMTUNE_LOCK", str(tmp_path / "symtune.lock.json"))
    load_task(spec)
    record = artifacts_for([spec])[key]
    locked = json.loads((tmp_path / "symtune.lock.json").read_text())["datasets"]
    assert record["requirement"].endswith("@" + locked[key[3:]]["revision"])
    assert len(record["sha256"]) == 64
