"""`symtune fetch`: fetch the pinned artifacts the default needs into the cache, or (`--check`)
ask the registry whether each pinned artifact is still served with the pinned bytes. With
`--suite`, the suite's Hugging Face datasets instead: download and lock each one, or
(`--check`) say for each whether it still matches its lock."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from symtune.cli.console import JsonOption, console, emit_json


def fetch_command(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Download nothing: for every pinned artifact say whether it is cached and "
            "whether the registry still serves it with the pinned sha256 (exit 1 when one the "
            "default needs is not). With --suite: each dataset against its lock.",
        ),
    ] = False,
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            help="A suite (e.g. paper-hf) or suite YAML: fetch its Hugging Face datasets and "
            "record what was read in the lock (--lock).",
        ),
    ] = None,
    lock: Annotated[
        Path,
        typer.Option("--lock", help="The lock file --suite writes and checks."),
    ] = Path("symtune.lock.json"),
    json_out: JsonOption = False,
) -> None:
    """Fetch the pinned artifacts the default needs (model, tuning-side data) into the cache,
    or (--suite) a suite's Hugging Face datasets, locked."""
    if suite is not None:
        _suite_datasets(suite, lock, check, json_out)
        return
    from symtune.artifacts import ARTIFACTS, fetch, index_url, status
    from symtune.errors import SymtuneError

    if not check:
        for name, artifact in ARTIFACTS.items():
            if artifact.default:
                path = fetch(artifact)
                if not json_out:
                    console.print(f"{name}: {path}")
        if json_out:
            emit_json({"fetched": [n for n, a in ARTIFACTS.items() if a.default]})
        return
    rows = [status(artifact) for artifact in ARTIFACTS.values()]
    if all(r["registry"] == "unlisted" for r in rows):  # not an answer about our files
        raise SymtuneError(
            f"registry {index_url()} lists none of the {len(rows)} pinned projects (HTTP 404 "
            "for each): a wrong PIP_INDEX_URL or a partial mirror; nothing was checked"
        )
    broken = [r for r in rows if r["default"] and r["registry"] in ("gone", "differs")]
    unasked = [r for r in rows if r["default"] and r["registry"] == "unlisted"]
    if json_out:
        emit_json({"artifacts": rows, "default_served": not broken})
    else:
        table = Table(title="pinned artifacts")
        for column in ("artifact", "cached", "registry", "default", "needed by"):
            table.add_column(column)
        for r in rows:
            row = (r["artifact"], r["cached"], r["registry"], str(r["default"]), r["needed_by"])
            table.add_row(*row)
        console.print(table)
        for r in broken:
            console.print(f"{r['artifact']} ({r['file']}) is {r['registry']}: {r['needed_by']}")
        for r in unasked:
            console.print(
                f"{r['artifact']}: registry {index_url()} does not list the project, so it "
                "could not say whether the file is served"
            )
    if broken:
        raise typer.Exit(1)
    if unasked:
        raise typer.Exit(2)


def _suite_datasets(suite: str, lock: Path, check: bool, json_out: bool) -> None:
    """Every HF dataset of `suite`: loaded and locked in `lock` (every failure listed at
    once), or with `check`, each one's status against the lock (exit 1 unless all match)."""
    from symtune.errors import SymtuneError
    from symtune.tasks.hub import dataset_status, describe
    from symtune.tasks.lock import read_lock
    from symtune.tasks.spec import HFSource
    from symtune.tasks.suites import load_tasks, suite_specs

    _, specs = suite_specs(suite)
    hub = [s for s in specs.values() if isinstance(s.source, HFSource)]
    if not hub:
        raise SymtuneError(f"suite {suite!r} has no Hugging Face datasets to fetch")
    read_lock(lock)  # a malformed lock: one line before anything is downloaded
    os.environ["SYMTUNE_LOCK"] = str(lock)
    if not check:
        load_tasks(hub)
        if json_out:
            emit_json({"locked": [s.name for s in hub], "lock": str(lock)})
        else:
            console.print(f"{len(hub)} datasets of suite {suite!r} read and locked in {lock}")
        return
    rows = []
    for spec in hub:
        state, detail = dataset_status(spec)
        assert isinstance(spec.source, HFSource)
        rows.append({"task": spec.name, "dataset": describe(spec.source), "status": state,
                     "detail": detail})  # fmt: skip
    if json_out:
        emit_json({"datasets": rows, "lock": str(lock)})
    else:
        table = Table(title=f"suite {suite} against {lock}")
        for column in ("task", "dataset", "status", "detail"):
            table.add_column(column)
        for r in rows:
            table.add_row(r["task"], r["dataset"], r["status"], r["detail"])
        console.print(table)
    if any(r["status"] != "matching" for r in rows):
        raise typer.Exit(1)
