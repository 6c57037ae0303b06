"""What every command shares: the console, progress that suits where output goes (bars in a
terminal, periodic plain lines in a log file), `--json` summaries, and `symtune list`."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from symtune.errors import SymtuneError, Terminated, say_aborted

console = Console()
PROGRESS_EVERY_S = float(os.environ.get("SYMTUNE_PROGRESS_EVERY", "30"))
"""Seconds between plain progress lines when output is not a terminal."""


@dataclass
class _Job:
    description: str
    total: float | None
    completed: float = 0.0
    base: float = 0.0
    """`completed` when the clock started: the rate counts only the work done since."""
    started: float = field(default_factory=time.monotonic)
    printed: float = 0.0
    finished: bool = False


class PlainProgress:
    """Rich `Progress`'s calls (add_task, advance, update, console), written as one plain line
    per job every `every` seconds and when it completes: readable in a log file."""

    def __init__(self, out: Console, every: float = PROGRESS_EVERY_S, disable: bool = False):
        self.console = out
        self.every = every
        self.disable = disable
        self.jobs: list[_Job] = []

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        for job in self.jobs:
            if not job.finished and job.completed:
                self._say(job)

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        self.jobs.append(_Job(description, total))
        return len(self.jobs) - 1

    def reset(
        self,
        task_id: int,
        *,
        total: float | None = None,
        completed: float = 0,
        description: str | None = None,
        **_: Any,
    ) -> None:
        """Start the job's clock again (a new stage in the same bar), from `completed`."""
        job = self.jobs[task_id]
        job.total = total if total is not None else job.total
        job.completed = job.base = completed
        job.description = description if description is not None else job.description
        job.started, job.printed, job.finished = time.monotonic(), 0.0, False

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def update(
        self,
        task_id: int,
        *,
        completed: float | None = None,
        advance: float | None = None,
        description: str | None = None,
        **_: Any,
    ) -> None:
        job = self.jobs[task_id]
        if completed is not None:
            job.completed = completed
        if advance is not None:
            job.completed += advance
        if description is not None:
            job.description = description
        now = time.monotonic()
        done = job.total is not None and job.completed >= job.total
        if (done and not job.finished) or now - job.printed >= self.every:
            job.printed, job.finished = now, done
            self._say(job)

    def _say(self, job: _Job) -> None:
        if self.disable:
            return
        elapsed = time.monotonic() - job.started
        line = f"{job.description}: {job.completed:,.0f}"
        if job.total:
            share = job.completed / job.total
            line += f"/{job.total:,.0f} ({100 * share:.0f}%)"
            rate = (job.completed - job.base) / elapsed if elapsed > 0 else 0.0
            if 0 < share < 1 and rate > 0:
                line += f", ~{(job.total - job.completed) / rate:,.0f} s left"
        self.console.print(f"{line}, {elapsed:,.0f} s elapsed", markup=False, highlight=False)


def progress_bar(disable: bool = False) -> Progress | PlainProgress:
    """Live bars in a terminal; plain periodic lines when output goes to a file or pipe."""
    if not console.is_terminal:
        return PlainProgress(console, disable=disable)
    columns = (*Progress.get_default_columns()[:-1], MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=console, disable=disable)


JsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="Print a machine-readable summary on stdout (human output to stderr)."
    ),
]


def json_mode(enabled: bool) -> None:
    """With --json, tables and progress go to stderr so stdout holds only the summary."""
    if enabled:
        console.file = sys.stderr


def emit_json(summary: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


LISTS = ("tasks", "suites", "presets", "models")


def task_facts(spec: Any) -> dict[str, Any]:
    """What a built-in task asks, where its data comes from, its licence and item count (a
    family task: items per class x classes; others: read from the data when loaded)."""
    from symtune.tasks.bigbench import ENV
    from symtune.tasks.families import FAMILIES
    from symtune.tasks.spec import BigBenchSource, FamilySource

    source = spec.source
    if isinstance(source, FamilySource):
        family = FAMILIES[source.family]
        return {
            "asks": family.asks,
            "data": ", ".join(family.reads),
            "licence": family.licence,
            "items": source.per_class * len(spec.labels or ()),
        }
    if isinstance(source, BigBenchSource):
        return {"asks": None, "data": f"BIG-Bench (${ENV})", "licence": "Apache-2.0", "items": None}
    return {"asks": None, "data": "Hugging Face hub", "licence": None, "items": None}


def list_rows(what: str) -> list[dict[str, Any]]:
    """The built-in tasks, suites, presets or models, as rows."""
    from symtune.models.registry import MODELS
    from symtune.pipeline import PRESETS_DIR
    from symtune.tasks.registry import SUITES, TASKS

    if what == "tasks":
        sides: dict[str, set[str]] = {}
        for suite in SUITES.values():
            for name in suite.tuning:
                sides.setdefault(name, set()).add("tuning")
            for name in suite.evaluation:
                sides.setdefault(name, set()).add("evaluation")
        return [
            {
                "name": name,
                "source": type(spec.source).__name__.removesuffix("Source").lower(),
                "labels": len(spec.labels) if spec.labels else None,
                "side": "/".join(sorted(sides.get(name, set()))) or "-",
                **task_facts(spec),
            }
            for name, spec in sorted(TASKS.items())
        ]
    if what == "suites":
        return [
            {"name": s.name, "tuning": len(s.tuning), "evaluation": len(s.evaluation)}
            for s in SUITES.values()
        ]
    if what == "presets":
        return [{"name": p.stem, "file": str(p)} for p in sorted(PRESETS_DIR.glob("*.yaml"))]
    if what == "models":
        return [{"name": m.name, "kind": m.kind, "source": m.location} for m in MODELS.values()]
    raise SymtuneError(f"list {what!r}: expected one of {', '.join(LISTS)}")


def list_command(
    what: Annotated[str, typer.Argument(help="tasks, suites, presets or models.")],
    json_out: JsonOption = False,
) -> None:
    """List the built-in tasks, suites, presets or models."""
    rows = list_rows(what)
    if json_out:
        emit_json({what: rows})
        return
    table = Table(title=f"built-in {what}")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*("–" if v is None else str(v) for v in row.values()))
    console.print(table)


def os_message(error: OSError) -> str:
    """One line for an error the system raised, naming the path the user gave (not the temp
    file symtune was writing it through)."""
    import errno
    from pathlib import Path

    from symtune.io import temp_target

    where = ""
    if error.filename:
        path = Path(str(error.filename))
        target = temp_target(path)
        where = f"{path.with_name(target) if target else path}: "
    what = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        what += " (free some space, or point --out or SYMTUNE_CACHE elsewhere, then rerun)"
    return f"{where}{what}"


def guarded(run: Callable[[], Any], debug: dict[str, bool]) -> int:
    """Run the app; map every way it can end to a message and an exit code (see `main`)."""
    err = Console(stderr=True)
    try:
        code = run()
    except SymtuneError as error:
        if debug["on"]:
            raise
        err.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except typer.TyperException as error:  # click's usage errors, bundled by typer
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            err.print(f"error: {error}", markup=False, highlight=False)
        return int(getattr(error, "exit_code", 2))
    except Terminated as stop:  # SIGTERM / SIGHUP: what was kept, exit 128 + its number
        err.print(f"error: {stop.message}", markup=False, highlight=False, soft_wrap=True)
        return 128 + stop.signum
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except typer.Exit as stop:
        return stop.exit_code
    except OSError as error:  # the system refused: a path, permissions, a full disk
        if debug["on"]:
            raise
        err.print(f"error: {os_message(error)}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except Exception as error:
        if debug["on"]:
            raise
        first = str(error).splitlines()[0] if str(error) else ""
        err.print(
            f"error: unexpected {type(error).__name__}: {first} "
            "(a bug; rerun with --debug for the traceback and report it)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return 1
    if code == 130:
        say_aborted()
    return code if isinstance(code, int) else 0
