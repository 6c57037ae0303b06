"""Which rank-scoring engine runs (`symtune.evaluate.scoring.ENGINES`) and with what row size,
and the check that a row can hold every prompt, made before anything is written."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.protocol import Item


def scoring_engine(config: EvalConfig, device_type: str) -> tuple[str, int]:
    """The rank-scoring engine and its row size: `config.engine` ("auto": tree on a CPU, where
    bench/eval_vs_lmeval.py measured it fastest, rows on CUDA) and `config.row_tokens`;
    SYMTUNE_PACK_TOKENS=N overrides with rows of N tokens (0: prefix). The same numbers either
    way (tests/unit/test_tree.py, tests/unit/test_evaluate.py)."""
    override = os.environ.get("SYMTUNE_PACK_TOKENS", "").strip()
    if override:
        if not override.isdigit():
            raise SymtuneError(
                f"SYMTUNE_PACK_TOKENS={override!r}; expected a number of tokens (0: off)"
            )
        return ("rows", int(override)) if int(override) else ("prefix", 0)
    engine = config.engine
    if engine == "auto":
        engine = "rows" if device_type == "cuda" else "tree"
    return engine, config.row_tokens


def check_row_tokens(
    config: EvalConfig,
    engine: str,
    row_tokens: int,
    located: Mapping[str, str],
    items: Sequence[Item],
) -> None:
    """Refuse a row size that cannot hold one prompt with its candidates (one line naming the
    first such item), for each model's tokenizer; nothing to check when rows are sized to the
    prompts."""
    from symtune.evaluate import tree
    from symtune.evaluate.scoring import split
    from symtune.models import load_tokenizer
    from symtune.prompts.chat import framing

    if engine == "prefix" or not row_tokens:
        return
    ranked = [i for i in items if i.candidates]
    for location in dict.fromkeys(located.values()):
        tokenizer = load_tokenizer(location, config.trust_remote_code)
        frame = framing(tokenizer, config.chat_template, location)
        for item in ranked:
            context = frame.context(item.context, tokenizer)
            pieces = [split(tokenizer, frame, context, frame.candidate(c)) for c in item.candidates]
            size = tree.tree_size(pieces) if engine == "tree" else max(len(p) for p, _ in pieces)
            if size > row_tokens:
                what = "one prompt with its candidates" if engine == "tree" else "one candidate"
                raise SymtuneError(
                    f"eval config: row_tokens={row_tokens} cannot hold {what} of item "
                    f"{item.id} ({size} tokens with model {location}'s tokenizer); expected "
                    f"row_tokens >= {size}, or 0 (sized to the prompts)"
                )
