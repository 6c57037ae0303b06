import random

import pytest

from symtune.errors import SymtuneError
from symtune.prompts.symbols import draw_symbols, eval_pool, to_letters, tuning_pool


@pytest.mark.parametrize(
    ("n", "letters"),
    [
        (1, "A"),
        (26, "Z"),
        (27, "AA"),
        (52, "AZ"),
        (53, "BA"),
        (702, "ZZ"),
        (703, "AAA"),
        (10000, "NTP"),
        (10001, "NTQ"),
        (100000, "EQXD"),
    ],
)
def test_bijective_base26(n, letters):
    assert to_letters(n) == letters


def test_base26_rejects_zero():
    with pytest.raises(ValueError):
        to_letters(0)


def test_pool_sizes_and_disjointness():
    tuning, evaluation = tuning_pool(), eval_pool()
    assert len(tuning) == 30_000 and len(set(tuning.symbols())) == 30_000
    assert len(evaluation) == 270_000 and len(set(evaluation.symbols())) == 270_000
    assert not set(tuning.symbols()) & set(evaluation.symbols())


def test_exact_pool_contents():
    tuning = dict(tuning_pool().by_kind)
    evaluation = dict(eval_pool().by_kind)
    assert tuning["integer"][:3] == ("0", "1", "2") and tuning["integer"][-1] == "9999"
    assert tuning["letters"][:3] == ("A", "B", "C") and tuning["letters"][-1] == "NTP"
    assert tuning["word"][:5] == ("the", "to", "and", "of", "a")
    assert evaluation["integer"][0] == "10000" and evaluation["integer"][-1] == "99999"
    assert evaluation["letters"][0] == "NTQ" and evaluation["letters"][-1] == "EQXD"
    assert evaluation["word"][:3] == ("amusing", "arabs", "beams")
    assert all(w.isalpha() and w.islower() for w in evaluation["word"])


def test_draw_is_distinct_and_seeded():
    pool = tuning_pool()
    first = draw_symbols(pool, 5, random.Random("seed-1"))
    assert first == draw_symbols(pool, 5, random.Random("seed-1"))
    assert first == ("KVV", "COV", "messi", "4849", "5394")
    for i in range(200):
        drawn = draw_symbols(pool, 10, random.Random(i))
        assert len(set(drawn)) == 10
        assert set(drawn) <= set(pool.symbols())


def test_draw_exact_for_a_seed():
    assert draw_symbols(tuning_pool(), 3, random.Random("x")) == ("ranking", "alexandria", "AOE")


def test_kinds_and_max_symbols_ablations():
    only_ints = tuning_pool(kinds=["integer"])
    assert len(only_ints) == 10_000 and only_ints.kinds == ("integer",)
    small = tuning_pool(max_symbols=30, seed=3)
    assert len(small) == 30 and [len(g) for _, g in small.by_kind] == [10, 10, 10]
    assert small.symbols() == tuning_pool(max_symbols=30, seed=3).symbols()
    assert set(small.symbols()) <= set(tuning_pool().symbols())


def test_bad_symbol_inputs():
    with pytest.raises(SymtuneError, match="symbol kind 'emoji' is unknown"):
        tuning_pool(kinds=["emoji"])
    with pytest.raises(SymtuneError, match="cannot draw 4 distinct symbols"):
        draw_symbols(tuning_pool(kinds=["integer"], max_symbols=3), 4, random.Random(0))
    with pytest.raises(SymtuneError, match="max_symbols=4: expected at least 6"):
        tuning_pool(max_symbols=4)
