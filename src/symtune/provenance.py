"""What a run records about where it came from: installed package versions (hashes of files
and weights live with what they describe: `io`, `models.fingerprint`, the mixture manifest)."""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

DATA_PACKAGES = ("symtune", "wordfreq", "tokenizers", "transformers")
"""The packages a built mixture depends on (prompts, symbols, token budget)."""


def package_versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of the named packages (absent ones omitted), and Python's."""
    out = {"python": platform.python_version()}
    for name in names:
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out
