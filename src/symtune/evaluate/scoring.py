"""Scoring backends behind one small interface: rank classification (log-likelihood of each
candidate, the prompt encoded once and its KV cache shared by all candidates) and greedy
exact-match generation (stop at newline or EOS)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RankRequest:
    """Score each continuation after `context` (continuations carry their own leading space)."""

    context: str
    continuations: tuple[str, ...]


@dataclass(frozen=True)
class GenerateRequest:
    """Greedy continuation of `context`, cut at the first newline."""

    context: str
    max_new_tokens: int = 16


class Scorer:
    """A causal LM and its tokenizer, scored on CPU or GPU, in fp32 or bf16."""

    def __init__(self, model, tokenizer, batch_size: int = 8):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = next(model.parameters()).device

    def _split(self, context: str, continuation: str) -> tuple[list[int], int]:
        """Tokens of context+continuation (tokenized jointly) and where the continuation starts:
        the first token that ends past the context (a straddling token counts as continuation)."""
        encoding = self.tokenizer(
            context + continuation, add_special_tokens=False, return_offsets_mapping=True
        )
        ids = list(encoding["input_ids"])
        start = next(
            i for i, (_, end) in enumerate(encoding["offset_mapping"]) if end > len(context)
        )
        bos = self.tokenizer.bos_token_id
        if getattr(self.tokenizer, "add_bos_token", False) and bos is not None:
            return [bos, *ids], start + 1
        return ids, start

    def _pieces(self, request: RankRequest) -> tuple[list[tuple[list[int], int]], int]:
        """Each continuation's joint tokens and start, and the length of the prefix that all of
        them share (at least one token) — the part encoded once."""
        pieces = [self._split(request.context, c) for c in request.continuations]
        prefix = min(start for _, start in pieces)
        first = pieces[0][0]
        while prefix > 1 and any(ids[:prefix] != first[:prefix] for ids, _ in pieces):
            prefix -= 1
        return pieces, max(1, prefix)

    def _prefill(self, ids: list[int]):
        """Encode `ids` once: (KV cache, logits at the last position)."""
        out = self.model(
            input_ids=torch.tensor([ids], device=self.device), use_cache=True, logits_to_keep=1
        )
        return out.past_key_values, out.logits[0, -1]

    def _rank_from(
        self, cache, last_logits: torch.Tensor, pieces: list[tuple[list[int], int]], prefix: int
    ) -> list[float]:
        """Continuation scores given the prefix's cache (left untouched: each chunk of
        candidates works on a copy)."""
        last = torch.log_softmax(last_logits.float(), dim=-1)
        scores = [0.0] * len(pieces)
        order = list(range(len(pieces)))
        for chunk_start in range(0, len(order), self.batch_size):
            chunk = order[chunk_start : chunk_start + self.batch_size]
            rests = [pieces[i][0][prefix:] for i in chunk]
            width = max(len(r) for r in rests)
            pad = self.tokenizer.pad_token_id or 0
            ids = torch.tensor([r + [pad] * (width - len(r)) for r in rests], device=self.device)
            mask = torch.ones(len(chunk), prefix + width, dtype=torch.long, device=self.device)
            for row, r in enumerate(rests):
                mask[row, prefix + len(r) :] = 0
            positions = torch.arange(prefix, prefix + width, device=self.device).expand(
                len(chunk), -1
            )
            shared = copy.deepcopy(cache)
            shared.batch_repeat_interleave(len(chunk))
            logits = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=shared,
                use_cache=True,
            ).logits
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            for row, i in enumerate(chunk):
                full, start = pieces[i]
                total = 0.0
                for j in range(start, len(full)):
                    # token j is predicted at position j - 1
                    dist = last if j - 1 == prefix - 1 else logprobs[row, j - 1 - prefix]
                    total += float(dist[full[j]])
                scores[i] = total
        return scores

    def _greedy_from(self, cache, last_logits: torch.Tensor, max_new_tokens: int) -> str:
        """Greedy decoding from a prefilled cache (which it extends), cut at newline or EOS."""
        eos = self.tokenizer.eos_token_id
        produced: list[int] = []
        text = ""
        logits = last_logits
        for step in range(max_new_tokens):
            token = int(logits.argmax())
            if token == eos:
                break
            produced.append(token)
            text = self.tokenizer.decode(produced, skip_special_tokens=True)
            if "\n" in text or step == max_new_tokens - 1:
                break
            out = self.model(
                input_ids=torch.tensor([[token]], device=self.device),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache = out.past_key_values
            logits = out.logits[0, -1]
        return text.split("\n", 1)[0].strip()

    @torch.inference_mode()
    def loglikelihood(self, request: RankRequest) -> list[float]:
        """Sum of log-probabilities of each continuation's tokens, prompt encoded once."""
        pieces, prefix = self._pieces(request)
        cache, last = self._prefill(pieces[0][0][:prefix])
        return self._rank_from(cache, last, pieces, prefix)

    @torch.inference_mode()
    def rank_and_generate(
        self, rank: RankRequest, generate: GenerateRequest
    ) -> tuple[list[float], str]:
        """Both scoring modes of one prompt from a single prefill when the candidates' shared
        prefix is exactly the prompt's own tokens (the usual case); otherwise two passes.
        Same numbers as `loglikelihood` and `generate` called separately."""
        pieces, prefix = self._pieces(rank)
        ids = self.tokenizer(generate.context, add_special_tokens=False)["input_ids"]
        if pieces[0][0][:prefix] != ids:
            return self.loglikelihood(rank), self.generate([generate])[0]
        cache, last = self._prefill(ids)
        scores = self._rank_from(cache, last, pieces, prefix)
        return scores, self._greedy_from(cache, last, generate.max_new_tokens)

    @torch.inference_mode()
    def loglikelihood_uncached(self, request: RankRequest) -> list[float]:
        """The same scores from one full forward per continuation (the reference for tests)."""
        scores = []
        for continuation in request.continuations:
            full, start = self._split(request.context, continuation)
            logits = self.model(input_ids=torch.tensor([full], device=self.device)).logits
            logprobs = torch.log_softmax(logits[0].float(), dim=-1)
            scores.append(sum(float(logprobs[j - 1, full[j]]) for j in range(start, len(full))))
        return scores

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy continuations, each cut at its first newline and stripped. One prompt at a
        time with a KV cache and the head only at the last position: no padding, so results
        cannot depend on batching, and on CPU it is faster than padded batches."""
        outputs = []
        for request in requests:
            ids = self.tokenizer(request.context, add_special_tokens=False)["input_ids"]
            cache, last = self._prefill(ids)
            outputs.append(self._greedy_from(cache, last, request.max_new_tokens))
        return outputs
