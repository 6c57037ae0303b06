"""How a command ends badly: user-facing errors (one line, naming the input and what was
expected), and Ctrl-C, which stops any phase within seconds."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator


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
        stops = [s for s in (signal.SIGTERM, signal.SIGHUP) if s in data]
        if stops and not _deferring.is_set():  # a tuning loop defers it to a step's end
            time.sleep(ABORT_GRACE_S)  # e.g. blocked opening a FIFO: Terminated never raised
            sys.stderr.write(f"stopped by {signal.Signals(stops[0]).name}\n")
            sys.stderr.flush()
            os._exit(128 + stops[0])


class Terminated(BaseException):
    """SIGTERM or SIGHUP (a scheduler's notice, a closed terminal): the command unwinds as
    for Ctrl-C (clean-up runs in `finally` and `except BaseException` blocks) and exits
    128 + the signal's number; `message` says what was kept. Not a KeyboardInterrupt: click
    and typer turn those into exit 130 and drop them."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message)
        self.signum = signum
        self.message = message or (
            f"stopped by {signal.Signals(signum).name}; rerun the same command to resume"
        )


_stop: dict[str, int] = {}
"""The stop signal received while a loop defers it ({"signum": n}), else empty."""
_deferring = threading.Event()


def _on_stop(signum: int, _frame: object) -> None:
    if not _deferring.is_set():
        raise Terminated(signum)
    _stop.setdefault("signum", signum)


@contextlib.contextmanager
def deferred_stop() -> Iterator[None]:
    """Inside: SIGTERM/SIGHUP only set `stop_signal()`, for a loop that checks it at a safe
    point (tuning: the end of a step, where it writes a checkpoint); outside, they unwind
    the command at once. A signal that arrived inside and was not acted on is raised on
    leaving."""
    _stop.clear()
    _deferring.set()
    try:
        yield
    finally:
        _deferring.clear()
    if "signum" in _stop:
        raise Terminated(_stop["signum"])


def stop_signal() -> int:
    """The SIGTERM/SIGHUP received while deferred (0: none)."""
    return _stop.get("signum", 0)


def install_stop_handlers() -> None:
    """SIGTERM and SIGHUP raise `Terminated` (deferred inside `deferred_stop`), unless the
    process inherited them ignored (`nohup`)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _on_stop)


def install_interrupt_guard() -> None:
    """Make Ctrl-C raise KeyboardInterrupt (the command unwinds and cleans up) and, if the
    process still runs `ABORT_GRACE_S` later, end it with exit 130; SIGTERM and SIGHUP alike
    (exit 128 + the signal), except inside a tuning loop, which ends at its step's end. The
    signal reaches a watcher thread through the interpreter's wakeup fd, written by the
    C-level handler the moment the signal arrives, whatever the main thread is doing. A
    process that inherits a signal ignored (a shell's background job, nohup) keeps ignoring
    it."""
    if threading.current_thread() is not threading.main_thread():
        return
    install_stop_handlers()
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    threading.Thread(target=_watch, args=(read_fd,), daemon=True, name="symtune-ctrl-c").start()
