"""Generated algorithmic tasks: each program of the 20-subtask list-function selection against
worked examples from its published definition (Rule's list routines: 1-based positions), the
Turing interpreter against worked runs, and both through the evaluation protocol."""

import itertools
from collections import Counter

import pytest

from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.protocol import LIST_FUNCTION_CATEGORIES, paper20, turing_items
from symtune.prompts.formats import PAIR_SEPARATOR
from symtune.tasks.list_functions import PROGRAMS, generated_list_functions, show
from symtune.tasks.turing import CONCEPTS, SEPARATOR, generated_turing, run

# (input, output) worked by hand from each definition; the selection's 20 programs.
WORKED = {
    "c025": ([1, 1, 4, 5], [1, 4, 5]),  # remove element 2 (Rule's own example)
    "c026": ([3, 0, 4, 9, 5], [3, 0, 9, 5]),
    "c029": ([7, 2, 5], [5]),
    "c049": ([6, 1, 8], [1, 8]),
    "c016": ([4, 0, 2], [4, 8, 2]),
    "c021": ([3, 6], [3, 8, 6]),
    "c033": ([1, 2, 3, 4, 5], [4, 2, 3, 1, 5]),
    "c037": ([], [3]),
    "c041": ([5, 5, 5], [9]),
    "c042": ([], [5, 2]),
    "c043": ([1], [8, 2, 7, 0, 3]),
    "c044": ([0, 0], [1, 9, 4, 3, 2, 5, 8, 0, 4, 9]),
    "c077": ([4, 4, 1], [3]),
    "c078": ([2, 9, 3], [9]),
    "c079": ([2, 9, 3], [14]),
    "r-min": ([2, 9, 3], [2]),
    "c001": ([7, 2, 5, 0], [5]),
    "c003": ([1, 2, 3, 4, 5, 6, 7, 8], [7]),
    "c006": ([9], [9]),
    "c011": ([5, 6, 7, 8, 9], [6, 7, 8]),
}
MORE = {
    "c062": ([1, 2, 3], [1, 2]),
    "c064": ([1, 2, 3, 4], [2, 3]),
    "c074": ([9, 1, 8, 7], [9, 8]),
    "c071": ([0, 7], [2, 9]),
    "c080": ([1, 2, 3], [3, 2, 1]),
    "c066": ([1, 2, 3], [2, 3, 1]),
    "c072": ([1, 2], [1, 1, 2, 2]),
    "r-unique": ([3, 3, 1], [2]),
    "c061": ([4, 5, 6], [6]),
    "c075": ([1, 2, 3, 4, 5], [1, 3, 5]),
}


def test_every_program_has_worked_examples_and_the_selection_is_four_per_category():
    programs = {p.name: p for p in PROGRAMS}
    assert set(WORKED) | set(MORE) == set(programs)
    for name, (given, expected) in {**WORKED, **MORE}.items():
        assert programs[name].run(list(given)) == expected, name
    chosen = paper20(generated_list_functions())
    assert sorted(f.name for f in chosen) == sorted(WORKED)
    categories = Counter(f.category for f in chosen)
    assert categories == {name: 4 for name, _ in LIST_FUNCTION_CATEGORIES}


def test_generated_list_functions_are_deterministic_with_distinct_valid_inputs():
    functions = generated_list_functions()
    assert functions == generated_list_functions() and len(functions) == len(PROGRAMS) >= 20
    programs = {p.name: p for p in PROGRAMS}
    for function in functions:
        inputs = [i for i, _ in function.examples]
        assert len(function.examples) == 32 and len(set(inputs)) == 32, function.name
        for given, output in function.examples:
            xs = [int(x) for x in given.strip("[]").split(", ") if x]
            assert len(xs) >= programs[function.name].min_length
            assert show(programs[function.name].run(xs)) == output
    assert functions[0].examples[0][0].startswith("[") and ", " in functions[0].examples[0][0]


def test_turing_interpreter_worked_runs():
    assert run("o>", "1011") == "1011"
    assert run("xo>", "1011") == "0100"
    assert run("oo>", "10") == "1100"
    assert run("o>>", "10110") == "110"
    assert run(">o", "1011") == "011"
    assert run("o<", "0111") == "0"
    assert run("o>x", "1011") == "1100"
    assert run("o>o", "101") == "10011"
    with pytest.raises(SymtuneError, match="never moves the head"):
        run("ox", "1")
    with pytest.raises(SymtuneError, match="expected instructions from"):
        run("o>", "12")


def test_every_turing_concept_computes_a_different_function():
    inputs = ["".join(p) for n in range(1, 7) for p in itertools.product("01", repeat=n)]
    behaviours = {tuple(run(c, i) for i in inputs) for c in CONCEPTS}
    assert len(behaviours) == len(CONCEPTS) >= 16
    assert all(1 <= len(c) <= 3 for c in CONCEPTS)


def test_turing_prompts_hold_their_shots_and_the_shuffled_control_swaps_them():
    assert SEPARATOR == PAIR_SEPARATOR
    examples = generated_turing()
    assert len(examples) == 5 * len(CONCEPTS) and examples == generated_turing()
    first = examples[0]
    blocks = first.prompt.split(SEPARATOR)
    assert len(blocks) == 7 and blocks[-1].endswith("Output:")
    for block in blocks[:-1]:
        given, output = (line.split(": ", 1)[1].strip("'") for line in block.splitlines())
        assert run(first.program, given) == output
    query = blocks[-1].splitlines()[0].split(": ", 1)[1].strip("'")
    assert first.target == f"'{run(first.program, query)}'"
    items = turing_items(examples, controls=True)
    shuffled = [i for i in items if i.group == "turing_shuffled"]
    assert len(shuffled) == len(examples)
    assert all(
        i.context.split(SEPARATOR)[-1] in {e.prompt.split(SEPARATOR)[-1] for e in examples}
        for i in shuffled
    )


def test_eval_builds_generated_algorithmic_items_by_default():
    from symtune.evaluate.api import build_items

    config = EvalConfig(
        suite="reachable",
        settings=(),
        flipped=False,
        list_functions="paper20",
        list_function_queries=2,
        turing=True,
    )
    items, _ = build_items(config)
    groups = Counter(i.group for i in items)
    assert groups["list_functions"] == 40 and groups["turing"] == 5 * len(CONCEPTS)
    assert groups["list_functions_shuffled"] == 40 and groups["turing_shuffled"] > 0
