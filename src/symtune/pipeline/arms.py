"""Arms of one `symtune run`: named variants that override `data` and/or `tune` fields, tuned on
the same mixture seed and evaluated on the same items as base. `control: true` adds the standard
control arm (the first arm's prompts with relevant labels and instructions); `replicates: N`
tunes an arm N times (the same prompts in N orders, `data_order` 0, 1, …); a `sweep`
grid over tune fields is tuned first and the point its rule chooses on the tuning-side
validation is applied to every arm. Parsing and expansion only: no I/O."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, replace
from typing import Any

from symtune.errors import SymtuneError
from symtune.mixture.config import MixtureConfig
from symtune.schema import fields_of
from symtune.tune.config import MAX_STEPS, TuneConfig

NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CONTROL = "control"
SYMBOL = "symbol"
MAX_SWEEP_POINTS = 64
"""Most points in a sweep grid: each is a tuning run, run one after another."""
MAX_TUNING_RUNS = 128
"""Most tuning runs in one run (every arm's replicates plus the sweep's points), one after
another."""
ARM_KEYS = ("name", "data", "tune", "replicates")
SWEEP_KEYS = ("grid", "steps")
RUN_SET_TUNE = ("mixture", "out", "model")
"""Tune fields the run sets for every arm and sweep point."""


@dataclass(frozen=True)
class Arm:
    """One arm: overrides of the run's data and tune sections, and how often it is tuned."""

    name: str
    data: tuple[tuple[str, Any], ...] = ()
    tune: tuple[tuple[str, Any], ...] = ()
    replicates: int = 1

    def labels(self) -> list[str]:
        """Model labels in results: the name, or NAME.r1 … NAME.rN for replicates."""
        if self.replicates == 1:
            return [self.name]
        return [f"{self.name}.r{k}" for k in range(1, self.replicates + 1)]

    def mixture(self, base: MixtureConfig) -> MixtureConfig:
        return replace(base, **dict(self.data))

    def tune_config(self, base: TuneConfig, replicate: int, chosen: dict[str, Any]) -> TuneConfig:
        """The tune config of replicate k (1-based): the sweep's choice, then the arm's own
        overrides; replicate k reads the prompts in order data_order + k - 1 (replicate 1 as
        a run without replicates) with seed + k - 1."""
        config = replace(base, **{**chosen, **dict(self.tune)})
        k = replicate - 1
        return replace(config, seed=config.seed + k, data_order=config.data_order + k)


@dataclass(frozen=True)
class Sweep:
    """A grid over tune fields, tuned for `steps` steps each; the rule keeps the point with the
    highest last validation accuracy, ties to the earlier point in grid order (list the values
    you prefer first)."""

    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    steps: int = 0
    """Steps per sweep point; 0: the run's tune.steps."""

    def points(self) -> list[dict[str, Any]]:
        names = [name for name, _ in self.grid]
        return [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(values for _, values in self.grid))
        ]


def _known(raw: dict[str, Any], keys: tuple[str, ...], prefix: str) -> None:
    """Refuse a key of `raw` not among `keys`, named as PREFIX + key."""
    unknown = sorted(set(raw) - set(keys))
    if unknown:
        raise SymtuneError(f"{prefix}{unknown[0]} is not a known field; expected {', '.join(keys)}")


def _replicates(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 16:
        raise SymtuneError(f"{where}: replicates = {value!r}; expected 1 to 16")
    return value


def _arm(raw: Any, where: str, replicates: int) -> Arm:
    if not isinstance(raw, dict):
        raise SymtuneError(f"{where} = {raw!r}: expected a mapping with name, data, tune")
    _known(raw, ARM_KEYS, f"{where}.")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name) or name == "base":
        raise SymtuneError(
            f"{where}.name = {name!r}: expected a lowercase name (letters, digits, _), not base"
        )
    where = f"arm {name!r}"
    data = fields_of(MixtureConfig, raw.get("data") or {}, f"{where}: data")
    tune = fields_of(TuneConfig, raw.get("tune") or {}, f"{where}: tune")
    for fixed in ("tasks", "suite", "tokenizer"):
        if fixed in data:
            raise SymtuneError(f"{where}: data.{fixed} is set by the run; arms cannot change it")
    for fixed in RUN_SET_TUNE:
        if fixed in tune:
            raise SymtuneError(f"{where}: tune.{fixed} is set by the run; arms cannot change it")
    count = _replicates(raw.get("replicates", replicates), where)
    return Arm(name, tuple(data.items()), tuple(tune.items()), count)


def parse_arms(raw: dict[str, Any], where: str) -> list[Arm]:
    """The run's arms from its YAML mapping: `arms` (a list; default one arm named symbol),
    `control: true`, `replicates: N` (the default per arm)."""
    replicates = _replicates(raw.get("replicates", 1), where)
    listed = raw.get("arms", [{"name": SYMBOL}])
    if not isinstance(listed, list) or not listed:
        raise SymtuneError(f"{where}: arms = {listed!r}; expected a non-empty list of arms")
    arms = [_arm(a, f"{where}: arms[{i}]", replicates) for i, a in enumerate(listed)]
    control = raw.get("control", False)
    if not isinstance(control, bool):
        raise SymtuneError(f"{where}: control = {control!r}; expected true or false")
    if control:
        if any(a.name == CONTROL for a in arms):
            raise SymtuneError(
                f"{where}: control: true adds the arm 'control', and arms already name one"
            )
        first = arms[0]
        if dict(first.data).get("relevant_ratio") == 1.0:
            raise SymtuneError(
                f"{where}: control: true, but arm {first.name!r} already tunes with relevant "
                "labels only (data.relevant_ratio = 1.0): the control would be the same arm"
            )
        data = {**dict(first.data), "relevant_ratio": 1.0}
        arms.append(Arm(CONTROL, tuple(data.items()), first.tune, first.replicates))
    names = [a.name for a in arms]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SymtuneError(f"{where}: two arms are named {twice[0]!r}; arm names must differ")
    return arms


def parse_sweep(raw: Any, where: str) -> Sweep | None:
    """`sweep: {grid: {FIELD: [values…]}, steps: N}` over tune fields, or None."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SymtuneError(f"{where}: sweep = {raw!r}; expected a mapping with grid and steps")
    _known(raw, SWEEP_KEYS, f"{where}: sweep.")
    grid = raw.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise SymtuneError(f"{where}: sweep.grid = {grid!r}; expected a mapping FIELD: [values]")
    typed = []
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SymtuneError(
                f"{where}: sweep.grid.{name} = {values!r}; expected a non-empty list of values"
            )
        if name in RUN_SET_TUNE:
            raise SymtuneError(f"{where}: sweep.grid.{name} is set by the run; it cannot be swept")
        checked = [fields_of(TuneConfig, {name: v}, f"{where}: sweep.grid")[name] for v in values]
        twice = [v for i, v in enumerate(checked) if v in checked[:i]]
        if twice:
            raise SymtuneError(
                f"{where}: sweep.grid.{name} lists {twice[0]!r} twice; each value once"
            )
        typed.append((name, tuple(checked)))
    points = math.prod(len(values) for _, values in typed)
    if points > MAX_SWEEP_POINTS:
        raise SymtuneError(
            f"{where}: sweep.grid has {points:,} points (the product of its lists' lengths); "
            f"at most {MAX_SWEEP_POINTS}, each one a tuning run"
        )
    steps = raw.get("steps", 0)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= MAX_STEPS:
        raise SymtuneError(
            f"{where}: sweep.steps = {steps!r}; expected 0 (tune.steps) to {MAX_STEPS:,} steps"
        )
    return Sweep(tuple(typed), steps)


def check_size(arms: list[Arm], sweep: Sweep | None, where: str) -> None:
    """Bound the tuning runs a config asks for (arms x replicates + sweep points)."""
    runs = sum(a.replicates for a in arms) + (len(sweep.points()) if sweep else 0)
    if runs > MAX_TUNING_RUNS:
        raise SymtuneError(
            f"{where}: {runs:,} tuning runs ({len(arms)} arms with their replicates"
            f"{', plus the sweep points' if sweep else ''}); at most {MAX_TUNING_RUNS}, "
            "each one run after another"
        )


def plan(arms: tuple[Arm, ...], sweep: Sweep | None, extra_eval: bool) -> str:
    """One line saying how much work a run is: tuning runs and evaluations."""
    tuned = sum(a.replicates for a in arms)
    arms_text = ", ".join(
        a.name if a.replicates == 1 else f"{a.name} x{a.replicates}" for a in arms
    )
    points = len(sweep.points()) if sweep else 0
    swept = f", after a sweep of {points} points" if points else ""
    again = " (and again on extra_eval)" if extra_eval else ""
    runs = tuned + points
    return (
        f"plan: {runs} tuning run{'s' * (runs != 1)} ({arms_text}{swept}); evaluation of "
        f"base and {tuned} tuned model{'s' * (tuned != 1)}{again}"
    )


def choose(scores: list[float | None]) -> int:
    """The sweep's rule: the highest last validation accuracy; ties (and points without one)
    to the earlier point in grid order."""
    best = 0
    for i, score in enumerate(scores):
        if score is not None and (scores[best] is None or score > scores[best]):
            best = i
    return best
