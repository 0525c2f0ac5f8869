"""The ``cephalon`` command line. Commands live in ``cephalon_tui.commands``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from cephalon_tui.commands import attach, bench, chat, events, ingest, jobs, memory, policy, turns
from cephalon_tui.commands import doctor as doctor_cmd
from cephalon_tui.output import console, print_error
from cephalon_tui.state import CliState
from engine import __version__
from engine.errors import CephalonError

app = typer.Typer(
    name="cephalon",
    help="Cephalon: an always-on LLM agent whose mind you can watch.",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(events.app, name="events")
app.add_typer(policy.app, name="policy")
app.add_typer(memory.app, name="memory")
app.add_typer(bench.app, name="bench")
app.add_typer(turns.app, name="turns")
app.add_typer(jobs.app, name="jobs")
app.add_typer(ingest.app, name="ingest")
app.command("doctor")(doctor_cmd.doctor)
app.command("chat")(chat.chat)
app.command("attach")(attach.attach)
app.command("replay")(turns.replay)
app.command("reconstitute")(turns.reconstitute)


def _version(value: bool) -> None:
    if value:
        console.print(f"cephalon {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    home: Path | None = typer.Option(
        None, "--home", help="Data dir (default: $CEPHALON_HOME, else the platform data dir)."
    ),
    daemon: bool = typer.Option(False, "--daemon", help="Run the engine headless."),
    theme: str | None = typer.Option(
        None,
        "--theme",
        help="Console theme: cephalon-dark (default), cephalon-light, cephalon-contrast, "
        "or any file in themes/ (default: $CEPHALON_THEME).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Run the console (no command), the headless daemon (--daemon), or a command."""
    state = CliState(home=home)
    ctx.obj = state
    if daemon:
        from engine.daemon import run_daemon

        raise typer.Exit(run_daemon(state.settings))
    if ctx.invoked_subcommand is None:
        from cephalon_tui.main_job import run_main_job

        raise typer.Exit(run_main_job(state, theme=theme))


def main() -> None:
    """Entry point: run the app; user errors print one line and exit non-zero."""
    try:
        app()
    except CephalonError as exc:
        print_error(str(exc))
        sys.exit(exc.exit_code)
