"""Greedy decoding by verification: a candidate label *is* the greedy output when, teacher-forced
after the prompt (as rank scoring does anyway), the argmax at each of its positions is its own
next token and the argmax after it is a stop under the rule generation uses (EOS, or a token
that brings a newline). Then the generated text is known without generating; otherwise the
caller generates as usual. Pure functions over the few numbers a forward leaves behind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

MARGINS = {torch.float32: 1e-3, torch.bfloat16: 0.5, torch.float16: 0.25}
"""How far the argmax must lead the runner-up (in logits) for a verification to count: the
teacher-forced and the step-by-step forward differ by rounding (bf16 logits step by 1/16 at
their size), and a closer call goes to real generation."""


@dataclass(frozen=True)
class Top:
    """The argmax token at one position and its lead over the runner-up."""

    token: int
    lead: float


def tops(logits: torch.Tensor) -> list[Top]:
    """Argmax and lead per row of a (positions, vocabulary) tensor."""
    values, indices = logits.float().topk(2, dim=-1)
    leads = (values[:, 0] - values[:, 1]).tolist()
    return [Top(int(t), lead) for t, lead in zip(indices[:, 0].tolist(), leads, strict=True)]


class Decoding:
    """One sequence under greedy decoding's stop rule: stop at EOS (not emitted), after a
    token whose decoded text holds a newline, or after `budget` tokens; the output is the text
    up to the first newline, stripped. `Scorer._greedy_from` and batched decoding share it, and
    `verified_output` mirrors it."""

    def __init__(self, budget: int, eos: int | None, decode: Callable[[list[int]], str]):
        self.budget, self.eos, self.decode = budget, eos, decode
        self.produced: list[int] = []
        self.text = ""
        self.done = budget < 1

    def push(self, token: int) -> bool:
        """Take the next argmax token; True once decoding has stopped."""
        if self.done:
            return True
        if token == self.eos:
            self.done = True
            return True
        self.produced.append(token)
        self.text = self.decode(self.produced)
        self.done = "\n" in self.text or len(self.produced) == self.budget
        return self.done

    @property
    def output(self) -> str:
        return self.text.split("\n", 1)[0].strip()


def greedy_text(produced: Sequence[int], decode: Callable[[list[int]], str]) -> str:
    """The stop rule's output: the decoded tokens up to the first newline, stripped."""
    return decode(list(produced)).split("\n", 1)[0].strip()


def verified_output(
    tokens: Sequence[int],
    steps: Sequence[Top],
    decode: Callable[[list[int]], str],
    eos: int | None,
    max_new_tokens: int,
    margin: float,
) -> str | None:
    """What greedy decoding outputs when it follows `tokens`, or None when that is not certain.

    `steps[j]` is the argmax before `tokens[j]` (j < len(tokens)) and, when present,
    `steps[len(tokens)]` the argmax after the last one. Mirrors `Scorer._greedy_from`: stop at
    EOS (not emitted), after a token whose decoded text holds a newline, or after
    `max_new_tokens` tokens."""
    if not tokens or len(tokens) > max_new_tokens:
        return None
    for j, token in enumerate(tokens):
        top = steps[j]
        if top.token != token or top.lead < margin or token == eos:
            return None
        if j < len(tokens) - 1 and "\n" in decode(list(tokens[: j + 1])):
            return None  # generation would have stopped earlier
    if "\n" in decode(list(tokens)) or len(tokens) == max_new_tokens:
        return greedy_text(tokens, decode)
    if len(steps) <= len(tokens):
        return None
    after = steps[len(tokens)]
    if after.lead < margin:
        return None
    if after.token == eos:
        return greedy_text(tokens, decode)
    extended = [*tokens, after.token]
    if "\n" in decode(extended):
        return greedy_text(extended, decode)
    return None  # generation goes on past the candidate
