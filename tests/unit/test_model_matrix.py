"""Any causal LM: the properties symtune needs, on tiny random models of every family in
`tests/matrix.py` (built from transformers configs; attention features switched on where a
family has them, and weights scaled up so that soft-capping bites). docs/models.md's table is
checked against PROPERTIES and FAMILIES here (test_the_models_guide_table_is_this_matrix)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from conftest import build_tiny_mixture, byte_tokenizer, small_eval_config, tiny_tune_config
from matrix import FAMILIES, sharpen
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.evaluate.shared import Query
from symtune.evaluate.tree import score_queries
from symtune.tune.attention import NAME, register
from symtune.tune.loss import SupervisedLM, supervised_loss
from symtune.tune.packing import IGNORE, Document, batch_tensors, pack

ROOT = Path(__file__).resolve().parents[2]
PROPERTIES = {
    "packed == unpacked": "test_packed_training_equals_each_prompt_alone",
    "rank scores == full forwards": "test_rank_scoring_equals_one_full_forward_per_candidate",
    "greedy by verification == generation": "test_greedy_by_verification_equals_generation",
    "LoRA (all-linear)": "test_lora_adapts_attention_trains_merges_and_reloads",
    "FSDP wraps its blocks": "test_fsdp_wraps_the_models_own_block_class",
    "tune final/ -> eval --tuned": "test_final_saves_reloads_and_evaluates",
}
"""Each property a row of the docs table claims, and the test (parametrized by family) that
proves it."""
IDS = [f.name for f in FAMILIES]


def random_docs(seed: int, vocab: int = 250) -> list[Document]:
    """Prompts longer than the families' 8-token windows, supervised on their last tokens."""
    rng = random.Random(seed)
    docs = []
    for size in (21, 9, 30, 5, 17):
        ids = tuple(rng.randrange(1, vocab) for _ in range(size))
        labels = (*(ids[i + 1] if i >= size - 4 else IGNORE for i in range(size - 1)), 3)
        docs.append(Document(ids, labels))
    return docs


def loss_and_grads(model, groups):
    model.zero_grad()
    total, count = torch.zeros(()), 0
    for rows in groups:
        loss, n = supervised_loss(model, *batch_tensors(rows))
        total, count = total + loss, count + n
    (total / count).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return float(total / count), grads


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_packed_training_equals_each_prompt_alone(family):
    """symtune_packed on packed rows (what `--attention auto` runs on a CPU) gives the loss and
    gradients of the model's own eager attention on each prompt alone (fp32, 1e-4); so does
    the whole attention choice made for the model (auto's fallback included)."""
    model = family.model()
    sharpen(model)
    docs = random_docs(1)
    model.set_attn_implementation("eager")
    alone = loss_and_grads(model, [list(pack([d], 64, 0)) for d in docs])
    model.set_attn_implementation(register())
    packed = loss_and_grads(model, [[r] for r in pack(docs, 64, 0)])
    assert abs(packed[0] - alone[0]) < 1e-4, family.name
    assert packed[1].keys() == alone[1].keys()
    worst = max(float((packed[1][n] - alone[1][n]).abs().max()) for n in alone[1])
    assert worst < 1e-4, (family.name, worst)


def test_flex_attention_forward_equals_each_prompt_alone():
    """FlexAttention (the CUDA default; no backward on CPU, gradients in tests/gpu; ~13 s of
    compiling per family on a CPU, so one family): its packed forward gives each prompt's eager
    loss, with Gemma 2's soft-capping and per-layer windows."""
    from matrix import BY_NAME

    torch._dynamo.reset()  # a second shape would recompile with dynamic shapes, which fails
    try:
        check_flex(BY_NAME["gemma2"])
    finally:
        torch._dynamo.reset()  # nor leave compiled kernels to the next flex test


def check_flex(family) -> None:

    model = family.model()
    sharpen(model)
    docs = random_docs(2)
    with torch.no_grad():
        model.set_attn_implementation("eager")
        alone = sum(
            supervised_loss(model, *batch_tensors([r]))[0] for d in docs for r in pack([d], 64, 0)
        )
        model.set_attn_implementation("flex_attention")
        packed = sum(supervised_loss(model, *batch_tensors([r]))[0] for r in pack(docs, 64, 0))
    assert abs(float(packed) - float(alone)) < 1e-3


def test_dropping_an_attention_feature_would_be_caught(monkeypatch):
    """The features matter on these models: without soft-capping (Gemma 2), the window
    (Mistral) or sinks (GPT-OSS), symtune_packed's loss moves away from eager's."""
    import symtune.tune.attention as attention
    from matrix import BY_NAME

    for name, dropped in (("gemma2", 1), ("mistral", 0), ("gpt_oss", 2)):
        model = BY_NAME[name].model()
        sharpen(model)
        rows = [list(pack(random_docs(3), 64, 0))]
        model.set_attn_implementation("eager")
        with torch.no_grad():
            right = float(supervised_loss(model, *batch_tensors(rows[0]))[0])
            real = attention.features

            def lose(module, kwargs, real=real, dropped=dropped):
                found = list(real(module, kwargs))
                found[dropped] = None
                return tuple(found)

            monkeypatch.setattr(attention, "features", lose)
            model.set_attn_implementation(register())
            wrong = float(supervised_loss(model, *batch_tensors(rows[0]))[0])
            monkeypatch.undo()
        assert abs(right - wrong) > 1e-3, name


def test_an_unknown_attention_feature_is_refused_or_served_by_transformers(tmp_path):
    """A layer that hands symtune_packed a feature it does not compute: "auto" gives the model
    transformers' own attention, asked for by name it is one line."""
    from symtune.errors import SymtuneError
    from symtune.tune.attention import probe
    from symtune.tune.config import TuneConfig
    from symtune.tune.model import set_attention

    model = FAMILIES[0].model()
    layer = model.model.layers[0].self_attn
    original = layer.forward

    def with_bias(*args, **kwargs):
        return original(*args, position_bias=torch.zeros(1), **kwargs)

    layer.forward = with_bias
    config = TuneConfig(mixture="m", out="o", model="tiny", attention="auto")
    assert set_attention(model, config, "cpu") == "sdpa"
    model.set_attn_implementation(register())
    assert "position_bias" in (probe(model) or "")
    with pytest.raises(SymtuneError, match="cannot compute model tiny's packed attention"):
        set_attention(model, TuneConfig(mixture="m", out="o", model="tiny", attention=NAME), "cpu")


def test_transformers_masks_that_leak_across_packed_prompts_are_not_used():
    """GPT-OSS's eager masks ignore the position ids (packed prompts would see each other):
    named, eager is refused; "auto" gives it symtune_packed, which computes its sinks."""
    from matrix import BY_NAME
    from symtune.errors import SymtuneError
    from symtune.models.architecture import isolates_packed
    from symtune.tune.config import TuneConfig
    from symtune.tune.model import set_attention

    model = BY_NAME["gpt_oss"].model()
    model.set_attn_implementation("eager")
    assert not isolates_packed(model)
    assert isolates_packed(BY_NAME["mistral"].model())
    eager = TuneConfig(mixture="m", out="o", model="oss", attention="eager")
    with pytest.raises(SymtuneError, match="do not keep packed prompts apart"):
        set_attention(model, eager, "cpu")
    assert set_attention(model, TuneConfig(mixture="m", out="o", model="oss"), "cpu") == NAME


def request(seed: int, labels=("foo", "bar", "quux")) -> RankRequest:
    rng = random.Random(seed)
    words = " ".join(rng.choice(["ab", "cd", "efg", "h"]) for _ in range(14))
    return RankRequest(f"Q: {words}\nA:", tuple(" " + label for label in labels))


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_rank_scoring_equals_one_full_forward_per_candidate(family):
    """The shared-prefix scores (one prefill, candidates on copies of its cache), the packed
    scores (many prompts per row) and the tree scores (several prompts and their candidates
    per row, one or two rows per forward: their masks built from the family's own windows)
    equal one full forward per candidate (fp32, 1e-4)."""
    model = family.model()
    sharpen(model, 4.0)
    scorer = Scorer(model, byte_tokenizer(), batch_size=2)
    packed = Scorer(model, byte_tokenizer(), batch_size=2, pack_tokens=96)
    requests = [request(s) for s in range(3)]
    # GPT-OSS builds its masks without the position ids: packing would leak, so it is off
    assert packed.pack_tokens == (0 if family.name == "gpt_oss" else 96)
    many = packed.loglikelihood_many(requests)
    queries = [Query(r.context, r.continuations, 4) for r in requests]
    trees = []
    for rows, size in ((1, 200), (2, 60)):  # all three in one row; a row each, two a forward
        tree = Scorer(model, byte_tokenizer(), batch_size=rows, engine="tree", row_tokens=size)
        assert tree.engine == "tree"  # every family computes the trees' masks as given
        trees.append([scores for scores, _ in score_queries(tree, queries, False)])
    for r, req in enumerate(requests):
        reference = scorer.loglikelihood_uncached(req)
        for got in (scorer.loglikelihood(req), many[r], trees[0][r], trees[1][r]):
            assert max(abs(a - b) for a, b in zip(got, reference, strict=True)) < 1e-4


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_greedy_by_verification_equals_generation(family):
    """Exact match's output is the same whether taken from the rank pass (verification) or
    generated, the same one prompt at a time as in batches through `generate`, and the same
    verified from tree rows."""
    model = family.model()
    tokenizer = byte_tokenizer()
    verify = Scorer(model, tokenizer, greedy="verify")
    plain = Scorer(model, tokenizer, greedy="generate")
    batched = Scorer(model, tokenizer, batch_size=3, pack_tokens=64)
    requests = [request(s) for s in range(3)]
    generate = [GenerateRequest(r.context, 4) for r in requests]
    expected = plain.generate(generate)
    assert [
        verify.rank_and_generate(r, g)[1] for r, g in zip(requests, generate, strict=True)
    ] == expected
    assert batched.generate(generate) == expected
    tree = Scorer(model, tokenizer, batch_size=2, engine="tree")
    queries = [Query(r.context, r.continuations, 4) for r in requests]
    assert [output for _, output in score_queries(tree, queries, True)] == expected
    # a candidate that is the greedy output is verified, not generated
    for r, g, out in zip(requests, generate, expected, strict=True):
        chosen = RankRequest(r.context, (" " + out, *r.continuations)) if out else r
        assert verify.rank_and_generate(chosen, g)[1] == out


def adapted(peft_model) -> set[str]:
    return {n.rsplit(".", 1)[0] for n, _ in peft_model.named_parameters() if "lora_A" in n}


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_lora_adapts_attention_trains_merges_and_reloads(family, tmp_path):
    """LoRA with the default targets (peft's all-linear, asked of the model) adapts every
    attention layer's projections, trains, merges, and the merged model reloads with plain
    `from_pretrained` to the same logits (fp32, 1e-4)."""
    from transformers import AutoModelForCausalLM

    from symtune.tune.config import LoraConfig, TuneConfig
    from symtune.tune.model import save_export, with_lora

    config = TuneConfig(mixture="m", out="o", model=family.name, lora=LoraConfig(r=4))
    model = with_lora(family.model(), config)
    names = adapted(model)
    attention = [n for n, m in model.named_modules() if type(m).__name__.endswith("Attention")]
    assert attention and all(any(a.startswith(n + ".") for a in names) for n in attention)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.01)
    rows = [list(pack(random_docs(4), 128, 0))]
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss, n = supervised_loss(model, *batch_tensors(rows[0]))
        (loss / n).backward()
        optimizer.step()
        losses.append(float(loss / n))
    assert losses[-1] < losses[0]
    model.eval()
    ids = torch.tensor([[5, 9, 44, 61, 7, 12, 100, 3]])
    with torch.no_grad():
        tuned = model(input_ids=ids).logits
    save_export(model, byte_tokenizer(), config, tmp_path / "final")
    reloaded = AutoModelForCausalLM.from_pretrained(str(tmp_path / "final")).eval()
    with torch.no_grad():
        assert float((reloaded(input_ids=ids).logits - tuned).abs().max()) < 1e-4


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_fsdp_wraps_the_models_own_block_class(family):
    """With no class named in the FSDP config, Accelerate's wrap policy reads the prepared
    module's _no_split_modules: the loss module passes on the model's own block classes, each
    one a class of the model that holds a layer's attention (2-process runs for llama,
    mistral and gpt_neox: tests/integration/test_tune_fsdp.py)."""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.fsdp_utils import fsdp2_prepare_auto_wrap_policy

    model = family.model()
    wrapped = SupervisedLM(model)
    assert wrapped._no_split_modules == list(model._no_split_modules)
    plugin = FullyShardedDataParallelPlugin(
        fsdp_version=2, auto_wrap_policy="transformer_based_wrap"
    )
    policy = fsdp2_prepare_auto_wrap_policy(plugin, wrapped)
    chosen = [m for m in wrapped.modules() if policy(m)]
    assert len(chosen) == model.config.num_hidden_layers
    assert {type(m).__name__ for m in chosen} == set(model._no_split_modules)
    for block in chosen:
        assert any(type(m).__name__.endswith("Attention") for m in block.modules())


@pytest.fixture(scope="module")
def mixture(tmp_path_factory):
    return build_tiny_mixture(tmp_path_factory.mktemp("matrix") / "mix", n=16)


@pytest.mark.parametrize("family", FAMILIES, ids=IDS)
def test_final_saves_reloads_and_evaluates(family, tmp_path, mixture):
    """`symtune tune` on a model folder of the family writes final/, which reloads with
    `from_pretrained` and which `symtune eval --tuned` (its Python API) scores beside the base
    model."""
    from transformers import AutoModelForCausalLM

    from matrix import save
    from symtune.evaluate.api import evaluate
    from symtune.tune.loop import tune

    model_dir = tmp_path / family.name
    save(family, model_dir, byte_tokenizer())
    run = tune(tiny_tune_config(tmp_path / "run", mixture, model_dir, steps=1, seq_len=1024))
    final = AutoModelForCausalLM.from_pretrained(str(run / "final"))
    assert type(final).__name__ == type(family.model()).__name__
    config = small_eval_config(tmp_path, model_dir, validation=4)
    document = evaluate(config, {"base": str(model_dir), "tuned": str(run)}, tmp_path / "eval")
    assert set(document["models"]) == {"base", "tuned"}
    assert {i["id"] for i in document["items"]} and all(
        set(i["results"]) == {"base", "tuned"} for i in document["items"]
    )


def test_the_models_guide_table_is_this_matrix():
    """docs/models.md's table lists exactly these families and properties, all verified (the
    tests above fail for any family that lacks one)."""
    from matrix import table

    text = (ROOT / "docs" / "models.md").read_text()
    assert table(PROPERTIES) in text, "regenerate: python tests/matrix.py > the table"


def test_fsdp_refuses_a_model_that_declares_no_blocks():
    """With no class in the config and none declared by the model, FSDP would shard nothing
    per layer: one line instead."""
    from types import SimpleNamespace

    from symtune.errors import SymtuneError
    from symtune.tune.step import check_wrapping

    model = SupervisedLM(FAMILIES[0].model())
    plugin = SimpleNamespace(transformer_cls_names_to_wrap=None)
    accelerator = SimpleNamespace(state=SimpleNamespace(fsdp_plugin=plugin), is_fsdp2=True)
    check_wrapping(model, accelerator, "tiny")  # its own LlamaDecoderLayer: fine
    model._no_split_modules = []
    with pytest.raises(SymtuneError, match="model tiny declares no block classes"):
        check_wrapping(model, accelerator, "tiny")
    plugin.transformer_cls_names_to_wrap = ["GPT2Block"]
    with pytest.raises(SymtuneError, match="'GPT2Block' is not in model tiny"):
        check_wrapping(model, accelerator, "tiny")
