"""Suites resolved to task specs and loaded, fetching the pinned artifacts they read: the
one place a command turns a suite name or file into tasks (data, evaluation and the pipeline
all come here; none of them needs the mixture builder for it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from symtune.artifacts import artifact_record, bigbench_tasks_dir
from symtune.tasks.registry import Suite, get_suite, get_task
from symtune.tasks.sources import load_task
from symtune.tasks.spec import BigBenchSource, FamilySource, TaskData, TaskSpec


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
    from symtune.tasks.config import load_suite_file

    if suite.endswith((".yaml", ".yml")):
        return load_suite_file(Path(suite))
    found = get_suite(suite)
    return found, {n: get_task(n) for n in (*found.tuning, *found.evaluation)}
