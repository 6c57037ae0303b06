"""Atomic file writes: a temp file beside the target, fsynced, then renamed over it, so a run
killed at any moment leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write bytes (or UTF-8 text) to `path` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def atomic_json(path: Path, data: Any) -> None:
    """Write indented, key-sorted JSON to `path` atomically."""
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
