import random

import pytest
import torch

from conftest import byte_tokenizer as make_byte_tokenizer
from conftest import tiny_llama
from symtune.errors import SymtuneError
from symtune.prompts.build import FORMATS, Prompt, PromptMeta, render
from symtune.tune.attention import NAME, document_spans, register
from symtune.tune.loss import supervised_loss
from symtune.tune.packing import (
    IGNORE,
    Document,
    batch_tensors,
    batch_width,
    pack,
    tokenize_prompt,
)


@pytest.fixture(scope="module")
def byte_tokenizer():
    return make_byte_tokenizer()


def prompt_of(exemplars, query, answer) -> Prompt:
    text, target, spans = render(FORMATS[7], "", exemplars, query, answer)
    answers = [a for _, a in exemplars]
    seen = tuple(a in answers[:i] for i, a in enumerate(answers))
    meta = PromptMeta("t", "symbol_tuning", 7, ("X", "Y"), (), "q", "k", False)
    return Prompt(text, target, ("X", "Y"), spans, seen, meta)


def supervised_text(doc: Document, tokenizer) -> str:
    return "".join(tokenizer.decode([label]) if label != IGNORE else "." for label in doc.labels)


def test_loss_mask_covers_the_target_and_eos_only(byte_tokenizer):
    prompt = prompt_of([("a", "X"), ("b", "Y")], "c", "X")
    assert prompt.text + prompt.target == "Q: a\nA: X\n\nQ: b\nA: Y\n\nQ: c\nA: X"
    doc = tokenize_prompt(prompt, byte_tokenizer)
    assert len(doc.input_ids) == len(prompt.text + prompt.target)
    assert supervised_text(doc, byte_tokenizer) == "." * (len(prompt.text) - 1) + " X<eos>"


def test_seen_exemplar_labels_are_supervised_on_request(byte_tokenizer):
    prompt = prompt_of([("a", "X"), ("b", "Y"), ("d", "X")], "c", "Y")
    doc = tokenize_prompt(prompt, byte_tokenizer, seen_labels=True)
    text = supervised_text(doc, byte_tokenizer)
    # only the third exemplar's answer (X seen before) and the target are supervised
    third = prompt.label_spans[2]
    assert text[third[0] - 1 : third[1] - 1] == " X"
    assert set(text[: third[0] - 1]) == {"."}
    assert text.endswith(" Y<eos>") and text.count(".") == len(text) - 4 - len("<eos>")


def test_pack_keeps_order_restarts_positions_and_pads():
    docs = [
        Document((1, 2, 3), (2, 3, 9)),
        Document((4, 5), (IGNORE, 7)),
        Document((6,) * 4, (8,) * 4),
    ]
    rows = list(pack(docs, 6, pad_id=0))
    assert [r.lengths for r in rows] == [(3, 2, 1), (4, 2)]
    assert rows[0].input_ids == (1, 2, 3, 4, 5, 0)
    assert rows[0].labels == (2, 3, 9, IGNORE, 7, IGNORE)
    assert rows[0].position_ids == (0, 1, 2, 0, 1, 0)
    assert rows[1].position_ids == (0, 1, 2, 3, 0, 1)
    with pytest.raises(SymtuneError, match="seq-len 3 is shorter than a single prompt"):
        list(pack(docs, 3, 0))


def tiny_model(attention: str = "sdpa"):
    model = tiny_llama()
    model.set_attn_implementation(register() if attention == NAME else attention)
    return model


def random_docs(seed: int) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for size in (7, 5, 9, 4, 6, 11, 3):
        ids = tuple(rng.randrange(1, 64) for _ in range(size))
        labels = (*(ids[i + 1] if i >= size - 4 else IGNORE for i in range(size - 1)), 3)
        docs.append(Document(ids, labels))
    return docs


def loss_and_grads(model, rows):
    model.zero_grad()
    total = torch.zeros(())
    count = 0
    for row_group in rows:
        loss, n = supervised_loss(model, *batch_tensors(row_group))
        total = total + loss
        count += n
    (total / count).backward()
    return (total / count).detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("attention", ["sdpa", "eager", NAME])
def test_packed_loss_and_gradients_equal_unpacked(attention):
    model = tiny_model(attention)
    docs = random_docs(0)
    packed_rows = list(pack(docs, 16, pad_id=0))
    assert len(packed_rows) < len(docs)
    packed, packed_grads = loss_and_grads(model, [packed_rows])
    single = [list(pack([d], len(d.input_ids), 0)) for d in docs]
    unpacked, unpacked_grads = loss_and_grads(model, single)
    assert abs(packed.item() - unpacked.item()) < 1e-4
    for a, b in zip(packed_grads, unpacked_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_a_micro_batch_is_cut_to_its_longest_row_rounded_up():
    rows = list(pack(random_docs(0), 32, pad_id=0))
    assert [r.tokens for r in rows] == [31, 14] == [sum(r.lengths[:-1]) for r in rows]
    assert batch_width(rows, 8) == 32 and batch_width(rows[1:], 8) == 16
    assert batch_width(rows[1:], 1) == 14 and batch_width(rows[1:], 64) == 32
    ids, labels, positions = batch_tensors(rows[1:], 8)
    assert ids.shape == labels.shape == positions.shape == (1, 16)
    assert ids[0, 15].item() == 0 and labels[0, 15].item() == IGNORE


@pytest.mark.parametrize("attention", ["sdpa", "eager", NAME])
def test_cutting_the_padding_changes_neither_loss_nor_gradients(attention):
    """A row a third full, cut to its documents, trains exactly as the whole row (fp32)."""
    model = tiny_model(attention)
    rows = list(pack(random_docs(1)[:3], 64, pad_id=0))
    assert len(rows) == 1 and rows[0].tokens == 21
    results = []
    for multiple in (64, 1, 8):
        model.zero_grad()
        ids, labels, positions = batch_tensors(rows, multiple)
        loss, _ = supervised_loss(model, ids, labels, positions)
        loss.backward()
        results.append((ids.shape[1], loss.detach(), [p.grad.clone() for p in model.parameters()]))
    assert [width for width, _, _ in results] == [64, 21, 24]
    full = results[0]
    for _, loss, grads in results[1:]:
        assert abs(loss.item() - full[1].item()) < 1e-5
        for a, b in zip(grads, full[2], strict=True):
            assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("attention", ["sdpa", NAME])
def test_without_restarting_positions_documents_would_leak(attention):
    """Guard: the equality above is not vacuous; one position run over the whole row differs."""
    model = tiny_model(attention)
    rows = list(pack(random_docs(1), 16, pad_id=0))
    ids, labels, positions = batch_tensors(rows)
    right, _ = supervised_loss(model, ids, labels, positions)
    flat = torch.arange(ids.shape[1]).expand_as(ids)
    wrong, _ = supervised_loss(model, ids, labels, flat)
    assert abs(right.item() - wrong.item()) > 1e-3


def test_document_spans_follow_position_restarts():
    positions = torch.tensor([[0, 1, 2, 0, 1, 0], [0, 1, 2, 3, 4, 5]])
    assert document_spans(positions) == [[(0, 3), (3, 5), (5, 6)], [(0, 6)]]


def test_packed_attention_matches_sdpa_in_bf16_too():
    ids, labels, positions = batch_tensors(list(pack(random_docs(2), 16, pad_id=0)))
    results = []
    for attention in ("sdpa", NAME):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            results.append(supervised_loss(tiny_model(attention), ids, labels, positions)[0])
    assert abs(results[0].item() - results[1].item()) < 1e-2 * abs(results[0].item())


def test_flex_attention_packed_forward_equals_unpacked():
    """FlexAttention (the CUDA default) has no backward on CPU: its forward is checked here,
    its gradients in tests/gpu."""
    model = tiny_model("flex_attention")
    docs = random_docs(0)
    with torch.no_grad():
        packed = supervised_loss(model, *batch_tensors(list(pack(docs, 16, pad_id=0))))
        single = [supervised_loss(model, *batch_tensors(list(pack([d], 16, 0)))) for d in docs]
    assert packed[1] == sum(n for _, n in single)
    assert abs(packed[0].item() - sum(loss.item() for loss, _ in single)) < 1e-4
