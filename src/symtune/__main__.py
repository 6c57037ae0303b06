"""The `symtune` command (and `python -m symtune`): Ctrl-C is guarded before anything heavy is
imported, so even an interrupt during start-up says "Aborted" and exits 130."""

import os

from symtune.errors import install_interrupt_guard, say_aborted


def main() -> None:
    install_interrupt_guard()
    try:
        from symtune.cli.main import main as cli_main
    except KeyboardInterrupt:  # nothing written yet: end at once, half-imported modules unfinalized
        say_aborted()
        os._exit(130)
    cli_main()


if __name__ == "__main__":
    main()
