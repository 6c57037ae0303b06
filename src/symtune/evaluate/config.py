"""What `symtune eval` runs: one dataclass, validated once (the command line is generated from
it, see `cli_options`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from symtune.errors import SymtuneError
from symtune.evaluate.modes import MODES
from symtune.models.dtype import DTYPE_CHOICES
from symtune.models.registry import DEFAULT_MODEL
from symtune.prompts.build import ICL_SETTINGS
from symtune.schema import non_finite

SCORING = tuple(MODES)
LIST_FUNCTION_CHOICES = ("all", "paper20", "none")
GREEDY_CHOICES = ("verify", "generate")
NOT_IDENTITY = ("greedy", "trust_remote_code")


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
    exemplar_sets: int = 0
    """0: the paper's design, each query with its own draw of exemplars, format and symbols.
    S > 0: per task and seed, S shared exemplar sets (the queries dealt round-robin among them),
    each encoded once and scored with many queries: far cheaper; intervals then come from a
    cluster bootstrap over the sets, and results give the design effect."""
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
    greedy: str = "verify"
    """Exact match's greedy output: verify (taken from the rank pass where a candidate is
    provably the greedy output, else generated) or generate (always decode); same outputs."""
    dtype: str = "auto"
    """auto (bf16 on CUDA and on CPUs with AMX or AVX512-BF16, else fp32), bf16 or fp32."""
    trust_remote_code: bool = False
    """Run a model's own Python code (its config's auto_map); off: such a model is refused."""

    def validate(self) -> None:
        if problems := non_finite(self):
            raise SymtuneError("eval config: " + "; ".join(problems))
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
        lists = {
            "seeds": self.seeds,
            "settings": self.settings,
            "scoring": self.scoring,
            "tasks": self.tasks,
        }
        for name, values in lists.items():
            twice = [v for i, v in enumerate(values) if v in values[:i]]
            if twice:  # a repeat would score the same items twice and inflate n
                raise SymtuneError(
                    f"eval config: {name} lists {twice[0]!r} twice; expected each once"
                )
        counts = {
            "k": self.k,
            "max_queries": self.max_queries,
            "list_function_queries": self.list_function_queries,
            "batch_size": self.batch_size,
        }
        for name, value in counts.items():
            if value < 1:
                raise SymtuneError(f"eval config: {name}={value}; expected at least 1")
        if self.exemplar_sets < 0:
            raise SymtuneError(
                f"eval config: exemplar_sets={self.exemplar_sets}; expected 0 (one draw per "
                "query, the paper's design) or a number of shared sets"
            )
        if self.greedy not in GREEDY_CHOICES:
            raise SymtuneError(
                f"eval config: greedy={self.greedy!r}; expected {' or '.join(GREEDY_CHOICES)}"
            )
        if self.max_tokens < 16:
            raise SymtuneError(f"eval config: max_tokens={self.max_tokens}; expected >= 16")
        if self.dtype not in DTYPE_CHOICES:
            raise SymtuneError(
                f"eval config: dtype={self.dtype!r}; expected {', '.join(DTYPE_CHOICES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def identity(self) -> str:
        """What the cached predictions depend on, as a string: every field but those that
        change only how they are computed (`greedy`: the same outputs either way)."""
        fields = {k: v for k, v in self.to_dict().items() if k not in NOT_IDENTITY}
        return json.dumps(fields, sort_keys=True)
