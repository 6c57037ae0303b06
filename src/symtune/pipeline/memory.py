"""Memory of a stage: its peak resident set size (Linux: the kernel's high-water mark, reset
at the stage's start), and freed memory handed back to the system between stages."""

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


def peak_rss_mb() -> float:
    """The peak resident set size since `reset_peak` (or since the process began), in MB."""
    with contextlib.suppress(OSError):
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def release() -> None:
    """Collect garbage and return freed heap pages to the system (glibc's malloc_trim), so a
    stage's peak is its own and not the previous stage's leftovers."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
