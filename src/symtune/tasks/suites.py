"""Suites resolved to task specs and loaded, fetching the pinned artifacts they read: the
one place a command turns a suite name or file into tasks (data, evaluation and the pipeline
all come here; none of them needs the mixture builder for it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from symtune.artifacts import artifact_record
from symtune.errors import SymtuneError
from symtune.tasks.registry import Suite, get_suite, get_task
from symtune.tasks.sources import load_task
from symtune.tasks.spec import BigBenchSource, FamilySource, HFSource, TaskData, TaskSpec


def load_tasks(specs: Sequence[TaskSpec]) -> list[TaskData]:
    """Load task specs, reading the BIG-Bench ones from the user's verified copy in one pass.
    Every task is tried before any error is raised: one error then lists every task that
    cannot be had, each with its reason (a suite of hub datasets fails once, not 33 times)."""
    from symtune.tasks import bigbench
    from symtune.tasks.hub import check_hub

    check_hub(specs)
    paths = [s.source.path for s in specs if isinstance(s.source, BigBenchSource)]
    bigbench_dir: Path | None = bigbench.tasks_dir(paths, _needing(specs)) if paths else None
    loaded, failed = [], []
    for spec in specs:
        try:
            loaded.append(load_task(spec, bigbench_dir))
        except SymtuneError as err:
            failed.append(str(err))
    if len(failed) == 1:
        raise SymtuneError(failed[0])
    if failed:
        raise SymtuneError(
            f"{len(failed)} of {len(specs)} tasks cannot be loaded:\n  " + "\n  ".join(failed)
        )
    return loaded


def _needing(specs: Sequence[TaskSpec]) -> str:
    first = next(s.name for s in specs if isinstance(s.source, BigBenchSource))
    return f"task {first!r}"


def check_bigbench(specs: Sequence[TaskSpec], what: str) -> None:
    """A one-line error, before anything is written, when `specs` read BIG-Bench and the user
    has not pointed symtune at a copy."""
    if any(isinstance(s.source, BigBenchSource) for s in specs):
        from symtune.tasks import bigbench

        bigbench.require(f"{what} ({_needing(specs)})")


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
            names += [r for r in reads if r in ARTIFACTS]
    return {**artifact_record(names), **hub_record(specs)}


def hub_record(specs: Sequence[TaskSpec]) -> dict[str, dict[str, str]]:
    """The Hugging Face datasets these specs read, as the lock in use records them: the
    commit and a sha256 over the rows read ("unlocked" where no lock has them)."""
    import hashlib
    import json

    from symtune.tasks.lock import lock_path, read_lock, source_key

    path = lock_path()
    records = read_lock(path) if path is not None else {}
    found = {}
    for spec in specs:
        source = spec.source
        if not isinstance(source, HFSource):
            continue
        key = source_key(source.dataset, source.config, source.data_dir)
        record = records.get(key)
        rows = json.dumps(record.rows_sha256, sort_keys=True) if record else ""
        found[f"hf:{key}"] = {
            "requirement": f"{source.dataset}@{record.revision if record else 'unlocked'}",
            "filename": "|".join(p for p in (source.config, source.data_dir) if p) or "-",
            "sha256": hashlib.sha256(rows.encode()).hexdigest() if record else "unlocked",
        }
    return found


def suite_specs(suite: str) -> tuple[Suite, dict[str, TaskSpec]]:
    """(Suite, specs by name) for a built-in suite name or a suite YAML file."""
    from symtune.tasks.config import load_suite_file

    if suite.endswith((".yaml", ".yml")):
        found, specs = load_suite_file(Path(suite))
    else:
        found = get_suite(suite)
        specs = {n: get_task(n) for n in (*found.tuning, *found.evaluation)}
    check_bigbench(list(specs.values()), f"suite {found.name!r}")
    return found, specs
