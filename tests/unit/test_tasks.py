import json
from collections import Counter

import pytest

from symtune.errors import SymtuneError
from symtune.tasks import (
    SUITES,
    BigBenchSource,
    Example,
    HFSource,
    LocalSource,
    TaskSpec,
    get_suite,
    get_task,
    load_task,
    seeded_split,
)
from symtune.tasks.config import load_suite_file


def _examples(counts: dict[int, int]) -> list[Example]:
    return [Example(f"{c}-{i}", (f"x{c}{i}",), c) for c, n in counts.items() for i in range(n)]


def test_seeded_split_is_stratified_disjoint_and_deterministic():
    examples = _examples({0: 50, 1: 49})
    train, val = seeded_split(examples, 2, "irony")
    assert (train, val) == seeded_split(examples, 2, "irony")
    assert {e.id for e in train}.isdisjoint({e.id for e in val})
    assert len(train) + len(val) == 99
    assert Counter(e.label for e in train) == {0: 10, 1: 10}
    assert Counter(e.label for e in val) == {0: 40, 1: 39}
    assert seeded_split(examples, 2, "other")[1] != val


def test_seeded_split_caps_validation_and_respects_share():
    examples = _examples({0: 5000, 1: 5000})
    _, val = seeded_split(examples, 2, "big")
    assert Counter(e.label for e in val) == {0: 100, 1: 100}
    small = _examples({0: 100, 1: 90, 2: 6})
    train, val = seeded_split(small, 3, "tune", validation_share=0.2)
    assert Counter(e.label for e in val) == {0: 20, 1: 18}
    assert Counter(e.label for e in train) == {0: 80, 1: 72, 2: 6}


def _write_bigbench(root, path, examples):
    (root / path).mkdir(parents=True)
    (root / path / "task.json").write_text(json.dumps({"examples": examples}))


def test_bigbench_loader_labels_ties_and_errors(tmp_path):
    examples = [
        {"input": f"s{i}", "target_scores": {"yes": int(i % 2 == 0), "no": int(i % 2)}}
        for i in range(30)
    ]
    examples.append({"input": "tie", "target_scores": {"yes": 1, "no": 1}})
    _write_bigbench(tmp_path, "toy", examples)
    spec = TaskSpec("toy", BigBenchSource("toy"), query_split=None)
    task = load_task(spec, tmp_path)
    assert task.labels == ("yes", "no") and task.notes == {"tied_target_scores": 1}
    assert len(task.splits["train"]) + len(task.splits["validation"]) == 30
    everything = (*task.splits["train"], *task.splits["validation"])
    assert {e.inputs for e in everything} == {(f"s{i}",) for i in range(30)}
    assert all(e.label == int(e.inputs[0][1:]) % 2 for e in everything)

    _write_bigbench(tmp_path, "bad", [{"input": "a", "target": "b"}])
    with pytest.raises(SymtuneError, match="task bad: example 0 has no 'target_scores'"):
        load_task(TaskSpec("bad", BigBenchSource("bad"), query_split=None), tmp_path)
    _write_bigbench(tmp_path, "nofield", [{"text": "a", "target_scores": {"x": 1, "y": 0}}])
    with pytest.raises(SymtuneError, match=r"task nofield: example 0 has no field 'input'; it has"):
        load_task(TaskSpec("nofield", BigBenchSource("nofield"), query_split=None), tmp_path)
    with pytest.raises(SymtuneError, match="task gone: .*task.json not found"):
        load_task(TaskSpec("gone", BigBenchSource("gone"), query_split=None), tmp_path)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_local_jsonl_and_csv(tmp_path):
    rows = [
        {"title": f"t{i}", "body": f"b{i}", "stars": "pos" if i % 2 else "neg"} for i in range(40)
    ]
    _write_jsonl(tmp_path / "r_train.jsonl", rows)
    _write_jsonl(tmp_path / "r_validation.jsonl", rows[:6])
    spec = TaskSpec(
        "reviews",
        LocalSource(str(tmp_path / "r_{split}.jsonl"), "stars"),
        input_fields=("title", "body"),
    )
    task = load_task(spec)
    assert task.labels == ("neg", "pos")
    assert len(task.splits["train"]) == 40 and len(task.splits["validation"]) == 6
    assert task.splits["train"][1].text == "t1\nb1" and task.splits["train"][1].label == 1

    (tmp_path / "one.csv").write_text(
        "text,label\n" + "".join(f"row {i},{'a' if i % 2 else 'b'}\n" for i in range(60))
    )
    csv_task = load_task(TaskSpec("csv", LocalSource(str(tmp_path / "one.csv")), ("text",)))
    assert len(csv_task.splits["train"]) + len(csv_task.splits["validation"]) == 60
    assert len(csv_task.splits["validation"]) > 0  # a seeded split was made


def test_local_bad_inputs(tmp_path):
    _write_jsonl(tmp_path / "e.jsonl", [{"input": "x", "label": ""}])
    with pytest.raises(SymtuneError, match="task e: example 1 field 'label' is empty"):
        load_task(TaskSpec("e", LocalSource(str(tmp_path / "e.jsonl"))))
    _write_jsonl(tmp_path / "m.jsonl", [{"text": "x", "label": "a"}])
    with pytest.raises(SymtuneError, match="task m: example 1 has no field 'input'"):
        load_task(TaskSpec("m", LocalSource(str(tmp_path / "m.jsonl"))))
    with pytest.raises(SymtuneError, match="task n: file .*nope.jsonl not found"):
        load_task(TaskSpec("n", LocalSource(str(tmp_path / "nope.jsonl"))))
    (tmp_path / "bad.jsonl").write_text('{"input": "x", "label": "a"}\nnot json\n')
    with pytest.raises(SymtuneError, match=r"bad.jsonl:2: not valid JSON"):
        load_task(TaskSpec("b", LocalSource(str(tmp_path / "bad.jsonl"))))
    _write_jsonl(tmp_path / "one.jsonl", [{"input": "x", "label": "a"}] * 3)
    with pytest.raises(SymtuneError, match=r"task o: found labels \['a'\]; expected at least 2"):
        load_task(TaskSpec("o", LocalSource(str(tmp_path / "one.jsonl"))))


def test_hf_loader_on_a_local_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "premise": datasets.Value("string"),
            "hypothesis": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["entailment", "neutral", "contradiction"]),
        }
    )
    for split, n in (("train", 30), ("validation", 9)):
        rows = {
            "premise": [f"p{i}" for i in range(n)],
            "hypothesis": [f"h{i}" for i in range(n)],
            "label": [i % 3 for i in range(n)],
        }
        datasets.Dataset.from_dict(rows, features=features).to_parquet(
            str(tmp_path / f"{split}.parquet")
        )
    spec = TaskSpec("nli", HFSource(str(tmp_path)), ("premise", "hypothesis"))
    task = load_task(spec)
    assert task.labels == ("entailment", "neutral", "contradiction")
    assert len(task.splits["train"]) == 30 and len(task.splits["validation"]) == 9
    assert task.splits["validation"][4] == Example("4", ("p4", "h4"), 1)

    # raw labels outside the map (SNLI's -1, RAFT's "Unlabeled") are dropped and counted
    mapped = TaskSpec(
        "nli2",
        HFSource(str(tmp_path), label_map=(("0", "yes"), ("1", "no"))),
        ("premise", "hypothesis"),
        labels=("yes", "no"),
    )
    task = load_task(mapped)
    assert task.labels == ("yes", "no") and task.notes == {"label_not_in_map": 13}
    missing = TaskSpec("nli3", HFSource(str(tmp_path)), ("premise",), query_split="test")
    with pytest.raises(SymtuneError, match="task nli3: dataset .* has no split 'test'"):
        load_task(missing)
    with pytest.raises(SymtuneError, match="task gone: dataset .* cannot be loaded"):
        load_task(TaskSpec("gone", HFSource(str(tmp_path / "missing_dir_xyz"))))


def test_registry_offline_suite_matches_the_documented_suite():
    suite = get_suite("offline")
    assert len(suite.tuning) == 22 and len(suite.evaluation) == 11
    assert not set(suite.tuning) & set(suite.evaluation)
    assert suite.tuning[0] == "multiemo/all_sentence_en" and suite.tuning[-1] == "suicide_risk"
    assert suite.binary == (
        "irony_identification",
        "dark_humor_detection",
        "fact_checker/politifact",
        "implicatures",
        "metaphor_boolean",
        "sports_understanding",
        "epistemic_reasoning",
        "movie_dialog_same_or_different",
    )
    assert all(get_task(n).instruction for n in suite.evaluation)
    paper = SUITES["paper-hf"]
    assert len(paper.tuning) == 22 and len(paper.evaluation) == 11
    assert get_task("mnli").query_split == "validation_matched"


def test_unknown_names_suggest_the_closest():
    with pytest.raises(SymtuneError, match="unknown task 'hyperbatton'; did you mean 'hyperbaton'"):
        get_task("hyperbatton")
    with pytest.raises(SymtuneError, match="unknown suite 'ofline'; did you mean 'offline'"):
        get_suite("ofline")


def test_suite_yaml(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "tuning:\n  - hyperbaton\n  - name: mine\n    local: data/{split}.jsonl\n"
        "    input_fields: [a, b]\n    label_field: y\nevaluation:\n  - irony_identification\n"
    )
    suite, specs = load_suite_file(tmp_path / "s.yaml")
    assert suite.tuning == ("hyperbaton", "mine") and suite.evaluation == ("irony_identification",)
    assert specs["mine"].source == LocalSource("data/{split}.jsonl", "y")
    assert specs["mine"].input_fields == ("a", "b") and specs["mine"].query_split == "validation"
    (tmp_path / "bad.yaml").write_text("tuning:\n  - name: x\n    locale: f.jsonl\n")
    with pytest.raises(SymtuneError, match=r"bad.yaml: tuning\[0\]: unknown field 'locale'"):
        load_suite_file(tmp_path / "bad.yaml")
    (tmp_path / "overlap.yaml").write_text("tuning: [hyperbaton]\nevaluation: [hyperbaton]\n")
    with pytest.raises(SymtuneError, match="never tune on an evaluation task"):
        load_suite_file(tmp_path / "overlap.yaml")
