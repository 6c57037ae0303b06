"""The `symtune` command line: a thin shell over the Python API, one subcommand per stage."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from symtune.cli.console import (
    JsonOption,
    console,
    emit_json,
    guarded,
    json_mode,
    list_command,
    progress_bar,
)
from symtune.cli.evaluate import (
    eval_command,
    eval_export_command,
    eval_progress,
    print_answer,
    scan_command,
)
from symtune.cli.fetch import fetch_command
from symtune.cli.options import config_options, config_values
from symtune.errors import SymtuneError
from symtune.io import read_json_object
from symtune.layout import TuneRun
from symtune.mixture.config import MixtureConfig
from symtune.tune.config import TuneConfig

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Symbol tuning for causal LMs.",
)
data_app = typer.Typer(no_args_is_help=True, help="Build and inspect symbol-tuning mixtures.")
app.add_typer(data_app, name="data")
eval_app = typer.Typer(no_args_is_help=False, add_completion=False)
eval_app.callback(invoke_without_command=True)(eval_command)
eval_app.command("export")(eval_export_command)
app.add_typer(eval_app, name="eval")
app.command("scan")(scan_command)
app.command("list")(list_command)
app.command("fetch")(fetch_command)
DEBUG = {"on": os.environ.get("SYMTUNE_DEBUG", "") not in ("", "0")}


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"symtune {version('symtune')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback for errors (for bug reports).")
    ] = False,
) -> None:
    """Symbol tuning for causal LMs."""
    DEBUG["on"] = DEBUG["on"] or debug


@data_app.command("build")
@config_options(MixtureConfig, skip=("tasks", "suite"))
def data_build(
    out: Annotated[Path, typer.Option(help="Output directory (created; resumes if present).")],
    suite: Annotated[
        str, typer.Option(help="Built-in suite name or a suite YAML file.")
    ] = "reachable",
    json_out: JsonOption = False,
    **fields: Any,
) -> None:
    """Build a symbol-tuning mixture from a suite's tuning tasks."""
    from symtune.mixture.build import build_data
    from symtune.models import check_model
    from symtune.tasks.suites import suite_specs

    json_mode(json_out)
    found, specs = suite_specs(suite)
    config = MixtureConfig(
        tasks=found.tuning, suite=found.name, **config_values(MixtureConfig, fields)
    )
    config.validate()
    if config.max_tokens:
        check_model(config.tokenizer)
    with progress_bar() as bar:
        job = bar.add_task("building prompts", total=config.n)
        manifest = build_data(config, specs, out, progress=lambda k: bar.advance(job, k))
    _print_stats(manifest)
    console.print(f"wrote {manifest['stats']['prompts']} prompts to {out}")
    if json_out:
        stats = manifest["stats"]
        emit_json(
            {
                "out": str(out),
                "manifest": str(out / "manifest.json"),
                "prompts": stats["prompts"],
                "by_task": stats["by_task"],
                "skipped_too_long": stats["skipped_too_long"],
                "shards": manifest["shards"],
            }
        )


def _print_stats(manifest: dict) -> None:
    stats = manifest["stats"]
    table = Table(title=f"mixture: {stats['prompts']} prompts")
    for column in ("task", "labels", "train", "capped", "weight", "prompts", "too long"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for name, info in manifest["tasks"].items():
        table.add_row(
            name,
            str(len(info["labels"])),
            str(info["train"]),
            str(info["capped"]),
            f"{info['weight']:.3f}",
            str(stats["by_task"].get(name, 0)),
            str(stats["skipped_too_long"].get(name, 0)),
        )
    console.print(table)
    console.print(
        f"prompts with dropped exemplars: {stats['with_dropped_exemplars']} "
        f"({stats['dropped_exemplars']} exemplars dropped); "
        f"skipped as too long: {sum(stats['skipped_too_long'].values())}"
    )


@data_app.command("export")
def data_export(
    mixture: Annotated[Path, typer.Argument(help="A directory made by `symtune data build`.")],
    out: Annotated[Path, typer.Option(help="Export folder (must not exist).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="hf (datasets Arrow, load_from_disk; prompt/completion columns), parquet "
            "(the same as Parquet files), or chat (messages, the answer as the assistant "
            "turn).",
        ),
    ] = "hf",
) -> None:
    """Export a mixture as a Hugging Face dataset for TRL, axolotl or LLaMA-Factory."""
    from symtune.mixture.export import export_mixture

    counts = export_mixture(mixture, fmt, out)
    rows = ", ".join(f"{name}: {n}" for name, n in counts.items())
    console.print(f"exported {rows} to {out} ({fmt})")


@data_app.command("show")
def data_show(
    directory: Annotated[Path, typer.Argument(help="A directory made by `symtune data build`.")],
    examples: Annotated[int, typer.Option(help="How many prompts to render.")] = 2,
) -> None:
    """Show a mixture's statistics and a few rendered prompts with their symbol mapping."""
    from symtune.mixture.read import read_manifest, read_prompts

    manifest = read_manifest(directory)
    _print_stats(manifest)
    for i, prompt in read_prompts(directory, limit=examples):
        labels = manifest["tasks"][prompt.meta.task]["labels"]
        mapping = ", ".join(
            f"{a!r} -> {b!r}"
            for a, b in zip(labels, prompt.meta.mapping, strict=True)
            if b  # a class this prompt does not show
        )
        console.rule(f"prompt {i}: {prompt.meta.task} (format {prompt.meta.format_id})")
        console.print(Text.assemble(("mapping: ", "bold"), mapping), soft_wrap=True)
        # Text objects, not markup: prompts may hold "[" (lists, citations)
        console.print(Text(prompt.text) + Text(prompt.target, style="reverse"), soft_wrap=True)


@app.command("tune")
@config_options(TuneConfig, skip=("mixture", "out"))
def tune_command(
    mixture: Annotated[Path, typer.Option(help="Mixture directory from `symtune data build`.")],
    out: Annotated[Path, typer.Option(help="Run directory (checkpoints, metrics, final model).")],
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    max_minutes: Annotated[
        float,
        typer.Option(
            help="Stop after the first step past this many minutes (checkpoint, final/ from "
            "it, stopped.json; --resume continues); 0: no limit."
        ),
    ] = 0.0,
    json_out: JsonOption = False,
    **fields: Any,
) -> None:
    """Symbol-tune a causal LM on a built mixture (multi-process under `accelerate launch`)."""
    from symtune.errors import SymtuneError
    from symtune.ranks import is_main_process
    from symtune.report.card import write_card
    from symtune.tune.loop import tune

    json_mode(json_out)
    config = TuneConfig(mixture=str(mixture), out=str(out), **config_values(TuneConfig, fields))
    config.validate()
    if not max_minutes >= 0:
        raise SymtuneError(f"--max-minutes={max_minutes}; expected >= 0 (0: no limit)")
    deadline = time.monotonic() + 60 * max_minutes if max_minutes else None
    main_process = is_main_process()
    if resume and main_process and not (out / "config.json").exists():
        # a scheduler may always pass --resume; a mistyped --out must not pass unseen
        console.print(f"--resume: {out} holds no run yet; starting one at step 0")
    last: dict = {}
    with progress_bar(disable=not main_process) as bar:
        job = bar.add_task("tuning", total=config.steps)

        def report(record: dict) -> None:
            last.update(record)
            bar.update(
                job,
                completed=record["step"],
                description=(
                    f"tuning  loss {record['loss']:.4f}  {record['tokens_per_s']:,.0f} tok/s"
                ),
            )

        run = tune(config, resume=resume, progress=report, deadline=deadline)
    if main_process:
        write_card(run)  # final/README.md; `symtune card` adds an evaluation
        stopped = TuneRun(run).stopped.exists()
        note = f" (stopped by --max-minutes at step {last.get('step')}; --resume continues)"
        console.print(f"tuned model: {run / 'final'}{note if stopped else ''}")
        if json_out:
            emit_json(
                {
                    "run": str(run),
                    "final": str(TuneRun(run).final),
                    "last_step": last,
                    "stopped": stopped,
                }
            )


@app.command("card")
def card_command(
    run: Annotated[Path, typer.Argument(help="A tuning run directory (with final/).")],
    results: Annotated[
        Path | None, typer.Option(help="An evaluation's results.json (base vs tuned) to include.")
    ] = None,
    push_to_hub: Annotated[
        str, typer.Option(help="Also upload final/ to this hub repo (user/name).")
    ] = "",
    private: Annotated[bool, typer.Option(help="Create the hub repo private.")] = False,
) -> None:
    """Write (or rewrite) the model card, run/final/README.md; optionally upload final/."""
    from symtune.report.card import check_push, push, write_card

    if results is not None and not results.is_file():
        raise SymtuneError(f"--results {results}: not found or not a file")
    if push_to_hub:
        check_push(push_to_hub)
    path = write_card(run, results)
    console.print(f"model card: {path}")
    if push_to_hub:
        console.print(f"uploaded: {push(run, push_to_hub, private)}")


def _run_with_progress(config_path: Path, out: Path, control: bool = False) -> None:
    from symtune.io import read_yaml

    read_yaml(config_path, "run config")  # a hostile file is refused before the heavy imports
    from symtune.pipeline import load_run_config, run_pipeline

    config = load_run_config(config_path, out, control)
    started = time.perf_counter()
    with progress_bar() as bar:
        data_job = bar.add_task("data", total=config.data.n)

        def build_progress(k: int) -> None:
            bar.advance(data_job, k)

        tune_job = bar.add_task("tune", total=config.tune.steps)
        stage = {"label": None}

        def tune_progress(record: dict) -> None:
            label = record.get("label", "")
            description = f"tune {label} · loss {record['loss']:.3f}"
            if label != stage["label"]:  # a new tuning stage: its own clock, rate and ETA
                stage["label"] = label
                bar.reset(tune_job, total=config.tune.steps, completed=record["step"])
            bar.update(tune_job, completed=record["step"], description=description)

        report = run_pipeline(
            config,
            out,
            say=lambda m: bar.console.print(m),
            eval_progress=eval_progress(bar, "eval "),
            tune_progress=tune_progress,
            build_progress=build_progress,
        )
    from symtune.layout import RunDir

    layout = RunDir(out)
    pairs = ((config.eval, layout.results), (config.extra_eval, layout.extra_results))
    for evaluation, results in pairs:
        if evaluation is not None:
            document = read_json_object(results, "results")
            for mode in evaluation.scoring:
                print_answer(document, mode, f"suite {Path(evaluation.suite).name}, ")
    console.print(
        f"report: {report} and {report.with_suffix('.html')} "
        f"({time.perf_counter() - started:,.0f} s this run)"
    )


ControlOption = Annotated[
    bool,
    typer.Option(
        "--control",
        help="Add the control arm: the same prompts tuned with relevant labels and instructions.",
    ),
]


@app.command("run")
def run_command(
    config: Annotated[Path, typer.Argument(help="Pipeline YAML (model, data, tune, eval).")],
    out: Annotated[Path, typer.Option(help="Run directory (re-running resumes).")],
    control: ControlOption = False,
) -> None:
    """Data → base eval → tuning of every arm → evaluations → report, from one YAML file."""
    _run_with_progress(config, out, control)


@app.command("demo")
def demo_command(
    preset: Annotated[str, typer.Option(help="quick (~18 min on 2 CPU cores) or paper.")] = "quick",
    out: Annotated[Path, typer.Option(help="Run directory.")] = Path("runs/demo"),
    control: ControlOption = False,
) -> None:
    """The whole method on the embedded default: SmolLM2-135M-Instruct, base vs symbol-tuned vs
    a same-budget control arm on `reachable`."""
    from symtune.pipeline import preset_path

    _run_with_progress(preset_path(preset), out, control)


@app.command("report")
def report_command(
    run: Annotated[Path, typer.Argument(help="A run directory from `symtune run`/`demo`.")],
    out: Annotated[
        Path | None, typer.Option(help="Report directory (default: RUN/report).")
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(help="Also write the Markdown here, figure links pointing into --out."),
    ] = None,
    notes: Annotated[
        Path | None, typer.Option(help="Markdown write-up placed under the report's title.")
    ] = None,
) -> None:
    """Write report.md, PNG figures and a self-contained report.html for a run."""
    from symtune.report.report import write_report

    path = write_report(run, out, markdown, notes)
    console.print(f"report: {path} and {path.with_suffix('.html')}")


def run() -> int:
    """The command's exit code, and the one error path: usage errors as click prints them
    (exit 2), user errors as one line (exit 2), Ctrl-C as "Aborted" (exit 130), anything else
    as one line (exit 1); `--debug` or SYMTUNE_DEBUG=1 shows the traceback."""
    return guarded(lambda: app(standalone_mode=False), DEBUG)


def main() -> None:
    """Entry point without the start-up guard (see `symtune.__main__`)."""
    sys.exit(run())


if __name__ == "__main__":
    main()
