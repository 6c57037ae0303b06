"""What `symtune eval` runs: one dataclass, validated once (the command line is generated from
it, see `cli_options`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from symtune.analysis.modes import MODES
from symtune.errors import SymtuneError
from symtune.models.dtype import DTYPE_CHOICES
from symtune.models.registry import DEFAULT_MODEL
from symtune.prompts.build import ICL_SETTINGS
from symtune.schema import Check, refuse_bad_fields

SCORING = tuple(MODES)
LIST_FUNCTION_CHOICES = ("all", "paper20", "none")
ALGORITHMIC_CHOICES = ("generated", "bigbench")
GREEDY_CHOICES = ("verify", "generate")
ENGINE_CHOICES = ("auto", "prefix", "tree", "rows")
NOT_IDENTITY = ("greedy", "trust_remote_code", "engine", "row_tokens")


MAX_K = 1_000
"""Most in-context examples per class (the paper uses 1 to 16 in all)."""
MAX_QUERIES = 100_000
"""Most queries per task and setting."""
MAX_SEEDS = 100
"""Most exemplar seeds (each repeats the whole evaluation)."""
MAX_ROW_TOKENS = 1_048_576
"""Most tokens per scoring row."""


@dataclass(frozen=True)
class EvalConfig:
    """What `symtune eval` runs."""

    suite: str = "reachable"
    """A built-in suite name or a suite YAML file (`offline` needs BIG-Bench: $SYMTUNE_BIGBENCH)."""
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
    """"all" (every subtask: 30 generated, or BIG-Bench's 250), "paper20" (our 20-subtask
    selection), or "none"."""
    algorithmic: str = "generated"
    """Where list functions and Turing concepts come from: "generated" by symtune (programs
    from Rule's list-routine set and our tape language; no download) or "bigbench" (the
    user's copy, $SYMTUNE_BIGBENCH: list_functions and simp_turing_concept AS II)."""
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
    engine: str = "auto"
    """How rank scoring computes (the same numbers, docs/evaluation.md): tree (many prompts and
    their candidates per forward as token trees, nothing computed twice), prefix (a prompt per
    forward, its KV cache shared by its candidates), rows (every prompt + candidate packed in
    rows: each prompt once per candidate); auto: tree on a CPU, rows on CUDA."""
    row_tokens: int = 0
    """Tokens per row of the tree and rows engines; 0: sized to the prompts (tree) or 8,192
    (rows). A row must hold one prompt with all its candidates."""
    dtype: str = "auto"
    """auto (bf16 on CUDA and on CPUs with AMX or AVX512-BF16, else fp32), bf16 or fp32."""
    trust_remote_code: bool = False
    """Run a model's own Python code (its config's auto_map); off: such a model is refused."""
    chat_template: bool = False
    """Wrap each prompt in the model's chat template as one user turn, the labels scored as
    the reply (as `tune --chat-template` trains); off: raw text, the paper's setting."""

    def validate(self) -> None:
        """Raise a one-line error naming every bad field."""
        unknown_settings = [x for x in self.settings if x not in ICL_SETTINGS]
        unknown_modes = [x for x in self.scoring if x not in SCORING]
        repeated = {
            name: (values, [v for i, v in enumerate(values) if v in values[:i]])
            for name, values in (
                ("seeds", self.seeds),
                ("settings", self.settings),
                ("scoring", self.scoring),
                ("tasks", self.tasks),
            )
        }
        checks: list[Check] = [
            (not unknown_settings, "settings", unknown_settings, ", ".join(ICL_SETTINGS)),
            (not unknown_modes, "scoring", unknown_modes, "exact or rank"),
            (
                self.list_functions in LIST_FUNCTION_CHOICES,
                "list_functions",
                self.list_functions,
                "all, paper20 or none",
            ),
            (
                self.algorithmic in ALGORITHMIC_CHOICES,
                "algorithmic",
                self.algorithmic,
                " or ".join(ALGORITHMIC_CHOICES),
            ),
            (self.pool in ("evaluation", "tuning"), "pool", self.pool, "evaluation or tuning"),
            (bool(self.seeds), "seeds", list(self.seeds), "at least one seed"),
            *(  # a repeat would score the same items twice and inflate n
                (not twice, name, list(values), f"each value once ({twice[:1]} listed twice)")
                for name, (values, twice) in repeated.items()
            ),
            (1 <= self.k <= MAX_K, "k", self.k, f"1 to {MAX_K:,}"),
            (
                1 <= self.max_queries <= MAX_QUERIES,
                "max_queries",
                self.max_queries,
                f"1 to {MAX_QUERIES:,}",
            ),
            (len(self.seeds) <= MAX_SEEDS, "seeds", len(self.seeds), f"at most {MAX_SEEDS}"),
            (all(s >= 0 for s in self.seeds), "seeds", list(self.seeds), "seeds >= 0"),
            (
                1 <= self.list_function_queries <= MAX_QUERIES,
                "list_function_queries",
                self.list_function_queries,
                f"1 to {MAX_QUERIES:,}",
            ),
            (1 <= self.batch_size <= 65_536, "batch_size", self.batch_size, "1 to 65,536"),
            (
                0 <= self.exemplar_sets <= MAX_QUERIES,
                "exemplar_sets",
                self.exemplar_sets,
                "0 (one draw per query, the paper's design) or a number of shared sets",
            ),
            (self.greedy in GREEDY_CHOICES, "greedy", self.greedy, " or ".join(GREEDY_CHOICES)),
            (self.engine in ENGINE_CHOICES, "engine", self.engine, ", ".join(ENGINE_CHOICES)),
            (
                0 <= self.row_tokens <= MAX_ROW_TOKENS,
                "row_tokens",
                self.row_tokens,
                f"0 (sized to the prompts) to {MAX_ROW_TOKENS:,}",
            ),
            (self.max_tokens >= 16, "max_tokens", self.max_tokens, ">= 16"),
            (self.dtype in DTYPE_CHOICES, "dtype", self.dtype, ", ".join(DTYPE_CHOICES)),
        ]
        refuse_bad_fields("eval config", self, checks)
        if self.algorithmic_wanted and "exact" not in self.scoring:
            # their answers are open lists and strings: no candidate set for rank to rank
            raise SymtuneError(
                f"eval config: list_functions={self.list_functions!r}, turing={self.turing} "
                f"with scoring={list(self.scoring)}: list functions and Turing concepts are "
                "scored by exact match only; add exact to scoring, or set list_functions none "
                "and turing false (--list-functions none --no-turing)"
            )

    @property
    def algorithmic_wanted(self) -> bool:
        """Whether list functions or Turing concepts are evaluated."""
        return self.list_functions != "none" or self.turing

    @property
    def reads_bigbench(self) -> bool:
        """Whether the algorithmic tasks come from the user's BIG-Bench copy."""
        return self.algorithmic == "bigbench" and self.algorithmic_wanted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def identity(self) -> str:
        """What the cached predictions depend on, as a string: every field but those that
        change only how they are computed (`greedy`: the same outputs either way)."""
        fields = {k: v for k, v in self.to_dict().items() if k not in NOT_IDENTITY}
        return json.dumps(fields, sort_keys=True)
