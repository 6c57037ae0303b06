"""Memory of a stage: its peak resident set size (Linux: the kernel's high-water mark, reset
at the stage's start), the resident set a stage starts from, and memory handed back to the
system between stages (the data-building caches emptied, freed heap pages returned)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak() -> bool:
    """Start a new high-water mark (Linux >= 4.0: "5" to clear_refs); False where it cannot,
    and then `peak_rss_mb` is the process's peak so far."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _status_mb(field: str) -> float | None:
    """A /proc/self/status field given in kB (VmRSS, VmHWM), in MB; None where unreadable."""
    with contextlib.suppress(OSError):
        for line in _STATUS.read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return None


def peak_rss_mb() -> float:
    """The peak resident set size since `reset_peak` (or since the process began), in MB."""
    peak_mb = _status_mb("VmHWM")
    if peak_mb is not None:
        return peak_mb
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


DATA_CACHES = ("symtune.tasks", "symtune.prompts", "wordfreq")
"""Modules whose functools caches hold word lists, lexicons and task pools: rebuilt on demand
by the stage that needs them, and ~200 MB held through every later stage if kept."""


def rss_mb() -> float:
    """The resident set size now, in MB (0 where /proc cannot be read)."""
    return _status_mb("VmRSS") or 0.0


def forget_data_caches(prefixes: tuple[str, ...] = DATA_CACHES) -> int:
    """Empty the functools caches defined in the modules under `prefixes`; returns how many."""
    emptied = 0
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(prefixes):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and value.__module__ == name:
                value.cache_clear()
                emptied += 1
    return emptied


def release() -> None:
    """Empty the data-building caches, collect garbage and return freed heap pages to the
    system (glibc's malloc_trim), so a stage's peak is its own and not the previous stage's
    leftovers."""
    forget_data_caches()
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
