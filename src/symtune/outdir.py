"""Output directories: each belongs to one kind of symtune job, and one writer at a time.

`claim(path, kind)` is what every writing command goes through, after it has validated its
input: it refuses a non-empty folder that symtune did not make (or made for another kind of
job), takes an exclusive lock (a second writer gets "in use by PID n"), and, if the job fails
before writing anything, leaves the folder as it found it (removed if it made it), so a typo
leaves nothing behind. Ownership is the marker `.symtune.json` written at claim time; a folder
without one is symtune's only if it holds exactly a layout earlier versions wrote."""

from __future__ import annotations

import contextlib
import fcntl
import fnmatch
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.io import atomic_json, temp_target
from symtune.ranks import on_main

LOCK = ".symtune.lock"
MARKER = ".symtune.json"
KINDS = ("mixture", "tune", "eval", "scan", "run", "report")
LEGACY = {
    "mixture": (
        ("manifest.json",),
        ("config.json", "manifest.json", "validation.jsonl", "prompts-*.jsonl", "*.stats.json"),
    ),
    "tune": (
        ("config.json", "metrics.jsonl"),
        (
            "config.json",
            "metrics.jsonl",
            "checkpoints",
            "final",
            "best",
            "best.json",
            "stopped.json",
            "partial",
            "mixture_manifest.json",
            "provenance.json",
        ),
    ),
    "eval": (("eval_config.json",), ("eval_config.json", "cache", "results.json", "results.md")),
    "scan": (("scan.json",), ("scan.json", "scan.md", "suite.yaml", "eval")),
    "run": (
        ("run_config.yaml", "stages.json"),
        (
            "run_config.yaml",
            "stages.json",
            "data",
            "arms",
            "tune",
            "eval",
            "eval-extra",
            "sweep",
            "report",
        ),
    ),
    "report": (("report.md", "report.html"), ("report.md", "report.html", "*.png")),
}
"""Folders made before markers existed: (files that must all be there, the only names allowed
there). A folder holding anything else is not taken for symtune's."""


def _legacy_kind(names: set[str]) -> str | None:
    """The kind whose pre-marker layout `names` is exactly (our own temp files aside)."""
    names = {n for n in names if temp_target(Path(n)) is None} - {LOCK}
    for kind, (required, allowed) in LEGACY.items():
        if set(required) <= names and all(
            any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed) for name in names
        ):
            return kind
    return None


def owner_kind(path: Path) -> str | None:
    """The kind of job a folder belongs to: its marker's, or for a folder without one, the kind
    whose pre-marker layout it has exactly; None for a folder that is not symtune's."""
    marker = path / MARKER
    if marker.exists():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            kind = json.loads(marker.read_text()).get("kind")
            if kind in KINDS:
                return kind
        return None
    return _legacy_kind({p.name for p in path.iterdir()})


def check_target(path: Path, kind: str) -> None:
    """Raise unless `path` is absent, empty, or an earlier `kind` job's folder."""
    if path.is_symlink() and not path.exists():
        raise SymtuneError(
            f"--out {path} is a symbolic link to {os.readlink(path)}, which does not exist; "
            "create its target or choose another folder"
        )
    if not path.exists():
        return
    if not path.is_dir():
        raise SymtuneError(f"--out {path} is a file; expected a directory")
    found = {p.name for p in path.iterdir()} - {LOCK}
    if not found:
        return
    owner = owner_kind(path)
    if owner == kind:
        return
    if owner is None:
        raise SymtuneError(
            f"--out {path} is not empty and was not made by symtune; choose a new or empty folder"
        )
    raise SymtuneError(
        f"--out {path} is a symtune {owner} folder, not one for {kind}; choose another"
    )


def _missing_ancestors(path: Path) -> list[Path]:
    """`path` and its parents that do not exist yet, innermost first."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    return missing


def _holder(lock: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(lock.read_text().strip())
        return f"PID {pid}"
    return "another process"


@contextlib.contextmanager
def claim(path: Path, kind: str) -> Iterator[Path]:
    """Hold `path` for one `kind` job: checked, created, marked and locked for the duration.
    If the job fails having added nothing, the folder is left as it was found: removed if this
    claim created it, else without the marker and lock it added."""
    assert kind in KINDS, kind
    check_target(path, kind)
    created = _missing_ancestors(path)
    found = {p.name for p in path.iterdir()} if path.exists() else set()
    path.mkdir(parents=True, exist_ok=True)
    lock_path = path / LOCK
    handle = lock_path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SymtuneError(
            f"--out {path} is in use by {_holder(lock_path)} (another symtune {kind}); "
            "wait for it to finish or choose another folder"
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        if not (path / MARKER).exists():
            atomic_json(path / MARKER, {"kind": kind})
        yield path
    except BaseException:
        if {p.name for p in path.iterdir()} - {LOCK, MARKER} == found - {LOCK, MARKER}:
            _restore(path, found, created)
        raise
    finally:
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        handle.close()


def _restore(path: Path, found: set[str], created: list[Path]) -> None:
    """Undo a claim whose job added nothing: the folder (and parents) it made, or the marker
    and lock it added to a folder that was there."""
    if created:
        shutil.rmtree(path, ignore_errors=True)
        for parent in created[1:]:  # the folders made to hold it, if still empty
            with contextlib.suppress(OSError):
                parent.rmdir()
        return
    for name in {LOCK, MARKER} - found:
        with contextlib.suppress(OSError):
            (path / name).unlink()


@contextlib.contextmanager
def claim_main(path: Path, kind: str) -> Iterator[Path]:
    """`claim` held by rank 0 of a distributed job (or the only process); the other ranks go
    on without it, and a refusal on rank 0 is the same one-line error on every rank."""
    with contextlib.ExitStack() as held:
        on_main(lambda: held.enter_context(claim(path, kind)))
        yield path
