"""`symtune run CONFIG.yaml` and `symtune demo`: data → base evaluation → tuning → tuned
evaluation → report, in one run directory. Finished stages are not redone on a re-run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.io import atomic_write, read_json_object
from symtune.mixture import MixtureConfig
from symtune.models.registry import DEFAULT_MODEL, check_model
from symtune.outdir import claim
from symtune.rundir import RunDir
from symtune.schema import fields_of
from symtune.tasks import Suite, TaskSpec
from symtune.tune.config import TuneConfig

PRESETS_DIR = Path(__file__).resolve().parent / "presets"
STAGES = ("data", "eval_base", "tune", "eval_tuned", "eval_extra", "report")


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
    """A second evaluation of base and tuned (e.g. on `reachable`, where a small model has
    headroom), written to RUN/eval-extra/."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "model": self.model,
            "suite": self.suite,
            "data": self.data.to_dict(),
            "tune": self.tune.to_dict(),
            "eval": self.eval.to_dict(),
        }
        if self.extra_eval is not None:
            out["extra_eval"] = self.extra_eval.to_dict()
        return out


def _section(raw: dict[str, Any], key: str, cls: type, where: str) -> dict[str, Any]:
    """A section's values, typed against `cls` (one-line errors naming `key.field`)."""
    values = raw.get(key) or {}
    if not isinstance(values, dict):
        raise SymtuneError(f"{where}: section {key!r} must be a mapping, got {values!r}")
    if cls is MixtureConfig and isinstance(values.get("weights"), dict):
        values = {**values, "weights": [list(kv) for kv in values["weights"].items()]}
    return fields_of(cls, values, f"{where}: {key}")


def load_run_config(path: Path, run_dir: Path) -> RunConfig:
    """Parse and validate a pipeline YAML (every field typed and range-checked, every suite
    and model resolved) before anything is written; paths inside the run directory are
    filled in."""
    from symtune.data import suite_specs

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
    unknown = sorted(set(raw) - {"name", "model", "suite", "data", "tune", "eval", "extra_eval"})
    if unknown:
        raise SymtuneError(
            f"{where}: unknown section {unknown[0]!r}; expected name, model, "
            "suite, data, tune, eval, extra_eval"
        )
    for key in ("name", "model", "suite"):
        if key in raw and not isinstance(raw[key], str):
            raise SymtuneError(f"{where}: {key} = {raw[key]!r}; expected a string")
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
        suite_specs(extra.suite)
        extra.validate()
    mixture.validate()
    tune.validate()
    evaluation.validate()
    check_model(model)
    name = str(raw.get("name", path.stem))
    return RunConfig(name, model, suite_name, mixture, tune, evaluation, extra)


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
    from symtune.data import suite_specs

    resolved = RunDir(run_dir).run_config
    text = yaml.safe_dump(json.loads(json.dumps(config.to_dict())), sort_keys=False)
    if resolved.exists() and resolved.read_text() != text:
        raise SymtuneError(f"{run_dir} holds a run with another config; choose another --out")
    suite, specs = suite_specs(config.suite)
    with claim(run_dir, "run"):
        atomic_write(resolved, text)
        progress = (eval_progress, tune_progress, build_progress)
        return _stages(config, run_dir, suite, specs, say, progress)


def _stages(
    config: RunConfig,
    run_dir: Path,
    suite: Suite,
    specs: dict[str, TaskSpec],
    say: Callable[[str], None],
    progress: tuple[Callable | None, Callable | None, Callable[[int], None] | None],
) -> Path:
    from symtune.card import write_card
    from symtune.data import build_data
    from symtune.evaluate.api import evaluate
    from symtune.report.report import write_report
    from symtune.tune.loop import tune

    eval_progress, tune_progress, build_progress = progress
    layout = RunDir(run_dir)
    for stage in STAGES:
        if stage != "report" and _done(run_dir, stage):
            say(f"{stage}: done already")
            continue
        say(f"{stage}: running")
        start = time.perf_counter()
        extra: dict[str, Any] = {}
        if stage == "data":
            manifest = build_data(config.data, specs, layout.data, build_progress)
            extra["prompts"] = manifest["stats"]["prompts"]
        elif stage == "eval_base":
            evaluate(config.eval, {"base": config.model}, layout.eval, eval_progress)
        elif stage == "tune":
            resume = layout.tune_config.exists()
            tune(config.tune, resume=resume, progress=tune_progress)
        elif stage in ("eval_tuned", "eval_extra"):
            evaluation, where = config.eval, layout.eval
            if stage == "eval_extra":
                if config.extra_eval is None:
                    continue
                evaluation, where = config.extra_eval, layout.extra_eval
            models = {"base": config.model, "tuned": str(layout.tune)}
            evaluate(evaluation, models, where, eval_progress)
            if stage == "eval_tuned":
                write_card(layout.tune, layout.results)
        else:
            _record_stage(run_dir, stage, 0.0, {})
            report = write_report(run_dir)
            _record_stage(run_dir, stage, time.perf_counter() - start, {})
            return report
        _record_stage(run_dir, stage, time.perf_counter() - start, extra)
    raise AssertionError("the report stage always returns")
