"""Scoring backends behind one small interface: rank classification (log-likelihood of each
candidate, the prompt encoded once and its KV cache shared by all candidates) and greedy
exact-match generation (stop at newline or EOS)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from symtune.evaluate import tree
from symtune.evaluate.greedy import MARGINS, Decoding, Top, tops, verified_output
from symtune.models.architecture import isolates_packed
from symtune.prompts.chat import Framing
from symtune.prompts.chat import framing as raw_framing


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


ENGINES = ("prefix", "tree", "rows")
"""Rank scoring's ways to compute the same numbers: "prefix", one prompt (or one exemplar set
and a batch of queries) per forward with a KV cache its candidates share; "tree", many prompts
and their candidates per forward as token trees (`symtune.evaluate.tree`): each token computed
once, in large matmuls; "rows", every (prompt, candidate) packed into rows, each prompt
repeated per candidate (lm-eval's amount of work)."""

PACKING_TOLERANCE = {torch.float32: 1e-3}
"""How far a packed prompt's log-probabilities may move from its own (rounding); bf16: 0.1."""


def split(tokenizer, framing: Framing, context: str, continuation: str) -> tuple[list[int], int]:
    """Tokens of context+continuation (tokenized jointly, after the framing's start) and where
    the continuation starts: the first token that ends past the context (a straddling token
    counts as continuation)."""
    encoding = tokenizer(
        context + continuation, add_special_tokens=False, return_offsets_mapping=True
    )
    ids = list(encoding["input_ids"])
    start = next(i for i, (_, end) in enumerate(encoding["offset_mapping"]) if end > len(context))
    lead = list(framing.start)
    return [*lead, *ids], start + len(lead)


class Scorer:
    """A causal LM and its tokenizer, scored on CPU or GPU, in fp32 or bf16.

    Three engines for rank scoring (`ENGINES`), the same numbers (tested): "prefix", one prompt
    at a time with a KV cache shared by its candidates; "tree" (`symtune.evaluate.tree`), many
    prompts and their candidates per forward as token trees, nothing computed twice; "rows"
    (`pack_tokens=N`), every (prompt, candidate) packed into rows of N tokens whose position
    ids restart per sequence, so that attention stays within each (transformers builds the
    per-sequence causal mask), the head only where a candidate token is predicted. A model
    that cannot run "tree" or "rows" (checked once) is scored by "prefix". Greedy decoding
    runs batches of left-padded prompts through `generate` under "rows", else one prompt at a
    time with a KV cache."""

    def __init__(
        self,
        model,
        tokenizer,
        batch_size: int = 8,
        pack_tokens: int = 0,
        greedy: str = "verify",
        framing: Framing | None = None,
        engine: str | None = None,
        row_tokens: int = 0,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.framing = framing if framing is not None else raw_framing(tokenizer)
        """How prompts are framed: the tokenizer's own leading special tokens (BOS where it adds
        one) before every prompt, as in tuning; a chat template when asked."""
        self.batch_size = batch_size
        """Queries per forward (prefix), rows per forward (tree, rows)."""
        tolerance = PACKING_TOLERANCE.get(model.dtype, 0.1)
        engine = engine or ("rows" if pack_tokens else "prefix")
        self.windows = None
        if engine == "rows" and not isolates_packed(model, tolerance):
            engine = "prefix"  # its masks would let packed prompts see each other
        if engine == "tree":
            self.windows = tree.attention_windows(model)
            if self.windows is None or not tree.supported(model, tolerance):
                engine = "prefix"  # it builds its masks its own way
        self.engine = engine
        """How rank scoring runs (`ENGINES`); "tree" or "rows" asked of a model that cannot
        run them falls back to "prefix" (the same numbers, slower)."""
        self.row_tokens = row_tokens if engine == "tree" else 0
        """Tokens per tree row (0: sized to the prompts, `tree.DEFAULT_ROW_TOKENS`)."""
        self.pack_tokens = (row_tokens or pack_tokens or 8192) if engine == "rows" else 0
        self.greedy = greedy
        """"verify": a candidate the teacher-forced pass shows to be the greedy output is
        taken without generating (`symtune.evaluate.greedy`); "generate": always generate."""
        self.margin = MARGINS.get(next(model.parameters()).dtype, 1e-3)
        self.device = next(model.parameters()).device
        self.verified = 0
        """Greedy outputs taken from verification (the rest were generated)."""

    def encode(self, text: str) -> list[int]:
        """A prompt's tokens as the model reads them: the framing's start, then the text."""
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return [*self.framing.start, *ids]

    def rank_request(self, context: str, candidates: Sequence[str]) -> RankRequest:
        """Rank request for a prompt and its labels, framed (chat template or raw text)."""
        return RankRequest(
            self.framing.context(context, self.tokenizer),
            tuple(self.framing.candidate(c) for c in candidates),
        )

    def generate_request(self, context: str, max_new_tokens: int) -> GenerateRequest:
        return GenerateRequest(self.framing.context(context, self.tokenizer), max_new_tokens)

    def decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def verify(
        self, context_ids: list[int], pieces: list[tuple[list[int], int]], steps, max_new: int
    ) -> str | None:
        """The greedy output of the prompt `context_ids` if one candidate is shown to be it
        (`steps[i]`: the argmax before each of candidate i's tokens and after its last)."""
        for (full, start), top in zip(pieces, steps, strict=True):
            if full[:start] != context_ids:  # tokenized across the boundary: not the same path
                continue
            output = verified_output(
                full[start:], top, self.decode, self.tokenizer.eos_token_id, max_new, self.margin
            )
            if output is not None:
                self.verified += 1
                return output
        return None

    def _split(self, context: str, continuation: str) -> tuple[list[int], int]:
        return split(self.tokenizer, self.framing, context, continuation)

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
        self,
        cache,
        last_logits: torch.Tensor,
        pieces: list[tuple[list[int], int]],
        prefix: int,
        want_steps: bool = False,
    ) -> tuple[list[float], list[list[Top]]]:
        """Continuation scores given the prefix's cache (left untouched: each chunk of
        candidates works on a copy) and, with `want_steps`, each candidate's argmax before each
        of its tokens and after its last (for greedy verification)."""
        last = torch.log_softmax(last_logits.float(), dim=-1)
        scores = [0.0] * len(pieces)
        steps: list[list[Top]] = [[] for _ in pieces]
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
                # position p predicts token p + 1; p = prefix - 1 is the prefill's last
                dists = [
                    last if p == prefix - 1 else logprobs[row, p - prefix]
                    for p in range(start - 1, len(full))
                ]
                scores[i] = sum(float(d[t]) for d, t in zip(dists, full[start:], strict=False))
                if want_steps:
                    steps[i] = tops(torch.stack(dists))
        return scores, steps

    def _greedy_from(self, cache, last_logits: torch.Tensor, max_new_tokens: int) -> str:
        """Greedy decoding from a prefilled cache (which it extends), cut at newline or EOS."""
        decoding = Decoding(max_new_tokens, self.tokenizer.eos_token_id, self.decode)
        logits = last_logits
        while not decoding.push(int(logits.argmax())):
            token = decoding.produced[-1]
            out = self.model(
                input_ids=torch.tensor([[token]], device=self.device),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            cache = out.past_key_values
            logits = out.logits[0, -1]
        return decoding.output

    @torch.inference_mode()
    def loglikelihood(self, request: RankRequest) -> list[float]:
        """Sum of log-probabilities of each continuation's tokens, prompt encoded once."""
        pieces, prefix = self._pieces(request)
        cache, last = self._prefill(pieces[0][0][:prefix])
        return self._rank_from(cache, last, pieces, prefix)[0]

    @torch.inference_mode()
    def rank_and_generate(
        self, rank: RankRequest, generate: GenerateRequest
    ) -> tuple[list[float], str]:
        """Both scoring modes of one prompt from a single prefill when the candidates' shared
        prefix is exactly the prompt's own tokens (the usual case); otherwise two passes.
        Same numbers as `loglikelihood` and `generate` called separately; with greedy
        "verify", the output of a candidate the rank pass verifies is taken without decoding."""
        pieces, prefix = self._pieces(rank)
        ids = self.encode(generate.context)
        if pieces[0][0][:prefix] != ids:
            return self.loglikelihood(rank), self.generate([generate])[0]
        cache, last = self._prefill(ids)
        verify = self.greedy == "verify"
        scores, steps = self._rank_from(cache, last, pieces, prefix, want_steps=verify)
        if verify:
            output = self.verify(ids, pieces, steps, generate.max_new_tokens)
            if output is not None:
                return scores, output
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
    def loglikelihood_many(self, requests: Sequence[RankRequest]) -> list[list[float]]:
        """`loglikelihood` of many requests from packed rows (see the class docstring)."""
        docs = [
            (r, c, *self._split(request.context, continuation))
            for r, request in enumerate(requests)
            for c, continuation in enumerate(request.continuations)
        ]
        scores = [[0.0] * len(request.continuations) for request in requests]
        rows: list[list[int]] = []  # indices into docs
        used = self.pack_tokens
        for d, (_, _, ids, _) in enumerate(docs):
            if used + len(ids) > self.pack_tokens:
                rows.append([])
                used = 0
            rows[-1].append(d)
            used += len(ids)
        for first in range(0, len(rows), self.batch_size):
            group = rows[first : first + self.batch_size]
            width = max(sum(len(docs[d][2]) for d in row) for row in group)
            ids = torch.full((len(group), width), self.tokenizer.pad_token_id or 0)
            positions = torch.zeros((len(group), width), dtype=torch.long)
            where: list[tuple[int, int, int, int]] = []  # (row, position, token, doc)
            for b, row in enumerate(group):
                offset = 0
                for d in row:
                    full, start = docs[d][2], docs[d][3]
                    ids[b, offset : offset + len(full)] = torch.tensor(full)
                    positions[b, offset : offset + len(full)] = torch.arange(len(full))
                    where += [(b, offset + j - 1, full[j], d) for j in range(start, len(full))]
                    offset += len(full)
                # padding: a sequence of its own, so that it restarts positions too
                positions[b, offset:] = torch.arange(width - offset)
            # the model's own head (and what follows it) at the columns a candidate uses
            columns = sorted({p for _, p, _, _ in where})
            logits = self.model(
                input_ids=ids.to(self.device),
                position_ids=positions.to(self.device),
                use_cache=False,
                logits_to_keep=torch.tensor(columns, device=self.device),
            ).logits
            column = {p: i for i, p in enumerate(columns)}
            index = torch.tensor([(b, column[p]) for b, p, _, _ in where], device=self.device)
            logprobs = torch.log_softmax(logits[index[:, 0], index[:, 1]].float(), dim=-1)
            tokens = torch.tensor([t for _, _, t, _ in where], device=self.device)
            picked = logprobs.gather(1, tokens[:, None])[:, 0].tolist()
            for (_, _, _, d), value in zip(where, picked, strict=True):
                scores[docs[d][0]][docs[d][1]] += value
        return scores

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerateRequest]) -> list[str]:
        if self.pack_tokens:
            return self._generate_batched(requests)
        return self._generate_one_by_one(requests)

    def _generate_batched(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy continuations of left-padded batches through transformers' `generate`."""
        outputs: list[str] = []
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos
        for first in range(0, len(requests), self.batch_size):
            chunk = requests[first : first + self.batch_size]
            encoded = [self.encode(r.context) for r in chunk]
            width = max(len(e) for e in encoded)
            ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded])
            mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded])
            generated = self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=max(r.max_new_tokens for r in chunk),
                do_sample=False,
                eos_token_id=eos,
                pad_token_id=pad,
                use_cache=True,
            )[:, width:]
            for request, row in zip(chunk, generated.tolist(), strict=True):
                produced = row[: request.max_new_tokens]
                if eos in produced:
                    produced = produced[: produced.index(eos)]
                text = self.tokenizer.decode(produced, skip_special_tokens=True)
                outputs.append(text.split("\n", 1)[0].strip())
        return outputs

    def _generate_one_by_one(self, requests: Sequence[GenerateRequest]) -> list[str]:
        """Greedy continuations, each cut at its first newline and stripped. One prompt at a
        time with a KV cache and the head only at the last position: no padding, so results
        cannot depend on batching, and on CPU it is faster than padded batches."""
        outputs = []
        for request in requests:
            cache, last = self._prefill(self.encode(request.context))
            outputs.append(self._greedy_from(cache, last, request.max_new_tokens))
        return outputs
