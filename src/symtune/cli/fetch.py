"""`symtune fetch`: fetch the pinned artifacts the default needs into the cache, or (`--check`)
ask the registry whether each pinned artifact is still served with the pinned bytes."""

from __future__ import annotations

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
            "default needs is not).",
        ),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Fetch the pinned artifacts the default needs (model, tuning-side data) into the cache."""
    from symtune.artifacts import ARTIFACTS, fetch, status

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
    broken = [r for r in rows if r["default"] and r["registry"] != "served"]
    if json_out:
        emit_json({"artifacts": rows, "default_served": not broken})
    else:
        table = Table(title="pinned artifacts")
        for column in ("artifact", "cached", "registry", "default", "needed by"):
            table.add_column(column)
        for r in rows:
            mark = "yes" if r["cached"] else "no"
            table.add_row(r["artifact"], mark, r["registry"], str(r["default"]), r["needed_by"])
        console.print(table)
        for r in broken:
            console.print(f"{r['artifact']} ({r['file']}) is {r['registry']}: {r['needed_by']}")
    if broken:
        raise typer.Exit(1)
