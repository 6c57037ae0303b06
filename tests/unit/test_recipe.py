"""Issue 13's recipe options: held-out tuning-side validation prompts, in-run validation with
--keep best|last, mixture weights, and evaluation items built on one machine and scored on
another."""

import json
from dataclasses import asdict

import pytest
from safetensors.torch import load_file

from conftest import make_task, small_eval_config, tiny_tune_config
from symtune.errors import SymtuneError
from symtune.evaluate.api import build_items, evaluate, load_items, save_items
from symtune.evaluate.config import EvalConfig
from symtune.io import read_jsonl
from symtune.mixture.build import build_mixture
from symtune.mixture.config import MixtureConfig
from symtune.mixture.read import read_prompts, read_validation
from symtune.tune.config import TuneConfig
from symtune.tune.loop import tune


def tasks():
    return [make_task("big", per_class=30), make_task("three", ("x", "y", "z"), per_class=12)]


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    path = tmp_path_factory.mktemp("validated") / "mix"
    config = MixtureConfig(
        tasks=("big", "three"), n=48, seed=1, max_tokens=None, shard_size=20, val_prompts=12
    )
    build_mixture(config, tasks(), path)
    return path


def test_validation_prompts_come_from_the_tuning_tasks_validation_splits(validated):
    manifest = json.loads((validated / "manifest.json").read_text())
    prompts = read_validation(validated, manifest)
    assert len(prompts) == 12 and manifest["validation"]["by_task"] == {"big": 6, "three": 6}
    by_name = {t.name: t for t in tasks()}
    for prompt in prompts:
        task = by_name[prompt.meta.task]
        validation_ids = {e.id for e in task.splits["validation"]}
        train_ids = {e.id for e in task.splits["train"]}
        assert prompt.meta.query_id in validation_ids  # held out: never a training query
        assert set(prompt.meta.exemplar_ids) <= train_ids
        assert not prompt.meta.instruction and prompt.meta.setting == "symbol_tuning"
        assert not set(prompt.meta.mapping) & set(task.labels)  # symbols, not labels
        assert prompt.answer in prompt.candidates
    training = {p.meta.query_id for _, p in read_prompts(validated)}
    assert not training & {p.meta.query_id for p in prompts}


def test_validation_file_is_checked_and_required(validated, tmp_path):
    manifest = json.loads((validated / "manifest.json").read_text())
    damaged = json.loads(json.dumps(manifest))
    damaged["validation"]["sha256"] = "0" * 64
    with pytest.raises(SymtuneError, match="validation.jsonl is missing or does not match"):
        read_validation(validated, damaged)
    plain = MixtureConfig(tasks=("big", "three"), n=8, max_tokens=None)
    assert "val_prompts" not in plain.to_dict()  # mixtures built before it still match
    build_mixture(plain, tasks(), tmp_path / "plain")
    run = TuneConfig(mixture=str(tmp_path / "plain"), out=str(tmp_path / "r"), val_every=2)
    with pytest.raises(SymtuneError, match="no validation prompts; rebuild it with --val-prompts"):
        tune(run)
    with pytest.raises(SymtuneError, match="keep=best; expected last, unless val_every > 0"):
        TuneConfig(mixture="m", out="o", keep="best").validate()


def run_config(out, mixture, model, **overrides) -> TuneConfig:
    values = {"steps": 4, "lr": 3e-2, "checkpoint_every": 4, "val_every": 2, **overrides}
    return tiny_tune_config(out, mixture, model, **values)


def test_val_every_logs_the_curve_and_keep_best_exports_the_best_step(
    tmp_path, validated, tiny_model_dir
):
    run = tune(run_config(tmp_path / "best", validated, tiny_model_dir, keep="best"))
    records = read_jsonl(run / "metrics.jsonl")
    curve = [r for r in records if "val_accuracy" in r]
    assert [r["step"] for r in curve] == [0, 2, 4]
    assert all(r["val_n"] == 12 for r in curve)
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
    trained = curve[1:]
    best = max(trained, key=lambda r: r["val_accuracy"])  # first of equals: the earlier step
    chosen = json.loads((run / "best.json").read_text())
    assert chosen["step"] == best["step"] and chosen["val_accuracy"] == best["val_accuracy"]
    final = load_file(str(run / "final" / "model.safetensors"))
    kept = load_file(str(run / "best" / "model.safetensors"))
    assert all((final[k] == kept[k]).all() for k in final)
    last = tune(run_config(tmp_path / "last", validated, tiny_model_dir, keep="last"))
    again = json.loads((last / "best.json").read_text())
    assert (again["step"], again["val_accuracy"]) == (chosen["step"], chosen["val_accuracy"])
    if chosen["step"] != 4:  # keep=last is then another model than the best
        other = load_file(str(last / "final" / "model.safetensors"))
        assert any(not (other[k] == kept[k]).all() for k in other)


def test_mixture_weights_set_the_task_shares():
    from symtune.mixture.build import Plan

    plan = Plan(MixtureConfig(tasks=("big", "three"), n=2000, weights=(("three", 3.0),)), tasks())
    # a task the weights leave out keeps weight 0 only if named; unnamed ones use their size
    assert plan.weights[1] == pytest.approx(3.0 / (3.0 + 60.0))
    named = Plan(
        MixtureConfig(tasks=("big", "three"), n=2000, weights=(("big", 1.0), ("three", 3.0))),
        tasks(),
    )
    assert named.weights == pytest.approx([0.25, 0.75])
    assert abs(named.sequence.count(1) / 2000 - 0.75) < 0.03


def test_items_built_here_are_scored_there_the_same(tmp_path, tiny_model_dir):
    config = small_eval_config(tmp_path, tiny_model_dir)
    save_items(tmp_path / "items.json", config)
    items, _ = load_items(tmp_path / "items.json", config)

    def plain(values):
        return json.loads(json.dumps([asdict(i) for i in values]))

    assert plain(items) == plain(build_items(config)[0])
    models = {"base": str(tiny_model_dir)}
    built = load_items(tmp_path / "items.json", config)
    moved = evaluate(config, models, tmp_path / "a", built=built)
    here = evaluate(config, models, tmp_path / "b")
    assert moved["summary"] == here["summary"]
    other = EvalConfig(**{**config.to_dict(), "k": 3})
    with pytest.raises(SymtuneError, match="was built for another eval config"):
        load_items(tmp_path / "items.json", other)


def test_validation_scores_do_not_depend_on_batching(validated, tiny_model_dir):
    """Each candidate scores the same alone (a batch of one row) as in a padded batch (a batch
    whose rows shared one row of positions once got uninitialised attention outputs)."""
    import torch

    from symtune.models import load_tokenizer
    from symtune.tune.attention import register
    from symtune.tune.model import prepare_model
    from symtune.tune.validate import candidate_documents, sequence_scores, validate

    manifest = json.loads((validated / "manifest.json").read_text())
    prompts = read_validation(validated, manifest)
    model = prepare_model(TuneConfig(mixture="m", out="o", model=str(tiny_model_dir))).eval()
    assert model.config._attn_implementation == register()
    tokenizer = load_tokenizer(str(tiny_model_dir))
    docs = [d for p in prompts[:4] for d in candidate_documents(p, tokenizer)]
    alone = [sequence_scores(model, [d], 0, "cpu")[0] for d in docs]
    batched = sequence_scores(model, docs, 0, "cpu")
    assert torch.allclose(torch.tensor(batched), torch.tensor(alone), atol=1e-4)
    first = validate(model, tokenizer, prompts, "cpu", batch_size=64)
    assert validate(model, tokenizer, prompts, "cpu", batch_size=3) == first
