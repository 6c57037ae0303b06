"""`symtune eval` and `symtune scan`, and the progress and summary helpers `run` shares: the
command functions are registered on the app in `symtune.cli`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from symtune.cli_support import (
    JsonOption,
    PlainProgress,
    console,
    emit_json,
    json_mode,
    progress_bar,
)
from symtune.errors import SymtuneError
from symtune.models.registry import DEFAULT_MODEL


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def eval_command(
    out: Annotated[Path, typer.Option(help="Output directory (resumes if present).")],
    model: Annotated[
        str, typer.Option(help="Base model: built-in name, dir or HF id.")
    ] = DEFAULT_MODEL,
    tuned: Annotated[str, typer.Option(help="Tuned run directory (or model) to compare.")] = "",
    suite: Annotated[str, typer.Option(help="Built-in suite or suite YAML.")] = "offline",
    tasks: Annotated[str, typer.Option(help="Comma-separated subset of the pool's tasks.")] = "",
    pool: Annotated[
        str,
        typer.Option(help="evaluation, or tuning: the tuning tasks' validation splits (sweeps)."),
    ] = "evaluation",
    settings: Annotated[
        str, typer.Option(help="ICL settings, comma-separated.")
    ] = "instr_labels,labels_only,instr_only,neither",
    flipped: Annotated[bool, typer.Option(help="Flipped labels on binary tasks.")] = True,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    k: Annotated[int, typer.Option(help="Exemplars per class.")] = 4,
    max_queries: Annotated[int, typer.Option(help="Queries per task.")] = 100,
    scoring: Annotated[
        str, typer.Option(help="exact, rank or both (comma-separated).")
    ] = "exact,rank",
    list_functions: Annotated[str, typer.Option(help="all, paper20 or none.")] = "all",
    list_function_queries: Annotated[int, typer.Option(help="Queries per subtask.")] = 32,
    turing: Annotated[bool, typer.Option(help="Simple Turing concepts (AS II).")] = True,
    controls: Annotated[
        bool, typer.Option(help="Shuffled-exemplar controls for the algorithmic tasks.")
    ] = True,
    batch_size: Annotated[int, typer.Option(help="Sequences per forward.")] = 8,
    dtype: Annotated[str, typer.Option(help="bf16 or fp32.")] = "bf16",
    json_out: JsonOption = False,
) -> None:
    """Evaluate a base model (and a tuned one, side by side) with the paper's protocol."""
    from symtune.evaluate.api import evaluate
    from symtune.evaluate.protocol import EvalConfig

    json_mode(json_out)
    seed_values = _seeds(seeds)
    config = EvalConfig(
        suite=suite,
        tasks=_csv(tasks),
        pool=pool,
        settings=_csv(settings),
        flipped=flipped,
        seeds=seed_values,
        k=k,
        max_queries=max_queries,
        scoring=_csv(scoring),
        list_functions=list_functions,
        list_function_queries=list_function_queries,
        turing=turing,
        controls=controls,
        batch_size=batch_size,
        dtype=dtype,
        tokenizer=model,
    )
    config.validate()
    models = {"base": model, **({"tuned": tuned} if tuned else {})}
    export_checkpoints(models.values())
    with progress_bar() as bar:
        document = evaluate(config, models, out, eval_progress(bar))
    for mode in config.scoring:
        print_summary(document, mode)
    console.print(f"results: {out / 'results.json'} and {out / 'results.md'}")
    if json_out:
        emit_json(
            {
                "out": str(out),
                "results": str(out / "results.json"),
                "models": document["models"],
                "summary": document["summary"],
                "comparison": document["comparison"],
            }
        )


def eval_progress(bar: Progress | PlainProgress, prefix: str = ""):
    """A progress factory for `evaluate`: one bar per model label."""

    def progress(label: str, total: int):
        job = bar.add_task(f"{prefix}{label}", total=total)
        return lambda item, mode: bar.update(
            job, advance=1, description=f"{prefix}{label} · {item.group} · {item.task}"
        )

    return progress


def scan_command(
    out: Annotated[Path, typer.Option(help="Output directory (resumes if present).")],
    model: Annotated[
        str, typer.Option(help="Model: built-in name, dir, HF id or tuned run.")
    ] = DEFAULT_MODEL,
    suite: Annotated[
        str, typer.Option(help="Built-in suite or suite YAML; its evaluation tasks are scanned.")
    ] = "candidates",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    max_queries: Annotated[int, typer.Option(help="Queries per task and seed.")] = 34,
    scoring: Annotated[str, typer.Option(help="exact or rank.")] = "exact",
    margin: Annotated[
        float, typer.Option(help="Pass: relevant-label accuracy >= chance + this.")
    ] = 0.15,
    low_margin: Annotated[
        float, typer.Option(help="Pass: its 95% interval's low end > chance + this.")
    ] = 0.05,
    batch_size: Annotated[int, typer.Option(help="Sequences per forward.")] = 8,
    dtype: Annotated[str, typer.Option(help="bf16 or fp32.")] = "bf16",
) -> None:
    """Headroom scan: which tasks can the model do with instruction + relevant labels?"""
    from symtune.evaluate.scan import NEITHER, RELEVANT, ScanConfig, run_scan

    config = ScanConfig(
        suite=suite,
        seeds=_seeds(seeds),
        max_queries=max_queries,
        scoring=scoring,
        margin=margin,
        low_margin=low_margin,
        batch_size=batch_size,
        dtype=dtype,
    )
    config.validate()
    config.eval_config(model).validate()
    with progress_bar() as bar:
        scan = run_scan(config, model, out, eval_progress(bar))
    table = Table(title=f"headroom scan, scoring: {scoring} (accuracy %, 95% interval)")
    for column in ("task", "n", "chance", "majority", "instr + labels", "neither", "passed"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for row in scan["rows"]:
        cells = [
            f"{100 * row[s]['accuracy']:.1f} [{100 * row[s]['ci'][0]:.1f}, "
            f"{100 * row[s]['ci'][1]:.1f}]"
            for s in (RELEVANT, NEITHER)
        ]
        table.add_row(
            row["task"],
            str(row[RELEVANT]["n"]),
            f"{100 * row['chance']:.1f}",
            f"{100 * row['majority']:.1f}",
            *cells,
            "yes" if row["passed"] else "no",
        )
    console.print(table)
    console.print(
        f"{len(scan['passed'])} of {len(scan['rows'])} pass; {out / 'scan.json'}, "
        f"{out / 'scan.md'}, suite of the passing tasks: {out / 'suite.yaml'}"
    )


def _seeds(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in _csv(value))
    except ValueError:
        raise SymtuneError(f"--seeds {value!r}: expected comma-separated integers") from None


def print_summary(document: dict, mode: str, title: str = "") -> None:
    """Table 1 (the same rows as results.md and the report) in the terminal."""
    from symtune.evaluate.results import table1_rows

    header, rows = table1_rows(document["summary"][mode], (document["comparison"] or {}).get(mode))
    table = Table(title=f"{title}accuracy (%), scoring: {mode}")
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def export_checkpoints(names) -> None:
    """Export every tuning checkpoint among `names` as a plain model (once), so that evaluation
    only ever loads plain models."""
    from pathlib import Path

    from symtune.tune.model import export_checkpoint

    for name in names:
        if (Path(name) / "trainable.safetensors").exists():
            export_checkpoint(Path(name))
