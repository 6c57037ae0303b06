"""The layout of a `symtune run` directory, named in one place (pipeline, report, CLI and
experiments use it; nothing else spells these paths)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunDir:
    """RUN/{run_config.yaml, stages.json, data/, eval/, tune/, eval-extra/, report/}."""

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
        """The tuning run (config.json, metrics.jsonl, checkpoints/, final/)."""
        return self.root / "tune"

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

    @property
    def metrics(self) -> Path:
        return self.tune / "metrics.jsonl"

    @property
    def tune_config(self) -> Path:
        return self.tune / "config.json"
