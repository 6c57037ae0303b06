"""How a command ends badly: user-facing errors (one line, naming the input and what was
expected), and Ctrl-C, which stops any phase within seconds."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


class SymtuneError(Exception):
    """An error caused by user input or environment; the CLI prints it as one line, no traceback."""


ABORT_GRACE_S = 5.0
"""After Ctrl-C, seconds the command has to unwind (clean up what it created, print
"Aborted") before it is ended anyway: a long call into native code that does not return to
Python, or code that swallows KeyboardInterrupt, cannot keep it running."""

_reported = threading.Event()


def say_aborted() -> None:
    """Print "Aborted" once (the unwinding command or the guard, whichever comes first)."""
    if not _reported.is_set():
        _reported.set()
        sys.stderr.write("Aborted\n")
        sys.stderr.flush()


def _watch(read_fd: int) -> None:
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data:
            return
        if signal.SIGINT in data:
            time.sleep(ABORT_GRACE_S)
            say_aborted()
            os._exit(130)


def install_interrupt_guard() -> None:
    """Make Ctrl-C raise KeyboardInterrupt (the command unwinds and cleans up) and, if the
    process still runs `ABORT_GRACE_S` later, end it with exit 130. The signal reaches a
    watcher thread through the interpreter's wakeup fd, written by the C-level handler the
    moment the signal arrives, whatever the main thread is doing. A process that inherits
    SIGINT ignored (a shell's background job) keeps ignoring it."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=_watch, args=(read_fd,), daemon=True, name="symtune-ctrl-c").start()
