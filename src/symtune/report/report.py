"""`symtune report RUN_DIR`: report.md, PNG figures and a self-contained report.html, built only
from the run's files (results.json, metrics.jsonl, stages.json, the tuning config): it reads,
draws (`figures`), composes (`sections`) and renders (`render`); it never rebuilds prompts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from symtune.analysis.modes import first_mode
from symtune.errors import SymtuneError
from symtune.io import atomic_write, check_input_file
from symtune.layout import RunDir
from symtune.outdir import claim
from symtune.report.answer import answer_blocks, answer_figure
from symtune.report.figures import figures as draw
from symtune.report.read import check_weights, metrics_of, read_results
from symtune.report.render import Block, html_page
from symtune.report.render import markdown as to_markdown
from symtune.report.sections import TITLE, core_blocks

Section = Callable[[Path, Path], tuple[list[Block], dict[str, Path]]]
"""An experiment's own section: (run dir, figure folder) -> (blocks, figures it drew)."""


def write_report(
    run: Path,
    out: Path | None = None,
    markdown: Path | None = None,
    notes: Path | None = None,
    sections: Sequence[Section] = (),
) -> Path:
    """Write {report.md, report.html, *.png} to `out` (default run/report); returns report.md's
    path. `markdown`: also write the Markdown there, its figure links relative to it. `notes`:
    a Markdown file placed under the title (a write-up of what the numbers below show).
    `sections`: an experiment's own sections, placed after the training section."""
    if notes is not None:
        check_input_file(notes, "notes file", NOTES_MAX_BYTES)
    if markdown is not None:
        _check_markdown_target(markdown)
    layout = RunDir(run)
    if not layout.results.exists():
        raise SymtuneError(
            f"{run}: no eval/results.json; run `symtune run` or `symtune eval` first"
        )
    results = read_results(layout.results)
    check_weights(run, results)
    extra = read_results(layout.extra_results) if layout.extra_results.exists() else None
    out = out or layout.report
    with claim(out, "report"):
        staging = out / f".staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            made, page = _compose(run, layout, results, extra, staging, notes, sections)
            for path in made.values():  # drawn in staging: nothing is written on a failure
                os.replace(path, out / path.name)
            made = {name: out / path.name for name, path in made.items()}
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        atomic_write(out / "report.md", to_markdown(page))
        atomic_write(out / "report.html", html_page(page, made))
        if markdown is not None:
            prefix = Path(os.path.relpath(out.resolve(), markdown.resolve().parent))
            atomic_write(markdown, to_markdown(page, prefix))
    return out / "report.md"


NOTES_MAX_BYTES = 1 << 20
HEADING = f"# {TITLE}"
"""How a report's Markdown starts: the only existing file --markdown may replace."""


def _check_markdown_target(path: Path) -> None:
    """--markdown writes a file of its own: a new one, or a symtune report's Markdown;
    anything else there (the user's notes, a run YAML, results.json) is refused."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_file():
        raise SymtuneError(f"--markdown {path}: is not a regular file; name a new file")
    with path.open("rb") as handle:
        head = handle.read(len(HEADING))
    if head != HEADING.encode():
        raise SymtuneError(
            f"--markdown {path}: exists and is not a symtune report (it does not start with "
            f"{HEADING!r}); name a new file or delete it"
        )


def _compose(
    run: Path,
    layout: RunDir,
    results: dict[str, Any],
    extra_results: dict[str, Any] | None,
    folder: Path,
    notes: Path | None,
    sections: Sequence[Section],
) -> tuple[dict[str, Path], list[Block]]:
    """The figures (drawn into `folder`) and the page's blocks."""
    mode = first_mode(results["summary"])
    runs = layout.tuning_runs()
    metrics = next(iter(runs.values()), layout.tune) / "metrics.jsonl"
    made = draw(results, metrics_of(metrics), mode, folder, metrics_of(metrics, "val_accuracy"))
    evaluations = [("answer", results)]
    if extra_results is not None:
        evaluations.append(("answer-extra", extra_results))
    for name, document in evaluations:
        if (figure := answer_figure(document, folder / f"{name}.png")) is not None:
            made[name] = figure
    extra: list[Block] = []
    for section in sections:
        blocks, drawn = section(run, folder)
        extra += blocks
        made.update(drawn)
    blocks = core_blocks(run, results, made, extra)
    blocks[1:1] = answer_blocks(evaluations, made)
    if notes is not None:
        blocks[1:1] = [("raw", notes.read_text(encoding="utf-8").strip())]
    return made, blocks
