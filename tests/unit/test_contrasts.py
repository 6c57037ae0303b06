"""Arm contrasts: labels to arms, Holm, the replicate bootstrap, pooled contrasts, the answer's
readings and tables, label-set mass, and parsing arms and sweeps."""

import math

import numpy as np
import pytest

from symtune.analysis.answer import accuracy_table, contrast_tables, learnable, reading
from symtune.analysis.contrasts import (
    arm_of,
    arms_of,
    contrasts,
    holm,
    label_set_mass,
    pairs,
    replicate_bootstrap,
)
from symtune.analysis.summary import compare
from symtune.errors import SymtuneError
from symtune.evaluate.protocol import Item
from symtune.pipeline.arms import Arm, choose, parse_arms, parse_sweep
from symtune.tune.config import TuneConfig


def test_labels_group_into_arms_and_pairs_put_the_control_first():
    assert arm_of("symbol.r2") == "symbol" and arm_of("symbol") == "symbol"
    assert arm_of("my.rx") == "my.rx"
    assert arms_of(["base", "symbol.r1", "symbol.r2", "control"]) == {
        "base": ["base"],
        "symbol": ["symbol.r1", "symbol.r2"],
        "control": ["control"],
    }
    assert pairs(["base", "symbol", "control"]) == [
        ("symbol", "control"),
        ("symbol", "base"),
        ("control", "base"),
    ]
    assert pairs(["base", "tuned"]) == [("tuned", "base")]


def test_holm_matches_the_step_down_rule():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def _items(n_tasks=3, per_task=40, group="neither"):
    return [
        Item(
            id=f"{group}|t{t}|{q}",
            group=group,
            task=f"t{t}",
            seed=0,
            context="",
            answer="a",
            candidates=("a", "b"),
        )
        for t in range(n_tasks)
        for q in range(per_task)
    ]


def _results(items, correct, scores=None):
    return {
        i.id: {"rank": {"correct": bool(c), **({"scores": scores} if scores else {})}}
        for i, c in zip(items, correct, strict=True)
    }


def test_one_run_per_arm_gives_the_base_vs_tuned_statistics():
    rng = np.random.default_rng(1)
    items = _items()
    base = _results(items, rng.random(len(items)) < 0.5)
    tuned = _results(items, rng.random(len(items)) < 0.7)
    pooled = contrasts(items, {"base": base, "tuned": tuned}, ["rank"])["rank"]["tuned − base"]
    reference = compare(items, base, tuned, "rank")
    got, want = pooled["neither"], reference["neither"]
    assert got["delta"] == pytest.approx(want["delta"])
    assert got["ci"] == pytest.approx(want["ci"])
    assert got["p"] == pytest.approx(want["mcnemar_p"]) and got["p_holm"] == got["p"]
    assert got["training_noise"] is False and got["n"] == len(items)


def test_replicates_pool_and_widen_the_interval_by_their_spread():
    """Two replicates that disagree by 20 points: the pooled delta is their mean, the interval
    covers both, and is wider than the interval of either replicate alone."""
    rng = np.random.default_rng(0)
    items = _items(per_task=100)
    n = len(items)
    base = _results(items, rng.random(n) < 0.5)
    r1 = _results(items, rng.random(n) < 0.5)
    r2 = _results(items, rng.random(n) < 0.7)
    per_model = {"base": base, "symbol.r1": r1, "symbol.r2": r2}
    pooled = contrasts(items, per_model, ["rank"])["rank"]["symbol − base"]["neither"]
    one = contrasts(items, {"base": base, "symbol": r1}, ["rank"])["rank"]["symbol − base"]
    acc = [np.mean([r[i.id]["rank"]["correct"] for i in items]) for r in (base, r1, r2)]
    assert pooled["delta"] == pytest.approx((acc[1] + acc[2]) / 2 - acc[0])
    assert pooled["training_noise"] and pooled["replicates"] == [2, 1]
    assert pooled["per_replicate"] == pytest.approx([acc[1] - acc[0], acc[2] - acc[0]])
    width = pooled["ci"][1] - pooled["ci"][0]
    assert width > 1.3 * (one["neither"]["ci"][1] - one["neither"]["ci"][0])


def test_replicate_bootstrap_centres_on_zero_for_identical_arms():
    a = np.array([[1, 0, 1, 0, 1, 1, 0, 0.0]] * 2)
    delta, low, high, p = replicate_bootstrap([(a, a.copy(), [str(i) for i in range(8)])])
    assert delta == 0 and low == 0 and high == 0 and p == 1.0


def test_label_set_mass_sums_the_candidates_probability():
    items = _items(n_tasks=1, per_task=2)
    records = [
        {"group": i.group, "task": i.task, "results": {"base": {"rank": {"scores": s}}}}
        for i, s in zip(items, ([math.log(0.3), math.log(0.2)], [0.0, 0.0]), strict=True)
    ]
    mass = label_set_mass(records, ["base"])
    assert mass["base"]["neither"] == pytest.approx((0.5 + 1.0) / 2)  # capped at 1


def _document(delta, ci):
    con = {"delta": delta, "ci": ci, "mde": 0.05, "p": 0.01, "p_holm": 0.02, "n": 300}
    summary = {"average": 0.6, "chance": 0.5, "n": 300, "tasks": {}}
    return {
        "summary": {"rank": {"base": {"flipped": summary}, "symbol": {"flipped": summary}}},
        "arms": {},
        "contrasts": {"rank": {"symbol − control": {"flipped": con}}},
    }


def test_a_reading_agrees_with_the_p_shown_and_says_which_arm_moved():
    above = {"delta": 0.05, "ci": [0.01, 0.09], "p": 0.01, "p_holm": 0.02}
    above_not_holm = {"delta": 0.05, "ci": [0.01, 0.09], "p": 0.018, "p_holm": 0.053}
    across = {"delta": 0.05, "ci": [-0.01, 0.11], "p": 0.2, "p_holm": 0.4}
    below = {"delta": -0.05, "ci": [-0.09, -0.01], "p": 0.01, "p_holm": 0.02}
    assert reading("symbol − control", above) == "symbol − control only"
    assert reading("symbol − control", across) == "within noise"
    assert reading("symbol − control", below) == "control better"
    assert reading("symbol − base", above) == "gain"
    assert reading("symbol − base", above_not_holm) == "not after Holm"  # p 0.053: no "gain"
    fell = {"symbol − base": across, "control − base": below}
    assert reading("symbol − control", above, fell) == "control fell, symbol held"
    rose = {"symbol − base": above, "control − base": across}
    assert reading("symbol − control", above, rose) == "symbol rose"
    caption, header, rows = contrast_tables(_document(0.054, [0.007, 0.103]), "rank")[0]
    assert caption == "symbol − control (points)"
    assert rows == [["flipped", "+5.4 [+0.7, +10.3]", "5.0", "0.020", "symbol − control only"]]
    assert all(len(" │ ".join(r)) < 72 for r in [header, *rows])  # fits an 80-column log
    _, header, rows = accuracy_table(_document(0.0, [0, 0]), "rank")
    assert header == ["setting", "n", "base", "symbol", "chance"]
    assert rows == [["flipped", "300", "60.0", "60.0", "50.0"]]


def test_learnable_needs_base_above_chance_with_relevant_labels():
    at_chance = {"base": {"instr_labels": {"average": 0.52, "chance": 0.5}}}
    above = {"base": {"labels_only": {"average": 0.62, "chance": 0.5}}}
    assert not learnable(at_chance) and learnable(above)


def test_arms_parse_control_replicates_and_refuse_bad_input():
    arms = parse_arms({"control": True, "replicates": 2, "data": {}}, "run.yaml")
    assert [a.name for a in arms] == ["symbol", "control"]
    assert dict(arms[1].data) == {"relevant_ratio": 1.0}
    assert arms[0].labels() == ["symbol.r1", "symbol.r2"]
    base = TuneConfig(mixture="m", out="o", seed=5, lr=1e-4)
    second = arms[0].tune_config(base, 2, {"lr": 3e-5})
    assert second.seed == 6 and second.data_order == 1 and second.lr == 3e-5
    assert Arm("x", tune=(("lr", 1e-3),)).tune_config(base, 1, {"lr": 3e-5}).lr == 1e-3
    bad = [
        ({"arms": [{"name": "a", "tune": {"nope": 1}}]}, "arm 'a': tune.nope is not a known"),
        ({"arms": [{"name": "a"}, {"name": "a"}]}, "two arms are named 'a'"),
        ({"arms": [{"name": "Bad Name"}]}, "arms[0].name = 'Bad Name'"),
        ({"arms": [{"name": "a", "colour": 1}]}, "arms[0].colour is not a known field"),
        ({"arms": [{"name": "control"}], "control": True}, "already name one"),
        ({"arms": [{"name": "a", "data": {"relevant_ratio": 1.0}}], "control": True}, "same arm"),
        ({"replicates": 0}, "replicates = 0"),
        ({"arms": [{"name": "a", "tune": {"out": "x"}}]}, "tune.out is set by the run"),
    ]
    for raw, message in bad:
        with pytest.raises(SymtuneError, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse_arms(raw, "run.yaml")


def test_sweep_parses_a_grid_and_its_rule_keeps_the_earlier_point_on_ties():
    sweep = parse_sweep({"grid": {"lr": [1e-4, 3e-5], "weight_decay": [0.0, 0.1]}}, "r")
    assert sweep is not None and len(sweep.points()) == 4
    assert sweep.points()[1] == {"lr": 1e-4, "weight_decay": 0.1}
    assert choose([0.5, 0.7, 0.7, None]) == 1 and choose([None, None]) == 0
    for raw, message in [
        ({"grid": {"lr": []}}, "sweep.grid.lr = \\[\\]"),
        ({"grid": {"nope": [1]}}, "sweep.grid.nope is not a known field"),
        ({"grid": {"lr": [1e-4]}, "every": 3}, "sweep.every is not a known field"),
        ({"grid": {}}, "sweep.grid = \\{\\}"),
    ]:
        with pytest.raises(SymtuneError, match=message):
            parse_sweep(raw, "r")


def _evaluation(base_acc, ci):
    con = {"delta": 0.1, "ci": ci, "mde": 0.07, "p": 0.01, "p_holm": 0.02, "n": 300}
    entry = {"average": base_acc, "chance": 0.5, "n": 300, "tasks": {}}
    arms = {
        label: {"labels_only": {**entry, "replicates": [base_acc]}}
        for label in ("base", "symbol", "control")
    }
    return {
        "config": {"suite": "s", "seeds": [0], "exemplar_sets": 0},
        "summary": {"rank": {label: {"labels_only": entry} for label in arms}},
        "arms": {"rank": arms},
        "contrasts": {"rank": {"symbol − control": {"labels_only": con}}},
        "readings": {},
    }


def test_the_answer_leads_with_the_suite_base_can_do_and_reads_the_control_contrast():
    from symtune.report.answer import answer_blocks

    at_chance = _evaluation(0.5, [0.02, 0.18])
    learnable_one = _evaluation(0.8, [-0.02, 0.18])
    blocks = answer_blocks([("answer", at_chance), ("answer-extra", learnable_one)], {})
    headings = [b[2] for b in blocks if b[0] == "h"]
    assert headings[1:] == ["Suite s", "Suite s — base at chance here"]
    text = " ".join(str(b[1]) for b in blocks if b[0] == "p")
    assert "no setting shows an effect (interval above 0 and Holm p < .05), so nothing here" in text
    assert "symbol − control is above 0 on labels only" in text
    assert "Intervals cover evaluation noise only" in text
    none = answer_blocks([("answer", at_chance)], {})
    assert "not above chance with relevant labels on any suite evaluated" in none[1][1]
    assert answer_blocks([("answer", {**at_chance, "contrasts": {}})], {}) == []


def test_the_verdict_says_the_control_fell_and_every_table_shows_one_p_per_contrast():
    from symtune.analysis.answer import verdict
    from symtune.analysis.tables import p_text, table1_rows

    assert p_text(0.0004) == "< 0.001" and p_text(0.0532) == "0.053"
    sym_con = {"delta": 0.16, "ci": [0.10, 0.21], "mde": 0.077, "p": 1e-6, "p_holm": 3e-6}
    sym_base = {"delta": 0.057, "ci": [0.0, 0.113], "mde": 0.08, "p": 0.018, "p_holm": 0.053}
    con_base = {"delta": -0.10, "ci": [-0.16, -0.04], "mde": 0.08, "p": 1e-3, "p_holm": 2e-3}
    document = {
        "contrasts": {
            "rank": {
                "symbol − control": {"flipped": sym_con},
                "symbol − base": {"flipped": sym_base},
                "control − base": {"flipped": con_base},
            }
        }
    }
    text = verdict(document, "rank")
    assert "comes from the control falling below base" in text
    assert "not from the symbol arm rising" in text
    rows = contrast_tables(document, "rank")
    assert [r[0][3:] for _, _, r in rows] == [
        ["< 0.001", "control fell, symbol held"],
        ["0.053", "within noise"],
        ["0.002", "loss"],
    ]
    summary = {"average": 0.5, "chance": 0.5, "n": 336}
    _, table = table1_rows(
        {"base": {"flipped": summary}, "symbol": {"flipped": summary}}, {"flipped": sym_base}
    )
    assert "p(Holm) 0.053" in table[2][1]  # the same p as the contrast table, not McNemar's
