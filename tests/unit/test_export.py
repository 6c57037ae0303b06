"""`symtune data export`: a mixture as a datasets dataset (Arrow, Parquet, chat) that TRL trains
on with the same loss as symtune."""

import json

import pytest
import torch

from conftest import make_task
from symtune.errors import SymtuneError
from symtune.mixture.build import build_mixture
from symtune.mixture.config import MixtureConfig
from symtune.mixture.export import MANIFEST_FILE, export_mixture
from symtune.mixture.read import read_prompts, read_validation


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "mix"
    tasks = [make_task("big", per_class=30), make_task("three", ("x", "y", "z"), per_class=12)]
    config = MixtureConfig(tasks=("big", "three"), n=24, seed=1, max_tokens=None, val_prompts=6)
    build_mixture(config, tasks, path)
    return path


def test_hf_export_has_trl_columns_every_prompt_and_the_manifest(mixture, tmp_path):
    from datasets import load_from_disk

    counts = export_mixture(mixture, "hf", tmp_path / "hf")
    data = load_from_disk(str(tmp_path / "hf"))
    prompts = [p for _, p in read_prompts(mixture)]
    manifest = json.loads((mixture / "manifest.json").read_text())
    assert counts == {"train": len(prompts), "validation": 6}
    assert data["train"]["prompt"] == [p.text for p in prompts]
    assert data["train"]["completion"] == [p.target for p in prompts]
    assert data["train"]["task"] == [p.meta.task for p in prompts]
    validation = read_validation(mixture, manifest)
    assert data["validation"]["completion"] == [p.target for p in validation]
    assert json.loads((tmp_path / "hf" / MANIFEST_FILE).read_text()) == manifest
    described = data["train"].info.description.removeprefix("symtune mixture manifest: ")
    assert json.loads(described) == manifest


def test_parquet_and_chat_exports(mixture, tmp_path):
    from datasets import load_dataset, load_from_disk

    export_mixture(mixture, "parquet", tmp_path / "pq")
    files = {s: str(tmp_path / "pq" / f"{s}.parquet") for s in ("train", "validation")}
    data = load_dataset("parquet", data_files=files)
    prompts = [p for _, p in read_prompts(mixture)]
    assert data["train"]["prompt"] == [p.text for p in prompts]
    export_mixture(mixture, "chat", tmp_path / "chat")
    chat = load_from_disk(str(tmp_path / "chat"))["train"]
    first = chat[0]["messages"]
    assert [m["role"] for m in first] == ["user", "assistant"]
    assert first[0]["content"] == prompts[0].text and first[1]["content"] == prompts[0].answer


def test_bad_exports_are_refused_before_writing(mixture, tmp_path):
    with pytest.raises(SymtuneError, match="--format 'csv' is unknown; expected one of hf"):
        export_mixture(mixture, "csv", tmp_path / "a")
    with pytest.raises(SymtuneError, match="no manifest.json; build it with"):
        export_mixture(tmp_path, "hf", tmp_path / "b")
    (tmp_path / "taken").mkdir()
    with pytest.raises(SymtuneError, match="--out .*taken exists; choose a new folder"):
        export_mixture(mixture, "hf", tmp_path / "taken")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_trl_trains_on_the_export_with_symtune_loss(mixture, tmp_path, tiny_model_dir):
    """One SFTTrainer step (completion-only loss, fp32) on the export: its loss on the first
    batch equals symtune's supervised loss on the same prompts."""
    pytest.importorskip("trl")
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from symtune.models import load_tokenizer
    from symtune.tune.loss import supervised_loss
    from symtune.tune.packing import batch_tensors, pack, tokenize_prompt

    export_mixture(mixture, "hf", tmp_path / "hf")
    batch = 4
    tokenizer = load_tokenizer(str(tiny_model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    prompts = [p for _, p in read_prompts(mixture)][:batch]
    docs = [tokenize_prompt(p, tokenizer) for p in prompts]
    with torch.no_grad():
        total, n = supervised_loss(model, *batch_tensors(list(pack(docs, 4096, 0))))
    ours = total.item() / n
    args = SFTConfig(
        output_dir=str(tmp_path / "trl"),
        max_steps=1,
        per_device_train_batch_size=batch,
        learning_rate=1e-6,
        use_cpu=True,
        bf16=False,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        train_sampling_strategy="sequential",
        completion_only_loss=True,
        max_length=None,
        dataloader_num_workers=0,
    )
    train = load_from_disk(str(tmp_path / "hf"))["train"].select(range(batch))
    trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    trainer.train()
    theirs = next(h["loss"] for h in trainer.state.log_history if "loss" in h)
    assert abs(float(theirs) - ours) < 1e-3 * ours


def test_lm_eval_runs_the_exported_tasks_with_symtune_numbers(tmp_path, tiny_model_dir):
    """lm-eval's HF backend on a small export gets, task by task, the accuracies symtune gets
    on the same items (fp32): rank scoring (multiple_choice) and exact match (generate_until)."""
    from dataclasses import replace

    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from conftest import small_eval_config
    from symtune.evaluate.api import build_items, evaluate
    from symtune.evaluate.lm_eval_export import export_tasks, task_name

    config = replace(
        small_eval_config(tmp_path, tiny_model_dir),
        settings=("neither", "labels_only"),
        seeds=(0, 1),
        scoring=("rank", "exact"),
    )
    items, _ = build_items(config)
    groups = export_tasks(config, items, tmp_path / "tasks")
    assert sorted(groups) == ["symtune_suite_exact", "symtune_suite_rank"]
    ours = evaluate(config, {"base": str(tiny_model_dir)}, tmp_path / "ours")
    found = simple_evaluate(
        model="hf",
        model_args=f"pretrained={tiny_model_dir},dtype=float32",
        tasks=sorted(groups),
        task_manager=TaskManager(include_path=str(tmp_path / "tasks")),
        device="cpu",
        batch_size=4,
    )["results"]
    for mode, metric in (("rank", "acc,none"), ("exact", "exact_match,strip")):
        by_task: dict[str, list[bool]] = {}
        for item in ours["items"]:
            name = task_name(config.suite, item["group"], item["seed"], mode)
            by_task.setdefault(name, []).append(item["results"]["base"][mode]["correct"])
        assert set(groups[f"symtune_suite_{mode}"]) == set(by_task) and len(by_task) == 4
        for name, correct in by_task.items():
            assert found[name][metric] == pytest.approx(sum(correct) / len(correct)), name
    with pytest.raises(SymtuneError, match="exists; choose a new folder"):
        export_tasks(config, items, tmp_path / "tasks")
