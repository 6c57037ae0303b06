"""Readings on toy results: exemplar following against the prior, algorithmic controls, MDE;
and the headroom scan's rows, rule and threshold validation."""

import pytest

from symtune.analysis.readings import algorithmic_controls, exemplar_following, mde
from symtune.analysis.tables import readings_markdown
from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.protocol import list_function_items, turing_items
from symtune.scan import ScanConfig, passes, scan_rows, suite_yaml, wilson
from symtune.tasks.algorithmic import ListFunction, TuringExample


def _record(group, task, query, answer="x", candidates=("a", "b"), meta=None, **correct):
    return {
        "id": f"{group}|{task}|0|{query}",
        "group": group,
        "task": task,
        "answer": answer,
        "candidates": list(candidates),
        "meta": meta or {},
        "results": {label: {"exact": {"correct": c}} for label, c in correct.items()},
    }


def test_exemplar_following_is_flipped_minus_the_prior_on_the_same_queries():
    records = []
    # base: relevant labels right on all 4 queries, flipped right on 1 -> prior 0, following +25
    # tuned: relevant right on 2 of 4, flipped right on 3 -> prior 50, following +25
    for q, (lo_b, fl_b, lo_t, fl_t) in enumerate(
        [(1, 1, 1, 1), (1, 0, 1, 1), (1, 0, 0, 1), (1, 0, 0, 0)]
    ):
        records.append(_record("labels_only", "t", q, base=lo_b, tuned=lo_t))
        records.append(_record("flipped", "t", q, base=fl_b, tuned=fl_t))
    records.append(_record("flipped", "t", 9, base=1, tuned=1))  # no labels-only twin: ignored
    out = exemplar_following(records, ["base", "tuned"], "exact")
    assert out["base"]["flipped"] == pytest.approx(0.25) and out["base"]["prior"] == 0.0
    assert out["base"]["following"] == pytest.approx(0.25) and out["base"]["n"] == 4
    assert out["tuned"]["flipped"] == pytest.approx(0.75)
    assert out["tuned"]["prior"] == pytest.approx(0.5)
    assert out["tuned"]["following"] == pytest.approx(0.25)
    assert out["delta"]["delta"] == pytest.approx(0.0)
    low, high = out["tuned"]["ci"]
    assert low <= 0.25 <= high and low < high
    assert out["delta"]["mde"] == pytest.approx(mde(out["delta"]["ci"]))
    assert "| tuned | 4 | 75.0 | 50.0 | +25.0" in readings_markdown(
        {"exemplar_following": {"exact": out}}
    )


def test_mde_is_2_8_standard_errors_read_off_the_interval():
    # SE 0.02: a 95% interval of +-1.96 SE, and an MDE of 2.80 SE
    assert mde([-0.0392, 0.0392]) == pytest.approx(0.056, rel=1e-3)
    assert mde([0.1392, 0.2176]) == pytest.approx(0.056, rel=1e-3)  # location does not matter


def test_algorithmic_controls_constant_answers_and_shuffled_exemplars():
    records = [
        _record("turing", "p1", 0, "", (), base=1),
        _record("turing", "p1", 1, "1", (), base=0),
        _record("turing", "p1", 2, "1", (), base=1),
        _record("turing", "p2", 0, "0", (), base=1),
        _record("turing_shuffled", "p1", 0, "", (), base=0),
        _record("turing_shuffled", "p2", 0, "0", (), base=0),
        _record("list_functions", "c1", 0, "[1]", (), {"paper20": False}, base=1),
    ]
    out = algorithmic_controls(records, ["base"])
    turing = out["turing"]
    assert turing["programs"] == 2 and turing["n"] == 4
    assert turing["constant_empty"] == pytest.approx((1 / 3 + 0) / 2)
    assert turing["constant_most_frequent"] == pytest.approx((2 / 3 + 1) / 2)
    assert turing["base"]["accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert turing["base"]["shuffled"] == 0.0
    assert "list_functions_paper20" not in out  # the subtask is not in the selection


def test_shuffled_controls_keep_the_query_and_take_another_programs_exemplars():
    functions = tuple(
        ListFunction(f"c{i:03d}", name, tuple((f"[{i}, {j}]", f"[{j}]") for j in range(8)))
        for i, name in enumerate(["remove 1", "the list [1]", "sum", "reverse", "first"] * 5)
    )
    config = EvalConfig(list_functions="paper20", list_function_queries=3)
    items = list_function_items(functions, config)
    shuffled = [i for i in items if i.group == "list_functions_shuffled"]
    plain = {i.id.split("|", 1)[1]: i for i in items if i.group == "list_functions"}
    assert len(shuffled) == len(plain) == 60
    for item in shuffled:
        twin = plain[item.id.split("|", 1)[1]]
        assert item.answer == twin.answer
        assert item.context.rsplit("\n\n", 1)[1] == twin.context.rsplit("\n\n", 1)[1]
        assert item.meta["exemplars_from"] != item.task
        donor = next(f for f in functions if f.name == item.meta["exemplars_from"])
        shot_inputs = [b.split("\n")[0][len("Input: ") :] for b in item.context.split("\n\n")[:-1]]
        assert len(shot_inputs) == 4 and set(shot_inputs) <= {x for x, _ in donor.examples}
    off = list_function_items(functions, EvalConfig(list_functions="paper20", controls=False))
    assert not [i for i in off if i.group == "list_functions_shuffled"]

    examples = (
        TuringExample("0", "o", "Input: '1'\nOutput: '1'\n\nInput: '0'\nOutput:", "'0'"),
        TuringExample("1", "+o", "Input: '1'\nOutput: '0'\n\nInput: '11'\nOutput:", "'00'"),
    )
    items = turing_items(examples, controls=True)
    control = {i.task: i for i in items if i.group == "turing_shuffled"}
    assert control["o"].context == "Input: '1'\nOutput: '0'\n\nInput: '0'\nOutput:"
    assert control["+o"].context == "Input: '1'\nOutput: '1'\n\nInput: '11'\nOutput:"
    assert control["o"].answer == "'0'" and len(turing_items(examples)) == 2


def test_wilson_interval_and_the_pass_rule():
    low, high = wilson(70, 100)
    assert low == pytest.approx(0.6041, abs=1e-3) and high == pytest.approx(0.7810, abs=1e-3)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    assert passes(0.65, 0.56, 0.5, 0.15, 0.05)
    assert not passes(0.64, 0.60, 0.5, 0.15, 0.05)  # 14 points above chance
    assert not passes(0.70, 0.55, 0.5, 0.15, 0.05)  # interval's low end not above 55


def test_scan_rows_schema_and_threshold():
    records = []
    for q in range(100):
        two, three = ("a", "b")[q % 2], ("a", "b", "c")[q % 3]
        records.append(_record("instr_labels", "easy", q, two, base=q < 80))
        records.append(_record("neither", "easy", q, two, base=q < 55))
        hard = ("a", "b", "c")
        records.append(_record("instr_labels", "hard", q, three, hard, base=q < 45))
        records.append(_record("neither", "hard", q, three, hard, base=q < 30))
        # 80% of the queries share one answer: 85% accuracy is no headroom over a constant
        records.append(_record("instr_labels", "skewed", q, "a" if q < 80 else "b", base=q < 85))
        records.append(_record("neither", "skewed", q, "a", base=False))
    rows = scan_rows(records, "base", ScanConfig())
    assert [r["task"] for r in rows] == ["easy", "hard", "skewed"]
    easy, hard, skewed = rows
    assert set(easy) == {"task", "chance", "majority", "instr_labels", "neither", "passed"}
    assert easy["passed"] and easy["chance"] == 0.5 and easy["majority"] == 0.5
    assert easy["instr_labels"]["accuracy"] == 0.8 and easy["instr_labels"]["n"] == 100
    assert easy["neither"]["accuracy"] == 0.55 and len(easy["neither"]["ci"]) == 2
    assert hard["chance"] == pytest.approx(1 / 3) and not hard["passed"]  # +11.7 points
    assert skewed["majority"] == 0.8 and not skewed["passed"]
    lenient = scan_rows(records, "base", ScanConfig(margin=0.1, low_margin=0.0))
    assert [r["passed"] for r in lenient] == [True, True, False]
    text = suite_yaml(["hyperbaton"], ["easy"], "scan")
    assert text.startswith("# scan\n") and "evaluation:\n- easy" in text


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ScanConfig(margin=1.5), "margin=1.5; expected a share in"),
        (ScanConfig(low_margin=-0.1), "low_margin=-0.1"),
        (ScanConfig(margin=0.1, low_margin=0.2), "low_margin=0.2; expected at most margin=0.1"),
        (ScanConfig(scoring="soft"), "scoring='soft'; expected exact or rank"),
    ],
)
def test_scan_thresholds_out_of_range_are_refused(config, message):
    with pytest.raises(SymtuneError, match=message):
        config.validate()


def test_scan_names_every_bad_field_at_once():
    with pytest.raises(SymtuneError, match="margin=1.5.*scoring='soft'"):
        ScanConfig(margin=1.5, scoring="soft").validate()
