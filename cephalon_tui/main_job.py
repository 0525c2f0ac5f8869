"""What ``cephalon`` with no command does (until the Textual console lands: chat)."""

from __future__ import annotations

import sys

import typer

from cephalon_tui.commands.doctor import render_report
from cephalon_tui.output import console
from cephalon_tui.state import CliState
from engine.doctor import doctor_report
from engine.store import Store


def run_main_job(state: CliState, ctx: typer.Context | None = None) -> int:
    """Open (create, migrate) the data dir; on a terminal, start chatting.

    Without a terminal on stdin (scripts, CI) it prints the data dir's state instead.

    Returns:
        The exit code.
    """
    settings = state.settings
    settings.data_dir.ensure_writable()
    _ = state.policy
    with Store(settings.data_dir.db_path):
        pass
    if ctx is not None and sys.stdin.isatty() and sys.stdout.isatty():
        from cephalon_tui.commands.chat import chat

        console.print(
            f"[dim]data dir {settings.data_dir.root}; `cephalon --help` lists every command[/]"
        )
        chat(ctx, once=None, as_json=False, provider=None, base_url=None, model=None)
        return 0
    render_report(doctor_report(settings))
    console.print("\nCommands: cephalon --help")
    return 0
