"""What ``cephalon`` with no command does."""

from __future__ import annotations

from cephalon_tui.commands.doctor import render_report
from cephalon_tui.output import console
from cephalon_tui.state import CliState
from engine.doctor import doctor_report
from engine.store import Store


def run_main_job(state: CliState) -> int:
    """Open (create, migrate) the data dir and show its state.

    Returns:
        The exit code.
    """
    settings = state.settings
    settings.data_dir.ensure_writable()
    _ = state.policy
    with Store(settings.data_dir.db_path):
        pass
    render_report(doctor_report(settings))
    console.print("\nCommands: cephalon --help")
    return 0
