"""``cephalon doctor``."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from cephalon_tui.backend_access import read_backend
from cephalon_tui.output import console, print_json
from cephalon_tui.state import CliState
from engine.doctor import doctor_report

PROBLEM_STATES = {"corruptdatabase", "schematoonew", "databaselocked", "store"}


def render_report(report: dict[str, Any]) -> None:
    """Print a doctor report as tables."""
    db = report["database"]
    console.print(f"[bold]home[/]      {report['home']}")
    console.print(
        f"[bold]database[/]  {db['status']}  schema v{db['schema_version']}"
        f" (latest v{db['latest_schema_version']})"
        + (f"  - {db['detail']}" if db.get("detail") else "")
    )
    counts = ", ".join(f"{k} {v}" for k, v in report["counts"].items())
    console.print(f"[bold]counts[/]    {counts}")
    policy = report["policy"]
    console.print(
        "[bold]policy[/]    "
        + ("ok: " + ", ".join(policy["files"]) if policy["ok"] else f"[red]{policy['error']}[/]")
    )
    daemon = report.get("daemon") or {}
    if daemon.get("pid"):
        status = daemon.get("status") or {}
        console.print(
            f"[bold]daemon[/]    running, pid {daemon['pid']}, {status.get('state', '?')}, "
            f"{daemon.get('clients', 0)} console(s) attached, socket {daemon.get('socket')}"
        )
        console.print(
            f"          provider {status.get('provider')} / {status.get('model')}, "
            f"queue {status.get('queue_depth')}, turns {status.get('turns')}, "
            f"memories {status.get('memory_count')}, since {daemon.get('started_at')}"
        )
    table = Table("component", "available", "why", title="models and providers")
    for group in ("providers", "models"):
        for name, entry in report[group].items():
            mark = "[green]yes[/]" if entry["available"] else "[yellow]no[/]"
            table.add_row(name, mark, entry["why"])
    console.print(table)


def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Check the data dir, database, policy, models and providers, and say why not."""
    state: CliState = ctx.obj
    with read_backend(state) as daemon:  # a running daemon locks the file: it reports
        report = daemon.doctor() if daemon is not None else doctor_report(state.settings)
    if as_json:
        print_json(report)
    else:
        render_report(report)
    if report["database"]["status"] in PROBLEM_STATES or not report["policy"]["ok"]:
        raise typer.Exit(1)
