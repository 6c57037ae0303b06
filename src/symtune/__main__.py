"""The `symtune` command (and `python -m symtune`): Ctrl-C is guarded before anything heavy is
imported, so even an interrupt during start-up says "Aborted" and exits 130."""

import contextlib
import os
import sys

from symtune.errors import Terminated, install_interrupt_guard, say_aborted


def _end(code: int) -> None:
    """End a command stopped by a signal (exit 128 + its number) without the interpreter's
    teardown: the command has unwound (its own clean-up ran) and a module whose import was
    cut short (torch, mid-way) can make the teardown die of the signal instead (-2, not 130)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main() -> None:
    install_interrupt_guard()
    try:
        from symtune.cli.main import run
    except Terminated as stop:  # nothing written yet
        _end(128 + stop.signum)
    except KeyboardInterrupt:
        say_aborted()
        _end(130)
    code = run()
    if code > 128:
        _end(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
