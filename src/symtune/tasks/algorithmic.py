"""BIG-Bench algorithmic evaluations: list functions and simple Turing concepts (AS II)."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from symtune.errors import SymtuneError

LIST_FUNCTIONS = "list_functions"
TURING_AS2 = "simp_turing_concept/additional_set_2"
_FUNCTION = re.compile(r'The target function is "(.*)"\.?\s*$')


@dataclass(frozen=True)
class ListFunction:
    """One list-function subtask (c001..c250): its target function and (input, target) pairs."""

    name: str
    function: str
    examples: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TuringExample:
    """One AS II example: the prompt already holds its shots; `program` is the concept."""

    id: str
    program: str
    prompt: str
    target: str


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SymtuneError(f"{path} not found") from None


def load_list_functions(tasks_dir: Path) -> tuple[ListFunction, ...]:
    """All `list_functions/cNNN` subtasks, in name order."""
    out = []
    for path in sorted((tasks_dir / LIST_FUNCTIONS).glob("c[0-9][0-9][0-9]/task.json")):
        data = _read(path)
        match = _FUNCTION.search(data.get("description", ""))
        if match is None:
            raise SymtuneError(f"{path}: field 'description' names no target function")
        pairs = tuple((e["input"], e["target"]) for e in data["examples"])
        out.append(ListFunction(path.parent.name, match.group(1), pairs))
    if not out:
        raise SymtuneError(f"no list_functions subtasks under {tasks_dir / LIST_FUNCTIONS}")
    return tuple(out)


def turing_program(comment: str) -> str:
    """The concept's program: the first element of the example's `comment` list."""
    value = ast.literal_eval(comment)
    return str(value[0])


def load_turing(tasks_dir: Path, max_instructions: int = 3) -> tuple[TuringExample, ...]:
    """AS II examples whose program has at most `max_instructions` instructions (one character
    each): 17 programs and 85 examples for the default of 3."""
    data = _read(tasks_dir / TURING_AS2 / "task.json")
    out = []
    for i, example in enumerate(data["examples"]):
        program = turing_program(example["comment"])
        if len(program) <= max_instructions:
            out.append(TuringExample(str(i), program, example["input"], example["target"]))
    return tuple(out)
