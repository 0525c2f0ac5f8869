"""The ``cephalon`` entry point: the console's fast start, else the full command line.

``cephalon`` alone on a terminal (optionally with ``--home`` and ``--theme``) opens
the console. Importing the whole command tree first (every command's engine
modules) costs ~0.4 s before the first frame, so that case is recognised here
and goes straight to :func:`cephalon_tui.main_job.run_main_job`; everything else
(commands, ``--help``, ``--daemon``, no terminal) goes through the typer app.
"""

from __future__ import annotations

import sys
from pathlib import Path

CONSOLE_OPTIONS = ("--home", "--theme")
"""The root options that may come with a bare ``cephalon`` on the fast path."""


def console_options(argv: list[str]) -> dict[str, str] | None:
    """``--home``/``--theme`` values when ``argv`` asks for nothing but the console.

    Args:
        argv: the arguments after the program name.

    Returns:
        The options given (``{"--home": ..., "--theme": ...}``, possibly empty), or
        None when anything else is there (a command, another option, a bad form):
        the typer app handles those, with its own errors and help.
    """
    options: dict[str, str] = {}
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name not in CONSOLE_OPTIONS or name in options:
            return None
        if not eq:
            if not rest or rest[0].startswith("-"):
                return None
            value = rest.pop(0)
        if not value:
            return None
        options[name] = value
    return options


def main() -> None:
    """Run ``cephalon``: the console at once when that is all that was asked."""
    options = console_options(sys.argv[1:]) if sys.stdin.isatty() and sys.stdout.isatty() else None
    if options is None:
        from cephalon_tui.cli import main as full_cli

        full_cli()
        return
    from cephalon_tui.output import print_error
    from engine.errors import CephalonError

    try:
        from cephalon_tui.main_job import run_main_job
        from cephalon_tui.state import CliState

        home = options.get("--home")
        state = CliState(home=Path(home) if home else None)
        code = run_main_job(state, interactive=True, theme=options.get("--theme"))
    except CephalonError as exc:
        print_error(str(exc))
        sys.exit(exc.exit_code)
    sys.exit(code)
