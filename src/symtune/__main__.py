"""The `symtune` command (and `python -m symtune`): Ctrl-C is guarded before anything heavy is
imported, so even an interrupt during start-up says "Aborted" and exits 130."""

import contextlib
import os
import sys

from symtune.errors import install_interrupt_guard, say_aborted


def _abort() -> None:
    """End an interrupted command with 130 without the interpreter's teardown: the command has
    unwound (its own clean-up ran) and a module whose import was cut short (torch, mid-way)
    can make the teardown die of the signal instead (exit -2, not 130)."""
    say_aborted()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(130)


def main() -> None:
    install_interrupt_guard()
    try:
        from symtune.cli.main import run
    except KeyboardInterrupt:  # nothing written yet
        _abort()
    code = run()
    if code == 130:
        _abort()
    sys.exit(code)


if __name__ == "__main__":
    main()
