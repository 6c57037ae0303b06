"""`symtune eval` and `symtune scan`, and the progress and summary helpers `run` shares: the
command functions are registered on the app in `symtune.cli.main`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress
from rich.table import Table

from symtune.cli.console import (
    JsonOption,
    PlainProgress,
    console,
    emit_json,
    json_mode,
    progress_bar,
)
from symtune.cli.options import config_options, config_values
from symtune.errors import SymtuneError
from symtune.evaluate.config import EvalConfig
from symtune.io import read_yaml
from symtune.models.registry import DEFAULT_MODEL
from symtune.scan import ScanConfig


def _read_suite_file(suite: str) -> None:
    """A suite YAML is read (a hostile one refused) before the scoring engines are imported."""
    if suite.endswith((".yaml", ".yml")):
        read_yaml(Path(suite), "suite file")


@config_options(EvalConfig, skip=("tokenizer",))
def eval_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option(help="Output directory (resumes if present); required.")
    ] = None,
    model: Annotated[
        str, typer.Option(help="Base model: built-in name, dir or HF id.")
    ] = DEFAULT_MODEL,
    tuned: Annotated[str, typer.Option(help="Tuned run directory (or model) to compare.")] = "",
    json_out: JsonOption = False,
    **fields: Any,
) -> None:
    """Evaluate a base model (and a tuned one, side by side) with the paper's protocol.
    `symtune eval export` writes the same items as lm-evaluation-harness tasks instead."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise typer.BadParameter("missing option '--out'", param_hint="--out")
    json_mode(json_out)
    config = EvalConfig(**config_values(EvalConfig, fields), tokenizer=model)
    config.validate()
    _read_suite_file(config.suite)
    from symtune.evaluate.api import evaluate
    from symtune.ranks import is_main_process, on_main

    models = {"base": model, **({"tuned": tuned} if tuned else {})}
    on_main(lambda: export_checkpoints(models.values()))
    with progress_bar(disable=not is_main_process()) as bar:
        document = evaluate(config, models, out, eval_progress(bar))
    if not is_main_process():  # rank 0 merged the ranks' results and reports them
        return
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


@config_options(EvalConfig, skip=("tokenizer", "batch_size", "dtype", "engine", "row_tokens"))
def eval_export_command(
    out: Annotated[Path, typer.Option(help="Task folder for lm-eval's --include_path (new).")],
    model: Annotated[
        str, typer.Option(help="The model whose tokenizer sets the prompts' token budget.")
    ] = DEFAULT_MODEL,
    **fields: Any,
) -> None:
    """Write the evaluation items as an lm-evaluation-harness task group (YAML + JSONL):
    multiple_choice tasks for rank scoring, generate_until for exact match."""
    config = EvalConfig(**config_values(EvalConfig, fields), tokenizer=model)
    config.validate()
    _read_suite_file(config.suite)
    from symtune.evaluate.api import build_items
    from symtune.evaluate.lm_eval_export import export_tasks

    if out.exists():
        raise SymtuneError(f"--out {out} exists; choose a new folder for the export")
    with console.status("building the evaluation items…"):
        items, _ = build_items(config)
    groups = export_tasks(config, items, out)
    for group, names in groups.items():
        console.print(f"{group}: {len(names)} tasks")
    first = next(iter(groups), "GROUP")
    console.print(
        f"run: lm_eval --model hf --model_args pretrained={model} --include_path {out} "
        f"--tasks {first}"
    )


def eval_progress(bar: Progress | PlainProgress, prefix: str = ""):
    """A progress factory for `evaluate`: one bar per model label."""

    def progress(label: str, total: int):
        job = bar.add_task(f"{prefix}{label}", total=total)
        return lambda item, mode: bar.update(
            job, advance=1, description=f"{prefix}{label} · {item.group} · {item.task}"
        )

    return progress


@config_options(ScanConfig)
def scan_command(
    out: Annotated[Path, typer.Option(help="Output directory (resumes if present).")],
    model: Annotated[
        str, typer.Option(help="Model: built-in name, dir, HF id or tuned run.")
    ] = DEFAULT_MODEL,
    **fields: Any,
) -> None:
    """Headroom scan: which tasks can the model do with instruction + relevant labels?"""
    from symtune.scan import NEITHER, RELEVANT, run_scan

    config = ScanConfig(**config_values(ScanConfig, fields))
    config.validate()
    config.eval_config(model).validate()
    with progress_bar() as bar:
        scan = run_scan(config, model, out, eval_progress(bar))
    table = Table(title=f"headroom scan, scoring: {config.scoring} (accuracy %, 95% interval)")
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


def print_summary(document: dict, mode: str, title: str = "") -> None:
    """Table 1 (the same rows as results.md and the report) in the terminal."""
    from symtune.analysis.tables import table1_rows

    header, rows = table1_rows(document["summary"][mode], (document["comparison"] or {}).get(mode))
    table = Table(title=f"{title}accuracy (%), scoring: {mode}")
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _print_table(caption: str, header: list[str], rows: list[list[str]]) -> None:
    console.print(caption)
    table = Table()
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 or column == "reading" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def print_answer(document: dict, mode: str, title: str = "") -> None:
    """The answer (accuracy per arm, every contrast with its reading, the label-set mass) in
    tables that fit an 80-column log, then the legend; Table 1 where a run has no arms."""
    from symtune.analysis.answer import LEGEND, answer_tables, learnable, noise_note, verdict

    if not (document.get("contrasts") or {}).get(mode):
        print_summary(document, mode, title)
        return
    console.rule(f"{title}{mode} scoring")
    if not learnable(document["summary"][mode]):
        console.print(
            "Base is not above chance with relevant labels here: no setting can show "
            "in-context learning on these tasks."
        )
    for caption, header, rows in answer_tables(document, mode):
        _print_table(caption, header, rows)
    console.print(verdict(document, mode))
    console.print(noise_note(document["contrasts"][mode]))
    console.print(LEGEND)


def export_checkpoints(names) -> None:
    """Export every tuning checkpoint among `names` as a plain model (once), so that evaluation
    only ever loads plain models."""
    from pathlib import Path

    from symtune.layout import Checkpoint
    from symtune.tune.model import export_checkpoint

    for name in names:
        if Checkpoint(Path(name)).exists():
            export_checkpoint(Path(name))
