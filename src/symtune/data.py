"""The data stage's I/O edge: load a suite's tasks (fetching artifacts) and build mixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from symtune.artifacts import artifact_record, bigbench_tasks_dir
from symtune.mixture import MixtureConfig, build_mixture
from symtune.tasks import (
    BigBenchSource,
    FamilySource,
    Suite,
    TaskData,
    TaskSpec,
    get_task,
    load_task,
)


def load_tasks(specs: Sequence[TaskSpec]) -> list[TaskData]:
    """Load task specs, extracting the BIG-Bench ones from the pinned sdist in one pass."""
    paths = [s.source.path for s in specs if isinstance(s.source, BigBenchSource)]
    bigbench_dir: Path | None = bigbench_tasks_dir(paths) if paths else None
    return [load_task(spec, bigbench_dir) for spec in specs]


def load_named(names: Sequence[str]) -> list[TaskData]:
    """Load built-in tasks by name."""
    return load_tasks([get_task(n) for n in names])


def artifacts_for(specs: Sequence[TaskSpec]) -> dict[str, dict[str, str]]:
    """Artifact records for the pinned files these specs read."""
    from symtune.artifacts import ARTIFACTS
    from symtune.tasks.families import get_family

    names = ["bigbench"] if any(isinstance(s.source, BigBenchSource) for s in specs) else []
    for spec in specs:
        if isinstance(spec.source, FamilySource):
            reads = get_family(spec.source.family).reads
            names += [reads] if reads in ARTIFACTS else []
    return artifact_record(names)


def suite_specs(suite: str) -> tuple[Suite, dict[str, TaskSpec]]:
    """(Suite, specs by name) for a built-in suite name or a suite YAML file."""
    from symtune.tasks import get_suite
    from symtune.tasks.config import load_suite_file

    if suite.endswith((".yaml", ".yml")):
        return load_suite_file(Path(suite))
    found = get_suite(suite)
    return found, {n: get_task(n) for n in (*found.tuning, *found.evaluation)}


def build_data(
    config: MixtureConfig,
    specs: dict[str, TaskSpec],
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Build a mixture of `config.tasks` (looked up in `specs`) into `out`, with its token
    budget counted by `config.tokenizer` and its provenance (artifact hashes, the versions of
    `provenance.DATA_PACKAGES`): the one way the CLI, the pipeline and the experiments build."""
    from symtune.models import token_counter
    from symtune.provenance import DATA_PACKAGES, package_versions

    tuning = [specs[name] for name in config.tasks]
    count = token_counter(config.tokenizer) if config.max_tokens else None
    provenance = {
        "artifacts": artifacts_for(tuning),
        "versions": package_versions(DATA_PACKAGES),
    }
    return build_mixture(config, load_tasks(tuning), out, count, provenance, progress=progress)
