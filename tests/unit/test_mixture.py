import json
from collections import Counter

import pytest

from conftest import make_task
from symtune.errors import SymtuneError
from symtune.mixture.build import Plan, build_mixture, iter_prompts
from symtune.mixture.config import MixtureConfig
from symtune.mixture.read import read_manifest, read_prompts, read_validation
from symtune.prompts.build import rebuild


@pytest.fixture
def tasks():
    return [make_task("big", per_class=40), make_task("small", ("x", "y", "z"), per_class=5)]


def config(**overrides) -> MixtureConfig:
    values = {"tasks": ("big", "small"), "n": 300, "seed": 3, "max_tokens": None, "shard_size": 100}
    values.update(overrides)
    return MixtureConfig(**values)


def test_sampling_is_proportional_to_capped_size(tasks):
    plan = Plan(config(n=3000), tasks)
    assert [len(c) for c in plan.capped] == [80, 15]
    counts = Counter(plan.sequence)
    assert abs(counts[0] / 3000 - 80 / 95) < 0.03
    capped = Plan(config(cap=15, n=3000), tasks)
    assert [len(c) for c in capped.capped] == [15, 15]
    assert abs(Counter(capped.sequence)[0] / 3000 - 0.5) < 0.04


def test_weights_override_and_queries_cycle_without_repeats(tasks):
    plan = Plan(config(n=200, weights=(("big", 0.0), ("small", 1.0))), tasks)
    assert set(plan.sequence) == {1}
    prompts = [
        p for _, p in iter_prompts(config(n=45, weights=(("big", 0.0), ("small", 1.0))), tasks)
    ]
    queries = [p.meta.query_id for p in prompts]
    for epoch in range(3):  # every example once per epoch
        assert len(set(queries[15 * epoch : 15 * (epoch + 1)])) == 15


def test_build_is_byte_reproducible_and_resumes(tmp_path, tasks):
    first = build_mixture(config(), tasks, tmp_path / "a")
    build_mixture(config(), tasks, tmp_path / "b")
    files = sorted(p.name for p in (tmp_path / "a").iterdir() if not p.name.startswith("."))
    assert files == [
        "config.json",
        "manifest.json",
        "prompts-00000.jsonl",
        "prompts-00000.jsonl.stats.json",
        "prompts-00001.jsonl",
        "prompts-00001.jsonl.stats.json",
        "prompts-00002.jsonl",
        "prompts-00002.jsonl.stats.json",
    ]
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first["stats"]["prompts"] == 300
    assert (tmp_path / "a" / ".symtune.json").exists()  # the folder says it is a mixture
    # a killed build: one shard missing, one half-written temp file left behind, one shard
    # truncated (its recorded sha256 no longer matches), and a file that is not ours
    (tmp_path / "b" / "prompts-00001.jsonl").unlink()
    (tmp_path / "b" / "prompts-00002.jsonl.4242-0badcafe.tmp").write_text("partial")
    shard = tmp_path / "b" / "prompts-00000.jsonl"
    shard.write_bytes(shard.read_bytes()[:-300])
    (tmp_path / "b" / "notes.tmp").write_text("mine")
    assert build_mixture(config(), tasks, tmp_path / "b") == first
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not list((tmp_path / "b").glob("prompts-*.tmp"))
    assert (tmp_path / "b" / "notes.tmp").read_text() == "mine"


def test_shards_hold_rebuildable_prompts_and_manifest_counts(tmp_path, tasks):
    manifest = build_mixture(
        config(relevant_ratio=0.5), tasks, tmp_path, provenance={"artifacts": {}}
    )
    by_name = {t.name: t for t in tasks}
    records = list(read_prompts(tmp_path))
    assert [i for i, _ in records] == list(range(300))
    for _, prompt in records[:50]:
        assert rebuild(prompt.meta, by_name[prompt.meta.task]) == prompt
    settings = Counter(p.meta.setting for _, p in records)
    assert manifest["stats"]["by_setting"] == dict(sorted(settings.items()))
    assert 100 < settings["relevant_tuning"] < 200
    relevant = next(p for _, p in records if p.meta.setting == "relevant_tuning")
    assert relevant.meta.mapping == by_name[relevant.meta.task].labels
    assert relevant.text.startswith("Judge the review.\n\n")
    by_task = Counter(p.meta.task for _, p in records)
    assert manifest["stats"]["by_task"] == dict(sorted(by_task.items()))
    assert manifest["tasks"]["small"]["labels"] == ["x", "y", "z"]
    shard = manifest["shards"][0]
    assert shard["file"] == "prompts-00000.jsonl" and shard["range"] == [0, 100]
    assert read_manifest(tmp_path)["config"]["relevant_ratio"] == 0.5


def test_length_policy_in_the_mixture(tmp_path, tasks):
    def words(text):
        return len(text.split())

    manifest = build_mixture(config(max_tokens=40), tasks, tmp_path, count_tokens=words)
    for _, prompt in read_prompts(tmp_path):
        assert words(prompt.text + prompt.target) + 1 <= 40
    stats = manifest["stats"]
    assert stats["with_dropped_exemplars"] > 0 and stats["dropped_exemplars"] > 0
    assert stats["prompts"] + sum(stats["skipped_too_long"].values()) == 300


def test_another_config_in_the_same_directory_is_refused(tmp_path, tasks):
    build_mixture(config(), tasks, tmp_path)
    with pytest.raises(SymtuneError, match="holds a mixture built with another config"):
        build_mixture(config(seed=4), tasks, tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n": 0}, "mixture config: n=0; expected 1 to 1,000,000 prompts"),
        ({"min_per_class": 1}, "min_per_class/max_per_class=1/10; expected 2 <= min <= max"),
        ({"relevant_ratio": 1.5}, "relevant_ratio=1.5; expected a share between 0 and 1"),
        ({"weights": (("nope", 1.0),)}, "weights name task 'nope' not in the mixture"),
        ({"weights": (("big", -1.0),)}, "weight of 'big' is -1.0; expected >= 0"),
        ({"max_tokens": 8}, "max_tokens=8; expected at least 16 tokens"),
        ({"max_classes": 1}, "max_classes=1; expected 0 (all classes) or at least 2"),
    ],
)
def test_bad_config_fields(overrides, message, tasks):
    with pytest.raises(SymtuneError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config(**overrides).validate()


def test_a_class_too_small_for_tuning(tmp_path):
    thin = make_task("thin", per_class=1)
    with pytest.raises(SymtuneError, match="task thin: label 'good' has 1 training examples"):
        build_mixture(config(tasks=("thin",)), [thin], tmp_path)


def test_read_manifest_error(tmp_path):
    with pytest.raises(SymtuneError, match="no manifest.json; build it with `symtune data build`"):
        read_manifest(tmp_path)


def test_jsonl_lines_are_self_contained(tmp_path, tasks):
    build_mixture(config(n=5), tasks, tmp_path)
    line = json.loads((tmp_path / "prompts-00000.jsonl").read_text().splitlines()[0])
    assert set(line) == {"i", "text", "target", "candidates", "label_spans", "label_seen", "meta"}
    assert set(line["meta"]) == {
        "task",
        "setting",
        "format_id",
        "mapping",
        "exemplar_ids",
        "query_id",
        "seed_key",
        "instruction",
        "dropped_exemplars",
    }


def test_class_subsets_in_the_mixture_and_its_validation_prompts(tmp_path):
    many = make_task("many", tuple(f"c{i}" for i in range(10)), per_class=12)
    two = make_task("two", per_class=12)
    cfg = MixtureConfig(
        tasks=("many", "two"), n=120, seed=1, max_tokens=None, max_classes=6, val_prompts=20
    )
    manifest = build_mixture(cfg, [many, two], tmp_path)
    assert manifest["config"]["max_classes"] == 6
    prompts = [p for _, p in read_prompts(tmp_path)]
    sizes = Counter(len(p.candidates) for p in prompts if p.meta.task == "many")
    assert set(sizes) == set(range(2, 7))  # 2..6 of the 10 classes
    assert all(len(p.candidates) == 2 for p in prompts if p.meta.task == "two")
    by_classes = manifest["stats"]["by_classes"]
    assert sum(by_classes.values()) == len(prompts) and by_classes["2"] > sizes[2]
    validation = read_validation(tmp_path, manifest)
    assert {len(p.candidates) for p in validation if p.meta.task == "many"} - {
        2,
        3,
        4,
        5,
        6,
    } == set()
    assert any(len(p.candidates) < 10 for p in validation if p.meta.task == "many")
    assert "max_classes" not in config().to_dict()  # off: the manifest of older mixtures
