"""What `symtune eval` runs: one dataclass, validated once (the command line is generated from
it, see `cli_options`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from symtune.errors import SymtuneError
from symtune.evaluate.modes import MODES
from symtune.models.registry import DEFAULT_MODEL
from symtune.prompts import ICL_SETTINGS

SCORING = tuple(MODES)
LIST_FUNCTION_CHOICES = ("all", "paper20", "none")


@dataclass(frozen=True)
class EvalConfig:
    """What `symtune eval` runs."""

    suite: str = "offline"
    """A built-in suite name or a suite YAML file."""
    tasks: tuple[str, ...] = ()
    """Subset of the pool's tasks; empty: all of them."""
    pool: str = "evaluation"
    """"evaluation" (held-out tasks), or "tuning": the tuning tasks' validation splits, for
    choosing hyper-parameters without looking at the evaluation tasks."""
    settings: tuple[str, ...] = ICL_SETTINGS
    """In-context learning settings: instr_labels, labels_only, instr_only, neither."""
    flipped: bool = True
    """Flipped labels on the binary tasks."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds: each draws its own exemplars, formats and symbols."""
    k: int = 4
    """Exemplars per class."""
    max_queries: int = 100
    """Queries per task (class-balanced as far as the split allows)."""
    scoring: tuple[str, ...] = SCORING
    """exact (greedy generation), rank (label log-likelihoods), or both."""
    list_functions: str = "all"
    """"all" (250 subtasks), "paper20" (our 20-subtask selection), or "none"."""
    list_function_queries: int = 32
    """Queries per list-function subtask (each 4-shot from the subtask's other examples)."""
    turing: bool = True
    """Simple Turing concepts."""
    controls: bool = True
    """Shuffled-exemplar controls for the algorithmic tasks: each Turing concept query, and each
    query of the 20-subtask list-function selection, again with another program's exemplars."""
    max_tokens: int = 2048
    """Token budget per prompt (exemplars dropped to fit)."""
    tokenizer: str = DEFAULT_MODEL
    """Tokenizer for the prompt length budget (the evaluated models' tokenizer)."""
    batch_size: int = 8
    """Sequences per forward."""
    dtype: str = "bf16"
    """bf16 or fp32."""

    def validate(self) -> None:
        for setting in self.settings:
            if setting not in ICL_SETTINGS:
                raise SymtuneError(
                    f"eval config: setting {setting!r} is unknown; expected one "
                    f"of {', '.join(ICL_SETTINGS)}"
                )
        for mode in self.scoring:
            if mode not in SCORING:
                raise SymtuneError(
                    f"eval config: scoring {mode!r} is unknown; expected exact or rank"
                )
        if self.list_functions not in LIST_FUNCTION_CHOICES:
            raise SymtuneError(
                f"eval config: list_functions={self.list_functions!r}; expected "
                "all, paper20 or none"
            )
        if self.pool not in ("evaluation", "tuning"):
            raise SymtuneError(f"eval config: pool={self.pool!r}; expected evaluation or tuning")
        if not self.seeds:
            raise SymtuneError("eval config: seeds is empty; expected at least one seed")
        counts = {
            "k": self.k,
            "max_queries": self.max_queries,
            "list_function_queries": self.list_function_queries,
            "batch_size": self.batch_size,
        }
        for name, value in counts.items():
            if value < 1:
                raise SymtuneError(f"eval config: {name}={value}; expected at least 1")
        if self.max_tokens < 16:
            raise SymtuneError(f"eval config: max_tokens={self.max_tokens}; expected >= 16")
        if self.dtype not in ("bf16", "fp32"):
            raise SymtuneError(f"eval config: dtype={self.dtype!r}; expected bf16 or fp32")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
