"""Where things are, named in one place: a `symtune run` directory (`RunDir`), a tuning run
(`TuneRun`: config, metrics, checkpoints, final/, best/) and one of its checkpoints
(`Checkpoint`), and the model folder any name a user passes means (`model_dir`). Nothing else
spells these paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunDir:
    """RUN/{run_config.yaml, stages.json, data/, arms/ARM/{data/, tune/, tune-rK/}, sweep/,
    eval/, eval-extra/, report/} (runs of earlier versions: one tuning run in tune/)."""

    root: Path

    @property
    def run_config(self) -> Path:
        """The resolved run YAML (what `symtune run` ran)."""
        return self.root / "run_config.yaml"

    @property
    def stages(self) -> Path:
        """Which stages finished, and their wall time."""
        return self.root / "stages.json"

    @property
    def data(self) -> Path:
        """The tuning mixture."""
        return self.root / "data"

    @property
    def tune(self) -> Path:
        """The one tuning run of runs made before arms (config.json, metrics.jsonl, …)."""
        return self.root / "tune"

    def arm_data(self, arm: str) -> Path:
        """The mixture of an arm whose data differs from the run's."""
        return self.root / "arms" / arm / "data"

    def tune_of(self, label: str) -> Path:
        """The tuning run of a model label: arms/ARM/tune, or arms/ARM/tune-rK for replicate
        K of an arm tuned several times (label ARM.rK)."""
        arm, _, k = label.rpartition(".r")
        if arm and k.isdigit():
            return self.root / "arms" / arm / f"tune-r{k}"
        return self.root / "arms" / label / "tune"

    @property
    def sweep(self) -> Path:
        """The sweep's tuning runs (sweep/K/) and its choice (sweep/choice.json)."""
        return self.root / "sweep"

    def tuning_runs(self) -> dict[str, Path]:
        """Every finished or started tuning run in the folder, by model label (sweep points
        excluded), arm by arm in the order the run's config lists them (then by name): the
        arms', or the one of an earlier version's run as "tuned"."""
        from symtune.io import read_yaml

        stored = read_yaml(self.run_config, "run config") if self.run_config.exists() else {}
        order = [a.get("name") for a in (stored or {}).get("arms") or []]
        found = []  # (arm, label, path)
        if (self.tune / "config.json").exists():
            found.append(("tuned", "tuned", self.tune))
        arms = self.root / "arms"
        for path in sorted(arms.glob("*/tune*")) if arms.is_dir() else []:
            if (path / "config.json").exists():
                arm = path.parent.name
                k = path.name.removeprefix("tune-r")
                found.append((arm, arm + (f".r{k}" if path.name != "tune" else ""), path))
        found.sort(key=lambda f: (order.index(f[0]) if f[0] in order else len(order), f[1]))
        return {label: path for _, label, path in found}

    @property
    def eval(self) -> Path:
        """The main evaluation, base and tuned."""
        return self.root / "eval"

    @property
    def extra_eval(self) -> Path:
        """The second evaluation (e.g. the `reachable` suite), when configured."""
        return self.root / "eval-extra"

    @property
    def report(self) -> Path:
        """report.md, report.html and the figures."""
        return self.root / "report"

    @property
    def results(self) -> Path:
        return self.eval / "results.json"

    @property
    def extra_results(self) -> Path:
        return self.extra_eval / "results.json"


@dataclass(frozen=True)
class TuneRun:
    """A tuning run: OUT/{config.json, provenance.json, mixture_manifest.json, metrics.jsonl,
    checkpoints/{step-N/, latest}, final/, best/, best.json, stopped.json}."""

    root: Path

    @property
    def config(self) -> Path:
        """The run's TuneConfig (written at its first step)."""
        return self.root / "config.json"

    @property
    def provenance(self) -> Path:
        return self.root / "provenance.json"

    @property
    def mixture_manifest(self) -> Path:
        """A copy of the manifest of the mixture it read."""
        return self.root / "mixture_manifest.json"

    @property
    def metrics(self) -> Path:
        """One JSON record per step (and per validation)."""
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def final(self) -> Path:
        """The tuned model, loadable with from_pretrained (and its README.md card)."""
        return self.root / "final"

    @property
    def best(self) -> Path:
        """The best-validated step's model (with `keep: best`)."""
        return self.root / "best"

    @property
    def best_record(self) -> Path:
        return self.root / "best.json"

    @property
    def stopped(self) -> Path:
        """Present while final/ comes from a step before the last (a deadline stopped it)."""
        return self.root / "stopped.json"

    def finished(self) -> bool:
        return (self.final / "config.json").exists() or (
            self.final / "adapter_config.json"
        ).exists()


@dataclass(frozen=True)
class Checkpoint:
    """OUT/checkpoints/step-N/{trainable.safetensors, optimizer.pt, schedule.pt, rng-R.pt,
    state.json} and, once exported for evaluation, model/."""

    path: Path

    @property
    def weights(self) -> Path:
        return self.path / "trainable.safetensors"

    @property
    def state(self) -> Path:
        return self.path / "state.json"

    @property
    def model(self) -> Path:
        """The checkpoint exported as a plain model (for evaluation)."""
        return self.path / "model"

    @property
    def run(self) -> TuneRun:
        return TuneRun(self.path.parent.parent)

    def exists(self) -> bool:
        return self.weights.exists()


def model_dir(name: str) -> str:
    """The folder a model name means: a finished tuning run's final/, a checkpoint's exported
    model/ (where it has one), else the name itself (a model folder, a hub id or a built-in
    name)."""
    path = Path(name)
    if (TuneRun(path).final / "config.json").exists():
        return str(TuneRun(path).final)
    if Checkpoint(path).exists():
        return str(Checkpoint(path).model)
    return name
