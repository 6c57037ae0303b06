"""`symtune run CONFIG.yaml` and `symtune demo`: data → base evaluation → tuning → tuned
evaluation → report, in one run directory. Finished stages are not redone on a re-run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from symtune.arms import SYMBOL, Arm, Sweep, choose, parse_arms, parse_sweep
from symtune.errors import SymtuneError
from symtune.evaluate.api import task_names
from symtune.evaluate.config import EvalConfig
from symtune.io import atomic_write, read_json_object
from symtune.layout import RunDir
from symtune.mixture.config import MixtureConfig
from symtune.models.registry import DEFAULT_MODEL, check_model
from symtune.outdir import claim
from symtune.schema import fields_of
from symtune.tasks import TaskSpec
from symtune.tasks.sources import check_local_files
from symtune.tune.config import TuneConfig

PRESETS_DIR = Path(__file__).resolve().parent / "presets"


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
    """The tuned variants (default: one arm, symbol); see `symtune.arms`."""
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


def load_run_config(path: Path, run_dir: Path, control: bool = False) -> RunConfig:
    """Parse and validate a pipeline YAML (every field typed and range-checked, every suite,
    model and arm resolved) before anything is written; paths inside the run directory are
    filled in. `control` adds the standard control arm (a no-op where the YAML has one)."""
    from symtune.tasks.suites import suite_specs

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (FileNotFoundError, IsADirectoryError):
        raise SymtuneError(f"run config {path} not found") from None
    except UnicodeDecodeError:
        raise SymtuneError(f"run config {path}: not UTF-8 text") from None
    except yaml.YAMLError as err:
        raise SymtuneError(
            f"run config {path}: not valid YAML ({str(err).splitlines()[0]})"
        ) from None
    where = str(path)
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
    if control:  # --control: the standard control arm, as `control: true` in the YAML
        raw = {**raw, "control": True}
    model = str(raw.get("model", DEFAULT_MODEL))
    suite_name = str(raw.get("suite", "offline"))
    suite, _ = suite_specs(suite_name)
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
    evaluation = EvalConfig(**{**eval_values, "suite": suite_name, "tokenizer": model})
    extra = None
    if raw.get("extra_eval") is not None:
        # the main evaluation's values, overridden by the section's (its suite included)
        values = {**eval_values, **_section(raw, "extra_eval", EvalConfig, where)}
        extra = EvalConfig(**{"suite": "reachable", **values, "tokenizer": model})
    mixture.validate()
    tune.validate()
    for section, checked in (("eval", evaluation), ("extra_eval", extra)):
        if checked is not None:
            try:
                task_names(checked)
            except SymtuneError as err:
                raise SymtuneError(f"{where}: {section}: {err}") from None
    _, specs = suite_specs(suite_name)
    used = {*suite.tuning, *task_names(evaluation)}
    if extra is not None:
        extra_specs = suite_specs(extra.suite)[1]
        check_local_files(extra_specs[n] for n in task_names(extra))
    check_local_files(specs[n] for n in sorted(used))
    arms = parse_arms(raw, where)
    sweep = parse_sweep(raw.get("sweep"), where)
    _check_arms(arms, sweep, mixture, tune)
    check_model(model)
    name = str(raw.get("name", path.stem))
    return RunConfig(name, model, suite_name, mixture, tune, evaluation, extra, tuple(arms), sweep)


def _check_arms(
    arms: list[Arm], sweep: Sweep | None, mixture: MixtureConfig, tune: TuneConfig
) -> None:
    """Every arm's (and sweep point's) mixture and tune config valid, before anything runs."""
    points = sweep.points() if sweep else [{}]
    if sweep is not None and not (mixture.val_prompts and tune.val_every):
        raise SymtuneError(
            "sweep: its rule reads the tuning-side validation; set data.val_prompts and "
            "tune.val_every above 0"
        )
    for arm in arms:
        try:
            arm_mixture = arm.mixture(mixture)
            arm_mixture.validate()
            for point in points:
                for k in range(1, arm.replicates + 1):
                    arm_tune = arm.tune_config(tune, k, point)
                    arm_tune.validate()
                    budget = arm_mixture.max_tokens
                    if budget is not None and arm_tune.seq_len < budget:
                        raise SymtuneError(
                            f"tune.seq_len {arm_tune.seq_len} is shorter than data.max_tokens "
                            f"{budget} (a prompt would not fit a row)"
                        )
        except SymtuneError as err:
            raise SymtuneError(f"arm {arm.name!r}: {err}") from None


def preset_path(name: str) -> Path:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))
        raise SymtuneError(f"preset {name!r} is unknown; expected one of {', '.join(known)}")
    return path


def _record_stage(run_dir: Path, stage: str, seconds: float, extra: dict[str, Any]) -> None:
    path = RunDir(run_dir).stages
    stages = read_json_object(path, "stages file") if path.exists() else {}
    stages[stage] = {"done": True, "seconds": round(seconds, 1), **extra}
    atomic_write(path, json.dumps(stages, indent=2) + "\n")


def _done(run_dir: Path, stage: str) -> bool:
    path = RunDir(run_dir).stages
    if not path.exists():
        return False
    return bool(read_json_object(path, "stages file").get(stage, {}).get("done", False))


def _check_same_run(resolved: Path, text: str, run_dir: Path) -> None:
    """A run folder holds one config; a changed one is refused, naming the arms if they
    changed."""
    if not resolved.exists() or resolved.read_text() == text:
        return
    stored = yaml.safe_load(resolved.read_text()) or {}
    if isinstance(stored.get("tune"), dict) and stored["tune"].get("extra") == {}:
        del stored["tune"]["extra"]  # recorded by earlier versions, never read
        if yaml.safe_dump(stored, sort_keys=False) == text:
            return
    new = yaml.safe_load(text)
    if isinstance(stored, dict) and stored.get("arms") != new.get("arms"):
        was = [a.get("name") for a in stored.get("arms") or [{"name": "tuned"}]]
        now = [a["name"] for a in new["arms"]]
        raise SymtuneError(
            f"{run_dir} holds a run with other arms ({', '.join(was)}; this config: "
            f"{', '.join(now)}, or their fields differ); choose another --out"
        )
    raise SymtuneError(f"{run_dir} holds a run with another config; choose another --out")


def run_pipeline(
    config: RunConfig,
    run_dir: Path,
    say: Callable[[str], None] = print,
    eval_progress: Callable | None = None,
    tune_progress: Callable | None = None,
    build_progress: Callable[[int], None] | None = None,
) -> Path:
    """Run every stage not yet done (the run folder locked meanwhile); returns the report
    path."""
    from symtune.tasks.suites import suite_specs

    resolved = RunDir(run_dir).run_config
    text = yaml.safe_dump(json.loads(json.dumps(config.to_dict())), sort_keys=False)
    _check_same_run(resolved, text, run_dir)
    _, specs = suite_specs(config.suite)
    with claim(run_dir, "run"):
        atomic_write(resolved, text)
        steps = Steps(
            config, RunDir(run_dir), specs, say, (eval_progress, tune_progress, build_progress)
        )
        return steps.run()


@dataclass
class Steps:
    """The stages of one run, in order: the mixtures, the sweep, base's evaluation, every arm's
    tuning, the evaluations of base and every arm, the model cards, the report. A stage done
    (stages.json) is not redone; an interrupted tuning run resumes from its checkpoint and an
    evaluation from its per-item caches."""

    config: RunConfig
    layout: RunDir
    specs: dict[str, TaskSpec]
    say: Callable[[str], None]
    progress: tuple[Callable | None, Callable | None, Callable[[int], None] | None]

    def run(self) -> Path:
        from symtune.report.report import write_report

        config = self.config
        for arm in config.arms:
            self._stage(
                f"data:{arm.name}" if self._data_of(arm) != self.layout.data else "data",
                lambda arm=arm: self._build(arm),
            )
        chosen = self._sweep() if config.sweep else {}
        self._stage("eval_base", lambda: self._evaluate(config.eval, self.layout.eval, False))
        for arm in config.arms:
            for k, label in enumerate(arm.labels(), start=1):
                self._stage(
                    f"tune:{label}", lambda a=arm, k=k, lb=label: self._tune(a, k, lb, chosen)
                )
        self._stage("eval", lambda: self._evaluate(config.eval, self.layout.eval, True))
        if config.extra_eval is not None:
            self._stage(
                "eval_extra",
                lambda: self._evaluate(config.extra_eval, self.layout.extra_eval, True),
            )
        _record_stage(self.layout.root, "report", 0.0, {})
        start = time.perf_counter()
        report = write_report(self.layout.root)
        _record_stage(self.layout.root, "report", time.perf_counter() - start, {})
        return report

    def _stage(self, name: str, work: Callable[[], dict[str, Any] | None]) -> None:
        if _done(self.layout.root, name):
            self.say(f"{name}: done already")
            return
        self.say(f"{name}: running")
        start = time.perf_counter()
        extra = work() or {}
        _record_stage(self.layout.root, name, time.perf_counter() - start, extra)

    def _data_of(self, arm: Arm) -> Path:
        same = arm.mixture(self.config.data) == self.config.data
        return self.layout.data if same else self.layout.arm_data(arm.name)

    def _build(self, arm: Arm) -> dict[str, Any]:
        from symtune.mixture.build import build_data

        mixture = arm.mixture(self.config.data)
        manifest = build_data(mixture, self.specs, self._data_of(arm), self.progress[2])
        return {"prompts": manifest["stats"]["prompts"]}

    def _tune_config(self, arm: Arm, k: int, out: Path, chosen: dict[str, Any]) -> TuneConfig:
        config = replace(self.config.tune, mixture=str(self._data_of(arm)), out=str(out))
        return arm.tune_config(config, k, chosen)

    def _tune(self, arm: Arm, k: int, label: str, chosen: dict[str, Any]) -> None:
        from symtune.tune.loop import tune

        out = self.layout.tune_of(label)
        out.parent.mkdir(parents=True, exist_ok=True)
        config = self._tune_config(arm, k, out, chosen)
        callback = self.progress[1]
        progress = (lambda r: callback({**r, "label": label})) if callback else None
        tune(config, resume=(out / "config.json").exists(), progress=progress)

    def _sweep(self) -> dict[str, Any]:
        """Tune every grid point on the first arm's mixture, then keep the one the rule
        chooses (sweep/choice.json); the choice is read back on a re-run."""
        from symtune.io import read_jsonl

        sweep, arm = self.config.sweep, self.config.arms[0]
        assert sweep is not None
        choice = self.layout.sweep / "choice.json"
        points = sweep.points()
        if not choice.exists():
            scores: list[float | None] = []
            for i, point in enumerate(points, start=1):
                out = self.layout.sweep / str(i)
                self._stage(f"sweep:{i}", lambda p=point, o=out: self._tune_point(arm, p, o))
                records = [r for r in read_jsonl(out / "metrics.jsonl") if "val_accuracy" in r]
                scores.append(records[-1]["val_accuracy"] if records else None)
            best = choose(scores)
            document = {
                "chosen": points[best],
                "points": [
                    {"point": p, "val_accuracy": s} for p, s in zip(points, scores, strict=True)
                ],
                "rule": "highest last validation accuracy; ties to the earlier point",
            }
            atomic_write(choice, json.dumps(document, indent=2) + "\n")
            self.say(f"sweep: chose {points[best]}")
        return dict(read_json_object(choice, "sweep choice")["chosen"])

    def _tune_point(self, arm: Arm, point: dict[str, Any], out: Path) -> None:
        from symtune.tune.loop import tune

        out.parent.mkdir(parents=True, exist_ok=True)
        config = self._tune_config(arm, 1, out, point)
        if self.config.sweep and self.config.sweep.steps:
            config = replace(config, steps=self.config.sweep.steps)
        tune(config, resume=(out / "config.json").exists())

    def _evaluate(self, evaluation: EvalConfig, where: Path, tuned: bool) -> None:
        from symtune.evaluate.api import evaluate
        from symtune.report.card import write_card

        models = {"base": self.config.model}
        if tuned:
            models.update({lb: str(self.layout.tune_of(lb)) for lb in self.config.labels()})
        evaluate(evaluation, models, where, self.progress[0])
        if tuned and where == self.layout.eval:
            for label in self.config.labels():
                write_card(self.layout.tune_of(label), self.layout.results)
