"""What ``cephalon`` with no command does: the console on a terminal, else a report."""

from __future__ import annotations

import os
import sys

from cephalon_tui.state import CliState

THEME_ENV = "CEPHALON_THEME"


def run_main_job(state: CliState, *, interactive: bool = True, theme: str | None = None) -> int:
    """Open the Textual console on a terminal; print the data dir's state otherwise.

    On a terminal the console's first frame comes before the engine exists: the
    engine (store, memory, the embedded model) starts on a worker thread with
    its progress in the status bar, and messages typed meanwhile are queued.
    Without a terminal (scripts, CI) the data dir is opened (created, migrated)
    and a doctor report is printed.

    When a daemon owns the data dir (its database is locked), the console offers
    to attach to it instead; without a terminal the report comes from the daemon.

    Args:
        state: the CLI state (``--home``).
        interactive: may open the console when stdin and stdout are terminals
            (False: always the report).
        theme: a theme name (default: ``$CEPHALON_THEME``, else ``cephalon-dark``).

    Returns:
        The exit code.

    Raises:
        CephalonError: the data dir, policy or theme is unusable.
    """
    settings = state.settings
    settings.data_dir.ensure_writable()
    loaded = state.policy
    theme = theme or os.environ.get(THEME_ENV) or None
    if theme is not None:  # a typo is a one-line error before anything starts
        from cephalon_tui.themes import load_themes, resolve_theme_name

        resolve_theme_name(theme, load_themes())
    on_terminal = interactive and sys.stdin.isatty() and sys.stdout.isatty()
    if on_terminal and settings.data_dir.daemon_may_run:  # checked before any heavy import
        from cephalon_tui.backend_access import offer_attach
        from cephalon_tui.commands.attach import open_console

        if offer_attach(state, lambda backend: open_console(backend, theme)):
            return 0
    if on_terminal:
        from cephalon_tui.app import CephalonApp
        from cephalon_tui.engine_access import configure_cli_logging
        from cephalon_tui.engine_boot import local_connect

        configure_cli_logging(settings)  # engine logs go to a file, never the terminal
        app = CephalonApp(
            connect=local_connect(settings, loaded),
            theme=theme,
        )
        app.run()
        return app.return_code or 0
    from cephalon_tui.backend_access import read_backend
    from cephalon_tui.commands.doctor import render_report
    from cephalon_tui.output import console
    from engine.doctor import doctor_report
    from engine.store import Store

    with read_backend(state) as daemon:
        if daemon is not None:
            render_report(daemon.doctor())
            console.print("\nA daemon owns this data dir: `cephalon attach` opens its console.")
            return 0
    with Store(settings.data_dir.db_path):
        pass
    render_report(doctor_report(settings))
    console.print("\nCommands: cephalon --help")
    return 0
