"""The tuning loop on a tiny random llama and a tiny mixture: run, resume, LoRA, bad input."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from conftest import build_tiny_mixture
from symtune.errors import SymtuneError
from symtune.tune.config import LoraConfig, TuneConfig
from symtune.tune.loop import tune
from symtune.tune.model import export_checkpoint


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    return build_tiny_mixture(tmp_path_factory.mktemp("mixture"))


def config_for(tmp_path, mixture, model_dir, **overrides) -> TuneConfig:
    values = {
        "mixture": str(mixture),
        "out": str(tmp_path / "run"),
        "model": str(model_dir),
        "steps": 4,
        "batch_size": 4,
        "seq_len": 2048,
        "lr": 1e-2,
        "dtype": "fp32",
        "checkpoint_every": 2,
        "micro_batch_rows": 1,
    }
    values.update(overrides)
    return TuneConfig(**values)


def losses(run) -> list[float]:
    return [json.loads(x)["loss"] for x in (run / "metrics.jsonl").read_text().splitlines()]


def final_weights(run) -> dict[str, torch.Tensor]:
    return load_file(str(run / "final" / "model.safetensors"))


def test_run_writes_everything_and_learns(tmp_path, mixture, tiny_model_dir):
    config = config_for(tmp_path, mixture, tiny_model_dir, steps=6, optimizer="adamw")
    run = tune(config)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[-1]["loss"] < records[0]["loss"]
    assert all(r["supervised_tokens"] > 0 and r["tokens"] > r["supervised_tokens"] for r in records)
    assert json.loads((run / "config.json").read_text())["lr"] == 1e-2
    provenance = json.loads((run / "provenance.json").read_text())
    assert provenance["mixture_prompts"] == 64 and provenance["versions"]["torch"]
    assert provenance["dtype"] == {"requested": "fp32", "dtype": "fp32", "reason": "asked for"}
    assert (run / "mixture_manifest.json").exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "latest",
        "step-000004",
        "step-000006",
    ]
    tuned = AutoModelForCausalLM.from_pretrained(str(run / "final"))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert not torch.equal(
        tuned.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight
    )
    # the last checkpoint, exported as a plain model (for step curves), is the final model
    exported = export_checkpoint(run / "checkpoints" / "step-000006")
    assert exported == run / "checkpoints" / "step-000006" / "model"
    assert load_file(str(exported / "model.safetensors")).keys() == final_weights(run).keys()
    for name, weight in load_file(str(exported / "model.safetensors")).items():
        assert torch.equal(weight, final_weights(run)[name]), name
    middle = load_file(
        str(export_checkpoint(run / "checkpoints" / "step-000004") / "model.safetensors")
    )
    assert not torch.equal(middle["model.norm.weight"], final_weights(run)["model.norm.weight"])
    with pytest.raises(SymtuneError, match="is not a symtune checkpoint"):
        export_checkpoint(run)


class Stop(Exception):
    pass


def test_resume_equals_an_uninterrupted_run(tmp_path, mixture, tiny_model_dir):
    whole = tune(config_for(tmp_path / "a", mixture, tiny_model_dir, steps=5, micro_batch_rows=2))

    def kill_after_step_3(record):
        if record["step"] == 3:
            raise Stop

    broken = config_for(tmp_path / "b", mixture, tiny_model_dir, steps=5, micro_batch_rows=2)
    with pytest.raises(Stop):
        tune(broken, progress=kill_after_step_3)
    assert (tmp_path / "b" / "run" / "checkpoints" / "latest").read_text() == "step-000002"
    resumed = tune(broken, resume=True)
    a, b = final_weights(whole), final_weights(resumed)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert losses(whole) == losses(resumed) and len(losses(whole)) == 5


def test_packing_and_micro_batches_do_not_change_the_result(tmp_path, mixture, tiny_model_dir):
    """One row per step (one micro-batch) against rows of 1,024 tokens one at a time (several
    micro-batches accumulated): the same weights, and they did move."""
    one = tune(
        config_for(
            tmp_path / "a", mixture, tiny_model_dir, steps=2, seq_len=8192, micro_batch_rows=1
        )
    )
    many = tune(
        config_for(
            tmp_path / "b", mixture, tiny_model_dir, steps=2, seq_len=1024, micro_batch_rows=1
        )
    )
    tokens = [json.loads(x)["tokens"] for x in (many / "metrics.jsonl").open()]
    assert all(t > 1024 for t in tokens)  # at least two rows, so two micro-batches per step
    a, b = final_weights(one), final_weights(many)
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name
    start = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).state_dict()
    moved = [n for n in a if n in start and not torch.allclose(a[n], start[n], atol=1e-4)]
    assert len(moved) > len(a) // 2  # a guard: the runs trained, the equality is not vacuous


@pytest.mark.parametrize("lora", [None, LoraConfig(r=4, alpha=8, targets=("q_proj", "v_proj"))])
def test_gradient_checkpointing_trains_the_same_weights(tmp_path, mixture, tiny_model_dir, lora):
    from symtune.tune.model import prepare_model

    def run(name, checkpointing):
        config = config_for(
            tmp_path / name,
            mixture,
            tiny_model_dir,
            steps=2,
            lora=lora,
            gradient_checkpointing=checkpointing,
        )
        return config, tune(config)

    config, recomputed = run("gc", True)
    assert prepare_model(config).is_gradient_checkpointing  # it is on, not silently ignored
    _, kept = run("plain", False)
    a, b = final_weights(recomputed), final_weights(kept)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name
    assert losses(recomputed) == pytest.approx(losses(kept), abs=1e-6)
    resumed = TuneConfig(mixture="m", out="o", gradient_checkpointing=True).resume_key()
    assert resumed == TuneConfig(mixture="m", out="o").resume_key()  # free to change


def test_a_deadline_stops_with_a_model_and_resume_completes(tmp_path, mixture, tiny_model_dir):
    import time

    whole = tune(config_for(tmp_path / "a", mixture, tiny_model_dir, steps=3))
    config = config_for(tmp_path / "b", mixture, tiny_model_dir, steps=3, checkpoint_every=10)
    run = tune(config, deadline=time.monotonic())  # already past: stop after step 1
    assert json.loads((run / "stopped.json").read_text()) == {
        "step": 1,
        "steps": 3,
        "reason": "deadline",
    }
    assert (run / "checkpoints" / "latest").read_text() == "step-000001"
    assert len(losses(run)) == 1 and (run / "final" / "model.safetensors").exists()
    resumed = tune(config, resume=True)
    assert not (resumed / "stopped.json").exists()
    assert losses(resumed) == losses(whole)
    a, b = final_weights(whole), final_weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_attention_implementations_give_the_same_run(tmp_path, mixture, tiny_model_dir):
    """Several rows and micro-batches per step (short rows): the per-prompt SDPA loop and
    transformers' masked SDPA agree on losses and weights; the resolved choice is recorded."""
    runs = {
        name: tune(
            config_for(
                tmp_path / name,
                mixture,
                tiny_model_dir,
                steps=2,
                batch_size=8,
                seq_len=1024,
                micro_batch_rows=2,
                attention=name,
            )
        )
        for name in ("auto", "sdpa")
    }
    provenance = json.loads((runs["auto"] / "provenance.json").read_text())
    assert provenance["attention"] == "symtune_packed" and provenance["device"] == "cpu"
    rows = [r["tokens"] for r in map(json.loads, (runs["auto"] / "metrics.jsonl").open())]
    assert all(tokens > 2 * 1024 for tokens in rows)  # more than two rows: two micro-batches
    a, b = losses(runs["auto"]), losses(runs["sdpa"])
    assert all(abs(x - y) < 1e-5 for x, y in zip(a, b, strict=True))
    weights = final_weights(runs["sdpa"])
    for name, value in final_weights(runs["auto"]).items():
        assert torch.allclose(value, weights[name], atol=1e-5), name
    assert not torch.equal(
        weights["model.norm.weight"], torch.ones_like(weights["model.norm.weight"])
    )


def test_attention_choice(tmp_path):
    from symtune.tune.config import resolve_attention

    assert resolve_attention("auto", "cpu") == "symtune_packed"
    assert resolve_attention("auto", "cuda") == "flex_attention"
    assert resolve_attention("sdpa", "cuda") == "sdpa"
    with pytest.raises(SymtuneError, match="attention=flash; expected auto, symtune_packed"):
        TuneConfig(mixture="m", out="o", attention="flash").validate()
    a = TuneConfig(mixture="m", out="o", attention="sdpa").resume_key()
    assert a == TuneConfig(mixture="m", out="o").resume_key()  # free to change on resume


def test_lora_merged_and_adapter_only(tmp_path, mixture, tiny_model_dir):
    lora = LoraConfig(r=4, alpha=8, targets=("q_proj", "v_proj"))
    run = tune(config_for(tmp_path / "m", mixture, tiny_model_dir, steps=2, lora=lora))
    merged = AutoModelForCausalLM.from_pretrained(str(run / "final"))
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert not torch.equal(
        merged.model.layers[0].self_attn.q_proj.weight, base.model.layers[0].self_attn.q_proj.weight
    )
    assert torch.equal(
        merged.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight
    )
    adapter = LoraConfig(r=4, alpha=8, targets=("q_proj",), merge=False)
    run = tune(config_for(tmp_path / "a", mixture, tiny_model_dir, steps=2, lora=adapter))
    assert (run / "final" / "adapter_model.safetensors").exists()
    from symtune.report.card import write_card

    card = write_card(run).read_text()
    assert "library_name: peft" in card and "lora" in card  # the card says it is an adapter
    merged_card = write_card(tmp_path / "m" / "run").read_text()
    assert "library_name: transformers" in merged_card


def test_seen_labels_supervise_more_tokens(tmp_path, mixture, tiny_model_dir):
    plain = tune(config_for(tmp_path / "p", mixture, tiny_model_dir, steps=1))
    seen = tune(config_for(tmp_path / "s", mixture, tiny_model_dir, steps=1, seen_labels=True))
    count = lambda run: json.loads((run / "metrics.jsonl").read_text())["supervised_tokens"]  # noqa: E731
    assert count(seen) > count(plain)


def test_bad_inputs(tmp_path, mixture, tiny_model_dir):
    with pytest.raises(SymtuneError, match="mixture directory .*nowhere not found"):
        tune(config_for(tmp_path, tmp_path / "nowhere", tiny_model_dir))
    with pytest.raises(SymtuneError, match="seq-len 64 is shorter than a single prompt"):
        tune(config_for(tmp_path / "short", mixture, tiny_model_dir, seq_len=64))
    assert not (tmp_path / "short").exists()
    with pytest.raises(SymtuneError, match="model path .*missing not found"):
        tune(config_for(tmp_path / "m", mixture, tmp_path / "missing"))
    with pytest.raises(
        SymtuneError, match="tune config: optimizer=sgd; expected adafactor or adamw"
    ):
        tune(config_for(tmp_path, mixture, tiny_model_dir, optimizer="sgd"))
    run = tune(config_for(tmp_path / "r", mixture, tiny_model_dir, steps=2))
    with pytest.raises(SymtuneError, match="already holds a run; pass --resume"):
        tune(config_for(tmp_path / "r", mixture, tiny_model_dir, steps=2))
    with pytest.raises(
        SymtuneError,
        match="cannot resume from .*step-000002: it was made with lr=0.01, this run asks lr=0.02",
    ):
        tune(config_for(tmp_path / "r", mixture, tiny_model_dir, steps=2, lr=2e-2), resume=True)
    assert run.exists()


def test_schedules():
    from symtune.tune.step import build_schedule

    def factors(**overrides):
        config = TuneConfig(mixture="m", out="o", steps=10, **overrides)
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        schedule = build_schedule(config, optimizer)
        out = []
        for _ in range(10):
            out.append(round(schedule.get_last_lr()[0], 4))
            optimizer.step()
            schedule.step()
        return out

    assert factors(warmup_steps=2, schedule="constant") == [0.5] + [1.0] * 9
    assert factors(warmup_steps=0, schedule="linear") == [
        1.0,
        0.9,
        0.8,
        0.7,
        0.6,
        0.5,
        0.4,
        0.3,
        0.2,
        0.1,
    ]
    assert factors(schedule="cosine")[5] == 0.5


def test_chat_template_wraps_prompts(tiny_model_dir):
    from symtune.models import load_tokenizer
    from symtune.prompts.build import FORMATS, Prompt, PromptMeta, render
    from symtune.prompts.chat import framing
    from symtune.tune.packing import IGNORE, tokenize_prompt

    tokenizer = load_tokenizer(str(tiny_model_dir))
    tokenizer.chat_template = (
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    text, target, spans = render(FORMATS[0], "", [("a", "X"), ("b", "X")], "c", "X")
    meta = PromptMeta("t", "symbol_tuning", 0, ("X",), (), "q", "k", False)
    prompt = Prompt(text, target, ("X",), spans, (False, True), meta)
    chat = framing(tokenizer, chat_template=True)
    assert chat.end == "</assistant>" and chat.start == ()
    wrapped, answer, moved = chat.frame(prompt, tokenizer)
    assert wrapped == f"<user>{text}</user><assistant>" and answer == "X</assistant>"
    assert [wrapped[s:e] for s, e in moved] == [" X", " X"]
    doc = tokenize_prompt(prompt, tokenizer, seen_labels=True, framing=chat)
    supervised = tokenizer.decode([x for x in doc.labels if x != IGNORE])
    assert supervised == " XX</assistant>"  # the turn's end, not EOS, ends the answer


def test_data_order_reads_the_same_prompts_in_a_seeded_order_and_resumes_mid_epoch(mixture):
    from itertools import islice

    from symtune.tune.stream import PromptStream

    plain = PromptStream(mixture)
    size = plain.size
    texts = [p.text for p in islice(plain.from_position(0), size)]
    one = [p.text for p in islice(PromptStream(mixture, 1).from_position(0), 2 * size)]
    two = [p.text for p in islice(PromptStream(mixture, 2).from_position(0), size)]
    assert sorted(one[:size]) == sorted(texts) == sorted(one[size:]) == sorted(two)
    assert one[:size] != texts and one[:size] != two and one[size:] != one[:size]
    assert [p.text for p in islice(PromptStream(mixture, 1).from_position(size - 3), 5)] == one[
        size - 3 : size + 2
    ]


def test_replicates_of_full_fine_tuning_differ_by_their_data_order(
    tmp_path, mixture, tiny_model_dir
):
    runs = []
    for order in (0, 1):
        config = config_for(tmp_path / str(order), mixture, tiny_model_dir, data_order=order)
        tune(config)
        runs.append(load_file(str(tmp_path / str(order) / "run" / "final" / "model.safetensors")))
    assert any(not torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_log_every_spaces_the_progress_reports_not_the_metrics(tmp_path, mixture, tiny_model_dir):
    seen: list[int] = []
    run = tune(
        config_for(tmp_path / "l", mixture, tiny_model_dir, steps=5, log_every=2),
        progress=lambda record: seen.append(record["step"]),
    )
    assert seen == [2, 4, 5]  # every second step, and the last
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").open()] == [1, 2, 3, 4, 5]


def test_a_config_written_with_the_removed_extra_field_still_reads():
    old = {**TuneConfig(mixture="m", out="o").to_dict(), "extra": {}}
    assert TuneConfig.from_dict(old) == TuneConfig(mixture="m", out="o")
