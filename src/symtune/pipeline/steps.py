"""`symtune run CONFIG.yaml` and `symtune demo`: data → base evaluation → tuning → tuned
evaluation → report, in one run directory, as named steps. Finished stages are not redone on a
re-run; under a launcher rank 0 holds the folder, builds the data and writes the report, and
every rank tunes and evaluates."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.io import atomic_write, parse_yaml, read_json_object, read_yaml
from symtune.layout import RunDir, TuneRun
from symtune.models.files import weight_hashes
from symtune.outdir import claim_main
from symtune.pipeline.arms import Arm, choose, plan
from symtune.pipeline.config import RunConfig
from symtune.pipeline.memory import peak_rss_mb, release, reset_peak, rss_mb
from symtune.ranks import is_main_process, on_main, wait_for_everyone
from symtune.tasks import TaskSpec
from symtune.tune.config import TuneConfig


def _record_stage(run_dir: Path, stage: str, seconds: float, extra: dict[str, Any]) -> None:
    path = RunDir(run_dir).stages
    stages = read_json_object(path, "stages file") if path.exists() else {}
    stages[stage] = {"done": True, "seconds": round(seconds, 1), **extra}
    atomic_write(path, json.dumps(stages, indent=2) + "\n")


def _stages(run_dir: Path) -> dict[str, Any]:
    path = RunDir(run_dir).stages
    return read_json_object(path, "stages file") if path.exists() else {}


def _done(run_dir: Path, stage: str) -> bool:
    return bool(_stages(run_dir).get(stage, {}).get("done", False))


LOCATION_FIELDS = ("mixture", "out")
"""tune fields that say where the run folder is (set from --out), not what the run is: left
out of run_config.yaml, so a moved or re-spelled folder is the same run."""


def stored_form(config: RunConfig) -> str:
    """run_config.yaml's text: the resolved config, without where the folder is."""
    values = json.loads(json.dumps(config.to_dict()))
    for key in LOCATION_FIELDS:
        values["tune"].pop(key, None)
    return yaml.safe_dump(values, sort_keys=False)


def _check_same_run(resolved: Path, text: str, run_dir: Path) -> None:
    """A run folder holds one config; a changed one is refused, naming the first field that
    differs (and the arms if they changed), unless the run that wrote it made nothing."""
    if not resolved.exists() or resolved.read_text() == text or _made_nothing(run_dir):
        return
    stored = read_yaml(resolved, "run config") or {}
    if isinstance(stored.get("tune"), dict):  # as earlier versions recorded it
        for key in LOCATION_FIELDS:
            stored["tune"].pop(key, None)
        if stored["tune"].get("extra") == {}:
            del stored["tune"]["extra"]  # never read
    if yaml.safe_dump(stored, sort_keys=False) == text:
        return
    new = parse_yaml(text, "this run's config")
    if isinstance(stored, dict) and stored.get("arms") != new.get("arms"):
        was = [a.get("name") for a in stored.get("arms") or [{"name": "tuned"}]]
        now = [a["name"] for a in new["arms"]]
        raise SymtuneError(
            f"{run_dir} holds a run with other arms ({', '.join(was)}; this config: "
            f"{', '.join(now)}, or their fields differ); choose another --out"
        )
    field, was, now = _first_difference(stored, new)
    raise SymtuneError(
        f"{run_dir} holds a run with another config ({field}: {was!r} there, {now!r} here); "
        "choose another --out, or rerun with the config it holds"
    )


def _made_nothing(run_dir: Path) -> bool:
    """Whether a run folder holds only what a run writes before its first stage (its config,
    marker and lock, empty folders): a refused start, whose config a corrected one replaces."""
    from symtune.outdir import LOCK, MARKER

    if _done_any(run_dir):
        return False
    kept = {RunDir(run_dir).run_config.name, RunDir(run_dir).stages.name, LOCK, MARKER}
    for path in run_dir.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            continue
        if path.parent != run_dir or path.name not in kept:
            return False
    return True


def _done_any(run_dir: Path) -> bool:
    return any(s.get("done") for s in _stages(run_dir).values())


def _first_difference(old: Any, new: Any, where: str = "") -> tuple[str, Any, Any]:
    """The first (dotted) field where two configs differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{where}{key}.")
    return where.rstrip(".") or "the config", old, new


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
    text = stored_form(config)
    _, specs = suite_specs(config.suite)
    on_main(lambda: _check_same_run(resolved, text, run_dir))
    with claim_main(run_dir, "run"):  # under a launcher: rank 0 holds the folder
        on_main(lambda: atomic_write(resolved, text))
        on_main(lambda: say(plan(config.arms, config.sweep, config.extra_eval is not None)))
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
                everyone=False,
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

        def report() -> Path:
            _record_stage(self.layout.root, "report", 0.0, {})
            start = time.perf_counter()
            made = write_report(self.layout.root)
            _record_stage(self.layout.root, "report", time.perf_counter() - start, {})
            return made

        made = on_main(report)
        return made if made is not None else self.layout.report / "report.md"

    def _stage(
        self, name: str, work: Callable[[], dict[str, Any] | None], everyone: bool = True
    ) -> None:
        """Run a stage not yet done and record it (rank 0). Under a launcher every rank runs
        tuning and evaluation together; a stage that is not `everyone`'s runs on rank 0 while
        the others wait, and its refusal is theirs too."""
        if _done(self.layout.root, name):
            missing = self._missing(name)
            if missing is None:
                self._say(f"{name}: done already")
                return
            self._say(f"{name}: recorded as done, but {missing} is gone; running it again")
        else:
            self._say(f"{name}: running")
        release()  # the last stage's leftovers are not this one's peak
        reset_peak()
        held = rss_mb()
        start = time.perf_counter()
        extra = (work() if everyone else on_main(work)) or {}
        made = self._final_of(name)
        if made is not None and is_main_process():  # what later reruns check it against
            extra = {**extra, "final_sha256": weight_hashes(made)}
        if is_main_process():  # this process's (rank 0): at the start, and its peak
            extra = {**extra, "start_rss_mb": round(held), "peak_rss_mb": round(peak_rss_mb())}
            _record_stage(self.layout.root, name, time.perf_counter() - start, extra)
        wait_for_everyone()

    def _final_of(self, name: str) -> Path | None:
        """The final/ folder a tuning stage makes (None for other stages)."""
        kind, _, what = name.partition(":")
        if kind not in ("tune", "sweep"):
            return None
        out = self.layout.tune_of(what) if kind == "tune" else self.layout.sweep / what
        return TuneRun(out).final

    def _missing(self, name: str) -> str | None:
        """What a done stage made that is no longer there or no longer what it wrote (None:
        all of it is): stages.json says a stage finished and what its weights' sha256 were;
        the files say whether its work is still in the folder, unchanged."""
        kind, _, what = name.partition(":")
        recorded = _stages(self.layout.root)
        if kind in ("tune", "sweep") and (sums := recorded[name].get("final_sha256")):
            final = self._final_of(name)
            assert final is not None
            now = weight_hashes(final) if final.is_dir() else {}
            changed = sorted(f for f in set(sums) | set(now) if sums.get(f) != now.get(f))
            if changed:
                return f"{final / changed[0]} as it wrote it (sha256 differs; damaged)"
        if kind in ("eval", "eval_extra"):  # every tuned model scored as its stage made it
            results_path = self.layout.results if kind == "eval" else self.layout.extra_results
            if results_path.is_file():
                models = read_json_object(results_path, "results").get("models") or {}
                for label in self.config.labels():
                    made = recorded.get(f"tune:{label}", {}).get("final_sha256") or {}
                    scored = models.get(label, {}) if isinstance(models, dict) else {}
                    sha = scored.get("sha256") if isinstance(scored, dict) else None
                    if made.get("model.safetensors") and sha != made["model.safetensors"]:
                        return f"the evaluation of {label} as tuned now"
        if kind == "data":
            arm = next(a for a in self.config.arms if a.name == what) if what else None
            manifest = (self._data_of(arm) if arm else self.layout.data) / "manifest.json"
            return None if manifest.is_file() else str(manifest)
        if kind in ("tune", "sweep"):
            out = self.layout.tune_of(what) if kind == "tune" else self.layout.sweep / what
            final = TuneRun(out).final
            weights = list(final.glob("*.safetensors")) if final.is_dir() else []
            return None if TuneRun(out).finished() and weights else f"{final}'s model"
        results = {"eval_base": self.layout.results, "eval": self.layout.results}.get(
            kind, self.layout.extra_results
        )
        labels = ["base"] if kind == "eval_base" else ["base", *self.config.labels()]
        if not results.is_file():
            return str(results)
        models = read_json_object(results, "results").get("models")
        gone = [lb for lb in labels if not isinstance(models, dict | list) or lb not in models]
        return f"{', '.join(gone)} in {results}" if gone else None

    def _say(self, message: str) -> None:
        if is_main_process():
            self.say(message)

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
            on_main(lambda: atomic_write(choice, json.dumps(document, indent=2) + "\n"))
            wait_for_everyone()
            self._say(f"sweep: chose {points[best]}")
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
        if tuned and where == self.layout.eval and is_main_process():
            for label in self.config.labels():
                write_card(self.layout.tune_of(label), self.layout.results)
