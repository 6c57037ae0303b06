"""A run's configuration: the run YAML (or a preset) parsed, typed and checked across fields
before anything is written (`load_run_config`), into one `RunConfig`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from symtune.errors import SymtuneError
from symtune.evaluate.api import task_names
from symtune.evaluate.config import EvalConfig
from symtune.evaluate.protocol import check_tasks
from symtune.io import beside, read_json_object, read_yaml
from symtune.layout import RunDir
from symtune.mixture.config import MixtureConfig
from symtune.models.registry import DEFAULT_MODEL, check_model, model_positions
from symtune.pipeline.arms import SYMBOL, Arm, Sweep, check_size, parse_arms, parse_sweep
from symtune.schema import fields_of
from symtune.tasks.sources import check_local_files
from symtune.tasks.spec import BigBenchSource, TaskSpec
from symtune.tune.config import TuneConfig

MAX_NAME = 200
"""Longest run name (it titles the report and the model cards)."""
PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"


@dataclass(frozen=True)
class RunConfig:
    """One YAML file drives the whole pipeline."""

    name: str
    model: str
    suite: str
    data: MixtureConfig
    tune: TuneConfig
    eval: EvalConfig
    extra_eval: EvalConfig | None = None
    """A second evaluation of base and every arm (e.g. on the BIG-Bench offline pool), written
    to RUN/eval-extra/."""
    arms: tuple[Arm, ...] = (Arm(SYMBOL),)
    """The tuned variants (default: one arm, symbol); see `symtune.pipeline.arms`."""
    sweep: Sweep | None = None

    def labels(self) -> list[str]:
        """Every tuned model's label, arm by arm."""
        return [label for arm in self.arms for label in arm.labels()]

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "model": self.model,
            "suite": self.suite,
            "data": self.data.to_dict(),
            "tune": self.tune.to_dict(),
            "eval": self.eval.to_dict(),
            "arms": [
                {
                    "name": a.name,
                    "data": dict(a.data),
                    "tune": dict(a.tune),
                    "replicates": a.replicates,
                }
                for a in self.arms
            ],
        }
        if self.extra_eval is not None:
            out["extra_eval"] = self.extra_eval.to_dict()
        if self.sweep is not None:
            out["sweep"] = {
                "grid": {k: list(v) for k, v in self.sweep.grid},
                "steps": self.sweep.steps,
            }
        return out


SECTIONS = (
    "name",
    "model",
    "suite",
    "data",
    "tune",
    "eval",
    "extra_eval",
    "arms",
    "control",
    "replicates",
    "sweep",
)


def _section(raw: dict[str, Any], key: str, cls: type, where: str) -> dict[str, Any]:
    """A section's values, typed against `cls` (one-line errors naming `key.field`)."""
    values = raw.get(key)
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise SymtuneError(
            f"{where}: section {key!r} = {values!r}; expected a mapping of {key} fields"
        )
    if cls is TuneConfig and values.get("extra") == {}:  # earlier versions wrote it
        values = {k: v for k, v in values.items() if k != "extra"}
    if cls is MixtureConfig and isinstance(values.get("weights"), dict):
        values = {**values, "weights": [list(kv) for kv in values["weights"].items()]}
    return fields_of(cls, values, f"{where}: {key}")


def _check_top_level(raw: Any, path: Path) -> str:
    """A run YAML's top level: a mapping of known sections whose name, model and suite are
    strings, the name one bounded line; returns the run's name (default: the file's stem)."""
    where = str(path)
    if raw is None or raw == {}:
        raise SymtuneError(
            f"{where}: empty; expected a mapping of sections ({', '.join(SECTIONS)}); "
            "examples in experiments/recipe/"
        )
    if not isinstance(raw, dict):
        raise SymtuneError(f"{where}: expected a mapping of sections, got {raw!r}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise SymtuneError(
            f"{where}: unknown section {unknown[0]!r}; expected {', '.join(SECTIONS)}"
        )
    for key in ("name", "model", "suite"):
        if key in raw and not isinstance(raw[key], str):
            raise SymtuneError(f"{where}: {key} = {raw[key]!r}; expected a string")
    name = str(raw.get("name", path.stem))
    if not name.strip() or len(name) > MAX_NAME or "\n" in name:
        raise SymtuneError(
            f"{where}: name = {name[:40]!r}…; expected one line of 1 to {MAX_NAME} characters"
        )
    return name


def load_run_config(path: Path, run_dir: Path, control: bool = False) -> RunConfig:
    """Parse and validate a pipeline YAML (every field typed and range-checked, every suite,
    model and arm resolved) before anything is written; paths inside the run directory are
    filled in. `control` adds the standard control arm (a no-op where the YAML has one)."""
    from symtune.tasks.suites import load_tasks, suite_specs

    raw = read_yaml(path, "run config")
    where = str(path)
    name = _check_top_level(raw, path)
    if control:  # --control: the standard control arm, as `control: true` in the YAML
        raw = {**raw, "control": True}
    # relative paths in the YAML are read beside it (the same run from any current folder)
    model = beside(str(raw.get("model", DEFAULT_MODEL)), path)
    suite_name = beside(str(raw.get("suite", "reachable")), path)
    suite, specs = suite_specs(suite_name)
    data = _section(raw, "data", MixtureConfig, where)
    data.setdefault("tokenizer", model)
    mixture = MixtureConfig(**{**data, "tasks": suite.tuning, "suite": suite.name})
    tune_values = _section(raw, "tune", TuneConfig, where)
    tune = TuneConfig(
        **{
            **tune_values,
            "mixture": str(RunDir(run_dir).data),
            "out": str(RunDir(run_dir).tune),
            "model": model,
        }
    )
    eval_values = _section(raw, "eval", EvalConfig, where)
    eval_values["chat_template"] = _same_framing(tune, eval_values, "eval", where)
    evaluation = EvalConfig(**{**eval_values, "suite": suite_name, "tokenizer": model})
    extra = None
    if raw.get("extra_eval") is not None:
        # the main evaluation's values, overridden by the section's (its suite included)
        values = {**eval_values, **_section(raw, "extra_eval", EvalConfig, where)}
        if isinstance(values.get("suite"), str):
            values["suite"] = beside(values["suite"], path)
        values["chat_template"] = _same_framing(tune, values, "extra_eval", where)
        extra = EvalConfig(**{"suite": "reachable", **values, "tokenizer": model})
    mixture.validate()
    tune.validate()
    check_local_files(specs[n] for n in suite.tuning)
    scored = _classified(evaluation, specs, "eval", where)
    # every task the run reads, at once: one error lists every one that cannot be had
    wanted = {n: specs[n] for n in (*suite.tuning, *scored) if _readable(specs[n])}
    loaded = {t.name: t for t in load_tasks(list(wanted.values()))}
    for section, checked in (("eval", evaluation), ("extra_eval", extra)):
        if checked is not None:
            found = specs if checked.suite == suite_name else suite_specs(checked.suite)[1]
            tasks = [found[n] for n in _classified(checked, found, section, where)]
            tasks = [t for t in tasks if _readable(t)]
            ready = [t.name in loaded and loaded[t.name].spec == t for t in tasks]
            try:  # k and the sets fit every task's data
                have = [loaded[t.name] for t, r in zip(tasks, ready, strict=True) if r]
                rest = [t for t, r in zip(tasks, ready, strict=True) if not r]
                check_tasks(have + load_tasks(rest), checked)
            except SymtuneError as err:
                raise SymtuneError(f"{where}: {section}: {err}") from None
    arms = parse_arms(raw, where)
    sweep = parse_sweep(raw.get("sweep"), where)
    check_size(arms, sweep, where)
    check_model(model)
    tuned = _tuned_already(run_dir, arms, sweep)  # nothing left to tune: no model to ask
    _check_arms(arms, sweep, mixture, tune, model_positions(model), ask_model=not tuned)
    _check_bigbench(specs, suite.tuning, (evaluation, extra), where)
    return RunConfig(name, model, suite_name, mixture, tune, evaluation, extra, tuple(arms), sweep)


def _classified(checked: EvalConfig, found: dict, section: str, where: str) -> tuple[str, ...]:
    """The classification tasks an evaluation section scores (none without settings or
    flipped labels), their local files checked; errors name the section."""
    try:
        names = task_names(checked)
        check_local_files(found[n] for n in names)
    except SymtuneError as err:
        raise SymtuneError(f"{where}: {section}: {err}") from None
    return tuple(names) if checked.settings or checked.flipped else ()


def _same_framing(tune: TuneConfig, values: dict, section: str, where: str) -> bool:
    """A run frames prompts one way in every stage: tune.chat_template, which an evaluation
    section may repeat but not contradict (a model is evaluated as it was tuned)."""
    chosen = values.get("chat_template", tune.chat_template)
    if chosen != tune.chat_template:
        raise SymtuneError(
            f"{where}: {section}.chat_template = {chosen}, but tune.chat_template = "
            f"{tune.chat_template}; a run evaluates prompts framed as it tunes them (set "
            "tune.chat_template alone)"
        )
    return tune.chat_template


def _readable(spec: TaskSpec) -> bool:
    """A task whose data is read up front: not BIG-Bench's (checked file by file when read)."""
    return not isinstance(spec.source, BigBenchSource)


def _tuned_already(run_dir: Path, arms: list[Arm], sweep: Sweep | None) -> bool:
    """Whether a run folder records every tuning stage of this config as done (a rerun that
    finds one changed tunes it again through `tune`, which asks the model first)."""
    path = RunDir(run_dir).stages
    try:
        stages = read_json_object(path, "stages file") if path.is_file() else {}
    except SymtuneError:  # damaged: the run itself says so, after these checks
        return False
    names = [f"tune:{label}" for arm in arms for label in arm.labels()]
    names += [f"sweep:{i}" for i in range(1, len(sweep.points()) + 1)] if sweep else []
    return all(isinstance(stages.get(n), dict) and stages[n].get("done") for n in names)


def _check_arms(
    arms: list[Arm],
    sweep: Sweep | None,
    mixture: MixtureConfig,
    tune: TuneConfig,
    positions: int | None = None,
    ask_model: bool = True,
) -> None:
    """Every arm's (and sweep point's) mixture and tune config valid, before anything runs:
    a prompt fits a row and the model's `positions`."""
    from symtune.tune.model import check_architecture

    points = sweep.points() if sweep else [{}]
    if sweep is not None and not (mixture.val_prompts and tune.val_every):
        raise SymtuneError(
            "sweep: its rule reads the tuning-side validation; set data.val_prompts and "
            "tune.val_every above 0"
        )
    if sweep is not None and sweep.steps:  # a sweep run: the first arm, sweep.steps steps
        for point in points:
            try:
                replace(arms[0].tune_config(tune, 1, point), steps=sweep.steps).validate()
            except SymtuneError as err:
                raise SymtuneError(f"sweep point {point}: {err}") from None
    checked: set[tuple] = set()
    for arm in arms:
        try:
            arm_mixture = arm.mixture(mixture)
            arm_mixture.validate()
            for point in points:
                for k in range(1, arm.replicates + 1):
                    arm_tune = arm.tune_config(tune, k, point)
                    arm_tune.validate()
                    if arm_tune.val_every and not arm_mixture.val_prompts:
                        raise SymtuneError(
                            f"tune.val_every = {arm_tune.val_every} scores validation prompts, "
                            "but data.val_prompts is 0; set data.val_prompts (or val_every: 0)"
                        )
                    capabilities = (
                        arm_tune.lora,
                        arm_tune.gradient_checkpointing,
                        arm_tune.attention,
                    )
                    if ask_model and capabilities not in checked:  # asked once per need
                        checked.add(capabilities)
                        check_architecture(arm_tune)
                    budget = arm_mixture.max_tokens
                    if budget is not None and arm_tune.seq_len < budget:
                        raise SymtuneError(
                            f"tune.seq_len {arm_tune.seq_len} is shorter than data.max_tokens "
                            f"{budget} (a prompt would not fit a row)"
                        )
                    if budget is not None and positions is not None and budget > positions:
                        raise SymtuneError(
                            f"data.max_tokens {budget:,} is more than the model's "
                            f"{positions:,} positions (a prompt would not fit the model)"
                        )
        except SymtuneError as err:
            raise SymtuneError(f"arm {arm.name!r}: {err}") from None


def _check_bigbench(
    specs: dict[str, TaskSpec],
    tuning: tuple[str, ...],
    evaluations: tuple[EvalConfig | None, ...],
    where: str,
) -> None:
    """The user's BIG-Bench copy verified as the stages will read it, before anything is
    written, when the run reads BIG-Bench tasks (tuning, evaluation or algorithmic)."""
    from symtune.tasks import bigbench
    from symtune.tasks.algorithmic import LIST_FUNCTIONS, TURING_AS2
    from symtune.tasks.suites import suite_specs

    read = [specs[n] for n in tuning]
    paths: set[str] = set()
    for evaluation in evaluations:
        if evaluation is not None:
            found = suite_specs(evaluation.suite)[1]
            read += [found[n] for n in task_names(evaluation)]
            if evaluation.reads_bigbench:
                paths.update((LIST_FUNCTIONS, TURING_AS2))
    paths.update(s.source.path for s in read if isinstance(s.source, BigBenchSource))
    if paths:
        try:
            bigbench.tasks_dir(sorted(paths), "this run")
        except SymtuneError as err:
            raise SymtuneError(f"{where}: {err}") from None


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise SymtuneError(f"preset {name!r} is unknown; expected one of {', '.join(known)}")
    return path
