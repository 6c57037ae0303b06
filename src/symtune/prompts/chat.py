"""How a prompt's text becomes a model's input, one choice (`Framing`) shared by tuning,
in-run validation and evaluation: the special tokens the tokenizer itself puts before a text
(BOS for Llama-2, Mistral, Gemma; none for GPT-2, SmolLM2, Qwen), and optionally the model's
chat template (the prompt as one user turn, the answer as the assistant's reply, ended the
way the template ends a turn). Torch-free: a tokenizer object does the rendering."""

from __future__ import annotations

from dataclasses import dataclass

from symtune.errors import SymtuneError
from symtune.prompts.build import Prompt

PROBE = "\x00symtune-answer\x00"


@dataclass(frozen=True)
class Framing:
    """`start`: token ids before every prompt; `chat`: prompts are rendered by the chat
    template; `end`: the text the template puts after a reply ("" outside chat, or when the
    template puts none: then EOS ends a tuned answer)."""

    start: tuple[int, ...] = ()
    chat: bool = False
    end: str = ""

    def frame(self, prompt: Prompt, tokenizer) -> tuple[str, str, tuple[tuple[int, int], ...]]:
        """(text, target, exemplar answer spans) as the model reads them: raw, or the text as
        a user turn and the target as the reply (no leading space) with the turn's end."""
        if not self.chat:
            return prompt.text, prompt.target, prompt.label_spans
        text = render_user_turn(prompt.text, tokenizer)
        offset = text.index(prompt.text)
        spans = tuple((s + offset, e + offset) for s, e in prompt.label_spans)
        return text, prompt.answer + self.end, spans

    def context(self, text: str, tokenizer) -> str:
        """An evaluation prompt's text as the model reads it."""
        return render_user_turn(text, tokenizer) if self.chat else text

    def candidate(self, label: str) -> str:
        """A label as the continuation scored after `context` (raw text: after a space)."""
        return label if self.chat else " " + label


def framing(tokenizer, chat_template: bool = False, name: str = "") -> Framing:
    """The framing of a tokenizer: its own leading special tokens for raw text; with
    `chat_template`, none (the template writes its own BOS text) and its end of turn."""
    if not chat_template:
        return Framing(leading_special_ids(tokenizer))
    check_chat_template(tokenizer, name)
    return Framing((), True, turn_end(tokenizer))


def leading_special_ids(tokenizer) -> tuple[int, ...]:
    """The special tokens the tokenizer itself puts before any text, read from what it
    produces rather than from an attribute (many tokenizers add BOS in their post-processor
    and expose no flag)."""
    encoding = tokenizer("a", add_special_tokens=True, return_special_tokens_mask=True)
    lead: list[int] = []
    for token, special in zip(encoding["input_ids"], encoding["special_tokens_mask"], strict=True):
        if not special:
            break
        lead.append(int(token))
    return tuple(lead)


def render_user_turn(text: str, tokenizer) -> str:
    """`text` as one user turn followed by the template's start of the assistant's reply."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
    )


def turn_end(tokenizer) -> str:
    """The text the template puts after an assistant reply (whitespace stripped): e.g.
    "<|im_end|>" for ChatML, "<end_of_turn>" for Gemma; "" when it puts nothing."""
    head = render_user_turn("q", tokenizer)
    full = tokenizer.apply_chat_template(
        [{"role": "user", "content": "q"}, {"role": "assistant", "content": PROBE}],
        tokenize=False,
    )
    if not full.startswith(head) or PROBE not in full:
        return ""  # a template that rewrites the history: no reliable end of turn
    return full[full.index(PROBE) + len(PROBE) :].strip()


def check_chat_template(tokenizer, name: str) -> None:
    """Refuse `chat_template` for a tokenizer that has none (one line)."""
    if not getattr(tokenizer, "chat_template", None):
        raise SymtuneError(
            f"chat_template=true, but the tokenizer of model {name or '?'} has no chat "
            "template; leave chat_template off (raw text, the paper's setting)"
        )
