"""The CUDA path, on a GPU only (marker `gpu`; skipped without one): packed == unpacked loss and
gradients for every attention implementation, a tuning run whose numbers do not depend on the
attention, bf16 autocast close to fp32, and evaluation on the GPU (rows and tree engines) equal
to the CPU's.

`SYMTUNE_TEST_DEVICE=cpu pytest -m gpu tests/gpu` runs what of it a CPU can (a dry run of the
test code itself: FlexAttention has no backward on a CPU, and a run there uses the CPU path)."""

import json
import os

import pytest
import torch
from transformers import AutoModelForCausalLM

from conftest import build_tiny_mixture, tiny_llama
from symtune.evaluate.scoring import GenerateRequest, RankRequest, Scorer
from symtune.evaluate.shared import Query
from symtune.evaluate.tree import score_queries
from symtune.models import load_tokenizer
from symtune.tune.attention import NAME, register
from symtune.tune.config import TuneConfig
from symtune.tune.loop import tune
from symtune.tune.loss import supervised_loss
from symtune.tune.packing import IGNORE, Document, batch_tensors, pack

DEVICE = os.environ.get("SYMTUNE_TEST_DEVICE", "cuda")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        DEVICE == "cuda" and not torch.cuda.is_available(), reason="needs a CUDA GPU"
    ),
]
ATTENTIONS = ["flex_attention", "sdpa", NAME] if DEVICE == "cuda" else ["sdpa", NAME]


def model_for(attention: str):
    # head_dim 16: the smallest FlexAttention's GPU kernels take
    model = tiny_llama(hidden_size=64, intermediate_size=128, num_attention_heads=4)
    model.set_attn_implementation(register() if attention == NAME else attention)
    return model.to(DEVICE)


def docs(seed: int) -> list[Document]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for size in (37, 5, 90, 14, 61, 120, 3, 48):
        ids = tuple(torch.randint(1, 64, (size,), generator=gen).tolist())
        labels = (*(ids[i + 1] if i >= size - 4 else IGNORE for i in range(size - 1)), 3)
        out.append(Document(ids, labels))
    return out


def loss_and_grads(model, groups):
    model.zero_grad()
    total, count = torch.zeros((), device=DEVICE), 0
    for rows in groups:
        loss, n = supervised_loss(model, *(t.to(DEVICE) for t in batch_tensors(rows)))
        total, count = total + loss, count + n
    (total / count).backward()
    return (total / count).item(), [p.grad.detach().cpu().clone() for p in model.parameters()]


@pytest.mark.parametrize("attention", ATTENTIONS)
def test_packed_loss_and_gradients_equal_unpacked(attention):
    torch.backends.cuda.matmul.allow_tf32 = False
    model = model_for(attention)
    documents = docs(0)
    rows = list(pack(documents, 256, pad_id=0))
    assert len(rows) < len(documents)
    packed, packed_grads = loss_and_grads(model, [rows])
    alone, alone_grads = loss_and_grads(model, [list(pack([d], 256, 0)) for d in documents])
    assert abs(packed - alone) < 1e-4
    for a, b in zip(packed_grads, alone_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    ids, labels, _ = batch_tensors(rows)
    flat = torch.arange(ids.shape[1]).expand_as(ids)
    leaked, _ = supervised_loss(model, ids.to(DEVICE), labels.to(DEVICE), flat.to(DEVICE))
    assert abs(leaked.item() / sum(1 for x in labels.flatten() if x != IGNORE) - packed) > 1e-4


def test_a_run_does_not_depend_on_the_attention_and_bf16_stays_close(tmp_path, tiny_model_dir):
    mixture = build_tiny_mixture(tmp_path / "mixture")

    def run(name: str, **overrides) -> list[float]:
        config = TuneConfig(
            mixture=str(mixture),
            out=str(tmp_path / name),
            model=str(tiny_model_dir),
            steps=3,
            batch_size=8,
            seq_len=2048,
            micro_batch_rows=2,
            lr=1e-2,
            checkpoint_every=3,
            **{"dtype": "fp32", **overrides},
        )
        path = tune(config)
        records = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
        return [r["loss"] for r in records if "loss" in r]

    auto = run("auto")
    provenance = json.loads((tmp_path / "auto" / "provenance.json").read_text())
    assert provenance["device"] == DEVICE
    assert provenance["attention"] == ("flex_attention" if DEVICE == "cuda" else NAME)
    packed = run("packed", attention=NAME)
    assert all(abs(a - b) < 1e-4 * max(1.0, abs(a)) for a, b in zip(auto, packed, strict=True))
    bf16 = run("bf16", dtype="bf16")
    assert all(abs(a - b) < 0.05 * abs(a) for a, b in zip(auto, bf16, strict=True))


def test_evaluation_on_the_device_equals_the_cpu(tiny_model_dir):
    tokenizer = load_tokenizer(str(tiny_model_dir))
    cpu = Scorer(AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)), tokenizer)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).to(DEVICE)
    device = Scorer(model, tokenizer, batch_size=4, pack_tokens=512)
    contexts = ["Q: alpha\nA: XQZ\n\nQ: beta\nA:", "A:", "x -> 1\n\ny -> 2\n\nz ->"] * 3
    requests = [RankRequest(c, (" XQZ", " 2", " not ironic")) for c in contexts]
    for request, scores in zip(requests, device.loglikelihood_many(requests), strict=True):
        reference = cpu.loglikelihood(request)
        assert all(abs(a - b) < 1e-3 for a, b in zip(scores, reference, strict=True))
    generate = [GenerateRequest(c, 8) for c in contexts]
    assert device.generate(generate) == cpu.generate(generate)
    tree = Scorer(model, tokenizer, batch_size=2, engine="tree")
    assert tree.engine == "tree"
    queries = [Query(r.context, r.continuations, 8) for r in requests]
    for request, (scores, _) in zip(requests, score_queries(tree, queries, False), strict=True):
        reference = cpu.loglikelihood(request)
        assert all(abs(a - b) < 1e-3 for a, b in zip(scores, reference, strict=True))
