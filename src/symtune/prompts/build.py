"""Prompts: tuning prompts, the evaluation settings and prompt assembly (the format bank is in
`formats`, the length policy in `lengths`).

All functions are pure: a prompt is a function of (task data, query, seed key, pools), and its
metadata is enough to rebuild it exactly (`rebuild`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from symtune.errors import SymtuneError
from symtune.prompts.formats import FORMATS, PAIR_SEPARATOR, Format
from symtune.prompts.lengths import TokenCounter, fit_exemplars
from symtune.prompts.symbols import SymbolPool, draw_symbols
from symtune.tasks.spec import Example, TaskData

# Evaluation settings: (instruction shown, how labels are shown).
SETTINGS: dict[str, tuple[bool, str]] = {
    "instr_labels": (True, "relevant"),
    "labels_only": (False, "relevant"),
    "instr_only": (True, "symbols"),
    "neither": (False, "symbols"),
    "flipped": (False, "flipped"),
}
ICL_SETTINGS = ("instr_labels", "labels_only", "instr_only", "neither")


def rng_for(*parts: object) -> random.Random:
    """A generator seeded by a readable key; str seeds hash deterministically across runs."""
    return random.Random(":".join(str(p) for p in parts))


@dataclass(frozen=True)
class PromptMeta:
    """Everything needed to rebuild a prompt from its task data."""

    task: str
    setting: str
    format_id: int
    mapping: tuple[str, ...]
    """The string shown for each label index; "" for a class the prompt does not show."""
    exemplar_ids: tuple[str, ...]
    query_id: str
    seed_key: str
    instruction: bool
    dropped_exemplars: int = 0


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt: `text` ends at the output prefix, `target` is " " + answer."""

    text: str
    target: str
    candidates: tuple[str, ...]
    """The answer strings of the labels the prompt shows (mapping order); the target is one."""
    label_spans: tuple[tuple[int, int], ...]
    """Character spans of each exemplar's answer inside `text` (leading space included)."""
    label_seen: tuple[bool, ...]
    """Per exemplar: its answer already appeared as an earlier exemplar's answer."""
    meta: PromptMeta

    @property
    def answer(self) -> str:
        return self.target[1:]

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "target": self.target,
            "candidates": list(self.candidates),
            "label_spans": [list(s) for s in self.label_spans],
            "label_seen": list(self.label_seen),
            "meta": asdict(self.meta),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Prompt:
        meta = dict(data["meta"])
        meta["mapping"] = tuple(meta["mapping"])
        meta["exemplar_ids"] = tuple(meta["exemplar_ids"])
        return Prompt(
            text=data["text"],
            target=data["target"],
            candidates=tuple(data["candidates"]),
            label_spans=tuple((s[0], s[1]) for s in data["label_spans"]),
            label_seen=tuple(data["label_seen"]),
            meta=PromptMeta(**meta),
        )


def render(
    fmt: Format,
    instruction: str,
    exemplars: Sequence[tuple[str, str]],
    query_text: str,
    answer: str,
) -> tuple[str, str, tuple[tuple[int, int], ...]]:
    """(text, target, exemplar answer spans) for an optional instruction, (input, answer)
    exemplars and the query."""
    pieces: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    if instruction:
        pieces.append(instruction + PAIR_SEPARATOR)
        offset += len(pieces[-1])
    for text, label in exemplars:
        block = fmt.pair(text, label)
        end = offset + len(block)
        spans.append((end - len(label) - 1, end))
        pieces.append(block + PAIR_SEPARATOR)
        offset += len(pieces[-1])
    pieces.append(fmt.query(query_text))
    return "".join(pieces), " " + answer, tuple(spans)


def _seen_flags(answers: Sequence[str]) -> tuple[bool, ...]:
    seen: set[str] = set()
    flags = []
    for a in answers:
        flags.append(a in seen)
        seen.add(a)
    return tuple(flags)


@dataclass(frozen=True)
class Draw:
    """A prompt's choices besides its examples: the setting, the format, the string shown
    for each label, the seed key they were drawn under, and whether the instruction is shown."""

    setting: str
    format_id: int
    mapping: tuple[str, ...]
    seed_key: str
    instruction: bool


def assemble(
    task: TaskData,
    query: Example,
    exemplars: Sequence[Example],
    draw: Draw,
    dropped: int = 0,
) -> Prompt:
    """Render a prompt from chosen parts; the one place prompts are put together."""
    mapping, format_id, instruction = draw.mapping, draw.format_id, draw.instruction
    answers = [mapping[e.label] for e in exemplars]
    text, target, spans = render(
        FORMATS[format_id],
        task.spec.instruction if instruction else "",
        [(e.text, a) for e, a in zip(exemplars, answers, strict=True)],
        query.text,
        mapping[query.label],
    )
    meta = PromptMeta(
        task=task.name,
        setting=draw.setting,
        format_id=format_id,
        mapping=mapping,
        exemplar_ids=tuple(e.id for e in exemplars),
        query_id=query.id,
        seed_key=draw.seed_key,
        instruction=instruction,
        dropped_exemplars=dropped,
    )
    candidates = tuple(m for m in mapping if m)  # a class a prompt does not show is ""
    return Prompt(text, target, candidates, spans, _seen_flags(answers), meta)


def sample_exemplars(
    groups: Sequence[Sequence[Example]], per_class: int, exclude: str, rng: random.Random
) -> list[Example]:
    """`per_class` exemplars of every class (fewer where a class has fewer), never the example
    with id `exclude`, shuffled together."""
    chosen: list[Example] = []
    for group in groups:
        picked = rng.sample(group, min(len(group), per_class + 1))
        chosen.extend([e for e in picked if e.id != exclude][:per_class])
    rng.shuffle(chosen)
    return chosen


def _fit(
    task: TaskData,
    query: Example,
    exemplars: Sequence[Example],
    draw: Draw,
    budget: int | None,
    counter: TokenCounter | None,
) -> Prompt | None:
    """Assemble a prompt, applying the length policy when a budget and counter are given."""
    dropped = 0
    if budget is not None and counter is not None:
        fmt, mapping = FORMATS[draw.format_id], draw.mapping
        costs = [counter.pair(fmt, e.text, mapping[e.label]) for e in exemplars]
        instruction = task.spec.instruction if draw.instruction else ""
        fixed = counter.fixed(fmt, instruction, query.text, mapping[query.label])
        fitted = fit_exemplars(exemplars, costs, fixed, budget)
        if fitted is None:
            return None
        exemplars, dropped = fitted
    return assemble(task, query, exemplars, draw, dropped)


def class_subset(
    n_classes: int, query_label: int, max_classes: int, rng: random.Random
) -> set[int]:
    """The classes one tuning prompt shows: all when `max_classes` is 0 or covers them, else a
    random 2..`max_classes` of them, the query's class always among them (so that the model sees
    many label sets, and many classes, across prompts)."""
    if not max_classes or n_classes <= 2:
        return set(range(n_classes))
    size = rng.randint(2, min(max_classes, n_classes))
    others = [c for c in range(n_classes) if c != query_label]
    return {query_label, *rng.sample(others, size - 1)}


def tuning_prompt(
    task: TaskData,
    query: Example,
    pool: SymbolPool,
    seed_key: str,
    min_per_class: int = 2,
    max_per_class: int = 10,
    relevant: bool = False,
    budget: int | None = None,
    counter: TokenCounter | None = None,
    max_classes: int = 0,
) -> Prompt | None:
    """A symbol-tuning prompt: random format, random 2..10 exemplars per class, labels remapped
    to tuning symbols, no instruction. `relevant=True` makes the mixed-in kind instead: relevant
    labels and the task's instruction. `max_classes` >= 2 shows a random subset of 2 to
    `max_classes` of the task's classes (see `class_subset`); 0 shows all. None when it cannot
    fit `budget` tokens."""
    rng = rng_for(seed_key)
    format_id = rng.randrange(len(FORMATS))
    per_class = rng.randint(min_per_class, max_per_class)
    groups = task.by_class("train")
    shown = class_subset(len(task.labels), query.label, max_classes, rng_for(seed_key, "classes"))
    groups = [g if c in shown else [] for c, g in enumerate(groups)]
    exemplars = sample_exemplars(groups, per_class, query.id, rng)
    if relevant:
        mapping: tuple[str, ...] = task.labels
        setting, instruction = "relevant_tuning", bool(task.spec.instruction)
    else:
        mapping = draw_symbols(pool, len(task.labels), rng)
        setting, instruction = "symbol_tuning", False
    mapping = tuple(m if c in shown else "" for c, m in enumerate(mapping))

    draw = Draw(setting, format_id, tuple(mapping), seed_key, instruction)
    return _fit(task, query, exemplars, draw, budget, counter)


def eval_mapping(
    task: TaskData, setting: str, pool: SymbolPool, rng: random.Random
) -> tuple[str, ...]:
    """What each label is shown as in an evaluation setting."""
    shown = SETTINGS[setting][1]
    if shown == "relevant":
        return task.labels
    if shown == "flipped":
        if len(task.labels) != 2:
            raise SymtuneError(
                f"task {task.name}: flipped labels need a binary task, "
                f"it has {len(task.labels)} labels"
            )
        return (task.labels[1], task.labels[0])
    return draw_symbols(pool, len(task.labels), rng)


def check_exemplar_supply(task: TaskData, k: int, split: str = "train") -> None:
    """Raise a one-line error when a class has fewer than k examples to draw exemplars from."""
    for label, group in zip(task.labels, task.by_class(split), strict=True):
        if len(group) < k:
            raise SymtuneError(
                f"task {task.name}: label {label!r} has {len(group)} examples in split "
                f"{split!r}; expected at least k={k}"
            )


def eval_prompt(
    task: TaskData,
    query: Example,
    setting: str,
    pool: SymbolPool,
    seed: int,
    k: int = 4,
    budget: int | None = None,
    counter: TokenCounter | None = None,
) -> Prompt | None:
    """An evaluation prompt: k exemplars per class from the train split (never the query).

    Exemplars and format depend on (seed, task, query) only, so the settings of one query differ
    only in instruction and label mapping."""
    if setting not in SETTINGS:
        raise SymtuneError(f"setting {setting!r} is unknown; expected one of {', '.join(SETTINGS)}")
    seed_key = f"{seed}:{task.name}:{query.id}"
    rng = rng_for(seed_key, "exemplars")
    format_id = rng.randrange(len(FORMATS))
    exemplars = sample_exemplars(task.by_class("train"), k, query.id, rng)
    mapping = eval_mapping(task, setting, pool, rng_for(seed_key, "symbols"))
    instruction = SETTINGS[setting][0]

    draw = Draw(setting, format_id, tuple(mapping), seed_key, instruction)
    return _fit(task, query, exemplars, draw, budget, counter)


def eval_set_prompts(
    task: TaskData,
    queries: Sequence[Example],
    setting: str,
    pool: SymbolPool,
    seed: int,
    set_index: int,
    k: int = 4,
    budget: int | None = None,
    counter: TokenCounter | None = None,
) -> list[Prompt | None]:
    """The prompts of one shared exemplar set: every query after the same exemplars, format and
    label mapping (drawn for (seed, task, set), none of them a query of the set), so that the
    prompts differ only in their query. The length policy fits the set to its longest query; a
    query that still does not fit gets None (and is counted as skipped)."""
    if setting not in SETTINGS:
        raise SymtuneError(f"setting {setting!r} is unknown; expected one of {', '.join(SETTINGS)}")
    seed_key = f"{seed}:{task.name}:set{set_index}"
    rng = rng_for(seed_key, "exemplars")
    format_id = rng.randrange(len(FORMATS))
    excluded = {q.id for q in queries}
    exemplars: list[Example] = []
    for group in task.by_class("train"):
        allowed = [e for e in group if e.id not in excluded]
        exemplars.extend(rng.sample(allowed, min(len(allowed), k)))
    rng.shuffle(exemplars)
    mapping = eval_mapping(task, setting, pool, rng_for(seed_key, "symbols"))
    instruction = SETTINGS[setting][0]
    fmt = FORMATS[format_id]
    dropped = 0
    kept = list(queries)
    if budget is not None and counter is not None:
        costs = [counter.pair(fmt, e.text, mapping[e.label]) for e in exemplars]
        text = task.spec.instruction if instruction else ""
        fixed = {q.id: counter.fixed(fmt, text, q.text, mapping[q.label]) for q in queries}
        while kept:
            fitted = fit_exemplars(exemplars, costs, max(fixed[q.id] for q in kept), budget)
            if fitted is not None:
                exemplars, dropped = fitted
                break
            kept.remove(max(kept, key=lambda q: fixed[q.id]))
    chosen = {q.id for q in kept}
    draw = Draw(setting, format_id, tuple(mapping), seed_key, instruction)
    return [
        assemble(task, q, exemplars, draw, dropped) if q.id in chosen else None for q in queries
    ]


def eval_queries(task: TaskData, limit: int = 100) -> tuple[Example, ...]:
    """At most `limit` queries from the validation split, chosen once per task (not per seed).
    Classes take turns, each in a seeded order, so the queries are as balanced as the split
    allows: a constant answer then scores random guessing, not the majority class's share."""
    rng = rng_for("queries", task.name)
    groups = [list(group) for group in task.by_class("validation")]
    for group in groups:
        rng.shuffle(group)
    turns = [g[i] for i in range(max(map(len, groups), default=0)) for g in groups if i < len(g)]
    return tuple(turns[:limit])


def rebuild(meta: PromptMeta, task: TaskData) -> Prompt:
    """Re-render a prompt from its metadata (exemplar ids, mapping, format, instruction)."""
    by_id = {e.id: e for split in task.splits.values() for e in split}
    try:
        exemplars = [by_id[i] for i in meta.exemplar_ids]
        query = by_id[meta.query_id]
    except KeyError as err:
        raise SymtuneError(f"task {task.name}: example id {err.args[0]} not found") from None
    draw = Draw(meta.setting, meta.format_id, meta.mapping, meta.seed_key, meta.instruction)
    return assemble(task, query, exemplars, draw, meta.dropped_exemplars)
