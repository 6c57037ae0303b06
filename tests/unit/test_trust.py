"""Issue 12, in process: no stale results, owned and locked output folders, checked files,
typed configs, and fuzzed malformed input that always ends in one line and no writes."""

import json
import random
import shutil
from pathlib import Path

import pytest
import torch

from conftest import (
    build_tiny_mixture,
    byte_tokenizer,
    make_task,
    small_eval_config,
    tiny_llama,
    tiny_tune_config,
)
from symtune.errors import SymtuneError
from symtune.evaluate.api import evaluate
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.runner import ResultCache
from symtune.io import atomic_write, parse_jsonl, read_jsonl, repair_jsonl
from symtune.mixture.build import build_mixture
from symtune.mixture.config import MixtureConfig
from symtune.mixture.read import read_prompts
from symtune.models import check_model
from symtune.outdir import claim
from symtune.pipeline import load_run_config
from symtune.tasks.config import load_suite_file
from symtune.tune.config import TuneConfig
from symtune.tune.loop import tune


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    return build_tiny_mixture(tmp_path_factory.mktemp("mixture") / "mix", n=40)


def tune_config(out, mixture, model, **overrides) -> TuneConfig:
    return tiny_tune_config(out, mixture, model, **overrides)


def small_eval(tmp_path, tokenizer) -> EvalConfig:
    return small_eval_config(tmp_path, tokenizer, validation=4)


def save_model(path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    model = tiny_llama(vocab_size=260, tie_word_embeddings=True)
    if seed:
        with torch.no_grad():
            for param in model.parameters():
                param.add_(0.01 * seed)
    model.save_pretrained(str(path))
    byte_tokenizer().save_pretrained(str(path))


# 1. cached predictions are keyed by the weights' sha256, not the model's name


def test_new_weights_under_the_same_name_are_never_scored_from_the_old_cache(tmp_path):
    model = tmp_path / "tuned-run"
    save_model(model, seed=0)
    config = small_eval(tmp_path, model)
    first = evaluate(config, {"base": str(model)}, tmp_path / "out")
    save_model(model, seed=3)  # the same path now holds other weights
    with pytest.raises(SymtuneError, match="label 'base' was evaluated with weights"):
        evaluate(config, {"base": str(model)}, tmp_path / "out")
    fresh = evaluate(config, {"base": str(model)}, tmp_path / "fresh")
    assert fresh["models"]["base"]["weights_sha256"] != first["models"]["base"]["weights_sha256"]


# 3. one writer per output folder; symtune writes only into folders of its own


def test_a_locked_folder_refuses_a_second_writer_naming_the_holder(tmp_path, tiny_model_dir):
    out = tmp_path / "out"
    config = small_eval(tmp_path, tiny_model_dir)
    with claim(out, "eval"), pytest.raises(SymtuneError, match=r"in use by PID \d+"):
        evaluate(config, {"base": str(tiny_model_dir)}, out)
    evaluate(config, {"base": str(tiny_model_dir)}, out)  # released: it runs


def test_a_folder_that_is_not_symtunes_or_of_another_kind_is_refused(tmp_path, mixture):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.tmp").write_text("not ours")
    tasks = [make_task("big", per_class=30), make_task("three", ("x", "y", "z"), per_class=12)]
    config = MixtureConfig(tasks=("big", "three"), n=10, max_tokens=None)
    with pytest.raises(SymtuneError, match="not empty and was not made by symtune"):
        build_mixture(config, tasks, foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.tmp"]
    with (
        pytest.raises(SymtuneError, match="is a symtune mixture folder, not one for eval"),
        claim(mixture, "eval"),
    ):
        pass


def test_two_tune_runs_into_one_folder_one_is_refused(tmp_path, mixture, tiny_model_dir):
    out = tmp_path / "run"
    with claim(out, "tune"), pytest.raises(SymtuneError, match="in use by PID"):
        tune(tune_config(out, mixture, tiny_model_dir))
    assert not (out / "metrics.jsonl").exists()


# 4. a typo is refused before anything is written, so the corrected command runs


def test_typos_are_refused_before_the_first_write(tmp_path, mixture, tiny_model_dir):
    out = tmp_path / "typo"
    config = small_eval(tmp_path, tiny_model_dir)
    with pytest.raises(SymtuneError, match="dtype='fp16'"):
        evaluate(EvalConfig(**{**config.to_dict(), "dtype": "fp16"}), {"base": "x"}, out)
    with pytest.raises(SymtuneError, match="model path .*nowhere not found"):
        evaluate(config, {"base": str(tiny_model_dir), "tuned": str(tmp_path / "nowhere")}, out)
    with pytest.raises(SymtuneError, match="symbol kind 'wrod'"):
        build_mixture(
            MixtureConfig(tasks=("big",), symbol_kinds=("wrod",)), [make_task("big")], out
        )
    with pytest.raises(SymtuneError, match="dtype=fp16"):
        tune(tune_config(out, mixture, tiny_model_dir, dtype="fp16"))
    assert not out.exists()
    evaluate(config, {"base": str(tiny_model_dir)}, out)  # the corrected command


# 5. recorded hashes are checked; torn appends are recovered


def test_a_damaged_shard_is_refused_by_tune_naming_the_file(tmp_path, mixture, tiny_model_dir):
    damaged = tmp_path / "mix"
    shutil.copytree(mixture, damaged)
    shard = damaged / "prompts-00001.jsonl"
    shard.write_bytes(shard.read_bytes()[:-50])
    with pytest.raises(SymtuneError, match="prompts-00001.jsonl does not match its recorded"):
        tune(tune_config(tmp_path / "run", damaged, tiny_model_dir))
    shard.write_text('["a list"]\n' + shard.read_text().split("\n", 1)[1])
    with pytest.raises(SymtuneError, match=r"prompts-00001.jsonl:1: not a mixture prompt"):
        list(read_prompts(damaged))


def test_resume_recovers_a_torn_metrics_line_and_checks_checkpoints(
    tmp_path, mixture, tiny_model_dir
):
    out = tmp_path / "run"
    config = tune_config(out, mixture, tiny_model_dir, steps=3, keep_checkpoints=3)
    tune(config)
    # as if killed during step 3's metrics append, before its checkpoint
    shutil.rmtree(out / "checkpoints" / "step-000003")
    (out / "checkpoints" / "latest").write_text("step-000002")
    lines = (out / "metrics.jsonl").read_text().splitlines()
    (out / "metrics.jsonl").write_text(lines[0] + "\n" + lines[1] + "\n" + lines[2][:15])
    tune(config, resume=True)
    assert [r["step"] for r in read_jsonl(out / "metrics.jsonl", torn_tail=False)] == [1, 2, 3]
    # a damaged checkpoint file is named, not loaded
    (out / "checkpoints" / "step-000003" / "optimizer.pt").write_bytes(b"garbage")
    with pytest.raises(SymtuneError, match="optimizer.pt is missing or does not match"):
        tune(config, resume=True)
    # a truncated run config is one line
    (out / "config.json").write_text('{"mixture": "x", "ou')
    with pytest.raises(SymtuneError, match=r"run config .*config.json: not valid JSON"):
        tune(config, resume=True)


def test_an_unfinished_run_is_not_a_model(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"mixture": "m", "out": "o"}))
    with pytest.raises(SymtuneError, match="a symtune tuning run without final/"):
        check_model(str(run))
    (tmp_path / "empty").mkdir()
    with pytest.raises(SymtuneError, match="no config.json in that directory"):
        check_model(str(tmp_path / "empty"))


def test_an_unknown_hub_id_fails_fast_when_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SymtuneError, match="not .*in the Hugging Face cache"):
        check_model("nobody/no-such-model")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(SymtuneError, match="127.0.0.1 cannot be reached"):
        check_model("nobody/no-such-model")


# 7. resume state is loaded with weights_only=True


class Trap:
    def __reduce__(self):
        return (Path.touch, (Path(TRAP_FILE),))


TRAP_FILE = "/tmp/symtune-trap-never-written"


def test_checkpoint_state_is_never_unpickled_as_objects(tmp_path, mixture, tiny_model_dir):
    from symtune.artifacts import sha256_file

    Path(TRAP_FILE).unlink(missing_ok=True)
    out = tmp_path / "run"
    config = tune_config(out, mixture, tiny_model_dir, steps=1)
    tune(config)
    latest = out / "checkpoints" / "step-000001"
    torch.save({"state": Trap()}, latest / "schedule.pt")
    state = json.loads((latest / "state.json").read_text())
    state["files"]["schedule.pt"] = sha256_file(latest / "schedule.pt")  # a consistent forgery
    (latest / "state.json").write_text(json.dumps(state))
    with pytest.raises(SymtuneError, match="schedule.pt: refused to load"):
        tune(config, resume=True)
    assert not Path(TRAP_FILE).exists()


# 6 and the fuzz: malformed YAML and JSONL end in one line and nothing written


def test_run_yaml_with_wrong_types_is_one_line(tmp_path):
    for text, message in [
        ("eval: {seeds: 0}", "eval.seeds = 0: expected a list of integers"),
        ("data: {n: abc}", "data.n = 'abc': expected an integer"),
        ("tune: {lora: 5}", "tune.lora = 5: expected a mapping"),
        ("tune: {lora: {r: x}}", "tune.lora.r = 'x': expected an integer"),
        ("eval: {batch_size: -2}", "batch_size=-2; expected 1 to 65,536"),
        ("- just\n- a list", "expected a mapping of sections"),
    ]:
        path = tmp_path / "run.yaml"
        path.write_text(text)
        with pytest.raises(SymtuneError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_run_config(path, tmp_path / "never")
    assert not (tmp_path / "never").exists()


VALID_RUN = """name: fuzz
model: smollm2-135m-instruct
suite: reachable
data: {n: 40, seed: 1, max_tokens: 512, symbol_kinds: [integer, word], weights: {}}
tune: {steps: 3, batch_size: 4, lr: 0.0001, dtype: fp32, lora: {r: 4, alpha: 8}}
eval: {seeds: [0, 1], settings: [neither], max_queries: 5, batch_size: 4, dtype: fp32}
"""
WRONG = ["abc", -3, 0, 1.5, [], {}, None, True, [1, "x"], {"r": "x"}, float("inf"), float("nan")]
SECTIONS_WRONG = [False, True, 0, 7, 1.5, "tune", [], [1], float("inf")]


def _mutations(rng: random.Random, text: str, count: int) -> list[str]:
    import yaml

    out = [text[: rng.randrange(len(text))] for _ in range(count // 2)]  # truncations
    data = yaml.safe_load(text)
    for _ in range(count - len(out)):
        section = rng.choice(["data", "tune", "eval", "extra_eval"])
        copy = json.loads(json.dumps(data))
        if rng.random() < 0.3:  # a whole section of the wrong type
            copy[section] = rng.choice(SECTIONS_WRONG)
        else:
            copy.setdefault(section, {})
            key = rng.choice([*copy[section], "bogus", "lr", "relevant_ratio"])
            copy[section][key] = rng.choice(WRONG)
        out.append(yaml.safe_dump(copy))
    return out


def _one_line(err: SymtuneError) -> None:
    assert str(err) and "\n" not in str(err), repr(str(err))


def _finite_numbers(config) -> bool:
    import dataclasses
    import math

    for section in (config.data, config.tune, config.eval, config.extra_eval):
        if section is None:
            continue
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                return False
    return True


def test_fuzzed_run_yaml_is_valid_or_a_one_line_error_and_writes_nothing(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a truncated model name fails at once
    rng = random.Random(12)
    accepted = refused = 0
    for i, text in enumerate(_mutations(rng, VALID_RUN, 160)):
        path = tmp_path / f"run-{i}.yaml"
        path.write_text(text)
        try:
            config = load_run_config(path, tmp_path / "run")
        except SymtuneError as err:
            _one_line(err)
            refused += 1
            continue
        accepted += 1
        raw = yaml.safe_load(text) or {}
        for key in ("data", "tune", "eval", "extra_eval"):  # a section given is a mapping
            assert raw.get(key) is None or isinstance(raw[key], dict), (key, raw[key])
        assert _finite_numbers(config), text
    assert accepted and refused
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("section", ["data", "tune", "eval", "extra_eval"])
@pytest.mark.parametrize("value", ["false", "0", "[]", "[1]", "tune", ".inf"])
def test_a_run_yaml_section_of_the_wrong_type_is_refused(tmp_path, section, value):
    path = tmp_path / "run.yaml"
    path.write_text(f"{section}: {value}\n")
    with pytest.raises(SymtuneError, match=f"section '{section}' = .*expected a mapping"):
        load_run_config(path, tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("tune: {lr: .inf}", "tune.lr"),
        ("tune: {weight_decay: .nan}", "tune.weight_decay"),
        ("data: {relevant_ratio: -.inf}", "data.relevant_ratio"),
        ("tune: {lr: 3.0}", "lr=3.0"),
    ],
)
def test_non_finite_or_out_of_range_numbers_are_refused(tmp_path, text, field):
    path = tmp_path / "run.yaml"
    path.write_text(text + "\n")
    with pytest.raises(SymtuneError, match=field.replace(".", r"\.")):
        load_run_config(path, tmp_path / "never")


VALID_SUITE = """tuning:
  - name: reviews
    local: {root}/r_{{split}}.jsonl
    input_fields: [text]
    labels: [pos, neg]
evaluation:
  - irony_identification
  - name: words
    family: language
    classes: [en, fr]
    per_class: 300
"""


def test_fuzzed_suite_yaml_is_valid_or_a_one_line_error(tmp_path):
    import yaml

    rng = random.Random(3)
    text = VALID_SUITE.format(root=tmp_path)
    data = yaml.safe_load(text)
    variants = [text[: rng.randrange(len(text))] for _ in range(60)]
    for _ in range(60):
        copy = json.loads(json.dumps(data))
        side = rng.choice(["tuning", "evaluation"])
        entry = copy[side][-1]
        if rng.random() < 0.2:
            copy[side] = rng.choice(WRONG)
        else:
            entry[rng.choice([*entry, "bogus"])] = rng.choice(WRONG)
        variants.append(yaml.safe_dump(copy))
    for i, variant in enumerate(variants):
        path = tmp_path / f"suite-{i}.yaml"
        path.write_text(variant)
        try:
            load_suite_file(path)
        except SymtuneError as err:
            _one_line(err)


def test_fuzzed_jsonl_is_read_or_a_one_line_error_naming_the_line(tmp_path):
    rng = random.Random(5)
    records = [{"key": f"k{i}", "result": {"correct": i % 2 == 0}} for i in range(20)]
    text = "".join(json.dumps(r) + "\n" for r in records)
    for trial in range(150):
        cut = text[: rng.randrange(len(text) + 1)]
        if trial % 3 == 1:  # a valid line of the wrong type somewhere in the middle
            lines = cut.split("\n")
            lines.insert(rng.randrange(len(lines)), rng.choice(["[1, 2]", "7", '"s"', "null"]))
            cut = "\n".join(lines)
        path = tmp_path / f"cache-{trial}.jsonl"
        path.write_text(cut)
        try:
            cache = ResultCache(path)
        except SymtuneError as err:
            _one_line(err)
            assert f"cache-{trial}.jsonl" in str(err)
            continue
        cache.add("new", {"correct": True})  # appends land on a line of their own
        cache.close()
        assert ResultCache(path).done["new"] == {"correct": True}


def test_jsonl_helpers_drop_only_a_torn_tail(tmp_path):
    records, size = parse_jsonl('{"a": 1}\n{"b": 2}\n{"c": "é'.encode()[:-1], "x")
    assert records == [{"a": 1}, {"b": 2}] and size == len('{"a": 1}\n{"b": 2}\n')
    with pytest.raises(SymtuneError, match="x:2: not valid JSON"):
        parse_jsonl(b'{"a": 1}\n{"b": \n{"c": 3}\n', "x")
    with pytest.raises(SymtuneError, match="x:1: expected a JSON object, got list"):
        parse_jsonl(b"[1]\n", "x")
    path = tmp_path / "log.jsonl"
    atomic_write(path, '{"a": 1}\n{"b"')
    assert repair_jsonl(path) == [{"a": 1}] and path.read_text() == '{"a": 1}\n'
    assert not list(tmp_path.glob("*.tmp"))


def test_a_local_task_line_that_is_not_an_object_is_named(tmp_path):
    from symtune.tasks.sources import _read_local

    path = tmp_path / "rows.jsonl"
    path.write_text('{"text": "a", "label": "x"}\n[1, 2]\n')
    with pytest.raises(SymtuneError, match=r"rows.jsonl:2: expected a JSON object, got list"):
        _read_local(path, "t")
