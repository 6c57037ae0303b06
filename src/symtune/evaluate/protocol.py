"""The paper's evaluation protocol as data: every prompt to score ("item"), built purely from
loaded tasks and a config, with metadata to rebuild it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.prompts.build import (
    PAIR_SEPARATOR,
    TokenCounter,
    check_exemplar_supply,
    eval_prompt,
    eval_queries,
    eval_set_prompts,
    rng_for,
)
from symtune.prompts.symbols import SymbolPool, eval_pool
from symtune.tasks.algorithmic import ListFunction, TuringExample
from symtune.tasks.spec import Example, TaskData


@dataclass(frozen=True)
class Item:
    """One prompt to score. `answer` is the expected output; `candidates` the label strings
    (classification only). `group` is what accuracy is averaged over (a setting, "flipped",
    "list_functions" or "turing"); `task` the task (or subtask) within it."""

    id: str
    group: str
    task: str
    seed: int
    context: str
    answer: str
    candidates: tuple[str, ...] = ()
    max_new_tokens: int = 16
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def chance(self) -> float:
        return 1.0 / len(self.candidates) if self.candidates else 0.0


def classification_items(
    tasks: list[TaskData], config: EvalConfig
) -> tuple[list[Item], dict[str, Any]]:
    """ICL items (the four settings, every seed) and flipped-label items (binary tasks).
    Returns the items and notes: how many prompts the length policy shortened, and how many
    (per task) it skipped because the query alone does not fit the budget."""
    from symtune.models import token_counter

    counter = TokenCounter(token_counter(config.tokenizer))
    pool = eval_pool()
    items: list[Item] = []
    shortened = 0
    skipped: dict[str, int] = {}
    groups = list(config.settings) + (["flipped"] if config.flipped else [])
    check_tasks(tasks, config)
    for task in tasks:
        queries = eval_queries(task, config.max_queries)
        sets = config.exemplar_sets
        for seed in config.seeds:
            for group in groups:
                if group == "flipped" and len(task.labels) != 2:
                    continue
                for query, prompt, meta in _prompts(
                    task, queries, group, sets, seed, config, counter, pool
                ):
                    if prompt is None:  # the query alone is too long: skip it, count it
                        skipped[task.name] = skipped.get(task.name, 0) + 1
                        continue
                    shortened += prompt.meta.dropped_exemplars > 0
                    items.append(
                        Item(
                            id=f"{group}|{task.name}|{seed}|{query.id}",
                            group=group,
                            task=task.name,
                            seed=seed,
                            context=prompt.text,
                            answer=prompt.answer,
                            candidates=prompt.candidates,
                            # no label is longer: one more token shows what follows it
                            max_new_tokens=1 + max(counter(" " + c) for c in prompt.candidates),
                            meta={**asdict(prompt.meta), **meta},
                        )
                    )
    return items, {"prompts_with_dropped_exemplars": shortened, "skipped_too_long": skipped}


def check_tasks(tasks: list[TaskData], config: EvalConfig) -> None:
    """What the tasks' data must hold for `config`, checked before anything is built (and by
    `symtune run` before anything is written): k exemplars per class in the train split, and
    a query for each shared exemplar set."""
    for task in tasks:
        check_exemplar_supply(task, config.k)
        queries = len(eval_queries(task, config.max_queries))
        if config.exemplar_sets > queries:
            raise SymtuneError(
                f"--exemplar-sets {config.exemplar_sets}: task {task.name!r} has only "
                f"{queries} queries (each set needs at least one); expected at most {queries}"
            )


def _prompts(
    task: TaskData,
    queries: tuple[Example, ...],
    group: str,
    sets: int,
    seed: int,
    config: EvalConfig,
    counter: TokenCounter,
    pool: SymbolPool,
):
    """(query, prompt or None, extra meta) for every query of a task in one group and seed:
    one draw per query (sets = 0, the paper's design) or shared exemplar sets, query i in set
    i mod sets."""
    budget = config.max_tokens
    if not sets:
        for query in queries:
            prompt = eval_prompt(task, query, group, pool, seed, config.k, budget, counter)
            yield query, prompt, {}
        return
    for index in range(sets):
        members = queries[index::sets]
        prompts = eval_set_prompts(
            task, members, group, pool, seed, index, config.k, budget, counter
        )
        for query, prompt in zip(members, prompts, strict=True):
            yield query, prompt, {"exemplar_set": index}


# Our 20-subtask "paper-like" list-function selection: the paper's list is lost; each subtask
# has one of five categories (generated programs declare it; BIG-Bench's are sorted by the
# first keyword rule that matches their description) and the first four subtasks of each
# category in name order are kept.
LIST_FUNCTION_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("A remove elements", r"\b(remove|drop|all but|except|without)\b"),
    ("C input-independent", r"^the list \["),
    ("D count or aggregate", r"\b(count|length|sum|number of|maximum|minimum|max|min|mean)\b"),
    (
        "B modify the list",
        r"\b(reverse|sort|replace|swap|rotate|append|prepend|insert|repeat|"
        r"double|add|subtract|multiply|increment|decrement|concatenate)",
    ),
    ("E select elements", r"\b(element|first|last|take|elements)\b"),
)


def list_function_category(function: str) -> str | None:
    """The category of a list function by our keyword rule, or None."""
    for name, pattern in LIST_FUNCTION_CATEGORIES:
        if re.search(pattern, function.lower()):
            return name
    return None


def category_of(function: ListFunction) -> str | None:
    """A list function's category: declared (generated programs) or by the keyword rule."""
    return function.category or list_function_category(function.function)


def paper20(functions: tuple[ListFunction, ...]) -> tuple[ListFunction, ...]:
    """Four subtasks per category, in subtask-name order."""
    chosen: list[ListFunction] = []
    for name, _ in LIST_FUNCTION_CATEGORIES:
        members = [f for f in functions if category_of(f) == name]
        if len(members) < 4:
            raise SymtuneError(
                f"list functions: category {name!r} has only {len(members)} "
                "subtasks; expected at least 4"
            )
        chosen.extend(members[:4])
    return tuple(chosen)


def _list_item(
    group: str, function: ListFunction, q: int, donor: ListFunction, shots: list[int], meta: dict
) -> Item:
    """Query q of `function`, 4-shot with the examples `shots` of `donor` (itself, or for the
    shuffled control another subtask)."""
    blocks = [f"Input: {donor.examples[i][0]}\nOutput: {donor.examples[i][1]}" for i in shots]
    return Item(
        id=f"{group}|{function.name}|0|{q}",
        group=group,
        task=function.name,
        seed=0,
        context="\n\n".join([*blocks, f"Input: {function.examples[q][0]}\nOutput:"]),
        answer=function.examples[q][1],
        max_new_tokens=64,
        meta={**meta, "shots": shots},
    )


def list_function_items(functions: tuple[ListFunction, ...], config: EvalConfig) -> list[Item]:
    """4-shot items: for each query, 4 other examples of the same subtask as shots. Items of
    the 20-subtask selection carry meta["paper20"]. With `controls`, each query of the selection
    again with 4 examples of the next selected subtask (a different function), so only the
    output format and priors can help."""
    chosen = paper20(functions)
    selected = {f.name for f in chosen}
    if config.list_functions == "paper20":
        functions = chosen
    items = []
    for function in functions:
        meta = {
            "function": function.function,
            "category": category_of(function),
            "paper20": function.name in selected,
        }
        for q in range(min(config.list_function_queries, len(function.examples))):
            rng = rng_for("list_functions", function.name, q)
            shots = rng.sample([i for i in range(len(function.examples)) if i != q], 4)
            items.append(_list_item("list_functions", function, q, function, shots, meta))
    if not config.controls:
        return items
    for index, function in enumerate(chosen):
        donor = chosen[(index + 1) % len(chosen)]
        for q in range(min(config.list_function_queries, len(function.examples))):
            rng = rng_for("list_functions_shuffled", function.name, q)
            shots = rng.sample(range(len(donor.examples)), 4)
            meta = {"exemplars_from": donor.name}
            items.append(_list_item("list_functions_shuffled", function, q, donor, shots, meta))
    return items


def turing_items(examples: tuple[TuringExample, ...], controls: bool = False) -> list[Item]:
    """AS II items: the prompt already holds its shots; exact match on the quoted output. With
    `controls`, each query again with the shots of an example of the next program (in name
    order), so only the output format and priors can help."""
    items = [
        Item(
            id=f"turing|{e.program}|0|{e.id}",
            group="turing",
            task=e.program,
            seed=0,
            context=e.prompt,
            answer=e.target.strip(),
            max_new_tokens=24,
            meta={"program": e.program, "example": e.id},
        )
        for e in examples
    ]
    if not controls:
        return items
    programs = sorted({e.program for e in examples})
    by_program = {p: [e for e in examples if e.program == p] for p in programs}
    for e in examples:
        other_program = programs[(programs.index(e.program) + 1) % len(programs)]
        rng = rng_for("turing_shuffled", e.id)
        donor = by_program[other_program][rng.randrange(len(by_program[other_program]))]
        shots = donor.prompt.split(PAIR_SEPARATOR)[:-1]
        query = e.prompt.split(PAIR_SEPARATOR)[-1]
        items.append(
            Item(
                id=f"turing_shuffled|{e.program}|0|{e.id}",
                group="turing_shuffled",
                task=e.program,
                seed=0,
                context=PAIR_SEPARATOR.join([*shots, query]),
                answer=e.target.strip(),
                max_new_tokens=24,
                meta={"program": e.program, "exemplars_from": donor.id},
            )
        )
    return items


def ordered(items: list[Item]) -> list[Item]:
    """Items in a stable order (group, task, seed, id) for progress and caching."""
    return sorted(items, key=lambda i: (i.group, i.task, i.seed, i.id))
