"""``cephalon events``: read the append-only event log."""

from __future__ import annotations

import time

import typer

from cephalon_tui.backend_access import daemon_backend
from cephalon_tui.output import console, print_json_line
from cephalon_tui.state import CliState
from engine.control import DaemonGoneError, RemoteBackend
from engine.errors import DatabaseLockedError
from engine.models import Event
from engine.store import EventLog, Store

app = typer.Typer(help="Read the append-only event log.", no_args_is_help=True)


def _print(event: Event, as_json: bool) -> None:
    if as_json:
        print_json_line(event.model_dump(mode="json"))
        return
    who = event.author_id or event.source
    text = event.payload.get("content") or event.payload
    stamp = event.ts.strftime("%Y-%m-%d %H:%M:%S")
    console.print(f"[dim]{event.id:>7} {stamp}[/] [cyan]{event.type}[/] [bold]{who}[/] {text}")


class _EventSource:
    """Reads events from the daemon when one owns the data dir, else from the file
    (read-only); switches over when a daemon starts or stops while following."""

    def __init__(self, state: CliState) -> None:
        self.state = state
        self.daemon: RemoteBackend | None = daemon_backend(state)

    def read(self, after_id: int | None, limit: int) -> list[Event]:
        if self.daemon is not None:
            try:
                rows = self.daemon.events_tail(limit=limit, after_id=after_id)
                return [Event.model_validate(row) for row in rows]
            except DaemonGoneError:
                self.close()
        path = self.state.settings.data_dir.db_path
        if not path.exists():
            return []
        try:
            with Store(path, read_only=True) as store:
                return EventLog(store).tail(limit=limit, after_id=after_id)
        except DatabaseLockedError:
            self.daemon = daemon_backend(self.state)
            if self.daemon is None:
                raise
            return self.read(after_id, limit)

    def close(self) -> None:
        if self.daemon is not None:
            self.daemon.close()
            self.daemon = None


@app.command("tail")
def tail(
    ctx: typer.Context,
    lines: int = typer.Option(20, "-n", "--lines", min=1, help="How many recent events."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
    interval: float = typer.Option(1.0, "--interval", min=0.1, help="Seconds between polls."),
) -> None:
    """Print the newest events; with --follow, keep printing as they arrive."""
    state: CliState = ctx.obj
    state.settings.data_dir.ensure_readable()
    source = _EventSource(state)
    try:
        events = source.read(None, lines)
        for event in events:
            _print(event, as_json)
        if not follow:
            return
        last = events[-1].id if events else 0
        warned = False
        while True:
            time.sleep(interval)
            try:
                fresh = source.read(last, 1000)
            except DatabaseLockedError:
                if not warned:
                    console.print("[yellow]database in use by another process; waiting...[/]")
                    warned = True
                continue
            for event in fresh:
                _print(event, as_json)
                last = event.id
    except KeyboardInterrupt:
        return
    finally:
        source.close()
