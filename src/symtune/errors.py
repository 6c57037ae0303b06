"""User-facing errors: one line, naming the input and what was expected."""


class SymtuneError(Exception):
    """An error caused by user input or environment; the CLI prints it as one line, no traceback."""
