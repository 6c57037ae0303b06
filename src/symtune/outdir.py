"""Output directories: each belongs to one kind of symtune job, and one writer at a time.

`claim(path, kind)` is what every writing command goes through, after it has validated its
input: it refuses a non-empty folder that symtune did not make (or made for another kind of
job), takes an exclusive lock (a second writer gets "in use by PID n"), and, if the job fails
before writing anything, removes the folder it created, so a typo leaves nothing behind."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from symtune.errors import SymtuneError
from symtune.io import atomic_json

LOCK = ".symtune.lock"
MARKER = ".symtune.json"
KINDS = ("mixture", "tune", "eval", "scan", "run")
SIGNATURES = {
    "mixture": ("manifest.json", "prompts-*.jsonl"),
    "tune": ("metrics.jsonl", "checkpoints", "final"),
    "eval": ("eval_config.json",),
    "scan": ("scan.json",),
    "run": ("run_config.yaml", "stages.json"),
}
"""Files by which a folder made before markers existed is recognised as that kind's."""


def owner_kind(path: Path) -> str | None:
    """The kind of job a folder belongs to, from its marker (or, for folders made before
    markers, its files); None for a folder that is not symtune's."""
    marker = path / MARKER
    if marker.exists():
        with contextlib.suppress(OSError, ValueError, AttributeError):
            kind = json.loads(marker.read_text()).get("kind")
            if kind in KINDS:
                return kind
        return None
    for kind, patterns in SIGNATURES.items():
        if any(next(path.glob(pattern), None) is not None for pattern in patterns):
            return kind
    return None


def check_target(path: Path, kind: str) -> None:
    """Raise unless `path` is absent, empty, or an earlier `kind` job's folder."""
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
    """Hold `path` for one `kind` job: checked, created, marked and locked for the duration."""
    assert kind in KINDS, kind
    check_target(path, kind)
    created = _missing_ancestors(path)
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
        if created and {p.name for p in path.iterdir()} <= {LOCK, MARKER}:
            shutil.rmtree(path, ignore_errors=True)  # nothing but our own bookkeeping
            for parent in created[1:]:  # and the folders made to hold it, if still empty
                with contextlib.suppress(OSError):
                    parent.rmdir()
        raise
    finally:
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        handle.close()


def is_main_process() -> bool:
    """Rank 0 of a `torchrun`/`accelerate launch` job (or no launcher at all)."""
    return os.environ.get("RANK", "0") == "0"


@contextlib.contextmanager
def claim_main(path: Path, kind: str) -> Iterator[Path]:
    """`claim` on the main process of a distributed job; the other ranks only wait for it."""
    if is_main_process():
        with claim(path, kind):
            yield path
    else:
        yield path
