"""Any tokenizer: three families built here with the `tokenizers` library (trained in
milliseconds on prompt-like text) and a chat template. For each: the special tokens before a
prompt are the ones the tokenizer itself adds, the same in tuning, rank scoring and
generation; the tuning targets are exactly the label's tokens and EOS; rank scores equal
scoring the joint text; exact match compares the text a user reads."""

from __future__ import annotations

import pytest
import torch

from conftest import tiny_llama
from symtune.evaluate.greedy import Decoding
from symtune.evaluate.scoring import RankRequest, Scorer
from symtune.prompts.build import FORMATS, Prompt, PromptMeta, render
from symtune.prompts.chat import framing, leading_special_ids
from symtune.tune.packing import IGNORE, tokenize_prompt

LABELS = ("NTP", "foo", "7", "bar baz")
CORPUS = [
    f"Input: the {w} was {v}\nOutput: {label}\n\n"
    for w in ("film", "plot", "cast", "song", "meal")
    for v in ("great", "dull", "odd")
    for label in LABELS
] * 4


def byte_level_bpe():
    """GPT-2 / SmolLM style: byte-level BPE, a leading-space token per word, no BOS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(CORPUS, trainer)
    return wrap(backend, eos="<|endoftext|>")


def metaspace_with_bos():
    """Llama-2 / Mistral style: SentencePiece-like Metaspace pieces, BOS added by the
    post-processor (no `add_bos_token` flag to read)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    backend = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"])
    backend.train_from_iterator(CORPUS, trainer)
    bos = backend.token_to_id("<s>")
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    return wrap(backend, eos="</s>", bos="<s>", unk="<unk>")


def crossing_merges():
    """No pre-tokenizer: merges run across spaces, so tokens straddle the prompt/label
    boundary (": NTP" can be one token)."""
    from tokenizers import Tokenizer, decoders, models, trainers

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.decoder = decoders.BPEDecoder()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<eos>"])
    backend.train_from_iterator(CORPUS, trainer)
    return wrap(backend, eos="<eos>", unk="<unk>")


def wrap(backend, **special):
    from transformers import PreTrainedTokenizerFast

    tokens = {f"{k}_token": v for k, v in special.items()}
    return PreTrainedTokenizerFast(tokenizer_object=backend, **tokens)


TOKENIZERS = {"byte-level BPE": byte_level_bpe, "Metaspace + BOS": metaspace_with_bos}
TOKENIZERS["merges across the boundary"] = crossing_merges
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module", params=list(TOKENIZERS), ids=list(TOKENIZERS))
def tokenizer(request):
    return TOKENIZERS[request.param]()


def prompt(answer: str = "NTP") -> Prompt:
    exemplars = [("the film was great", "NTP"), ("the plot was dull", "foo")]
    text, target, spans = render(FORMATS[0], "", exemplars, "the cast was odd", answer)
    meta = PromptMeta("t", "symbol_tuning", 0, ("NTP", "foo"), (), "q", "k", False)
    return Prompt(text, target, ("NTP", "foo"), spans, (False, False), meta)


def scorer_for(tokenizer, **kwargs) -> Scorer:
    model = tiny_llama(vocab_size=len(tokenizer) + 2)
    return Scorer(model, tokenizer, **kwargs)


def test_the_start_tokens_are_what_the_tokenizer_adds(tokenizer):
    """Tuning, rank scoring and generation all start a prompt with exactly the special tokens
    the tokenizer puts before a text (BOS for the Metaspace one; none for the others)."""
    added = tokenizer("Input: x", add_special_tokens=True)["input_ids"]
    plain = tokenizer("Input: x", add_special_tokens=False)["input_ids"]
    start = tuple(added[: len(added) - len(plain)])
    assert leading_special_ids(tokenizer) == start
    assert (start == (tokenizer.bos_token_id,)) == (tokenizer.bos_token is not None)
    p = prompt()
    doc = tokenize_prompt(p, tokenizer, framing=framing(tokenizer))
    assert doc.input_ids[: len(start)] == start
    scorer = scorer_for(tokenizer)
    ids, _ = scorer._split(p.text, p.target)
    assert tuple(ids[: len(start)]) == start and scorer.encode(p.text)[: len(start)] == list(start)
    assert tuple(ids) == (*doc.input_ids, tokenizer.eos_token_id)[: len(ids)]  # same tokens


def test_tuning_supervises_the_label_and_eos_only(tokenizer):
    """The supervised tokens are exactly the joint tokenization's tokens that carry target
    characters (a token straddling the boundary included), then EOS; they spell the label."""
    for answer in LABELS:
        p = prompt(answer)
        doc = tokenize_prompt(p, tokenizer, framing=framing(tokenizer))
        supervised = [t for t in doc.labels if t != IGNORE]
        joint = tokenizer(p.text + p.target, add_special_tokens=False, return_offsets_mapping=True)
        carrying = [
            t
            for t, (_, end) in zip(joint["input_ids"], joint["offset_mapping"], strict=True)
            if end > len(p.text)
        ]
        assert supervised == [*carrying, tokenizer.eos_token_id]
        assert tokenizer.decode(carrying).strip().endswith(answer)


def test_some_prompt_straddles_the_boundary_with_the_crossing_tokenizer():
    """The third family really does merge across the boundary (else it tests nothing)."""
    tokenizer = crossing_merges()
    found = False
    for answer in LABELS:
        p = prompt(answer)
        encoding = tokenizer(
            p.text + p.target, add_special_tokens=False, return_offsets_mapping=True
        )
        found |= any(s < len(p.text) < e for s, e in encoding["offset_mapping"])
    assert found


def test_rank_scores_equal_scoring_the_joint_text(tokenizer):
    """Shared-prefix scores equal one full forward of the jointly tokenized prompt + label,
    BOS included where the tokenizer adds it."""
    scorer = scorer_for(tokenizer, batch_size=2)
    request = RankRequest(prompt().text, tuple(" " + label for label in LABELS))
    cached = scorer.loglikelihood(request)
    for label, score in zip(request.continuations, cached, strict=True):
        joint = tokenizer(request.context + label, add_special_tokens=True)["input_ids"]
        full, start = scorer._split(request.context, label)
        assert full == joint  # what the tokenizer itself makes of the joint text
        with torch.no_grad():
            logits = scorer.model(input_ids=torch.tensor([joint])).logits[0].log_softmax(-1)
        reference = sum(float(logits[j - 1, joint[j]]) for j in range(start, len(joint)))
        assert abs(score - reference) < 1e-4


def test_exact_match_compares_what_a_user_reads(tokenizer):
    """A generated label's tokens, then EOS or a newline, give the label as text: no
    Metaspace marker, no leading space, no special token."""
    scorer = scorer_for(tokenizer)
    context = prompt().text
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    for label in LABELS:
        full, start = scorer._split(context, " " + label)
        tokens = full[start:]
        if full[:start] != scorer.encode(context):  # merged across the boundary
            tokens = tokenizer(" " + label, add_special_tokens=False)["input_ids"]
        for stop in ([tokenizer.eos_token_id], newline):
            decoding = Decoding(16, tokenizer.eos_token_id, scorer.decode)
            for token in [*tokens, *stop]:
                if decoding.push(token):
                    break
            assert decoding.output == label


def test_a_chat_template_frames_tuning_and_evaluation_alike(tokenizer):
    """With the template: no start tokens of the tokenizer's (the template writes them), the
    prompt as the user turn in tuning and in rank scoring, the target ended by the template's
    end of turn (supervised; no EOS), and labels scored as the reply."""
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = CHATML
    chat = framing(tokenizer, chat_template=True)
    assert chat.start == () and chat.end == "<|im_end|>"
    p = prompt()
    doc = tokenize_prompt(p, tokenizer, framing=chat)
    supervised = [t for t in doc.labels if t != IGNORE]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert supervised[-1] == end and tokenizer.eos_token_id not in supervised
    assert tokenizer.decode(supervised[:-1]).strip().endswith("NTP")
    text = tokenizer.decode(list(doc.input_ids))
    assert text.startswith("<|im_start|>user\n") and "<|im_start|>assistant\n" in text
    scorer = scorer_for(tokenizer, framing=chat)
    request = scorer.rank_request(p.text, ["NTP", "foo"])
    assert request.context == f"<|im_start|>user\n{p.text}<|im_end|>\n<|im_start|>assistant\n"
    assert request.continuations == ("NTP", "foo")
    # the tuned document's prompt is the scored context, token for token
    context = scorer.encode(request.context)
    assert list(doc.input_ids[: len(context)]) == context


def test_evaluation_with_the_chat_template_records_it_and_scores_the_framed_prompts(
    tmp_path, tiny_model_dir
):
    """`eval --chat-template` scores prompts as the template frames them (other scores than
    raw text) and says so in results.json; a tokenizer without a template is refused."""
    import shutil
    from dataclasses import replace

    from conftest import small_eval_config
    from symtune.errors import SymtuneError
    from symtune.evaluate.api import evaluate
    from symtune.models import load_tokenizer

    model = tmp_path / "chat-model"
    shutil.copytree(tiny_model_dir, model)
    tokenizer = load_tokenizer(str(tiny_model_dir))
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(str(model))
    raw = small_eval_config(tmp_path, model)
    chat = replace(raw, chat_template=True)
    framed = evaluate(chat, {"base": str(model)}, tmp_path / "chat")
    plain = evaluate(raw, {"base": str(model)}, tmp_path / "raw")
    assert framed["config"]["chat_template"] is True and plain["config"]["chat_template"] is False
    scores = [[i["results"]["base"]["rank"]["scores"] for i in d["items"]] for d in (framed, plain)]
    assert scores[0] != scores[1]
    with pytest.raises(SymtuneError, match="has no chat template"):
        evaluate(chat, {"base": str(tiny_model_dir)}, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_a_run_yaml_frames_both_stages_by_tune_chat_template(tmp_path):
    from symtune.pipeline.config import load_run_config

    path = tmp_path / "run.yaml"
    path.write_text(
        "model: smollm2-135m-instruct\nsuite: reachable\n"
        "data: {n: 40, seed: 1, max_tokens: 512}\n"
        "tune: {steps: 3, batch_size: 4, chat_template: true}\n"
        "eval: {seeds: [0], settings: [neither], max_queries: 5}\n"
        "extra_eval: {suite: reachable, settings: [neither]}\n"
    )
    config = load_run_config(path, tmp_path / "run")
    assert config.tune.chat_template and config.eval.chat_template
    assert config.extra_eval is not None and config.extra_eval.chat_template
